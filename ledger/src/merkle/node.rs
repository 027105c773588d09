//! Identifiers of the perfect subtrees that a store keeps.

/// A perfect (complete) subtree of the tree: the node at height `level` whose leaves are
/// `[index << level, (index + 1) << level)`.
///
/// Level 0 nodes are leaves; a node at level `l > 0` is the parent of the nodes
/// `(l - 1, 2 * index)` and `(l - 1, 2 * index + 1)`. Only nodes whose whole leaf range has been
/// appended exist; the right edge of a tree whose size is not a power of two is made of several
/// such nodes and is never stored as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0 for a leaf). At most 63 for any tree of up to `u64::MAX` leaves.
    pub level: u8,
    /// Position among the nodes of the same level, counted from the left from 0.
    pub index: u64,
}

impl NodeId {
    /// Length of [`NodeId::to_key`]'s output.
    pub const KEY_LEN: usize = 9;

    /// The node at `level` with position `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The leaf with index `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The node one level up that contains this one.
    pub const fn parent(self) -> Self {
        Self {
            level: self.level.saturating_add(1),
            index: self.index >> 1,
        }
    }

    /// Whether this node is the right child of its parent.
    pub const fn is_right_child(self) -> bool {
        self.index & 1 == 1
    }

    /// The first leaf covered, or `None` if it does not fit in a `u64`.
    pub fn first_leaf(self) -> Option<u64> {
        let shift = u32::from(self.level);
        (shift < u64::BITS && self.index.leading_zeros() >= shift).then(|| self.index << shift)
    }

    /// Number of leaves covered (`2^level`), or `None` if that does not fit in a `u64`.
    pub fn width(self) -> Option<u64> {
        1u64.checked_shl(u32::from(self.level))
    }

    /// The node's place in the in-order ("flat tree") numbering of all nodes:
    /// `(index << (level + 1)) + (1 << level) - 1`, so leaf `i` is at `2i`
    /// and a parent sits between its children. Every node completed by the
    /// first `n` leaves lies below [`NodeId::flat_end`]`(n)` = `2n - 1`, so a
    /// file indexed by it only grows at its end. `None` if it does not fit
    /// in a `u64`.
    pub fn flat_position(self) -> Option<u64> {
        if u32::from(self.level) >= u64::BITS {
            return None;
        }
        let position = (u128::from(self.index) << (self.level + 1)) + (1u128 << self.level) - 1;
        u64::try_from(position).ok()
    }

    /// One past the highest [`NodeId::flat_position`] of the nodes completed
    /// by the first `size` leaves (0 for an empty tree).
    pub fn flat_end(size: u64) -> u64 {
        size.saturating_mul(2).saturating_sub(1)
    }

    /// Fixed-width key for ordered key-value stores: `level` (1 byte) then `index` (8 bytes,
    /// big-endian), so that the nodes of one level sort by index and are contiguous.
    pub fn to_key(self) -> [u8; Self::KEY_LEN] {
        let mut key = [0u8; Self::KEY_LEN];
        key[0] = self.level;
        key[1..].copy_from_slice(&self.index.to_be_bytes());
        key
    }

    /// Inverse of [`NodeId::to_key`]; `None` unless `key` is [`NodeId::KEY_LEN`] bytes long.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let (&level, index) = key.split_first()?;
        let index = u64::from_be_bytes(index.try_into().ok()?);
        Some(Self { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trip_and_order() {
        let ids = [
            NodeId::new(0, 0),
            NodeId::new(0, 1),
            NodeId::new(0, 256),
            NodeId::new(0, u64::MAX),
            NodeId::new(1, 0),
            NodeId::new(63, 1),
        ];
        for pair in ids.windows(2) {
            assert!(pair[0].to_key() < pair[1].to_key());
        }
        for id in ids {
            assert_eq!(NodeId::from_key(&id.to_key()), Some(id));
        }
        assert_eq!(NodeId::from_key(&[0; 8]), None);
        assert_eq!(NodeId::from_key(&[0; 10]), None);
        assert_eq!(NodeId::from_key(&[]), None);
    }

    #[test]
    fn leaf_ranges() {
        assert_eq!(NodeId::new(3, 2).first_leaf(), Some(16));
        assert_eq!(NodeId::new(3, 2).width(), Some(8));
        assert_eq!(NodeId::new(63, 1).first_leaf(), Some(1 << 63));
        assert_eq!(NodeId::new(63, 2).first_leaf(), None);
        assert_eq!(NodeId::new(64, 0).first_leaf(), None);
        assert_eq!(NodeId::new(64, 0).width(), None);
        assert_eq!(NodeId::leaf(u64::MAX).first_leaf(), Some(u64::MAX));
    }

    #[test]
    fn flat_positions_interleave_parents_between_children() {
        assert_eq!(NodeId::leaf(0).flat_position(), Some(0));
        assert_eq!(NodeId::new(1, 0).flat_position(), Some(1));
        assert_eq!(NodeId::leaf(1).flat_position(), Some(2));
        assert_eq!(NodeId::new(2, 0).flat_position(), Some(3));
        assert_eq!(NodeId::new(1, 1).flat_position(), Some(5));
        assert_eq!(NodeId::new(2, 1).flat_position(), Some(11));
        assert_eq!(NodeId::new(63, 0).flat_position(), Some((1 << 63) - 1));
        assert_eq!(NodeId::new(63, 1).flat_position(), None);
        assert_eq!(NodeId::leaf(u64::MAX).flat_position(), None);
        assert_eq!(NodeId::new(64, 0).flat_position(), None);
    }

    #[test]
    fn the_nodes_of_the_first_leaves_lie_below_the_flat_end() {
        for size in 0..200u64 {
            let end = NodeId::flat_end(size);
            for level in 0..8u8 {
                let complete = size >> level;
                for index in 0..complete {
                    let position = NodeId::new(level, index).flat_position().unwrap();
                    assert!(position < end, "({level}, {index}) at size {size}");
                }
            }
            if size > 0 {
                assert_eq!(NodeId::leaf(size - 1).flat_position(), Some(end - 1));
            }
        }
    }

    #[test]
    fn parent_and_side() {
        assert_eq!(NodeId::leaf(5).parent(), NodeId::new(1, 2));
        assert!(NodeId::leaf(5).is_right_child());
        assert!(!NodeId::leaf(4).is_right_child());
        assert_eq!(NodeId::new(u8::MAX, 1).parent(), NodeId::new(u8::MAX, 0));
    }
}
