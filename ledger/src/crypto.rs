//! Hashing and signing: every domain-separation tag of the ledger in one place.
//!
//! Each hashed or signed preimage starts with a tag that names what it is and
//! the format version, so a hash or signature made for one purpose can never
//! be taken for another (docs/FORMAT.md, "Tags").

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Prefix of the preimage that every party signs: tag ‖ transaction bytes.
pub const TX_SIGNATURE_TAG: &[u8] = b"pledge-ledger/v1/transaction\0";
/// Prefix of a transaction's content hash: tag ‖ transaction bytes.
pub const TX_HASH_TAG: &[u8] = b"pledge-ledger/v1/tx-hash\0";
/// Prefix of an entry hash: tag ‖ entry body.
pub const ENTRY_HASH_TAG: &[u8] = b"pledge-ledger/v1/entry\0";
/// Prefix of the node's seal: tag ‖ entry hash.
pub const SEAL_TAG: &[u8] = b"pledge-ledger/v1/seal\0";

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The all-zero digest: the "previous hash" of entry 0.
    pub const ZERO: Digest = Digest([0; 32]);

    /// SHA-256 of `tag ‖ parts…`.
    pub fn tagged(tag: &[u8], parts: &[&[u8]]) -> Digest {
        let mut hasher = Sha256::new();
        hasher.update(tag);
        for part in parts {
            hasher.update(part);
        }
        Digest(hasher.finalize().into())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lower-case hex digits (docs/FORMAT.md writes
    /// every hash in lower case; upper case is refused, not folded).
    pub fn from_hex(text: &str) -> Option<Digest> {
        parse_lower_hex_digest(text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An ed25519 public key as stored in the ledger (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Takes 32 bytes that encode a valid curve point, or `None`.
    ///
    /// Checking a point decompresses it (a square root in the field, about
    /// a sixth of a strict verification), and a participant's key comes
    /// back in every record it signs: each thread remembers the last keys it
    /// found valid and does not decompress them again. The verdict is the
    /// same either way.
    pub fn from_slice(bytes: &[u8]) -> Option<PublicKey> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        is_curve_point(&array).then_some(PublicKey(array))
    }

    /// The key as an ed25519-dalek verifying key.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Valid keys each thread remembers, at most (it forgets them all when
/// full): keys are few, one per participant and the node's.
const REMEMBERED_KEYS: usize = 1024;

thread_local! {
    static VALID_KEYS: std::cell::RefCell<std::collections::HashSet<[u8; 32]>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// Whether `bytes` encode a point of the curve; remembered per thread.
fn is_curve_point(bytes: &[u8; 32]) -> bool {
    if VALID_KEYS.with(|keys| keys.borrow().contains(bytes)) {
        return true;
    }
    let valid = VerifyingKey::from_bytes(bytes).is_ok();
    if valid {
        VALID_KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            if keys.len() >= REMEMBERED_KEYS {
                keys.clear();
            }
            keys.insert(*bytes);
        });
    }
    valid
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Decodes lower-case hex (`0-9a-f`, even length); upper case, spaces and
/// any other character are refused.
pub fn decode_lower_hex(text: &str) -> Option<Vec<u8>> {
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    hex::decode(text).ok()
}

/// Parses exactly 64 lower-case hex digits as a 32-byte digest.
pub fn parse_lower_hex_digest(text: &str) -> Option<Digest> {
    let bytes: [u8; 32] = decode_lower_hex(text)?.try_into().ok()?;
    Some(Digest(bytes))
}

/// The content hash of a transaction: identifies "the identical transaction"
/// for safe retries.
pub fn tx_hash(tx_bytes: &[u8]) -> Digest {
    Digest::tagged(TX_HASH_TAG, &[tx_bytes])
}

/// The bytes a party signs for a transaction.
pub fn tx_signing_preimage(tx_bytes: &[u8]) -> Vec<u8> {
    [TX_SIGNATURE_TAG, tx_bytes].concat()
}

/// Signs transaction bytes as a party.
pub fn sign_transaction(key: &SigningKey, tx_bytes: &[u8]) -> [u8; 64] {
    key.sign(&tx_signing_preimage(tx_bytes)).to_bytes()
}

/// Checks one party signature over transaction bytes.
pub fn verify_transaction_signature(
    key: &PublicKey,
    tx_bytes: &[u8],
    signature: &[u8; 64],
) -> bool {
    let Some(verifying) = key.verifying_key() else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    verifying
        .verify_strict(&tx_signing_preimage(tx_bytes), &signature)
        .is_ok()
}

/// Decompressed, checked public keys, kept between verifications: a
/// participant signs many transactions with one key, and decompressing it
/// (a square root in the field) is a sixth of a strict verification.
/// Shared between threads; forgets everything once it holds
/// [`KeyCache::CAPACITY`] keys (keys are few: one per participant).
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: std::sync::RwLock<std::collections::HashMap<PublicKey, Option<VerifyingKey>>>,
}

impl KeyCache {
    /// Keys held at most.
    pub const CAPACITY: usize = 65_536;

    /// An empty cache.
    pub fn new() -> KeyCache {
        KeyCache::default()
    }

    /// The decompressed key, `None` if the bytes are not a curve point.
    pub fn get(&self, key: &PublicKey) -> Option<VerifyingKey> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = keys.get(key) {
            return *found;
        }
        drop(keys);
        let verifying = key.verifying_key();
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= Self::CAPACITY {
            keys.clear();
        }
        keys.insert(*key, verifying);
        verifying
    }

    /// [`verify_transaction_signature`] with the key from this cache: the
    /// same verdict, strict verification.
    pub fn verify_transaction_signature(
        &self,
        key: &PublicKey,
        tx_bytes: &[u8],
        signature: &[u8; 64],
    ) -> bool {
        let Some(verifying) = self.get(key) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        verifying
            .verify_strict(&tx_signing_preimage(tx_bytes), &signature)
            .is_ok()
    }
}

/// The node's seal over an entry hash.
pub fn seal(key: &SigningKey, entry_hash: &Digest) -> [u8; 64] {
    key.sign(&[SEAL_TAG, &entry_hash.0].concat()).to_bytes()
}

/// Checks a node seal.
pub fn verify_seal(node_key: &PublicKey, entry_hash: &Digest, seal: &[u8; 64]) -> bool {
    let Some(verifying) = node_key.verifying_key() else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(seal);
    verifying
        .verify(&[SEAL_TAG, &entry_hash.0].concat(), &signature)
        .is_ok()
}

/// The public half of a signing key.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// A fresh signing key from the operating system's random source.
pub fn generate_signing_key() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_distinct_and_versioned() {
        let tags = [TX_SIGNATURE_TAG, TX_HASH_TAG, ENTRY_HASH_TAG, SEAL_TAG];
        for (i, a) in tags.iter().enumerate() {
            assert!(a.starts_with(b"pledge-ledger/v1/"));
            for b in &tags[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn hex_is_lower_case_only() {
        let lower = "ab".repeat(32);
        assert_eq!(Digest::from_hex(&lower), Some(Digest([0xab; 32])));
        for bad in [
            "AB".repeat(32),
            "aB".repeat(32),
            "ab".repeat(31),
            format!("{lower}00"),
        ] {
            assert_eq!(Digest::from_hex(&bad), None, "{bad}");
        }
        assert_eq!(decode_lower_hex("0a0b"), Some(vec![10, 11]));
        assert_eq!(decode_lower_hex("0A0B"), None);
        assert_eq!(decode_lower_hex("0a0"), None);
        assert_eq!(decode_lower_hex("+0a0"), None);
    }

    #[test]
    fn signature_binds_the_bytes() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let sig = sign_transaction(&key, b"abc");
        assert!(verify_transaction_signature(
            &public_key(&key),
            b"abc",
            &sig
        ));
        assert!(!verify_transaction_signature(
            &public_key(&key),
            b"abd",
            &sig
        ));
    }

    #[test]
    fn seal_is_not_a_transaction_signature() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let hash = Digest([1; 32]);
        let sealed = seal(&key, &hash);
        assert!(verify_seal(&public_key(&key), &hash, &sealed));
        assert!(!verify_transaction_signature(
            &public_key(&key),
            &hash.0,
            &sealed
        ));
    }

    #[test]
    fn remembered_keys_get_the_verdict_of_a_fresh_check() {
        let not_a_point = (0u8..=255)
            .map(|b| [b; 32])
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .expect("some 32 equal bytes are not a curve point");
        let valid: Vec<[u8; 32]> = (0..REMEMBERED_KEYS + 10)
            .map(|i| {
                let seed: [u8; 32] = Sha256::digest((i as u64).to_be_bytes()).into();
                public_key(&SigningKey::from_bytes(&seed)).0
            })
            .collect();
        for _ in 0..2 {
            for bytes in &valid {
                assert_eq!(PublicKey::from_slice(bytes), Some(PublicKey(*bytes)));
                assert_eq!(PublicKey::from_slice(&not_a_point), None);
            }
        }
        assert_eq!(PublicKey::from_slice(&valid[0][..31]), None);
    }
}
