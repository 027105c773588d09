//! The gRPC codec of the ledger's services: prost, except that a request
//! whose protobuf does not decode is `INVALID_ARGUMENT` (the caller sent
//! bad bytes) rather than tonic's default `INTERNAL` (which would say the
//! node is at fault).

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Prost encoding, strict decoding errors.
#[derive(Debug, Clone)]
pub struct LedgerCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Default for LedgerCodec<T, U> {
    fn default() -> Self {
        LedgerCodec(ProstCodec::default())
    }
}

impl<T, U> Codec for LedgerCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = LedgerDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        LedgerDecoder(self.0.decoder())
    }
}

/// Decodes with prost; a malformed message is `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct LedgerDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for LedgerDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|status| match status.code() {
            Code::Internal => {
                Status::invalid_argument(format!("malformed request: {}", status.message()))
            }
            _ => status,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
