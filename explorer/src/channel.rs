//! The explorer's only way to the ledger: the node's own gRPC service stack,
//! called in-process, as the browser's connection.
//!
//! ```text
//!   page ──LedgerServiceClient──▶ ReadChannel ──(read RPCs only)──▶ the node's gRPC service
//!                                   │ inserts the browser connection's        (interceptors, limits,
//!                                   │ TcpConnectInfo / TlsConnectInfo          access rule, handlers)
//! ```
//!
//! The node hands the explorer the same tower service it serves gRPC with,
//! so a page reads through the same handlers, the same validation and the
//! same access rule as a gRPC client: `Request::peer_certs()` and
//! `Request::remote_addr()` in the node answer for the browser's connection
//! (its client certificate under mutual TLS, its address for the request
//! rate). A page can show nothing that the viewer could not read over gRPC
//! with the same certificate. Only the read RPCs pass: anything else is
//! refused here, before it reaches the service, so no page can write.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tonic::body::Body;
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt as _};

/// An error of the boxed service.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The node's gRPC service, type-erased.
pub type GrpcService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, BoxError>;

/// The gRPC path prefix of the ledger service.
const SERVICE_PATH: &str = "/pledgeledger.v1.LedgerService/";

/// The RPCs a page may call: every read of `LedgerService`, nothing else.
pub const READ_METHODS: &[&str] = &[
    "GetNodeInfo",
    "GetHead",
    "GetReceipt",
    "ListReceipts",
    "GetPledge",
    "GetTank",
    "GetParticipant",
    "GetCheckpoint",
    "GetInclusionProof",
    "GetConsistencyProof",
    "ProveReceipt",
    "GetEntry",
    "StreamEntries",
];

/// Boxes the node's gRPC service (any tower service of gRPC requests).
pub fn boxed<S, B>(service: S) -> GrpcService
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        service
            .map_response(|response| response.map(Body::new))
            .map_err(Into::into),
    )
}

/// What the node's service sees of the browser's connection, exactly as
/// tonic records it for a gRPC connection.
#[derive(Debug, Clone)]
pub enum Connection {
    /// Plain TCP (a development node on loopback, or `plaintext`).
    Plain(TcpConnectInfo),
    /// TLS, with the client's certificate chain under mutual TLS.
    Tls(TlsConnectInfo<TcpConnectInfo>),
}

impl Connection {
    /// The connection info of a plain TCP stream.
    pub fn plain(stream: &tokio::net::TcpStream) -> Connection {
        Connection::Plain(stream.connect_info())
    }

    /// The connection info of a TLS stream (with its peer certificates).
    pub fn tls(stream: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Connection {
        Connection::Tls(stream.connect_info())
    }

    fn attach(&self, request: &mut http::Request<Body>) {
        match self {
            Connection::Plain(info) => {
                request.extensions_mut().insert(info.clone());
            }
            Connection::Tls(info) => {
                request.extensions_mut().insert(info.clone());
            }
        }
    }
}

/// The node's service as seen from one browser connection, read RPCs only.
#[derive(Debug, Clone)]
pub struct ReadChannel {
    service: GrpcService,
    connection: Connection,
}

impl ReadChannel {
    /// A channel for requests made on behalf of `connection`.
    pub fn new(service: GrpcService, connection: Connection) -> ReadChannel {
        ReadChannel {
            service,
            connection,
        }
    }
}

/// Whether a gRPC path names one of [`READ_METHODS`].
pub fn is_read(path: &str) -> bool {
    path.strip_prefix(SERVICE_PATH)
        .is_some_and(|method| READ_METHODS.contains(&method))
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static>>;

impl Service<http::Request<Body>> for ReadChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        if !is_read(request.uri().path()) {
            let refusal = tonic::Status::permission_denied(format!(
                "the web explorer is read-only: {} is not a read",
                request.uri().path()
            ));
            return Box::pin(async move { Ok::<_, BoxError>(refusal.into_http()) });
        }
        self.connection.attach(&mut request);
        Box::pin(self.service.call(request))
    }
}

/// A stand-in service for tests: answers every request with `status`.
#[doc(hidden)]
pub fn refusing(status: tonic::Status) -> GrpcService {
    let service = tower::service_fn(move |_: http::Request<Body>| {
        let answer = status.clone().into_http::<Body>();
        async move { Ok::<_, Infallible>(answer) }
    });
    boxed(service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pledge_proto::v1::{self as pb, ledger_service_client::LedgerServiceClient};

    fn channel(service: GrpcService) -> LedgerServiceClient<ReadChannel> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let std_stream = std::net::TcpStream::connect(address).unwrap();
        std_stream.set_nonblocking(true).unwrap();
        let stream = tokio::net::TcpStream::from_std(std_stream).unwrap();
        LedgerServiceClient::new(ReadChannel::new(service, Connection::plain(&stream)))
    }

    #[test]
    fn only_the_read_methods_of_the_ledger_service_pass() {
        assert!(is_read("/pledgeledger.v1.LedgerService/GetReceipt"));
        assert!(is_read("/pledgeledger.v1.LedgerService/StreamEntries"));
        assert!(!is_read("/pledgeledger.v1.LedgerService/Submit"));
        assert!(!is_read("/grpc.health.v1.Health/Check"));
        assert!(!is_read("/pledgeledger.v1.LedgerService/GetReceiptX"));
    }

    #[tokio::test]
    async fn a_write_is_refused_before_it_reaches_the_service() {
        // The service behind would answer "unavailable": the refusal must
        // come from the channel instead.
        let mut client = channel(refusing(tonic::Status::unavailable("service reached")));
        let refusal = client
            .submit(pb::SubmitRequest { envelope: None })
            .await
            .unwrap_err();
        assert_eq!(refusal.code(), tonic::Code::PermissionDenied);
        assert!(refusal.message().contains("read-only"), "{refusal:?}");
        let read = client
            .get_head(pb::GetHeadRequest { read: None })
            .await
            .unwrap_err();
        assert_eq!(read.message(), "service reached");
    }
}
