//! RFC 9162 §2.1.1 hashing: leaf and interior node hashes with domain separation.

use sha2::{Digest, Sha256};

use super::error::ProofError;

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Length in bytes of a [`Hash`](type@Hash).
pub const HASH_LEN: usize = 32;

/// Domain-separation prefix hashed before a leaf's data.
pub const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix hashed before the two children of an interior node.
pub const NODE_PREFIX: u8 = 0x01;

/// Root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Hash of a leaf: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// Hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Reads a [`Hash`](type@Hash) from untrusted bytes (e.g. a proof received over the wire).
///
/// Fails with [`ProofError::WrongHashLength`] unless `bytes` is exactly [`HASH_LEN`] long.
pub fn parse_hash(bytes: &[u8]) -> Result<Hash, ProofError> {
    Hash::try_from(bytes).map_err(|_| ProofError::WrongHashLength { found: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let digest: Hash = Sha256::digest(b"").into();
        assert_eq!(digest, EMPTY_ROOT);
    }

    #[test]
    fn prefixes_separate_leaves_from_nodes() {
        let l = leaf_hash(&[]);
        let n = node_hash(&l, &l);
        let mut raw = vec![NODE_PREFIX];
        raw.extend_from_slice(&l);
        raw.extend_from_slice(&l);
        let mut leaf_input = vec![LEAF_PREFIX];
        leaf_input.extend_from_slice(&raw[1..]);
        let expected: Hash = Sha256::digest(&leaf_input).into();
        assert_eq!(leaf_hash(&raw[1..]), expected);
        assert_ne!(leaf_hash(&raw[1..]), n);
        assert_eq!(n, Hash::from(Sha256::digest(&raw)));
    }

    #[test]
    fn parse_hash_checks_length() {
        assert_eq!(parse_hash(&[7; 32]), Ok([7; 32]));
        assert_eq!(
            parse_hash(&[7; 31]),
            Err(ProofError::WrongHashLength { found: 31 })
        );
        assert_eq!(
            parse_hash(&[]),
            Err(ProofError::WrongHashLength { found: 0 })
        );
    }
}
