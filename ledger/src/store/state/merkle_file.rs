//! The Merkle log's nodes in one file next to the state database,
//! `merkle.nodes`: 32 bytes per node at its in-order position
//! ([`NodeId::flat_position`]), so the nodes of the first `n` entries fill
//! exactly the first `2n - 1` slots and the file only grows at its end.
//!
//! ```text
//!  slot p = bytes [32p, 32p + 32)      the node whose flat position is p
//!  nodes of n entries                  slots [0, 2n - 1): length (2n - 1) · 32
//!  a slot of 32 zero bytes             not written (no node hashes to zeros)
//! ```
//! A node never changes once written (a perfect subtree of the log), so a
//! view reading it while the writer appends needs no lock: it reads only
//! nodes complete at its size, written (and synced) before it was taken.
//! Slots inside `[0, 2n - 1)` that stand for nodes not yet complete (the
//! right edge) may hold zeros, or a hash written for entries after `n` that
//! a crash took back from the state database; both are rewritten when the
//! node completes, and no read at size `n` reaches them.
//!
//! The store writes an apply's nodes and `fdatasync`s the file *before* the
//! database batch that stamps the entries applied, so whatever the
//! database says is applied is on disk here; on open the file is cut back
//! to what the applied count implies ([`MerkleFile::cut_to`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{file_err, open_state_file, state_file_len};
use crate::merkle::{HASH_LEN, Hash, NodeId, proof};
use crate::store::StoreError;

/// The file's name in the state directory.
pub const MERKLE_FILE: &str = "merkle.nodes";

const SLOT: u64 = HASH_LEN as u64;

/// The open node file, shared by the store and its views.
#[derive(Debug)]
pub struct MerkleFile {
    file: File,
    path: PathBuf,
}

impl MerkleFile {
    /// Opens (or creates) `dir/merkle.nodes`.
    pub fn open(dir: &Path) -> Result<MerkleFile, StoreError> {
        let (file, path) = open_state_file(dir, MERKLE_FILE)?;
        Ok(MerkleFile { file, path })
    }

    /// Cuts the file back to the nodes of the first `applied` entries.
    /// Returns whether it held all their slots and the nodes a tree of that
    /// size is folded from (the right edge); if not, nothing is cut and the
    /// caller rebuilds the state.
    pub fn cut_to(&self, applied: u64) -> Result<bool, StoreError> {
        let needed = slots_bytes(applied);
        let len = self.len()?;
        if len < needed || !self.holds_edge_of(applied)? {
            return Ok(false);
        }
        if len > needed {
            self.file
                .set_len(needed)
                .map_err(file_err("cut back", &self.path))?;
        }
        Ok(true)
    }

    fn holds_edge_of(&self, size: u64) -> Result<bool, StoreError> {
        for id in proof::root_nodes(size) {
            if self.read(id)?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Empties the file.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(file_err("clear", &self.path))
    }

    /// Writes `nodes`, one `pwrite` per run of consecutive slots. Not
    /// durable until [`MerkleFile::sync`].
    pub fn write(&self, nodes: &BTreeMap<NodeId, Hash>) -> Result<(), StoreError> {
        for (first, bytes) in runs(nodes)? {
            self.file
                .write_all_at(&bytes, first * SLOT)
                .map_err(file_err("write nodes", &self.path))?;
        }
        Ok(())
    }

    /// Makes what was written durable (`fdatasync`).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(file_err("sync", &self.path))
    }

