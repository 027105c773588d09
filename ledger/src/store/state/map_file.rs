//! The state map's upper levels in one file beside the state database,
//! `map.nodes`: the newest version of each node at depths `0..depths`, in
//! fixed-size slots addressed by [`MapNodeId::heap_position`] and
//! overwritten in place. Deeper nodes stay in sled (`s/`).
//!
//! ```text
//!  slot p = bytes [77p, 77p + 77)     the node at heap position p
//!  slot   = version u64 BE ‖ tag ‖ 64 bytes ‖ CRC-32 (IEEE) of the 73 before, u32 BE
//!           tag 0 empty (all 77 bytes zero), 1 leaf (key ‖ value), 2 inner (hash ‖ 32 zero bytes)
//!  length = (2^depths − 1) · 77
//! ```
//! `depths` grows with the map's leaves ([`depths_for`]: `2^(depths−1) ≤
//! 2 · leaves`, so the deepest level in the file has up to two slots per
//! leaf and the file stays below four slots per leaf). The deeper the
//! file, the fewer nodes below it: those are sled keys, and each one a
//! changed receipt rewrites costs a sled page rewritten at a random place
//! (docs/PERFORMANCE.md, "What dominates disk and memory").
//!
//! Every read and write of a slot holds a lock (readers shared, the writer
//! only around its `pwrite`s), so no view reads a torn slot; a growth of
//! `depths` holds it across the sled batch that moves the nodes out of
//! sled, so no view looks for a node where it no longer is. A slot a crash
//! tore (written after the entries the database says are applied, never
//! synced) fails its checksum; a slot whose version is past the applied
//! entries was written by an apply the database lost. Either way the store
//! rebuilds the file from its objects ([`crate::statemap::tree::upper_nodes`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{file_err, open_state_file, state_file_len};
use crate::statemap::{MapNode, MapNodeId};
use crate::store::StoreError;

/// The file's name in the state directory.
pub const MAP_FILE: &str = "map.nodes";

const SLOT: usize = 77;
const BODY: usize = 73;
const LEAF_TAG: u8 = 1;
const INNER_TAG: u8 = 2;
/// Slots read at a time when the whole file is read (about 1 MiB).
const CHUNK_SLOTS: usize = 1 << 14;
/// The deepest `depths` a file may hold (2^40 slots): far past any map.
const MAX_DEPTHS: u16 = 40;

/// How many depths the file holds for a map of `leaves` leaves: the root
/// always, and each depth `d` with `2^d ≤ 2 · leaves`.
pub fn depths_for(leaves: u64) -> u16 {
    let slots = leaves.saturating_mul(2).max(1);
    (1 + slots.ilog2() as u16).min(MAX_DEPTHS)
}

/// Whether every slot in `bytes` is intact and written at or below
/// `applied`.
fn slots_hold_map_at(bytes: &[u8], applied: u64) -> bool {
    bytes.chunks_exact(SLOT).all(|slot| match decode(slot) {
        Some(Some((version, _))) => version <= applied,
        Some(None) => true,
        None => false,
    })
}

/// Bytes of a file holding `depths` depths.
fn file_len(depths: u16) -> u64 {
    ((1u64 << depths) - 1) * SLOT as u64
}

/// The open file, shared by the store and its views.
#[derive(Debug)]
pub struct MapFile {
    file: File,
    path: PathBuf,
    /// The depths the file holds; its lock guards every slot.
    depths: RwLock<u16>,
}

/// A node with the version it was written at.
pub type Versioned = (u64, MapNode);

impl MapFile {
    /// Opens (or creates) `dir/map.nodes` holding `depths` depths.
    pub fn open(dir: &Path, depths: u16) -> Result<MapFile, StoreError> {
        let (file, path) = open_state_file(dir, MAP_FILE)?;
        Ok(MapFile {
            file,
            path,
            depths: RwLock::new(depths),
        })
    }

    fn read_depths(&self) -> RwLockReadGuard<'_, u16> {
        self.depths.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_depths(&self) -> RwLockWriteGuard<'_, u16> {
        self.depths.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The depths the file holds.
    pub fn depths(&self) -> u16 {
        *self.read_depths()
    }

    /// Whether the file holds every slot of its depths, each intact and
    /// written at or below `applied`; if so, cuts off slots past them (a
    /// growth the database lost).
    pub fn holds_map_at(&self, applied: u64) -> Result<bool, StoreError> {
        let depths = self.depths();
        let len = file_len(depths);
        if self.len()? < len {
            return Ok(false);
        }
        if !self.each_chunk(len, |bytes| slots_hold_map_at(bytes, applied))? {
            return Ok(false);
        }
        self.file
            .set_len(len)
            .map_err(file_err("cut back", &self.path))?;
        Ok(true)
    }

