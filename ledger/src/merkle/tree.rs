//! Roots and proofs from stored perfect subtrees, and the incremental append.

use super::error::{MerkleError, RangeError};
use super::hash::{EMPTY_ROOT, Hash, node_hash};
use super::node::NodeId;
use super::proof::{ProofNode, consistency_nodes, inclusion_nodes, root_nodes};

/// Read access to the stored hashes of perfect subtrees.
///
/// A store holds, for a tree of `n` leaves, the hash of every node whose leaf range lies within
/// `[0, n)`: every leaf, and every parent that [`nodes_completed_by_append`] produced. It never
/// holds hashes of the imperfect right edge; those are computed on demand.
pub trait NodeSource {
    /// Error of the underlying store. Asking for a node that is not stored should be an error,
    /// never a default hash.
    type Error;

    /// The hash of the perfect subtree `id`.
    fn node(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, id: NodeId) -> Result<Hash, Self::Error> {
        (**self).node(id)
    }
}

/// Root of the tree of the first `size` leaves. Reads one node per set bit of `size`.
pub fn root<S: NodeSource>(size: u64, source: &S) -> Result<Hash, MerkleError<S::Error>> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    fold_right(&root_nodes(size), source)
}

/// Inclusion proof (RFC 9162 §2.1.3.1) of leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof<S: NodeSource>(
    index: u64,
    size: u64,
    source: &S,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    fetch_proof(&inclusion_nodes(index, size)?, source)
}

/// Consistency proof (RFC 9162 §2.1.4.1) between the trees of the first `size1` and `size2`
/// leaves. Empty when the sizes are equal.
pub fn consistency_proof<S: NodeSource>(
    size1: u64,
    size2: u64,
    source: &S,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    fetch_proof(&consistency_nodes(size1, size2)?, source)
}

/// The nodes to persist when the leaf with hash `leaf` is appended as leaf number `size_before`:
/// the leaf itself at level 0, then every parent it completes, bottom up.
///
/// Reads the left siblings of those parents (all already stored) from `source`.
pub fn nodes_completed_by_append<S: NodeSource>(
    size_before: u64,
    leaf: Hash,
    source: &S,
) -> Result<Vec<(NodeId, Hash)>, MerkleError<S::Error>> {
    if size_before == u64::MAX {
        return Err(RangeError::TreeFull { size: size_before }.into());
    }
    let mut id = NodeId::leaf(size_before);
    let mut hash = leaf;
    let mut completed = vec![(id, hash)];
    while id.is_right_child() {
        let left = source
            .node(NodeId::new(id.level, id.index - 1))
            .map_err(MerkleError::Storage)?;
        hash = node_hash(&left, &hash);
        id = id.parent();
        completed.push((id, hash));
    }
    Ok(completed)
}

fn fetch_proof<S: NodeSource>(
    nodes: &[ProofNode],
    source: &S,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    nodes
        .iter()
        .map(|node| fold_right(node.node_ids(), source))
        .collect()
}

/// `node_hash(h[0], node_hash(h[1], … h[k-1]))` over the stored hashes of `ids`.
fn fold_right<S: NodeSource>(ids: &[NodeId], source: &S) -> Result<Hash, MerkleError<S::Error>> {
    let mut acc: Option<Hash> = None;
    for &id in ids.iter().rev() {
        let hash = source.node(id).map_err(MerkleError::Storage)?;
        acc = Some(match acc {
            None => hash,
            Some(right) => node_hash(&hash, &right),
        });
    }
    // Callers never pass an empty list; the empty tree is handled by `root`.
    Ok(acc.unwrap_or(EMPTY_ROOT))
}

/// Error of [`MemoryNodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryNodesError {
    /// The node is not stored: its leaf range reaches past the appended leaves.
    #[error("node at level {} index {} is not stored", .id.level, .id.index)]
    NotStored {
        /// The requested node.
        id: NodeId,
    },
}

/// An in-memory node store: the hashes of every perfect subtree, one vector per level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodes {
    levels: Vec<Vec<Hash>>,
}

impl MemoryNodes {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Appends a leaf by its hash (see [`super::leaf_hash`]) and returns its index.
    pub fn append(&mut self, leaf: Hash) -> Result<u64, MerkleError<MemoryNodesError>> {
        let index = self.size();
        for (id, hash) in nodes_completed_by_append(index, leaf, self)? {
            self.store(id, hash)?;
        }
        Ok(index)
    }

    /// Root of the current tree.
    pub fn root(&self) -> Result<Hash, MerkleError<MemoryNodesError>> {
        root(self.size(), self)
    }

