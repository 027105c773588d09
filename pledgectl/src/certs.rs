//! TLS for talking to a node: trust the node's CA, and under mutual TLS
//! present a participant's certificate ([`client_config`]). And a
//! development CA that issues node and participant certificates
//! ([`create_dev_ca`], [`issue_server`], [`issue_client`]), as
//! `pledgectl tls` does.
//!
//! ```text
//!   create_dev_ca(DIR)  ──▶ DIR/ca.pem, DIR/ca-key.pem (0600)
//!   issue_server(DIR, hosts, OUT) ──▶ OUT/server.pem, OUT/server-key.pem
//!   issue_client(DIR, "bank-a", OUT) ──▶ OUT/bank-a.pem, OUT/bank-a-key.pem
//!        subject CN bank-a, URI SAN pledgeledger:participant:bank-a
//! ```
//!
//! A node running mutual TLS reads the participant from the URI subject
//! alternative name only ([`PARTICIPANT_URI_PREFIX`]); the common name is
//! for people. Files are PEM; private keys are written with mode 0600 and no
//! file is ever overwritten. Keys are ECDSA P-256.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pledge_client::ClientError> {
//! use std::path::Path;
//! use pledge_client::{ConnectOptions, LedgerClient, tls};
//!
//! let tls = tls::client_config(
//!     Path::new("ca/ca.pem"),
//!     Some((Path::new("bank-a/bank-a.pem"), Path::new("bank-a/bank-a-key.pem"))),
//! )?;
//! let options = ConnectOptions { tls: Some(tls), ..ConnectOptions::default() };
//! let client = LedgerClient::connect_with("https://127.0.0.1:50051", options).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::{ClientError, Result};

/// Prefix of the URI subject alternative name that binds a client
/// certificate to a participant id (the node reads the id after it).
pub const PARTICIPANT_URI_PREFIX: &str = "pledgeledger:participant:";
/// The CA certificate's file name in a CA directory.
pub const CA_CERT: &str = "ca.pem";
/// The CA private key's file name in a CA directory.
pub const CA_KEY: &str = "ca-key.pem";
/// The node certificate's file name.
pub const SERVER_CERT: &str = "server.pem";
/// The node private key's file name.
pub const SERVER_KEY: &str = "server-key.pem";

const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 397;

/// The two files a certificate command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, mode 0600).
    pub key: PathBuf,
}

/// TLS settings that trust the CA in `ca_file` and, given a certificate and
/// key file, present that identity (mutual TLS).
pub fn client_config(ca_file: &Path, identity: Option<(&Path, &Path)>) -> Result<ClientTlsConfig> {
    let mut config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read_pem(ca_file, "CA certificate")?));
    if let Some((cert, key)) = identity {
        let cert = read_pem(cert, "client certificate")?;
        config = config.identity(Identity::from_pem(cert, read_pem(key, "client key")?));
    }
    Ok(config)
}

fn read_pem(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| ClientError::Io {
        op: "read",
        path: path.to_owned(),
        source,
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(ClientError::input(
            what,
            format!("{} is not a PEM file", path.display()),
        ));
    }
    Ok(bytes)
}

/// Creates a development CA in `out`: [`CA_CERT`] and [`CA_KEY`].
pub fn create_dev_ca(out: &Path) -> Result<Written> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("pledge-ledger development CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    valid_for(&mut params, CA_DAYS);
    let key = generate_key()?;
    let cert = params.self_signed(&key).map_err(certificate_error)?;
    write_pair(out, CA_CERT, CA_KEY, &cert.pem(), &key.serialize_pem())
}

/// Issues the node's certificate for `hosts` (IP addresses or DNS names, as
/// clients write them in the URL) from the CA in `ca_dir`.
pub fn issue_server(ca_dir: &Path, hosts: &[String], out: &Path) -> Result<Written> {
    let first = hosts
        .first()
        .ok_or_else(|| ClientError::input("host", "give at least one host name or address"))?;
    let mut params = CertificateParams::new(hosts.to_vec())
        .map_err(|e| ClientError::input("host", e.to_string()))?;
    params.distinguished_name = name(first);
    leaf(&mut params, ExtendedKeyUsagePurpose::ServerAuth);
    issue(ca_dir, &params, out, SERVER_CERT, SERVER_KEY)
}