    /// Replaces the whole file by `nodes` (every node at depths below
    /// `depths`, the rest empty), each written at `version`, and syncs it.
    pub fn rewrite(
        &self,
        depths: u16,
        version: u64,
        nodes: &[(MapNodeId, MapNode)],
    ) -> Result<(), StoreError> {
        let mut guard = self.write_depths();
        let mut bytes = vec![0u8; file_len(depths) as usize];
        for (id, node) in nodes {
            let at = slot_of(id)? as usize * SLOT;
            let slot = bytes.get_mut(at..at + SLOT).ok_or_else(|| no_slot(id))?;
            slot.copy_from_slice(&encode(version, node));
        }
        self.file
            .set_len(0)
            .map_err(file_err("clear", &self.path))?;
        self.file
            .write_all_at(&bytes, 0)
            .map_err(file_err("write", &self.path))?;
        self.sync()?;
        *guard = depths;
        Ok(())
    }

    /// The node stored at `id`: from its slot if the file holds its depth,
    /// else from `deeper` (sled), under the lock so that a growth cannot
    /// move it in between.
    pub fn read(
        &self,
        id: &MapNodeId,
        deeper: impl FnOnce(&MapNodeId) -> Result<Option<Versioned>, StoreError>,
    ) -> Result<Option<Versioned>, StoreError> {
        let depths = self.read_depths();
        if id.depth >= *depths {
            return deeper(id);
        }
        self.read_slot(id)
    }

    fn read_slot(&self, id: &MapNodeId) -> Result<Option<Versioned>, StoreError> {
        let mut slot = [0u8; SLOT];
        self.file
            .read_exact_at(&mut slot, slot_of(id)? * SLOT as u64)
            .map_err(file_err("read a slot", &self.path))?;
        decode(&slot).ok_or_else(|| StoreError::Codec {
            key: format!("{MAP_FILE} slot of {}", hex::encode(id.to_key())),
            reason: "not a state map node (checksum)".into(),
        })
    }

    /// Writes each node at a depth the file holds at `version`, under the
    /// lock; returns the others, for sled. Not durable until
    /// [`MapFile::sync`].
    pub fn write<'a>(
        &self,
        version: u64,
        writes: &'a [(MapNodeId, MapNode)],
    ) -> Result<Vec<&'a (MapNodeId, MapNode)>, StoreError> {
        let depths = self.write_depths();
        let (upper, deeper): (Vec<&(MapNodeId, MapNode)>, Vec<_>) =
            writes.iter().partition(|(id, _)| id.depth < *depths);
        for (id, node) in upper {
            self.write_slot(id, version, node)?;
        }
        Ok(deeper)
    }

    fn write_slot(&self, id: &MapNodeId, version: u64, node: &MapNode) -> Result<(), StoreError> {
        self.file
            .write_all_at(&encode(version, node), slot_of(id)? * SLOT as u64)
            .map_err(file_err("write a slot", &self.path))
    }

    /// Grows the file to `depths`, writing `moved` (the nodes at the new
    /// depths, with their versions) into it, synced, then runs
    /// `move_out_of_sled` (the sled batch that deletes them there), all
    /// under the lock: a view finds each node either in sled or here.
    pub fn grow(
        &self,
        depths: u16,
        moved: &[(MapNodeId, Versioned)],
        move_out_of_sled: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut guard = self.write_depths();
        self.file
            .set_len(file_len(depths))
            .map_err(file_err("grow", &self.path))?;
        for (id, (version, node)) in moved {
            self.write_slot(id, *version, node)?;
        }
        self.sync()?;
        move_out_of_sled()?;
        *guard = depths;
        Ok(())
    }

    /// Makes what was written durable (`fdatasync`).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(file_err("sync", &self.path))
    }

    /// How many slots hold a node.
    pub fn nodes_held(&self) -> Result<u64, StoreError> {
        let _depths = self.read_depths();
        let mut held = 0;
        self.each_chunk(self.len()?, |bytes| {
            held += bytes
                .chunks_exact(SLOT)
                .filter(|slot| matches!(decode(slot), Some(Some(_))))
                .count() as u64;
            true
        })?;
        Ok(held)
    }

    /// Reads the first `len` bytes of the file a chunk of whole slots at a
    /// time (the file grows to four slots per leaf, 80 MB at 1,000,000
    /// entries, and is not held in memory whole), giving each to `visit`
    /// until it returns false. Returns whether every chunk was visited.
    fn each_chunk(
        &self,
        len: u64,
        mut visit: impl FnMut(&[u8]) -> bool,
    ) -> Result<bool, StoreError> {
        let mut chunk = vec![0u8; CHUNK_SLOTS * SLOT];
        let mut at = 0u64;
        while at < len {
            let size = (len - at).min(chunk.len() as u64) as usize;
            let bytes = &mut chunk[..size];
            self.file
                .read_exact_at(bytes, at)
                .map_err(file_err("read", &self.path))?;
            if !visit(bytes) {
                return Ok(false);
            }
            at += size as u64;
        }
        Ok(true)
    }

    fn len(&self) -> Result<u64, StoreError> {
        state_file_len(&self.file, &self.path)
    }
}

fn slot_of(id: &MapNodeId) -> Result<u64, StoreError> {
    id.heap_position()
        .filter(|_| id.depth < MAX_DEPTHS)
        .ok_or_else(|| no_slot(id))
}

