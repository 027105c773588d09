//! Pure index arithmetic: which stored nodes a root or a proof is made of.
//!
//! Nothing here reads hashes. A proof is a list of [`ProofNode`]s, leaf side first, each of
//! which becomes one hash of the proof: either a stored perfect subtree, or a subtree on the
//! right edge of the tree that is not perfect and is computed from several stored ones.
//!
//! The shapes follow RFC 9162 §2.1.3.1 (`PATH`) and §2.1.4.1 (`SUBPROOF`), computed
//! iteratively: a node proof walks down from the root, taking the split point `k` (largest
//! power of two below the width of the current range) at each step, and records the sibling
//! range it does not enter.

use super::error::RangeError;
use super::node::NodeId;

/// One hash of a proof, described by the stored nodes it is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofNode {
    /// A perfect subtree, stored as one node.
    Perfect(NodeId),
    /// A subtree on the right edge of the tree that is not perfect. Its hash is the fold of these
    /// perfect nodes (left to right, decreasing in size, at least two) from the right:
    /// `node_hash(n[0], node_hash(n[1], … node_hash(n[k-2], n[k-1])))`.
    RightEdge(Vec<NodeId>),
}

impl ProofNode {
    /// The stored nodes this proof hash is computed from, left to right.
    pub fn node_ids(&self) -> &[NodeId] {
        match self {
            Self::Perfect(id) => std::slice::from_ref(id),
            Self::RightEdge(ids) => ids,
        }
    }

    /// The hash of the leaves `[begin, end)`, `begin < end`, where `begin` is a multiple of a
    /// power of two not smaller than `end - begin`.
    fn for_range(begin: u64, end: u64) -> Self {
        let mut ids = range_nodes(begin, end);
        match (ids.pop(), ids.is_empty()) {
            (Some(id), true) => Self::Perfect(id),
            (Some(id), false) => {
                ids.push(id);
                Self::RightEdge(ids)
            }
            (None, _) => Self::RightEdge(ids),
        }
    }
}

/// The fewest perfect subtrees that exactly cover the leaves `[begin, end)`, left to right.
///
/// Empty when `begin >= end`. For `[0, size)` these are the nodes whose right fold is the root
/// of the tree of that size, one per set bit of `size`, largest first.
pub fn range_nodes(begin: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut pos = begin;
    while pos < end {
        let fit = floor_log2(end - pos);
        let level = pos.trailing_zeros().min(fit);
        nodes.push(NodeId::new(level as u8, pos >> level));
        pos += 1 << level;
    }
    nodes
}

/// The perfect subtrees whose right fold is the root of the tree of `size` leaves.
///
/// Empty for `size == 0`: the empty tree's root is the constant [`super::EMPTY_ROOT`].
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    range_nodes(0, size)
}

/// Shape of the inclusion proof (RFC 9162 `PATH`) of leaf `index` in the tree of `size` leaves.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<ProofNode>, RangeError> {
    if index >= size {
        return Err(RangeError::IndexOutOfRange { index, size });
    }
    Ok(node_path(0, index, size))
}

