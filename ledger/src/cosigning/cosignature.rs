//! Ed25519 `cosignature/v1` (C2SP tlog-cosignature): a witness's statement
//! that, as of its timestamp, the checkpoint is the largest consistent tree
//! it has seen for the log.
//!
//! ```text
//!  signed message = "cosignature/v1\n" ‖ "time <seconds>\n" ‖ checkpoint text (final \n included)
//!  signature line = — <witness name> base64(key_id[4] ‖ timestamp[8, big-endian] ‖ Ed25519 signature[64])
//!  key_id         = SHA-256(<witness name> ‖ 0x0A ‖ 0x04 ‖ public key[32])[0..4]
//! ```

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use thiserror::Error;

use crate::crypto::{self, PublicKey};
use crate::note::{self, COSIGNATURE_V1_TYPE, NoteSignature, SignedNote, is_key_name};

/// First line of every cosigned message: the domain separation.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";
/// Largest timestamp a cosignature may carry (2⁶³ − 1 seconds).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
/// Bytes after the key id in a cosignature: timestamp and signature.
pub const COSIGNATURE_LEN: usize = 8 + 64;

/// A witness as a verifier knows it: its key name and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Witness {
    /// The witness's key name, e.g. `witness.bank-a.example/w1`.
    pub name: String,
    /// Its Ed25519 public key.
    pub key: PublicKey,
}

impl Witness {
    /// A witness, if `name` is a valid key name.
    pub fn new(name: &str, key: PublicKey) -> Result<Witness, CosignatureError> {
        if !is_key_name(name) {
            return Err(CosignatureError::BadName {
                name: note::quote(name),
            });
        }
        Ok(Witness {
            name: name.to_owned(),
            key,
        })
    }

    /// Its C2SP key id (signature type 0x04).
    pub fn key_id(&self) -> [u8; 4] {
        note::key_id(&self.name, COSIGNATURE_V1_TYPE, &self.key)
    }

    /// Finds this witness's cosignature on `note` and verifies it.
    /// `Ok(None)`: the witness did not cosign. `Err`: a line with its name
    /// and key id is there but does not verify.
    pub fn cosignature_on(&self, note: &SignedNote) -> Result<Option<u64>, CosignatureError> {
        let id = self.key_id();
        match note.signatures().iter().find(|s| s.is_by(&self.name, &id)) {
            None => Ok(None),
            Some(line) => verify(line, note.text(), self).map(Some),
        }
    }
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.key)
    }
}

/// The message a cosignature signs: the header, the timestamp line, then
/// the whole checkpoint text.
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{checkpoint_text}")
}

/// Cosigns `checkpoint_text` as witness `name` with `key`, at `timestamp`
/// (seconds since the Unix epoch, the witness's clock).
pub fn cosign(
    checkpoint_text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> Result<NoteSignature, CosignatureError> {
    let witness = Witness::new(name, crypto::public_key(key))?;
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge { timestamp });
    }
    let message = cosigned_message(checkpoint_text, timestamp);
    let mut signature = timestamp.to_be_bytes().to_vec();
    signature.extend_from_slice(&key.sign(message.as_bytes()).to_bytes());
    Ok(NoteSignature {
        name: witness.name.clone(),
        key_id: witness.key_id(),
        signature,
    })
}

/// Verifies one cosignature line of `witness` over `checkpoint_text`;
/// returns its timestamp.
pub fn verify(
    line: &NoteSignature,
    checkpoint_text: &str,
    witness: &Witness,
) -> Result<u64, CosignatureError> {
    let invalid = || CosignatureError::Invalid {
        witness: witness.name.clone(),
    };
    if !line.is_by(&witness.name, &witness.key_id()) || line.signature.len() != COSIGNATURE_LEN {
        return Err(invalid());
    }
    let (stamp, signature) = line.signature.split_at(8);
    let timestamp = u64::from_be_bytes(stamp.try_into().map_err(|_| invalid())?);
    if timestamp > MAX_TIMESTAMP {
        return Err(invalid());
    }
    let message = cosigned_message(checkpoint_text, timestamp);
    if note::verify_strict(&witness.key, message.as_bytes(), signature) {
        Ok(timestamp)
    } else {
        Err(invalid())
    }
}

/// Why a cosignature could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// The witness name is not a C2SP key name.
    #[error("{name:?} is not a valid witness key name (empty, or holds white space or '+')")]
    BadName {
        /// The name (cut to 80 characters).
        name: String,
    },
    /// The timestamp is above 2⁶³ − 1.
    #[error("cosignature timestamp {timestamp} is above 2^63 - 1")]
    TimestampTooLarge {
        /// The timestamp.
        timestamp: u64,
    },
    /// A line with the witness's name and key id does not verify.
    #[error("the cosignature by {witness} does not verify")]
    Invalid {
        /// The witness.
        witness: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosignature_verifies_and_binds_text_and_time() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let witness = Witness::new("w.example/1", crypto::public_key(&key)).unwrap();
        let line = cosign("a\nb\n", &witness.name, &key, 1_700_000_000).unwrap();
        assert_eq!(line.signature.len(), COSIGNATURE_LEN);
        assert_eq!(verify(&line, "a\nb\n", &witness), Ok(1_700_000_000));
        assert!(verify(&line, "a\nc\n", &witness).is_err());
        let mut later = line.clone();
        later.signature[7] ^= 1;
        assert!(verify(&later, "a\nb\n", &witness).is_err());
        assert!(cosign("a\n", "bad name", &key, 1).is_err());
        assert!(cosign("a\n", "w", &key, MAX_TIMESTAMP + 1).is_err());
    }
}