fn no_slot(id: &MapNodeId) -> StoreError {
    StoreError::Tree {
        reason: format!(
            "state map node at depth {} has no slot in {MAP_FILE}",
            id.depth
        ),
    }
}

fn encode(version: u64, node: &MapNode) -> [u8; SLOT] {
    let mut slot = [0u8; SLOT];
    slot[..8].copy_from_slice(&version.to_be_bytes());
    match node {
        MapNode::Leaf { key, value } => {
            slot[8] = LEAF_TAG;
            slot[9..41].copy_from_slice(key);
            slot[41..73].copy_from_slice(value);
        }
        MapNode::Inner { hash } => {
            slot[8] = INNER_TAG;
            slot[9..41].copy_from_slice(hash);
        }
    }
    let crc = crc32fast::hash(&slot[..BODY]);
    slot[BODY..].copy_from_slice(&crc.to_be_bytes());
    slot
}

/// The node in `slot`: `Some(None)` for an empty slot, `None` for a slot
/// that is neither empty nor intact.
fn decode(slot: &[u8]) -> Option<Option<Versioned>> {
    if slot.iter().all(|b| *b == 0) {
        return Some(None);
    }
    let (body, crc) = slot.split_at_checked(BODY)?;
    if crc32fast::hash(body).to_be_bytes() != crc {
        return None;
    }
    let version = u64::from_be_bytes(body[..8].try_into().ok()?);
    let half = |range: std::ops::Range<usize>| body[range].try_into().ok();
    let node = match body[8] {
        LEAF_TAG => MapNode::Leaf {
            key: half(9..41)?,
            value: half(41..73)?,
        },
        INNER_TAG => MapNode::Inner { hash: half(9..41)? },
        _ => return None,
    };
    Some(Some((version, node)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(depth: u16, first_byte: u8) -> MapNodeId {
        let mut prefix = [0u8; 32];
        prefix[0] = first_byte;
        MapNodeId { depth, prefix }
    }

    #[test]
    fn the_file_holds_each_depth_up_to_two_slots_per_leaf() {
        assert_eq!(depths_for(0), 1);
        assert_eq!(depths_for(1), 2);
        assert_eq!(depths_for(3), 3);
        assert_eq!(depths_for(4), 4);
        assert_eq!(depths_for(8), 5);
        assert_eq!(depths_for(1 << 20), 22);
        assert_eq!(depths_for(u64::MAX), MAX_DEPTHS);
    }

    #[test]
    fn slots_read_back_and_deeper_nodes_come_from_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let file = MapFile::open(dir.path(), 2).unwrap();
        file.rewrite(2, 0, &[]).unwrap();
        let leaf = MapNode::Leaf {
            key: [7; 32],
            value: [8; 32],
        };
        let inner = MapNode::Inner { hash: [9; 32] };
        let writes = [(at(0, 0), inner), (at(1, 0x80), leaf), (at(2, 0x40), leaf)];
        let deeper = file.write(5, &writes).unwrap();
        assert_eq!(deeper, vec![&writes[2]]);
        let nowhere = |_: &MapNodeId| Ok(None);
        assert_eq!(file.read(&at(0, 0), nowhere).unwrap(), Some((5, inner)));
        assert_eq!(file.read(&at(1, 0x80), nowhere).unwrap(), Some((5, leaf)));
        assert_eq!(file.read(&at(1, 0), nowhere).unwrap(), None);
        let from_sled = file.read(&at(2, 0x40), |_| Ok(Some((3, leaf)))).unwrap();
        assert_eq!(from_sled, Some((3, leaf)));
        assert_eq!(file.nodes_held().unwrap(), 2);
        assert!(file.holds_map_at(5).unwrap());
        assert!(!file.holds_map_at(4).unwrap(), "a slot written after 4");
    }

    #[test]
    fn a_torn_or_missing_slot_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let file = MapFile::open(dir.path(), 2).unwrap();
        file.rewrite(2, 1, &[(at(0, 0), MapNode::Inner { hash: [3; 32] })])
            .unwrap();
        assert!(file.holds_map_at(1).unwrap());
        file.file.write_all_at(&[0xff], 20).unwrap();
        assert!(!file.holds_map_at(1).unwrap(), "torn");
        assert!(file.read(&at(0, 0), |_| Ok(None)).is_err());
        file.file.set_len(SLOT as u64 * 2).unwrap();
        assert!(!file.holds_map_at(1).unwrap(), "short");
    }

    #[test]
    fn growing_moves_the_next_depth_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = MapFile::open(dir.path(), 1).unwrap();
        file.rewrite(1, 0, &[]).unwrap();
        let leaf = MapNode::Leaf {
            key: [1; 32],
            value: [2; 32],
        };
        let mut moved_out = false;
        file.grow(2, &[(at(1, 0x80), (4, leaf))], || {
            moved_out = true;
            Ok(())
        })
        .unwrap();
        assert!(moved_out);
        assert_eq!(file.depths(), 2);
        assert_eq!(file.len().unwrap(), file_len(2));
        let read = file.read(&at(1, 0x80), |_| Ok(None)).unwrap();
        assert_eq!(read, Some((4, leaf)));
    }
}
