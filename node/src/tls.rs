//! TLS on the gRPC listener, and the one rule that ties a mutual-TLS
//! connection to the ledger.
//!
//! ```text
//!   [tls] cert_file, key_file ──────────▶ TLS: the node proves who it is
//!   [tls] client_ca_file ───────────────▶ mutual TLS: every client presents a
//!                                         certificate issued by that CA
//!   client certificate
//!     URI SAN pledgeledger:participant:<id> ──▶ check_carrier(Submit)
//! ```
//!
//! The binding: a client certificate names its participant in exactly one
//! subject alternative name of type URI, `pledgeledger:participant:<id>`.
//! The subject common name is for people and is not read. Under mutual TLS
//! a `Submit` is accepted only when that participant is one of the
//! envelope's signers: a certificate for bank-b cannot carry a transaction
//! that bank-b did not sign. The signatures remain what authorises a write;
//! the certificate only limits who may carry it. Reads are open to every
//! certificate the CA issued, with or without a participant (auditors),
//! except that a participant revoked on the ledger loses every access
//! (`revocation.rs`).

use tonic::{Code, Status};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::admission::Handshake;
use crate::config::TlsFiles;
use crate::status;

/// Prefixes of the URI subject alternative names that bind a client
/// certificate to a participant id, a cluster member's to its member id.
pub use pledge_client::tls::{MEMBER_URI_PREFIX, PARTICIPANT_URI_PREFIX};

/// The ErrorInfo reason of a write carried by a connection whose
/// certificate is not one of the transaction's signers.
pub const NOT_A_SIGNER: &str = "CONNECTION_NOT_A_SIGNER";

/// The gRPC listener's TLS, renewable while the node runs: the same rustls
/// settings as the explorer's (HTTP/2 only), from the one function that
/// builds them. SIGHUP reads the `[tls]` files again (certificate chain,
/// key, client CA) and new connections are handshaken with what they now
/// hold; a connection made before keeps the session it has. The handshake
/// runs in `admission.rs`, under its timeout. A key file that group or
/// others may read is refused, at start and at each reload, as the node key
/// is.
#[derive(Debug, Clone)]
pub struct GrpcTls {
    acceptor: pledge_explorer::tls::Acceptor,
}

impl GrpcTls {
    /// From the `[tls]` files; refused if they do not make a TLS server.
    pub fn new(files: &TlsFiles) -> anyhow::Result<GrpcTls> {
        refuse_a_key_others_may_read(&files.key_file)?;
        let acceptor = pledge_explorer::tls::Acceptor::new(&files.for_rustls(), b"h2")?;
        Ok(GrpcTls { acceptor })
    }

    /// Reads the files again. If they do not make a TLS server (a key that
    /// does not match, a file half written, a key others may read) nothing
    /// changes.
    pub fn reload(&self) -> anyhow::Result<()> {
        refuse_a_key_others_may_read(&self.acceptor.files().key_file)?;
        Ok(self.acceptor.reload()?)
    }

    /// The certificate file, for messages.
    pub fn cert_file(&self) -> &std::path::Path {
        &self.acceptor.files().cert_file
    }
}

fn refuse_a_key_others_may_read(key_file: &std::path::Path) -> anyhow::Result<()> {
    crate::bootstrap::refuse_if_others_may_read(
        key_file,
        "TLS key ([tls] key_file, --tls-key)",
        "can pose as this node to every client",
    )
}

impl Handshake for GrpcTls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> impl Future<Output = std::io::Result<Self::Io>> + Send {
        self.acceptor.current().accept(tcp)
    }
}

/// May the connection that presented `peer_certs` (leaf first) submit a
/// transaction signed by `signers`? Without a client certificate (plaintext
/// or server-only TLS) there is nothing to bind and the answer is yes; with
/// one, its participant must be among the signers.
pub fn check_carrier<'a, C: AsRef<[u8]>>(
    peer_certs: Option<&[C]>,
    signers: impl Iterator<Item = &'a str>,
) -> Result<(), Status> {
    let Some(leaf) = peer_certs.and_then(<[C]>::first) else {
        return Ok(());
    };
    let signers: Vec<&str> = signers.collect();
    let (message, participant) = match participant_of(leaf.as_ref()) {
        Ok(id) if signers.contains(&id.as_str()) => return Ok(()),
        Ok(id) => (
            format!(
                "this connection's certificate is participant `{id}`, which did not sign the \
                 transaction; it may submit only what it signed"
            ),
            id,
        ),
        Err(why) => (
            format!("this connection's certificate {why}; it may read but not submit"),
            String::new(),
        ),
    };
    tracing::info!(%participant, ?signers, "write refused: the connection is not a signer");
    Err(status::status(
        Code::PermissionDenied,
        message,
        NOT_A_SIGNER,
        vec![
            ("connection_participant".into(), participant),
            ("signers".into(), signers.join(",")),
        ],
    ))
}

/// The participant the client certificate of `request`'s connection
/// names, under mutual TLS; `None` without one (or naming none).
pub fn connection_participant<T>(request: &tonic::Request<T>) -> Option<String> {
    let certs = request.peer_certs()?;
    participant_of(certs.first()?.as_ref()).ok()
}

