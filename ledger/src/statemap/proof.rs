//! Map proofs: that a key holds a value under a root, or holds nothing.
//!
//! A proof is the path from the key's position down to where it ends: the
//! sibling hashes, leaf side first, and the leaf found there, if any.
//!
//! ```text
//!  h := leaf_hash(leaf.key, leaf.value), or EMPTY when there is no leaf
//!  for i in 0..len(siblings):         depth d = len(siblings) − 1 − i
//!      h := bit(key, d) = 0 ? node_hash(h, siblings[i]) : node_hash(siblings[i], h)
//!  h = root
//!  present (key → value): the leaf is (key, value)
//!  absent: no leaf, or a leaf of another key sharing the first len(siblings) bits
//! ```

use thiserror::Error;

use super::hash::{EMPTY, KEY_BITS, MapHash, bit, leaf_hash, node_hash, same_prefix};
use super::tree::{MapNode, MapNodeId, MapNodeSource};

/// A proof for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapProof {
    /// Sibling hashes from the bottom of the path up to the root's children.
    pub siblings: Vec<MapHash>,
    /// The leaf at the bottom of the path: the key's own, another key's
    /// (then the key is absent), or none (an empty subtree).
    pub leaf: Option<(MapHash, MapHash)>,
}

/// Builds the proof for `key` from the stored nodes.
pub fn prove<S: MapNodeSource>(source: &S, key: &MapHash) -> Result<MapProof, S::Error> {
    let mut siblings = Vec::new();
    let mut depth = 0;
    let leaf = loop {
        match source.map_node(&MapNodeId::on_path(key, depth))? {
            None => break None,
            Some(MapNode::Leaf { key, value }) => break Some((key, value)),
            Some(MapNode::Inner { .. }) => {
                let mut sibling = MapNodeId::on_path(key, depth + 1);
                sibling.prefix[depth / 8] ^= 0x80 >> (depth % 8);
                siblings.push(source.map_node(&sibling)?.map_or(EMPTY, |n| n.hash()));
                depth += 1;
            }
        }
    };
    siblings.reverse();
    Ok(MapProof { siblings, leaf })
}

impl MapProof {
    /// The root this proof leads to for `key`.
    pub fn root_for(&self, key: &MapHash) -> Result<MapHash, MapProofError> {
        let depth = self.siblings.len();
        if depth > KEY_BITS {
            return Err(MapProofError::TooLong { found: depth });
        }
        let mut hash = match &self.leaf {
            Some((k, value)) => {
                if !same_prefix(k, key, depth) {
                    return Err(MapProofError::LeafOffPath);
                }
                leaf_hash(k, value)
            }
            None => EMPTY,
        };
        for (i, sibling) in self.siblings.iter().enumerate() {
            hash = match bit(key, depth - 1 - i) {
                0 => node_hash(&hash, sibling),
                _ => node_hash(sibling, &hash),
            };
        }
        Ok(hash)
    }

    /// Checks that `key` holds `value` under `root`.
    pub fn verify_present(
        &self,
        root: &MapHash,
        key: &MapHash,
        value: &MapHash,
    ) -> Result<(), MapProofError> {
        match &self.leaf {
            Some((k, v)) if k == key && v == value => {}
            Some((k, _)) if k == key => return Err(MapProofError::OtherValue),
            _ => return Err(MapProofError::NotPresent),
        }
        self.check_root(root, key)
    }

    /// Checks that `key` holds nothing under `root`.
    pub fn verify_absent(&self, root: &MapHash, key: &MapHash) -> Result<(), MapProofError> {
        if matches!(&self.leaf, Some((k, _)) if k == key) {
            return Err(MapProofError::Present);
        }
        self.check_root(root, key)
    }

    fn check_root(&self, root: &MapHash, key: &MapHash) -> Result<(), MapProofError> {
        if self.root_for(key)? == *root {
            Ok(())
        } else {
            Err(MapProofError::RootMismatch)
        }
    }
}

/// Why a map proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MapProofError {
    /// More siblings than a key has bits.
    #[error("a map proof has {found} siblings, at most 256")]
    TooLong {
        /// Siblings found.
        found: usize,
    },
    /// The proof's leaf does not lie on the key's path.
    #[error("the proof's leaf is not on the key's path")]
    LeafOffPath,
    /// The proof ends in the key's leaf, with another value.
    #[error("the map holds another value for this key")]
    OtherValue,
    /// The proof does not end in the key's leaf.
    #[error("the proof does not show the key in the map")]
    NotPresent,
    /// The proof shows the key present where its absence was to be proven.
    #[error("the key is in the map")]
    Present,
    /// The proof leads to another root.
    #[error("the proof does not lead to the state root")]
    RootMismatch,
}
