//! Keys and hashes of the state map (see the module above): every preimage
//! starts with its own tag, as everywhere in the ledger.

use crate::crypto::Digest;

/// A 32-byte map key, a leaf value or a subtree hash.
pub type MapHash = [u8; 32];

/// Prefix of a map key: tag ‖ kind ‖ id.
pub const STATE_KEY_TAG: &[u8] = b"pledge-ledger/v1/state-key\0";
/// Prefix of a leaf hash: tag ‖ key ‖ value.
pub const MAP_LEAF_TAG: &[u8] = b"pledge-ledger/v1/map-leaf\0";
/// Prefix of an interior node hash: tag ‖ left ‖ right.
pub const MAP_NODE_TAG: &[u8] = b"pledge-ledger/v1/map-node\0";
/// The hash of an empty subtree (and the root of the empty map).
pub const EMPTY: MapHash = [0; 32];
/// Bits in a key: the map's depth.
pub const KEY_BITS: usize = 256;

/// What a map key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A warehouse receipt.
    Receipt = 0x01,
    /// A tank.
    Tank = 0x02,
}

/// The map key of an object: `SHA-256(STATE_KEY_TAG ‖ kind ‖ id)`.
pub fn map_key(kind: Kind, id: &str) -> MapHash {
    Digest::tagged(STATE_KEY_TAG, &[&[kind as u8], id.as_bytes()]).0
}

/// The hash of a subtree holding the one leaf `key → value`.
pub fn leaf_hash(key: &MapHash, value: &MapHash) -> MapHash {
    Digest::tagged(MAP_LEAF_TAG, &[key, value]).0
}

/// The hash of a subtree holding two or more leaves.
pub fn node_hash(left: &MapHash, right: &MapHash) -> MapHash {
    Digest::tagged(MAP_NODE_TAG, &[left, right]).0
}

/// Bit `depth` of `key`, most significant bit of byte 0 first: 0 goes left.
pub fn bit(key: &MapHash, depth: usize) -> u8 {
    (key[depth / 8] >> (7 - depth % 8)) & 1
}

/// Whether `a` and `b` agree on their first `bits` bits.
pub fn same_prefix(a: &MapHash, b: &MapHash, bits: usize) -> bool {
    let bits = bits.min(KEY_BITS);
    let whole = bits / 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// `key` with every bit from `depth` on cleared: the prefix naming the
/// subtree at `depth` that holds `key`.
pub fn prefix(key: &MapHash, depth: usize) -> MapHash {
    let mut out = *key;
    for (index, byte) in out.iter_mut().enumerate() {
        let first_bit = index * 8;
        if first_bit >= depth {
            *byte = 0;
        } else if first_bit + 8 > depth {
            *byte &= 0xffu8 << (first_bit + 8 - depth);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_most_significant_first() {
        let mut key = [0u8; 32];
        key[0] = 0b1000_0001;
        key[31] = 1;
        assert_eq!(bit(&key, 0), 1);
        assert_eq!(bit(&key, 1), 0);
        assert_eq!(bit(&key, 7), 1);
        assert_eq!(bit(&key, 255), 1);
        assert_eq!(prefix(&key, 1)[0], 0b1000_0000);
        assert_eq!(prefix(&key, 8)[0], 0b1000_0001);
        assert_eq!(prefix(&key, 255)[31], 0);
        assert_eq!(prefix(&key, 256), key);
        let mut other = key;
        other[0] = 0b1000_0011;
        assert!(same_prefix(&key, &other, 6));
        assert!(!same_prefix(&key, &other, 7));
        assert!(same_prefix(&key, &key, 256));
    }

    #[test]
    fn tags_are_distinct_and_versioned() {
        for tag in [STATE_KEY_TAG, MAP_LEAF_TAG, MAP_NODE_TAG] {
            assert!(tag.starts_with(b"pledge-ledger/v1/") && tag.ends_with(b"\0"));
        }
        assert_ne!(map_key(Kind::Receipt, "X"), map_key(Kind::Tank, "X"));
    }
}
