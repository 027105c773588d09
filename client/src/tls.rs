//! TLS for talking to a node: trust the node's CA, and under mutual TLS
//! present a participant's certificate ([`client_config`]).
//!
//! A node running mutual TLS reads the participant from the client
//! certificate's URI subject alternative name only,
//! [`PARTICIPANT_URI_PREFIX`] followed by the participant id; the common
//! name is for people. Files are PEM. (`pledgectl tls` makes a development
//! CA and such certificates.)
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

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::{ClientError, Result};

/// Prefix of the URI subject alternative name that binds a client
/// certificate to a participant id (the node reads the id after it).
pub const PARTICIPANT_URI_PREFIX: &str = "pledgeledger:participant:";

/// Prefix of the URI subject alternative name that binds a cluster
/// member's certificate to its member id (members read the id after it).
pub const MEMBER_URI_PREFIX: &str = "pledgeledger:member:";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, b"garbage").unwrap();
        let error = client_config(&path, None).unwrap_err().to_string();
        assert!(error.contains("not a PEM file"), "{error}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.pem");
        let error = client_config(&path, None).unwrap_err().to_string();
        assert!(error.contains("absent.pem"), "{error}");
    }
}