    fn store(&mut self, id: NodeId, hash: Hash) -> Result<(), MerkleError<MemoryNodesError>> {
        let level = usize::from(id.level);
        if self.levels.len() == level {
            self.levels.push(Vec::new());
        }
        match self.levels.get_mut(level) {
            Some(nodes) if nodes.len() as u64 == id.index => {
                nodes.push(hash);
                Ok(())
            }
            _ => Err(MerkleError::Storage(MemoryNodesError::NotStored { id })),
        }
    }
}

impl NodeSource for MemoryNodes {
    type Error = MemoryNodesError;

    fn node(&self, id: NodeId) -> Result<Hash, Self::Error> {
        self.levels
            .get(usize::from(id.level))
            .and_then(|nodes| nodes.get(usize::try_from(id.index).ok()?))
            .copied()
            .ok_or(MemoryNodesError::NotStored { id })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::merkle::leaf_hash;

    /// Counts reads, to check that proofs touch O(log n) nodes.
    struct Counting<'a> {
        inner: &'a MemoryNodes,
        reads: Cell<usize>,
    }

    impl NodeSource for Counting<'_> {
        type Error = MemoryNodesError;
        fn node(&self, id: NodeId) -> Result<Hash, Self::Error> {
            self.reads.set(self.reads.get() + 1);
            self.inner.node(id)
        }
    }

    fn tree(size: u64) -> MemoryNodes {
        let mut t = MemoryNodes::new();
        for i in 0..size {
            t.append(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        t
    }

    #[test]
    fn append_stores_completed_parents() {
        let t = tree(7);
        assert_eq!(t.size(), 7);
        assert_eq!(t.levels.iter().map(Vec::len).collect::<Vec<_>>(), [7, 3, 1]);
        let completed = nodes_completed_by_append(7, [0; 32], &t).unwrap();
        let ids: Vec<NodeId> = completed.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            [
                NodeId::leaf(7),
                NodeId::new(1, 3),
                NodeId::new(2, 1),
                NodeId::new(3, 0)
            ]
        );
        assert_eq!(nodes_completed_by_append(6, [0; 32], &t).unwrap().len(), 1);
    }

    #[test]
    fn append_past_u64_max_is_refused() {
        let t = MemoryNodes::new();
        match nodes_completed_by_append(u64::MAX, [0; 32], &t) {
            Err(MerkleError::Range(RangeError::TreeFull { size })) => assert_eq!(size, u64::MAX),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_nodes_are_errors() {
        let t = tree(5);
        assert!(matches!(
            root(6, &t),
            Err(MerkleError::Storage(MemoryNodesError::NotStored { .. }))
        ));
        assert!(matches!(
            inclusion_proof(3, u64::MAX, &t),
            Err(MerkleError::Storage(_))
        ));
        assert!(matches!(
            inclusion_proof(5, 5, &t),
            Err(MerkleError::Range(RangeError::IndexOutOfRange {
                index: 5,
                size: 5
            }))
        ));
        assert!(matches!(
            consistency_proof(0, 5, &t),
            Err(MerkleError::Range(RangeError::EmptyOldTree { size2: 5 }))
        ));
        assert!(nodes_completed_by_append(7, [0; 32], &t).is_err());
        assert_eq!(root(0, &t).unwrap(), EMPTY_ROOT);
        assert_eq!(MemoryNodes::new().root().unwrap(), EMPTY_ROOT);
        assert!(t.node(NodeId::new(200, 0)).is_err() && t.node(NodeId::leaf(u64::MAX)).is_err());
    }

    #[test]
    fn reads_are_logarithmic() {
        let t = tree(1000);
        let counting = Counting {
            inner: &t,
            reads: Cell::new(0),
        };
        let bound = 2 * 10 + 2; // about 2·log2(1000)
        for (index, size) in [(0, 1000), (999, 1000), (511, 1000), (300, 777)] {
            counting.reads.set(0);
            inclusion_proof(index, size, &counting).unwrap();
            assert!(counting.reads.get() <= bound, "{index} {size}");
        }
        for (s1, s2) in [(1, 1000), (999, 1000), (513, 1000), (3, 777)] {
            counting.reads.set(0);
            consistency_proof(s1, s2, &counting).unwrap();
            assert!(counting.reads.get() <= bound, "{s1} {s2}");
        }
        counting.reads.set(0);
        root(1000, &counting).unwrap();
        assert_eq!(counting.reads.get(), 1000u64.count_ones() as usize);
    }
}
