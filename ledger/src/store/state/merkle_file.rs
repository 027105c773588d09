//! The Merkle log's nodes above the leaves in one file next to the state
//! database, `merkle.nodes`: 32 bytes per node. In the in-order numbering
//! ([`NodeId::flat_position`]) leaves sit at the even positions and every
//! other node at an odd one, `p`, which is slot `p / 2` here; so the nodes
//! of the first `n` entries fill exactly the first `2⌊n/2⌋ - 1` slots (the
//! node right of the last leaf is incomplete when `n` is odd) and the file
//! only grows at its end.
//!
//! ```text
//!  slot s = bytes [32s, 32s + 32)      the node whose flat position is 2s + 1 (level ≥ 1)
//!  nodes of n ≥ 2 entries              slots [0, 2⌊n/2⌋ - 1)
//!  a slot of 32 zero bytes             not written (no node hashes to zeros)
//! ```
//!
//! **The leaves are not kept**: a leaf is the hash of its entry's record
//! without the seal, which the entry log holds, and keeping it again cost
//! 32 bytes per entry. Whoever needs one hashes the record
//! ([`crate::view::TreeNodes`]); a leaf asked of this file is an error.
//! A node never changes once written (a perfect subtree of the log), so a
//! view reading it while the writer appends needs no lock: it reads only
//! nodes complete at its size, written (and synced) before it was taken.
//! Slots inside `[0, 2⌊n/2⌋ - 1)` that stand for nodes not yet complete (the
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
        for id in proof::root_nodes(size)
            .into_iter()
            .filter(|id| id.level > 0)
        {
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

    /// Writes `nodes` but the leaves among them, one `pwrite` per run of
    /// consecutive slots; says whether it wrote any (`false` for leaves
    /// only: nothing to sync). Not durable until [`MerkleFile::sync`].
    pub fn write(&self, nodes: &BTreeMap<NodeId, Hash>) -> Result<bool, StoreError> {
        let runs = runs(nodes)?;
        for (first, bytes) in &runs {
            self.file
                .write_all_at(bytes, first * SLOT)
                .map_err(file_err("write nodes", &self.path))?;
        }
        Ok(!runs.is_empty())
    }

    /// Makes what was written durable (`fdatasync`).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(file_err("sync", &self.path))
    }

    /// The node `id` (not a leaf), or `None` if its slot is past the end or
    /// was never written. One `pread`: a slot past the end reads short.
    pub fn read(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        let position = slot_of(id)?.ok_or_else(|| StoreError::Tree {
            reason: format!("node {id:?} is a leaf: the state keeps none, hash its entry instead"),
        })?;
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

/// Bytes of the slots of the nodes of the first `size` entries: up to the
/// node between leaves `size - 2` and `size - 1` if `size` is even (their
/// parent), else the one before it.
fn slots_bytes(size: u64) -> u64 {
    (size / 2 * 2).saturating_sub(1).saturating_mul(SLOT)
}

/// The slot of node `id`; `None` for a leaf, which has none.
fn slot_of(id: NodeId) -> Result<Option<u64>, StoreError> {
    if id.level == 0 {
        return Ok(None);
    }
    id.flat_position()
        .map(|p| p / 2)
        .filter(|s| s.checked_add(1).and_then(|e| e.checked_mul(SLOT)).is_some())
        .map(Some)
        .ok_or_else(|| StoreError::Tree {
            reason: format!("node {id:?} has no place in the node file"),
        })
}

/// `nodes` but the leaves as runs of consecutive slots: (first slot, their
/// bytes).
fn runs(nodes: &BTreeMap<NodeId, Hash>) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let mut placed = nodes
        .iter()
        .filter_map(|(id, hash)| slot_of(*id).transpose().map(|slot| Ok((slot?, hash))))
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
        assert_eq!(slots_bytes(11), 9 * SLOT);
        assert_eq!(slots_bytes(12), 11 * SLOT);
        for (id, hash) in nodes.iter().filter(|(id, _)| id.level > 0) {
            assert_eq!(file.read(*id).unwrap(), Some(*hash), "{id:?}");
        }
        // (4, 0) covers entries 0..16, (2, 2) 8..12, (1, 5) 10..12: the first
        // slot is inside, not written yet; the others are past the end.
        assert_eq!(file.read(NodeId::new(4, 0)).unwrap(), None);
        assert_eq!(file.read(NodeId::new(2, 2)).unwrap(), None);
        assert_eq!(file.read(NodeId::new(1, 5)).unwrap(), None);
    }

    #[test]
    fn leaves_are_not_kept_and_asking_for_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = MerkleFile::open(dir.path()).unwrap();
        let mut frontier = Frontier::default();
        let nodes = nodes_of(&mut frontier, 0..2);
        assert_eq!(nodes.len(), 3, "two leaves and their parent");
        let leaves: BTreeMap<NodeId, Hash> = nodes
            .iter()
            .filter(|(id, _)| id.level == 0)
            .map(|(id, h)| (*id, *h))
            .collect();
        assert!(
            !file.write(&leaves).unwrap(),
            "leaves only: nothing written"
        );
        assert_eq!(file.len().unwrap(), 0);
        assert!(file.write(&nodes).unwrap());
        assert_eq!(file.len().unwrap(), SLOT);
        assert_eq!(
            file.read(NodeId::new(1, 0)).unwrap(),
            Some(nodes[&NodeId::new(1, 0)])
        );
        let error = file.read(NodeId::leaf(0)).expect_err("a leaf");
        assert!(error.to_string().contains("leaf"), "{error}");
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
        for (id, hash) in first.iter().filter(|(id, _)| id.level > 0) {
            assert_eq!(file.read(*id).unwrap(), Some(*hash));
        }
        assert_eq!(file.read(NodeId::new(1, 3)).unwrap(), None, "entries 6..8");
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
        file.file.write_all_at(&[0u8; 32], SLOT).unwrap();
        assert!(!file.cut_to(5).unwrap(), "(2, 0), the edge of 5, is gone");
        assert!(!file.cut_to(4).unwrap(), "(2, 0), the edge of 4, is gone");
        assert!(
            file.cut_to(3).unwrap(),
            "the edge of 3 is (1, 0) and leaf 2"
        );
        assert!(file.cut_to(0).unwrap());
        assert_eq!(file.len().unwrap(), 0);
    }
}
