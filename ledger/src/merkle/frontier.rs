//! The right edge of a tree, enough to append to it without storage.

use super::hash::{EMPTY_ROOT, Hash, node_hash};
use super::node::NodeId;
use super::proof::root_nodes;
use super::tree::NodeSource;

/// The perfect subtrees a tree of `size` leaves is made of (one per set bit
/// of `size`, largest first) with their hashes: all an append needs.
/// The sequencer keeps one, so that deciding a group reads no Merkle node
/// from storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    edge: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the tree of the first `size` leaves stored in `source`.
    pub fn load<S: NodeSource>(size: u64, source: &S) -> Result<Frontier, S::Error> {
        let edge = root_nodes(size)
            .into_iter()
            .map(|id| source.node(id).map(|hash| (id, hash)))
            .collect::<Result<_, _>>()?;
        Ok(Frontier { size, edge })
    }

    /// Leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf with hash `leaf`; returns the nodes it completes,
    /// the leaf first, then each parent bottom up (as
    /// [`super::nodes_completed_by_append`] does).
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut id = NodeId::leaf(self.size);
        let mut hash = leaf;
        let mut completed = vec![(id, hash)];
        while id.is_right_child() {
            let Some((_, left)) = self.edge.pop() else {
                break; // unreachable for a frontier built by `load` or `append`
            };
            hash = node_hash(&left, &hash);
            id = id.parent();
            completed.push((id, hash));
        }
        self.edge.push((id, hash));
        self.size += 1;
        completed
    }

    /// The root of the tree.
    pub fn root(&self) -> Hash {
        let mut hashes = self.edge.iter().rev().map(|(_, hash)| *hash);
        let Some(last) = hashes.next() else {
            return EMPTY_ROOT;
        };
        hashes.fold(last, |right, left| node_hash(&left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryNodes, leaf_hash};

    #[test]
    fn appends_the_same_nodes_and_root_as_the_stored_tree() {
        let mut stored = MemoryNodes::new();
        let mut frontier = Frontier::default();
        for i in 0..300u32 {
            let leaf = leaf_hash(&i.to_be_bytes());
            let expected =
                crate::merkle::nodes_completed_by_append(stored.size(), leaf, &stored).unwrap();
            stored.append(leaf).unwrap();
            assert_eq!(frontier.append(leaf), expected, "leaf {i}");
            assert_eq!(frontier.root(), stored.root().unwrap(), "root after {i}");
            let loaded = Frontier::load(stored.size(), &stored).unwrap();
            assert_eq!(loaded, frontier, "loaded at {}", stored.size());
        }
    }
}