/// Issues `participant`'s client certificate from the CA in `ca_dir`:
/// `<participant>.pem` and `<participant>-key.pem`.
pub fn issue_client(ca_dir: &Path, participant: &str, out: &Path) -> Result<Written> {
    pledge_ledger::text::check_id("participant", participant)
        .map_err(|e| ClientError::input("participant", e.to_string()))?;
    let uri = format!("{PARTICIPANT_URI_PREFIX}{participant}");
    let mut params = CertificateParams::default();
    params.distinguished_name = name(participant);
    params.subject_alt_names = vec![SanType::URI(
        uri.try_into()
            .map_err(|e: rcgen::Error| ClientError::input("participant", e.to_string()))?,
    )];
    leaf(&mut params, ExtendedKeyUsagePurpose::ClientAuth);
    let (cert, key) = (
        format!("{participant}.pem"),
        format!("{participant}-key.pem"),
    );
    issue(ca_dir, &params, out, &cert, &key)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn leaf(params: &mut CertificateParams, purpose: ExtendedKeyUsagePurpose) {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![purpose];
    params.use_authority_key_identifier_extension = true;
    valid_for(params, LEAF_DAYS);
}

fn valid_for(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

fn issue(
    ca_dir: &Path,
    params: &CertificateParams,
    out: &Path,
    cert_name: &str,
    key_name: &str,
) -> Result<Written> {
    let issuer = load_issuer(ca_dir)?;
    let key = generate_key()?;
    let cert = params.signed_by(&key, &issuer).map_err(certificate_error)?;
    write_pair(out, cert_name, key_name, &cert.pem(), &key.serialize_pem())
}

fn load_issuer(ca_dir: &Path) -> Result<Issuer<'static, KeyPair>> {
    let read = |name: &str| {
        let path = ca_dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| ClientError::Io {
            op: "read",
            path,
            source,
        })
    };
    let key = KeyPair::from_pem(&read(CA_KEY)?)
        .map_err(|e| ClientError::input("CA key", format!("{}: {e}", CA_KEY)))?;
    Issuer::from_ca_cert_pem(&read(CA_CERT)?, key)
        .map_err(|e| ClientError::input("CA certificate", format!("{}: {e}", CA_CERT)))
}

fn generate_key() -> Result<KeyPair> {
    KeyPair::generate().map_err(|e| ClientError::Random(e.to_string()))
}

fn certificate_error(error: rcgen::Error) -> ClientError {
    ClientError::input("certificate", error.to_string())
}

/// Writes the certificate and its key (mode 0600) into `out`, refusing to
/// overwrite either.
fn write_pair(
    out: &Path,
    cert_name: &str,
    key_name: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Written> {
    let written = Written {
        cert: out.join(cert_name),
        key: out.join(key_name),
    };
    for path in [&written.cert, &written.key] {
        if path.exists() {
            return Err(ClientError::input(
                "output file",
                format!("{} exists; not overwriting it", path.display()),
            ));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| ClientError::Io {
        op: "create",
        path: out.to_owned(),
        source,
    })?;
    write_new(&written.key, key_pem, 0o600)?;
    write_new(&written.cert, cert_pem, 0o644)?;
    Ok(written)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let io = |source| ClientError::Io {
        op: "write",
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_ca_issues_server_and_client_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca");
        create_dev_ca(&ca).unwrap();
        let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
        let server = issue_server(&ca, &hosts, &dir.path().join("node")).unwrap();
        let client = issue_client(&ca, "bank-a", &dir.path().join("bank-a")).unwrap();
        assert_eq!(client.cert, dir.path().join("bank-a").join("bank-a.pem"));
        for written in [&server, &client] {
            let pem = std::fs::read_to_string(&written.cert).unwrap();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        let identity = (client.cert.as_path(), client.key.as_path());
        client_config(&ca.join(CA_CERT), Some(identity)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_keys_are_mode_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let written = create_dev_ca(dir.path()).unwrap();
        let mode = std::fs::metadata(&written.key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = create_dev_ca(dir.path()).unwrap_err().to_string();
        assert!(again.contains("not overwriting"), "{again}");
    }

    #[test]
    fn a_participant_id_is_checked_and_a_missing_ca_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(issue_client(dir.path(), "", dir.path()).is_err());
        let missing = issue_client(dir.path(), "bank-a", dir.path()).unwrap_err();
        assert!(missing.to_string().contains(CA_KEY), "{missing}");
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, b"garbage").unwrap();
        let error = client_config(&path, None).unwrap_err().to_string();
        assert!(error.contains("not a PEM file"), "{error}");
    }
}
