//! Key files: a participant's (or the node's) ed25519 key on disk.
//!
//! A key file is JSON:
//! `{"id": "bank-a", "public_key": "<64 hex>", "secret_key": "<64 hex>"}`
//! where `secret_key` is the 32-byte Ed25519 seed. Public-key files carry no
//! `secret_key`. Key files are written with mode 0600. The format is
//! specified for other implementations in `docs/FORMAT.md` §8.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::{self, PublicKey};

/// A key as stored in a key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// The participant id the key belongs to ("node" for a node key).
    pub id: String,
    /// The public key, hex.
    pub public_key: String,
    /// The 32-byte secret seed, hex; absent in public-key files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
}

/// Why a key file could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// "read" or "write".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a key file.
    #[error("{path} is not a key file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl KeyFile {
    /// A key file holding `key` for `id`.
    pub fn new(id: &str, key: &SigningKey) -> KeyFile {
        KeyFile {
            id: id.to_owned(),
            public_key: crypto::public_key(key).to_hex(),
            secret_key: Some(hex::encode(key.to_bytes())),
        }
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<KeyFile, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            op: "read",
            path: path.to_owned(),
            source,
        })?;
        let file: KeyFile =
            serde_json::from_str(&text).map_err(|e| invalid(path, e.to_string()))?;
        file.public().map_err(|reason| invalid(path, reason))?;
        if file.secret_key.is_some() {
            file.signing_key().map_err(|reason| invalid(path, reason))?;
        }
        Ok(file)
    }

    /// Writes the key file, readable by its owner only.
    pub fn write(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            op: "write",
            path: path.to_owned(),
            source,
        };
        let text =
            serde_json::to_string_pretty(self).map_err(|e| invalid(path, e.to_string()))? + "\n";
        write_private(path, text.as_bytes()).map_err(io)
    }

    /// The public key.
    pub fn public(&self) -> Result<PublicKey, String> {
        let bytes = hex::decode(&self.public_key).map_err(|e| format!("public_key: {e}"))?;
        PublicKey::from_slice(&bytes).ok_or_else(|| "public_key is not an ed25519 key".to_owned())
    }

    /// The signing key; an error for public-key files or a seed that does not
    /// match the public key.
    pub fn signing_key(&self) -> Result<SigningKey, String> {
        let secret = self
            .secret_key
            .as_deref()
            .ok_or("the file holds no secret key")?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(secret, &mut seed).map_err(|e| format!("secret_key: {e}"))?;
        let key = SigningKey::from_bytes(&seed);
        if crypto::public_key(&key).to_hex() != self.public_key {
            return Err("secret_key does not match public_key".into());
        }
        Ok(key)
    }
}

fn invalid(path: &Path, reason: String) -> KeyFileError {
    KeyFileError::Invalid {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = SigningKey::from_bytes(&[5; 32]);
        KeyFile::new("bank-a", &key).write(&path).unwrap();
        let read = KeyFile::read(&path).unwrap();
        assert_eq!(read.signing_key().unwrap().to_bytes(), key.to_bytes());
        let mut wrong = read.clone();
        wrong.public_key = crypto::public_key(&SigningKey::from_bytes(&[6; 32])).to_hex();
        wrong.write(&path).unwrap();
        assert!(KeyFile::read(&path).is_err());
    }
}