/// The participant id a client certificate names, or what is wrong with it.
pub(crate) fn participant_of(der: &[u8]) -> Result<String, String> {
    uri_name(der, PARTICIPANT_URI_PREFIX, "participant")
}

/// The member id a cluster member's certificate names (docs/REPLICATION.md
/// §11), or what is wrong with it.
pub(crate) fn member_of(der: &[u8]) -> Result<u64, String> {
    let id = uri_name(der, MEMBER_URI_PREFIX, "member")?;
    id.parse()
        .map_err(|_| format!("names the member `{id}`, which is not a member id"))
}

/// The one name after `prefix` in the certificate's URI subject
/// alternative names.
fn uri_name(der: &[u8], prefix: &str, what: &str) -> Result<String, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("cannot be parsed ({e})"))?;
    let names = cert
        .subject_alternative_name()
        .map_err(|e| format!("has a malformed subject alternative name ({e})"))?
        .map(|san| san.value.general_names.clone())
        .unwrap_or_default();
    let mut ids = names.iter().filter_map(|name| match name {
        GeneralName::URI(uri) => uri.strip_prefix(prefix),
        _ => None,
    });
    match (ids.next(), ids.next()) {
        (Some(id), None) => Ok(id.to_owned()),
        (None, _) => Err(format!("names no {what} (no {prefix}<id> URI)")),
        (Some(_), Some(_)) => Err(format!("names more than one {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SanType};
    use tonic_types::StatusExt;

    fn certificate(uris: &[&str]) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = uris
            .iter()
            .map(|uri| SanType::URI((*uri).try_into().unwrap()))
            .collect();
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn a_tls_key_others_may_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let certificate = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let files = TlsFiles {
            cert_file: dir.path().join("server.pem"),
            key_file: dir.path().join("server-key.pem"),
            client_ca_file: None,
        };
        std::fs::write(&files.cert_file, certificate.pem()).unwrap();
        std::fs::write(&files.key_file, key.serialize_pem()).unwrap();
        let set_mode = |mode| {
            std::fs::set_permissions(&files.key_file, std::fs::Permissions::from_mode(mode))
                .unwrap()
        };

        set_mode(0o644);
        let refused = GrpcTls::new(&files).expect_err("refused").to_string();
        assert!(
            refused.contains("TLS key") && refused.contains("has mode 644"),
            "{refused}"
        );
        assert!(
            refused.contains(&format!("chmod 600 {}", files.key_file.display())),
            "{refused}"
        );

        set_mode(0o600);
        let tls = GrpcTls::new(&files).expect("a key only its user reads is taken");
        tls.reload().expect("reloaded");

        // A reload checks the mode again.
        set_mode(0o640);
        let refused = tls.reload().expect_err("refused").to_string();
        assert!(refused.contains("has mode 640"), "{refused}");
    }

    fn participant(id: &str) -> Vec<u8> {
        certificate(&[&format!("{PARTICIPANT_URI_PREFIX}{id}")])
    }

    fn refusal(result: Result<(), Status>) -> (Code, String, String) {
        let status = result.unwrap_err();
        let info = status.get_details_error_info().unwrap();
        let who = info.metadata["connection_participant"].clone();
        (status.code(), info.reason, who)
    }

    #[test]
    fn a_signer_may_carry_its_transaction() {
        let chain = [participant("bank-a")];
        let signers = ["trader-a", "bank-a"];
        assert!(check_carrier(Some(&chain[..]), signers.into_iter()).is_ok());
    }

    #[test]
    fn a_certificate_of_another_participant_is_not_a_signer() {
        let chain = [participant("bank-b")];
        let result = check_carrier(Some(&chain[..]), ["trader-a", "bank-a"].into_iter());
        assert_eq!(
            refusal(result),
            (Code::PermissionDenied, NOT_A_SIGNER.into(), "bank-b".into())
        );
    }

    #[test]
    fn a_certificate_naming_no_participant_or_two_cannot_submit() {
        let signers = ["auditor-1"];
        for chain in [
            [certificate(&["https://example.invalid/auditor-1"])],
            [certificate(&[
                "pledgeledger:participant:auditor-1",
                "pledgeledger:participant:bank-a",
            ])],
            [b"not a certificate".to_vec()],
        ] {
            let result = check_carrier(Some(&chain[..]), signers.into_iter());
            assert_eq!(
                refusal(result),
                (Code::PermissionDenied, NOT_A_SIGNER.into(), String::new())
            );
        }
    }

    #[test]
    fn a_member_certificate_names_one_member_id() {
        assert_eq!(member_of(&certificate(&["pledgeledger:member:3"])), Ok(3));
        for uris in [
            &["pledgeledger:member:three"][..],
            &["pledgeledger:participant:bank-a"],
            &["pledgeledger:member:1", "pledgeledger:member:2"],
        ] {
            assert!(member_of(&certificate(uris)).is_err(), "{uris:?}");
        }
    }

    #[test]
    fn without_a_client_certificate_there_is_nothing_to_bind() {
        assert!(check_carrier::<Vec<u8>>(None, ["bank-a"].into_iter()).is_ok());
        assert!(check_carrier::<Vec<u8>>(Some(&[]), ["bank-a"].into_iter()).is_ok());
    }
}
