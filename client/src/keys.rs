//! Signing keys from key files (the format of [`pledge_ledger::keyfile`]).

use std::path::Path;

use ed25519_dalek::SigningKey;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::keyfile::{KeyFile, KeyFileError};
use pledge_proto::v1 as pb;

use crate::error::{ClientError, Result};

/// A participant's signing key, as read from its key file.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The participant id the key belongs to.
    pub id: String,
    /// The secret key.
    pub key: SigningKey,
}

impl Signer {
    /// A signer for `id` with `key`.
    pub fn new(id: &str, key: SigningKey) -> Signer {
        Signer {
            id: id.to_owned(),
            key,
        }
    }

    /// Reads a key file holding a secret key.
    pub fn from_file(path: &Path) -> Result<Signer> {
        let file = KeyFile::read(path)?;
        let key = file.signing_key().map_err(|reason| KeyFileError::Invalid {
            path: path.to_owned(),
            reason,
        })?;
        Ok(Signer { id: file.id, key })
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        crypto::public_key(&self.key)
    }
}

/// Generates a fresh key for `id` and writes it to `path` (mode 0600);
/// refuses to overwrite an existing file.
pub fn generate_key_file(id: &str, path: &Path) -> Result<KeyFile> {
    pledge_ledger::text::check_id("id", id).map_err(|e| ClientError::input("id", e.to_string()))?;
    if path.exists() {
        return Err(ClientError::input(
            "key file",
            format!("{} exists; not overwriting a key", path.display()),
        ));
    }
    let key = crypto::generate_signing_key().map_err(|e| ClientError::Random(e.to_string()))?;
    let file = KeyFile::new(id, &key);
    file.write(path)?;
    Ok(file)
}

/// Reads the public key of a key file (with or without its secret part).
pub fn public_key_of_file(path: &Path) -> Result<(String, PublicKey)> {
    let file = KeyFile::read(path)?;
    let key = file.public().map_err(|reason| KeyFileError::Invalid {
        path: path.to_owned(),
        reason,
    })?;
    Ok((file.id, key))
}

/// Parses a public key written as 64 lower-case hex digits (docs/FORMAT.md
/// writes hex in lower case; upper case is refused, not folded).
pub fn parse_public_key(text: &str) -> Result<PublicKey> {
    let bytes = crypto::decode_lower_hex(text.trim()).ok_or_else(|| {
        ClientError::input(
            "public key",
            format!("{text:?} is not lower-case hex of even length"),
        )
    })?;
    PublicKey::from_slice(&bytes).ok_or_else(|| {
        ClientError::input(
            "public key",
            format!("{text:?} is not an ed25519 public key"),
        )
    })
}

/// Signs a transaction with every signer, in order.
pub fn sign(tx: &pb::Transaction, signers: &[Signer]) -> Envelope {
    signers
        .iter()
        .fold(EnvelopeBuilder::new(tx), |b, s| b.sign(&s.id, &s.key))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_file_reads_back_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bank-a.json");
        let written = generate_key_file("bank-a", &path).unwrap();
        let signer = Signer::from_file(&path).unwrap();
        assert_eq!(signer.id, "bank-a");
        assert_eq!(signer.public_key().to_hex(), written.public_key);
        assert_eq!(public_key_of_file(&path).unwrap().1, signer.public_key());
        assert!(generate_key_file("bank-a", &path).is_err());
        assert!(generate_key_file("bad id", &dir.path().join("x.json")).is_err());
    }

    #[test]
    fn public_keys_parse_from_hex() {
        let key = Signer::new("x", SigningKey::from_bytes(&[3; 32])).public_key();
        assert_eq!(parse_public_key(&key.to_hex()).unwrap(), key);
        assert!(parse_public_key("abcd").is_err());
        assert!(parse_public_key("zz").is_err());
        assert!(parse_public_key(&key.to_hex().to_uppercase()).is_err());
    }
}