/// Shape of the consistency proof (RFC 9162 `PROOF`/`SUBPROOF`) from size `size1` to `size2`.
///
/// Empty when the sizes are equal. Fails when `size1 > size2` or when `size1 == 0 < size2`.
pub fn consistency_nodes(size1: u64, size2: u64) -> Result<Vec<ProofNode>, RangeError> {
    if size1 > size2 {
        return Err(RangeError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == size2 {
        return Ok(Vec::new());
    }
    if size1 == 0 {
        return Err(RangeError::EmptyOldTree { size2 });
    }
    // The largest perfect subtree ending at size1. The proof is that node (unless it is the whole
    // old tree, which the verifier already holds as root1) then its path in the new tree.
    let level = size1.trailing_zeros();
    let begin = size1 - (1 << level);
    let mut nodes = Vec::new();
    if begin != 0 {
        nodes.push(ProofNode::Perfect(NodeId::new(level as u8, begin >> level)));
    }
    nodes.extend(node_path(level, begin, size2));
    Ok(nodes)
}

/// Number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves,
/// computed in closed form (as `decompInclProof` in transparency-dev/merkle).
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, RangeError> {
    if index >= size {
        return Err(RangeError::IndexOutOfRange { index, size });
    }
    Ok(subtree_path_len(index, size - 1))
}

/// Number of hashes in the consistency proof from `size1` to `size2`, computed in closed form.
pub fn consistency_proof_len(size1: u64, size2: u64) -> Result<usize, RangeError> {
    if size1 > size2 {
        return Err(RangeError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == size2 {
        return Ok(0);
    }
    if size1 == 0 {
        return Err(RangeError::EmptyOldTree { size2 });
    }
    let level = size1.trailing_zeros();
    let index = (size1 - 1) >> level;
    let seed = usize::from(index != 0);
    Ok(seed + subtree_path_len(index, (size2 - 1) >> level))
}

/// Path length of position `index` in a tree whose last position is `last` (`index <= last`):
/// the levels below the point where the two diverge, plus one left sibling per set bit above.
fn subtree_path_len(index: u64, last: u64) -> usize {
    let inner = u64::BITS - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Siblings, leaf side first, of the perfect node `(level, begin >> level)` on its way to the
/// root of the tree of `size` leaves. The node must lie within `[0, size)`.
fn node_path(level: u32, begin: u64, size: u64) -> Vec<ProofNode> {
    let width = 1u64 << level;
    let (mut lo, mut hi) = (0u64, size);
    let mut siblings = Vec::new();
    while hi - lo > width {
        let k = 1u64 << floor_log2(hi - lo - 1);
        let mid = lo + k;
        if begin < mid {
            siblings.push(ProofNode::for_range(mid, hi));
            hi = mid;
        } else {
            let k_level = k.trailing_zeros();
            siblings.push(ProofNode::Perfect(NodeId::new(
                k_level as u8,
                lo >> k_level,
            )));
            lo = mid;
        }
    }
    siblings.reverse();
    siblings
}

/// `floor(log2(n))` for `n > 0` (0 for `n == 0`).
fn floor_log2(n: u64) -> u32 {
    (u64::BITS - 1).saturating_sub(n.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perfect(level: u8, index: u64) -> ProofNode {
        ProofNode::Perfect(NodeId::new(level, index))
    }

    #[test]
    fn range_nodes_follow_binary_decomposition() {
        assert!(range_nodes(0, 0).is_empty());
        assert!(range_nodes(5, 5).is_empty());
        assert!(range_nodes(6, 5).is_empty());
        assert_eq!(range_nodes(0, 1), vec![NodeId::leaf(0)]);
        assert_eq!(range_nodes(0, 8), vec![NodeId::new(3, 0)]);
        assert_eq!(
            range_nodes(0, 7),
            vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::leaf(6)]
        );
        // Unaligned start: climbs then descends.
        assert_eq!(
            range_nodes(3, 11),
            vec![
                NodeId::leaf(3),
                NodeId::new(2, 1),
                NodeId::new(1, 4),
                NodeId::leaf(10)
            ]
        );
        assert_eq!(
            range_nodes(3, 13),
            vec![
                NodeId::leaf(3),
                NodeId::new(2, 1),
                NodeId::new(2, 2),
                NodeId::leaf(12)
            ]
        );
        assert_eq!(root_nodes(u64::MAX).len(), 64);
        assert_eq!(root_nodes(u64::MAX)[0], NodeId::new(63, 0));
        assert_eq!(root_nodes(u64::MAX)[63], NodeId::leaf(u64::MAX - 1));
        assert_eq!(
            range_nodes(u64::MAX - 1, u64::MAX),
            vec![NodeId::leaf(u64::MAX - 1)]
        );
    }

    #[test]
    fn inclusion_shapes() {
        assert_eq!(inclusion_nodes(0, 1), Ok(vec![]));
        assert_eq!(
            inclusion_nodes(0, 8),
            Ok(vec![perfect(0, 1), perfect(1, 1), perfect(2, 1)])
        );
        // RFC 9162 §2.1.5 example tree of 7 leaves: path of d0 is [b, h, l] with l = leaves 4..7.
        assert_eq!(
            inclusion_nodes(0, 7),
            Ok(vec![
                perfect(0, 1),
                perfect(1, 1),
                ProofNode::RightEdge(vec![NodeId::new(1, 2), NodeId::leaf(6)]),
            ])
        );
        // d3: [c, g, l]; d4: [f, j, k]; d6: [i, k].
        assert_eq!(inclusion_nodes(4, 7).map(|p| p.len()), Ok(3));
        assert_eq!(
            inclusion_nodes(4, 7),
            Ok(vec![perfect(0, 5), perfect(0, 6), perfect(2, 0)])
        );
        assert_eq!(
            inclusion_nodes(6, 7),
            Ok(vec![perfect(1, 2), perfect(2, 0)])
        );
    }

    #[test]
    fn inclusion_rejects_out_of_range() {
        let err = |index, size| Err(RangeError::IndexOutOfRange { index, size });
        assert_eq!(inclusion_nodes(0, 0), err(0, 0));
        assert_eq!(inclusion_nodes(5, 5), err(5, 5));
        assert_eq!(inclusion_nodes(u64::MAX, u64::MAX), err(u64::MAX, u64::MAX));
        let len_err = |index, size| Err(RangeError::IndexOutOfRange { index, size });
        assert_eq!(inclusion_proof_len(1, 1), len_err(1, 1));
        assert_eq!(inclusion_proof_len(0, 0), len_err(0, 0));
    }

    #[test]
    fn inclusion_at_u64_max() {
        let size = u64::MAX;
        let last = inclusion_nodes(size - 1, size).map(|p| p.len());
        assert_eq!(last, Ok(63));
        assert_eq!(inclusion_proof_len(size - 1, size), Ok(63));
        let first = inclusion_nodes(0, size).unwrap_or_default();
        assert_eq!(first.len(), 64);
        assert_eq!(inclusion_proof_len(0, size), Ok(64));
        match first.last() {
            Some(ProofNode::RightEdge(ids)) => assert_eq!(ids.len(), 63),
            other => panic!("unexpected top sibling {other:?}"),
        }
    }

    #[test]
    fn consistency_shapes() {
        // RFC 9162 §2.1.5: PROOF(3, D[7]) = [c, d, g, l]; PROOF(4, D[7]) = [l];
        // PROOF(6, D[7]) = [i, j, k].
        assert_eq!(
            consistency_nodes(3, 7),
            Ok(vec![
                perfect(0, 2),
                perfect(0, 3),
                perfect(1, 0),
                ProofNode::RightEdge(vec![NodeId::new(1, 2), NodeId::leaf(6)]),
            ])
        );
        assert_eq!(
            consistency_nodes(4, 7),
            Ok(vec![ProofNode::RightEdge(vec![
                NodeId::new(1, 2),
                NodeId::leaf(6)
            ])])
        );
        assert_eq!(
            consistency_nodes(6, 7),
            Ok(vec![perfect(1, 2), perfect(0, 6), perfect(2, 0)])
        );
        assert_eq!(consistency_nodes(1, 2), Ok(vec![perfect(0, 1)]));
        assert_eq!(consistency_nodes(0, 0), Ok(vec![]));
        assert_eq!(consistency_nodes(9, 9), Ok(vec![]));
    }

    #[test]
    fn consistency_rejects_bad_sizes() {
        assert_eq!(
            consistency_nodes(2, 1),
            Err(RangeError::SizesOutOfOrder { size1: 2, size2: 1 })
        );
        assert_eq!(
            consistency_nodes(0, 1),
            Err(RangeError::EmptyOldTree { size2: 1 })
        );
        assert_eq!(
            consistency_proof_len(u64::MAX, 0),
            Err(RangeError::SizesOutOfOrder {
                size1: u64::MAX,
                size2: 0
            })
        );
        assert_eq!(
            consistency_proof_len(0, u64::MAX),
            Err(RangeError::EmptyOldTree { size2: u64::MAX })
        );
    }

    #[test]
    fn consistency_at_u64_max() {
        for (s1, s2) in [
            (u64::MAX - 1, u64::MAX),
            (1, u64::MAX),
            (1 << 63, u64::MAX),
            ((1 << 63) - 1, u64::MAX),
        ] {
            let nodes = consistency_nodes(s1, s2).unwrap_or_default();
            assert!(!nodes.is_empty());
            assert_eq!(consistency_proof_len(s1, s2), Ok(nodes.len()), "{s1} {s2}");
        }
    }

    #[test]
    fn closed_form_lengths_match_shapes() {
        for size in 1..=70u64 {
            for index in 0..size {
                let shape = inclusion_nodes(index, size).map(|p| p.len());
                assert_eq!(shape, inclusion_proof_len(index, size), "{index} {size}");
            }
            for size1 in 0..=size {
                let shape = consistency_nodes(size1, size).map(|p| p.len());
                assert_eq!(shape, consistency_proof_len(size1, size), "{size1} {size}");
            }
        }
    }

    #[test]
    fn every_proof_node_lies_inside_the_tree() {
        for size in 1..=40u64 {
            let mut shapes: Vec<ProofNode> = Vec::new();
            for index in 0..size {
                shapes.extend(inclusion_nodes(index, size).unwrap_or_default());
            }
            for size1 in 1..size {
                shapes.extend(consistency_nodes(size1, size).unwrap_or_default());
            }
            for id in shapes.iter().flat_map(ProofNode::node_ids) {
                let end = id.first_leaf().zip(id.width()).map(|(b, w)| b + w);
                assert!(end.is_some_and(|e| e <= size), "{id:?} outside {size}");
            }
        }
    }
}
