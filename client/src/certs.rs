//! A development CA that issues node, participant and cluster member
//! certificates ([`create_dev_ca`], [`issue_server`], [`issue_client`],
//! [`issue_member`]), as `pledgectl tls` and `pledge-node cluster-init
//! --tls` do (feature `dev-certs`).
//!
//! ```text
//!   create_dev_ca(DIR)  ──▶ DIR/ca.pem, DIR/ca-key.pem (0600)
//!   issue_server(DIR, hosts, OUT) ──▶ OUT/server.pem, OUT/server-key.pem
//!   issue_client(DIR, "bank-a", OUT) ──▶ OUT/bank-a.pem, OUT/bank-a-key.pem
//!        subject CN bank-a, URI SAN pledgeledger:participant:bank-a
//!   issue_member(DIR, 2, hosts, OUT) ──▶ OUT/member-2.pem, OUT/member-2-key.pem
//!        subject CN member-2, URI SAN pledgeledger:member:2, DNS/IP SANs hosts;
//!        for both ends of member-to-member mutual TLS
//! ```
//!
//! A node running mutual TLS reads the participant from the URI subject
//! alternative name only ([`PARTICIPANT_URI_PREFIX`]), a cluster member
//! the member id likewise ([`MEMBER_URI_PREFIX`]); the common name is for
//! people. Files are PEM; private keys are written with mode 0600 and no
//! file is ever overwritten. Keys are ECDSA P-256.

use std::path::{Path, PathBuf};

use crate::tls::{MEMBER_URI_PREFIX, PARTICIPANT_URI_PREFIX};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A value given by the user is not valid (a host, a participant id).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which value.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The CA directory holds no usable CA certificate or key.
    #[error("{file} in the CA directory: {reason}")]
    BadCa {
        /// The file name ([`CA_CERT`] or [`CA_KEY`]).
        file: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating a key or signing a certificate failed.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// An output file exists already.
    #[error("{} exists; not overwriting it", .0.display())]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// "read", "write", "create".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, CertError>;
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

/// Creates a development CA in `out`: [`CA_CERT`] and [`CA_KEY`].
pub fn create_dev_ca(out: &Path) -> Result<Written> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("pledge-ledger development CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    valid_for(&mut params, CA_DAYS);
    let key = generate_key()?;
    let cert = params.self_signed(&key)?;
    write_pair(out, CA_CERT, CA_KEY, &cert.pem(), &key.serialize_pem())
}

/// Issues the node's certificate for `hosts` (IP addresses or DNS names, as
/// clients write them in the URL) from the CA in `ca_dir`.
pub fn issue_server(ca_dir: &Path, hosts: &[String], out: &Path) -> Result<Written> {
    let first = hosts
        .first()
        .ok_or_else(|| invalid("host", "give at least one host name or address"))?;
    let mut params =
        CertificateParams::new(hosts.to_vec()).map_err(|e| invalid("host", e.to_string()))?;
    params.distinguished_name = name(first);
    leaf(&mut params, ExtendedKeyUsagePurpose::ServerAuth);
    issue(ca_dir, &params, out, SERVER_CERT, SERVER_KEY)
}

/// Issues `participant`'s client certificate from the CA in `ca_dir`:
/// `<participant>.pem` and `<participant>-key.pem`.
pub fn issue_client(ca_dir: &Path, participant: &str, out: &Path) -> Result<Written> {
    pledge_ledger::text::check_id("participant", participant)
        .map_err(|e| invalid("participant", e.to_string()))?;
    let uri = format!("{PARTICIPANT_URI_PREFIX}{participant}");
    let mut params = CertificateParams::default();
    params.distinguished_name = name(participant);
    params.subject_alt_names = vec![SanType::URI(
        uri.try_into()
            .map_err(|e: rcgen::Error| invalid("participant", e.to_string()))?,
    )];
    leaf(&mut params, ExtendedKeyUsagePurpose::ClientAuth);
    let (cert, key) = (
        format!("{participant}.pem"),
        format!("{participant}-key.pem"),
    );
    issue(ca_dir, &params, out, &cert, &key)
}

/// Issues cluster member `member_id`'s certificate from the CA in
/// `ca_dir`: `member-<id>.pem` and `member-<id>-key.pem`. It serves the
/// member's listener (the DNS names and IP addresses in `hosts`, as the
/// other members dial it) and is the member's client certificate when it
/// calls the others (URI SAN `pledgeledger:member:<id>`).
pub fn issue_member(
    ca_dir: &Path,
    member_id: u64,
    hosts: &[String],
    out: &Path,
) -> Result<Written> {
    if member_id == 0 || hosts.is_empty() {
        return Err(invalid(
            "member",
            "a member id from 1 and at least one host name or address",
        ));
    }
    let mut params =
        CertificateParams::new(hosts.to_vec()).map_err(|e| invalid("host", e.to_string()))?;
    let uri = format!("{MEMBER_URI_PREFIX}{member_id}");
    params
        .subject_alt_names
        .push(SanType::URI(uri.try_into().map_err(
            |e: rcgen::Error| invalid("member", e.to_string()),
        )?));
    params.distinguished_name = name(&format!("member-{member_id}"));
    leaf(&mut params, ExtendedKeyUsagePurpose::ServerAuth);
    params
        .extended_key_usages
        .push(ExtendedKeyUsagePurpose::ClientAuth);
    let (cert, key) = (
        format!("member-{member_id}.pem"),
        format!("member-{member_id}-key.pem"),
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
    let cert = params.signed_by(&key, &issuer)?;
    write_pair(out, cert_name, key_name, &cert.pem(), &key.serialize_pem())
}

fn load_issuer(ca_dir: &Path) -> Result<Issuer<'static, KeyPair>> {
    let read = |name: &str| {
        let path = ca_dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| CertError::Io {
            op: "read",
            path,
            source,
        })
    };
    let key = KeyPair::from_pem(&read(CA_KEY)?).map_err(|e| bad_ca(CA_KEY, e))?;
    Issuer::from_ca_cert_pem(&read(CA_CERT)?, key).map_err(|e| bad_ca(CA_CERT, e))
}

fn generate_key() -> Result<KeyPair> {
    Ok(KeyPair::generate()?)
}

fn invalid(what: &'static str, reason: impl Into<String>) -> CertError {
    CertError::InvalidInput {
        what,
        reason: reason.into(),
    }
}

fn bad_ca(file: &'static str, error: rcgen::Error) -> CertError {
    CertError::BadCa {
        file,
        reason: error.to_string(),
    }
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
            return Err(CertError::Exists(path.clone()));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| CertError::Io {
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
    let io = |source| CertError::Io {
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
        crate::tls::client_config(&ca.join(CA_CERT), Some(identity)).unwrap();
    }

    #[test]
    fn a_member_certificate_serves_and_identifies_its_member() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca");
        create_dev_ca(&ca).unwrap();
        let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
        let member = issue_member(&ca, 2, &hosts, dir.path()).unwrap();
        assert_eq!(member.cert, dir.path().join("member-2.pem"));
        let pem = std::fs::read_to_string(&member.cert).unwrap();
        let der = pem_der(&pem);
        let text = String::from_utf8_lossy(&der);
        assert!(text.contains("pledgeledger:member:2"), "no member URI");
        assert!(issue_member(&ca, 0, &hosts, dir.path()).is_err());
    }

    /// The DER inside a one-certificate PEM.
    fn pem_der(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
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
}