    /// The node `id`, or `None` if its slot is past the end or was never
    /// written. One `pread`: a slot past the end reads short.
    pub fn read(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        let position = position_of(id)?;
        let mut hash = [0u8; HASH_LEN];
        match self.file.read_exact_at(&mut hash, position * SLOT) {
            Ok(()) => Ok((hash != [0u8; HASH_LEN]).then_some(hash)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(file_err("read a node", &self.path)(e)),
        }
    }

    fn len(&self) -> Result<u64, StoreError> {
        state_file_len(&self.file, &self.path)
    }
}

/// Bytes of the slots of the nodes of the first `size` entries.
fn slots_bytes(size: u64) -> u64 {
    NodeId::flat_end(size).saturating_mul(SLOT)
}

fn position_of(id: NodeId) -> Result<u64, StoreError> {
    id.flat_position()
        .filter(|p| p.checked_add(1).and_then(|e| e.checked_mul(SLOT)).is_some())
        .ok_or_else(|| StoreError::Tree {
            reason: format!("node {id:?} has no place in the node file"),
        })
}

/// `nodes` as runs of consecutive slots: (first slot, their bytes).
fn runs(nodes: &BTreeMap<NodeId, Hash>) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let mut placed = nodes
        .iter()
        .map(|(id, hash)| Ok((position_of(*id)?, hash)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    placed.sort_unstable_by_key(|(position, _)| *position);
    let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
    for (position, hash) in placed {
        match runs.last_mut() {
            Some((first, bytes)) if *first + bytes.len() as u64 / SLOT == position => {
                bytes.extend_from_slice(hash);
            }
            _ => runs.push((position, hash.to_vec())),
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Frontier, leaf_hash};

    /// The nodes of the first `size` entries, as an apply writes them.
    fn nodes_of(frontier: &mut Frontier, leaves: std::ops::Range<u64>) -> BTreeMap<NodeId, Hash> {
        leaves
            .flat_map(|i| frontier.append(leaf_hash(&i.to_be_bytes())))
            .collect()
    }

    #[test]
    fn the_nodes_of_n_entries_fill_exactly_the_first_slots() {
        let dir = tempfile::tempdir().unwrap();
        let file = MerkleFile::open(dir.path()).unwrap();
        let mut frontier = Frontier::default();
        let nodes = nodes_of(&mut frontier, 0..11);
        file.write(&nodes).unwrap();
        assert_eq!(file.len().unwrap(), slots_bytes(11));
        for (id, hash) in &nodes {
            assert_eq!(file.read(*id).unwrap(), Some(*hash), "{id:?}");
        }
        assert_eq!(file.read(NodeId::leaf(11)).unwrap(), None);
        // (3, 1) covers entries 8..16: its slot is inside but not written.
        assert_eq!(file.read(NodeId::new(3, 1)).unwrap(), None);
    }

    #[test]
    fn cutting_back_keeps_the_nodes_of_the_applied_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = MerkleFile::open(dir.path()).unwrap();
        let mut frontier = Frontier::default();
        let first = nodes_of(&mut frontier, 0..6);
        file.write(&first).unwrap();
        file.write(&nodes_of(&mut frontier, 6..9)).unwrap();
        assert!(file.cut_to(6).unwrap());
        assert_eq!(file.len().unwrap(), slots_bytes(6));
        for (id, hash) in &first {
            assert_eq!(file.read(*id).unwrap(), Some(*hash));
        }
        assert_eq!(file.read(NodeId::leaf(6)).unwrap(), None);
    }

    #[test]
    fn a_file_short_of_the_applied_entries_is_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let file = MerkleFile::open(dir.path()).unwrap();
        let mut frontier = Frontier::default();
        file.write(&nodes_of(&mut frontier, 0..5)).unwrap();
        assert!(!file.cut_to(6).unwrap());
        assert_eq!(file.len().unwrap(), slots_bytes(5));
        // Long enough, but a node of the right edge was lost (zeroed).
        file.file.write_all_at(&[0u8; 32], 8 * SLOT).unwrap();
        assert!(!file.cut_to(5).unwrap(), "leaf 4, the edge of 5, is gone");
        assert!(file.cut_to(4).unwrap());
        assert!(file.cut_to(0).unwrap());
        assert_eq!(file.len().unwrap(), 0);
    }
}
