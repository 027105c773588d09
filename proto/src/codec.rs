//! The gRPC codec of the ledger's services: prost, except that a request
//! whose protobuf does not decode is `INVALID_ARGUMENT` (the caller sent
//! bad bytes) rather than tonic's default `INTERNAL` (which would say the
//! node is at fault), with a google.rpc.ErrorInfo: reason
//! `MALFORMED_REQUEST`, metadata `message_type` (the request message, e.g.
//! `SubmitRequest`) and `error` (what failed, with the field path, e.g.
//! `SubmitRequest.envelope: invalid wire type …`).

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt};

/// The ErrorInfo reason of a request whose protobuf does not decode.
pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";

/// The ErrorInfo domain of the ledger's refusals.
const DOMAIN: &str = "pledgeledger.v1";

/// The longest `error` metadata value, in bytes.
const MAX_ERROR_TEXT: usize = 512;

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
            Code::Internal => malformed(message_type::<U>(), status.message()),
            _ => status,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// The refusal of a `message_type` whose bytes did not decode, as `error`
/// (prost's description) says.
fn malformed(message_type: &str, error: &str) -> Status {
    let error = clipped(error, MAX_ERROR_TEXT);
    let metadata = [
        ("message_type".to_owned(), message_type.to_owned()),
        ("error".to_owned(), error.to_owned()),
    ];
    Status::with_error_details(
        Code::InvalidArgument,
        format!("malformed request: the {message_type} does not decode: {error}"),
        ErrorDetails::with_error_info(MALFORMED_REQUEST, DOMAIN, metadata),
    )
}

/// The generated message's name (`SubmitRequest`).
fn message_type<U>() -> &'static str {
    let path = std::any::type_name::<U>();
    path.rsplit("::").next().unwrap_or(path)
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn clipped(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1 as pb;

    #[test]
    fn bytes_that_do_not_decode_are_refused_with_the_reason_and_what_failed() {
        let refusal = malformed(
            message_type::<pb::SubmitRequest>(),
            "failed to decode Protobuf message: SubmitRequest.envelope: invalid wire type",
        );
        assert_eq!(refusal.code(), Code::InvalidArgument);
        let info = refusal.get_details_error_info().unwrap();
        assert_eq!(info.reason, MALFORMED_REQUEST);
        assert_eq!(info.domain, DOMAIN);
        assert_eq!(info.metadata["message_type"], "SubmitRequest");
        assert!(info.metadata["error"].contains("SubmitRequest.envelope"));
    }

    #[test]
    fn a_long_error_is_clipped_at_a_character() {
        let text = "é".repeat(400);
        let clipped = clipped(&text, MAX_ERROR_TEXT);
        assert!(clipped.len() <= MAX_ERROR_TEXT && text.starts_with(clipped));
    }
}
