//! How members reach each other: plaintext gRPC, or mutual TLS under
//! `[cluster.tls]` (docs/REPLICATION.md §11).
//!
//! ```text
//!  dialling (Raft RPCs, forwarded Submits, ReadIndex)
//!    https://host:port ──TLS: this member's certificate; the peer's must come from
//!                             the members' CA and name `host`──▶ the other member
//!
//!  the member listener
//!    TCP ──▶ TLS handshake (a client certificate from the members' CA is required)
//!              │ refused: a warning naming the peer, pledge_member_refusals_total{reason="TLS_HANDSHAKE"}
//!              │ not done within handshake_timeout_ms: the same, reason="TLS_HANDSHAKE_TIMEOUT"
//!              ▼
//!            MemberGate: the certificate's URI SAN pledgeledger:member:<id> names a member
//!            that the ledger, Raft or [cluster] lists (else PERMISSION_DENIED, MEMBER_NOT_LISTED)
//!              ▼
//!            RaftService (a request may speak only for that member: AuthenticatedMember)
//! ```
//!
//! The TLS key of a member's certificate is not its Ed25519 seal key: the
//! certificate says which member a connection is; the seal key, listed in
//! the ledger's membership, signs what the member sequences.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use pledge_cluster::service::AuthenticatedMember;
use pledge_explorer::tls::TlsFiles;
use pledge_ledger::state::StateRead;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::{ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use super::config::{ClusterConfig, MemberTlsFiles, check_scheme};
use crate::NodePublished;
use crate::admission;
use crate::metrics::Metrics;
use crate::status;

/// Longest time to open a connection to another member.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The metric reason and ErrorInfo reason of a refused handshake.
pub const TLS_HANDSHAKE: &str = "TLS_HANDSHAKE";
/// The metric reason of a handshake that did not finish in time.
pub const TLS_HANDSHAKE_TIMEOUT: &str = "TLS_HANDSHAKE_TIMEOUT";
/// The ErrorInfo reason of a certificate that names no listed member.
pub const MEMBER_NOT_LISTED: &str = "MEMBER_NOT_LISTED";

/// This member's TLS towards the others, loaded once at start.
#[derive(Clone)]
pub struct MemberTls {
    /// For dialling: the members' CA and this member's certificate.
    client: ClientTlsConfig,
    /// For the listener: this member's certificate, client certificates
    /// required from the members' CA.
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for MemberTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemberTls")
    }
}

impl MemberTls {
    /// Loads `[cluster.tls]`, or `None` when members speak plaintext.
    pub fn load(config: &ClusterConfig) -> anyhow::Result<Option<MemberTls>> {
        config.tls.as_ref().map(MemberTls::from_files).transpose()
    }

    fn from_files(files: &MemberTlsFiles) -> anyhow::Result<MemberTls> {
        crate::bootstrap::refuse_if_others_may_read(
            &files.key_file,
            "member TLS key ([cluster.tls] key_file)",
            "can call the other members as this member",
        )?;
        let identity = (files.cert_file.as_path(), files.key_file.as_path());
        let client = pledge_client::tls::client_config(&files.ca_file, Some(identity))
            .context("[cluster.tls]")?;
        let server = TlsFiles {
            cert_file: files.cert_file.clone(),
            key_file: files.key_file.clone(),
            client_ca_file: Some(files.ca_file.clone()),
        };
        let server =
            pledge_explorer::tls::server_config(&server, b"h2").context("[cluster.tls]")?;
        Ok(MemberTls {
            client,
            acceptor: TlsAcceptor::from(Arc::new(server)),
        })
    }

    /// The settings openraft's network dials with.
    pub fn client(&self) -> ClientTlsConfig {
        self.client.clone()
    }
}

