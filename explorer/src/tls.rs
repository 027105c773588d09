//! The explorer's TLS: the node's own certificate, key and client CA, so a
//! browser meets the same server identity as a gRPC client and, under
//! mutual TLS, must present a client certificate from the same CA (which
//! the node's access rule then reads, see [`crate::channel`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// PEM files of the node's TLS identity and, for mutual TLS, of the CA that
/// issues client certificates (the node's `[tls]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The server's private key.
    pub key_file: PathBuf,
    /// With it, every browser must present a certificate issued by this CA.
    pub client_ca_file: Option<PathBuf>,
}

/// Why the TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("the TLS {what} {path}: {reason}")]
    File {
        /// certificate, private key or client CA.
        what: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the settings (a key that does not match, …).
    #[error("TLS settings: {0}")]
    Config(String),
}

/// A listener's TLS, renewable while it serves: [`Acceptor::reload`] reads
/// the files again and new connections are handshaken with what they now
/// hold; a connection made before keeps its session. The node's SIGHUP
/// renews the gRPC listener's and the explorer's this way.
#[derive(Clone)]
pub struct Acceptor {
    files: TlsFiles,
    alpn: &'static [u8],
    current: Arc<RwLock<TlsAcceptor>>,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("files", &self.files)
            .field("alpn", &String::from_utf8_lossy(self.alpn))
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// From `files`, offering the one application protocol `alpn`.
    pub fn new(files: &TlsFiles, alpn: &'static [u8]) -> Result<Acceptor, TlsError> {
        Ok(Acceptor {
            files: files.clone(),
            alpn,
            current: Arc::new(RwLock::new(tls_acceptor(files, alpn)?)),
        })
    }

    /// Reads the files again. If they do not make a TLS server (a key that
    /// does not match, a file half written) nothing changes.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = tls_acceptor(&self.files, self.alpn)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The files it reads.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// What a new connection is handshaken with.
    pub fn current(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A TLS acceptor for HTTP/1.1 (the explorer's pages) from the node's TLS
/// files.
pub fn acceptor(files: &TlsFiles) -> Result<Acceptor, TlsError> {
    Acceptor::new(files, b"http/1.1")
}

fn tls_acceptor(files: &TlsFiles, alpn: &[u8]) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(files, alpn)?)))
}

/// The rustls server settings from the node's TLS files, offering the one
/// application protocol `alpn` (`h2` for gRPC, `http/1.1` for pages).
/// Under mutual TLS a client must present a certificate from the client CA.
/// The node's gRPC listener and the explorer are configured by this one
/// function.
pub fn server_config(files: &TlsFiles, alpn: &[u8]) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?;
    let builder = match &files.client_ca_file {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca, "client CA")? {
                roots.add(cert).map_err(config_error)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(config_error)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| file_error("private key", &files.key_file, e))?;
    let mut config = builder
        .with_single_cert(certificates(&files.cert_file, "certificate")?, key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no certificate in it"));
    }
    Ok(certs)
}

fn file_error(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        what,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn config_error(error: impl std::fmt::Display) -> TlsError {
    TlsError::Config(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("server.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let files = TlsFiles {
            cert_file: empty.clone(),
            key_file: dir.path().join("absent-key.pem"),
            client_ca_file: None,
        };
        let error = acceptor(&files).unwrap_err().to_string();
        assert!(error.contains("absent-key.pem"), "{error}");
        let files = TlsFiles {
            client_ca_file: Some(empty),
            ..files
        };
        let error = acceptor(&files).unwrap_err().to_string();
        assert!(
            error.contains("client CA") && error.contains("server.pem"),
            "{error}"
        );
    }
}