/// An endpoint for member `id` at `address`, with TLS when `tls` is set;
/// an address of the wrong scheme is refused rather than dialled the wrong way.
pub fn endpoint(tls: Option<&MemberTls>, id: u64, address: String) -> Result<Endpoint, Status> {
    check_scheme(tls.is_some(), &address)
        .map_err(|why| Status::unavailable(format!("member {id}: {why}")))?;
    let endpoint = Endpoint::from_shared(address)
        .map_err(|e| Status::internal(format!("member {id}'s address: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    match tls {
        Some(tls) => endpoint
            .tls_config(tls.client())
            .map_err(|e| Status::internal(format!("member {id}'s TLS settings: {e}"))),
        None => Ok(endpoint),
    }
}

/// Serves `router` on `listener` until the node stops, every connection
/// admitted under the same bounds as the client listener's (`[limits]`
/// connection caps and handshake timeout, `admission.rs`): plaintext, or
/// TLS connections whose handshake succeeded.
pub fn serve(
    listener: TcpListener,
    bounds: admission::Bounds,
    tls: Option<MemberTls>,
    router: crate::idle::TrackedRouter,
    metrics: Arc<Metrics>,
) {
    tokio::spawn(async move {
        let served = match tls {
            None => {
                let incoming = admission::incoming(listener, bounds, admission::Plain, metrics);
                router.serve_with_incoming(incoming).await
            }
            Some(tls) => {
                let handshake = MemberHandshake {
                    acceptor: tls.acceptor,
                    metrics: metrics.clone(),
                };
                let incoming = admission::incoming(listener, bounds, handshake, metrics);
                router.serve_with_incoming(incoming).await
            }
        };
        if let Err(error) = served {
            tracing::error!(%error, "the member-to-member service stopped");
        }
    });
}

/// The member listener's TLS handshake: a refused one is logged with the
/// peer's address and rustls's reason (unknown issuer, no certificate, not
/// TLS at all) and counted; one that does not finish within the handshake
/// timeout is closed by admission, and logged and counted here too.
#[derive(Clone)]
struct MemberHandshake {
    acceptor: TlsAcceptor,
    metrics: Arc<Metrics>,
}

impl admission::Handshake for MemberHandshake {
    type Io = TlsStream<TcpStream>;
    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<Self::Io> {
        let peer = tcp.peer_addr().ok();
        let accepted = self.acceptor.accept(tcp).await;
        if let Err(error) = &accepted {
            refused_handshake(peer, &error.to_string(), &self.metrics);
        }
        accepted
    }

    fn timed_out(&self, peer: SocketAddr) {
        tracing::warn!(
            %peer,
            reason = TLS_HANDSHAKE_TIMEOUT,
            "refused a member connection: the TLS handshake did not finish within \
             [limits] handshake_timeout_ms"
        );
        self.metrics.member_refused(TLS_HANDSHAKE_TIMEOUT);
    }
}

fn refused_handshake(peer: Option<SocketAddr>, why: &str, metrics: &Metrics) {
    tracing::warn!(
        ?peer,
        reason = TLS_HANDSHAKE,
        "refused a member connection: the TLS handshake failed ({why}); members need a \
         certificate from the members' CA ([cluster.tls] ca_file) and must dial https://"
    );
    metrics.member_refused(TLS_HANDSHAKE);
}

/// Admits a call on the member listener only from a certificate that
/// names a listed member, and tells the service which member it is.
#[derive(Clone)]
pub struct MemberGate {
    config: ClusterConfig,
    published: Arc<NodePublished>,
    raft: openraft::Raft<pledge_cluster::types::TypeConfig>,
    metrics: Arc<Metrics>,
}

impl MemberGate {
    /// The gate of this member's listener.
    pub fn new(
        config: ClusterConfig,
        published: Arc<NodePublished>,
        raft: openraft::Raft<pledge_cluster::types::TypeConfig>,
        metrics: Arc<Metrics>,
    ) -> MemberGate {
        MemberGate {
            config,
            published,
            raft,
            metrics,
        }
    }

    /// Every member id this member knows of: the ledger's membership in
    /// force, Raft's configuration, and `[cluster]` members (a member added
    /// later may hold an older ledger until it catches up).
    fn listed(&self) -> BTreeSet<u64> {
        let ledger = self.published.load().membership().ok().flatten();
        let raft = self.raft.metrics().borrow().membership_config.clone();
        ledger
            .iter()
            .flat_map(|m| m.members.iter().map(|m| m.id))
            .chain(raft.membership().nodes().map(|(id, _)| *id))
            .chain(self.config.members.iter().map(|m| m.id))
            .collect()
    }

    fn admit(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let Some(certs) = request.peer_certs() else {
            return Ok(request); // plaintext between members
        };
        let peer = request.remote_addr();
        let Some(leaf) = certs.first() else {
            return Err(self.refuse(peer, String::new(), "is missing".into()));
        };
        match crate::tls::member_of(leaf.as_ref()) {
            Ok(id) if self.listed().contains(&id) => {
                request.extensions_mut().insert(AuthenticatedMember(id));
                Ok(request)
            }
            Ok(id) => Err(self.refuse(
                peer,
                id.to_string(),
                format!("names member {id}, which is not a member of this cluster"),
            )),
            Err(why) => Err(self.refuse(peer, String::new(), why)),
        }
    }

    fn refuse(&self, peer: Option<SocketAddr>, member: String, why: String) -> Status {
        tracing::warn!(
            ?peer,
            %member,
            reason = MEMBER_NOT_LISTED,
            "refused a member call: the connection's certificate {why}"
        );
        self.metrics.member_refused(MEMBER_NOT_LISTED);
        status::status(
            Code::PermissionDenied,
            format!("this connection's certificate {why}: only members may call this service"),
            MEMBER_NOT_LISTED,
            vec![("certificate_member".into(), member)],
        )
    }
}

impl tonic::service::Interceptor for MemberGate {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.admit(request)
    }
}

impl std::fmt::Debug for MemberGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberGate")
            .field("member_id", &self.config.member_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use pledge_client::certs;

    use super::*;

    #[test]
    fn a_member_tls_key_others_may_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let ca = certs::create_dev_ca(dir.path()).unwrap();
        let hosts = ["127.0.0.1".to_owned()];
        let member = certs::issue_member(dir.path(), 1, &hosts, &dir.path().join("m1")).unwrap();
        let files = MemberTlsFiles {
            cert_file: member.cert,
            key_file: member.key.clone(),
            ca_file: ca.cert,
        };
        MemberTls::from_files(&files).expect("a key of mode 600 loads");
        std::fs::set_permissions(&member.key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let refused = MemberTls::from_files(&files).unwrap_err().to_string();
        assert!(refused.contains("member TLS key"), "{refused}");
        assert!(refused.contains("has mode 640"), "{refused}");
        let fix = format!("chmod 600 {}", member.key.display());
        assert!(refused.contains(&fix), "{refused}");
    }
}
