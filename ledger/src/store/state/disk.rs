//! The derived state on disk, in sled: one tree, `state`, whose keys are
//! prefixed by kind:
//!
//! | key                               | value (postcard)   |
//! |-----------------------------------|--------------------|
//! | `meta/ledger_id`                  | ledger id (UTF-8)  |
//! | `meta/governance`                 | `Governance`       |
//! | `meta/membership`                 | `Membership`       |
//! | `meta/applied`                    | entries applied, u64 big-endian |
//! | `meta/format`                     | the layout version of this table, ASCII |
//! | `p/` id                           | `Participant`      |
//! | `k/` public key (32 bytes)        | `KeyOwner`         |
//! | `l/` scheme `\0` code             | participant id     |
//! | `t/` id                           | `Tank`             |
//! | `f/` facility code `\0` tank number | tank id         |
//! | `c/` inspector `\0` number        | `Certificate`      |
//! | `r/` id                           | the `Receipt` and its changes since its last `h/` chunk (`receipt_history`) |
//! | `g/` id                           | `Pledge`           |
//! | `x/` tx id                        | `TxRecord`         |
//! | `a/` tx hash (32 bytes)           | the attempt entry that recorded it, `Seq` |
//! | `q/` grade `\0` currency          | the latest `PriceAssessment` |
//! | `h/` receipt `\0` chunk:u64       | 16 of the receipt's changes, `chunk·16` on, oldest first (`receipt_history`) |
//! | `i/` kind `/` value `\0` receipt   | empty: list index; kind `h` holder, `w` warehouse, `t` tank, `b` pledgee bank, `s` status |
//! | `meta/map_leaves`                 | the state map's leaves (receipts and tanks), u64 big-endian |
//! | `s/` depth:u16 prefix:32          | a state map node below the upper levels (depth ≥ `map_file::depths_for(leaves)`), its newest version: the version it was written at, u64 big-endian ‖ `MapNode::to_bytes` |
//!
//! **The Merkle log's nodes** above the leaves are not in sled but in
//! `merkle.nodes` in the same directory, 32 bytes per node in in-order
//! position (`merkle_file`): the file only grows at its end, and a node costs
//! 32 bytes instead of a sled key and value rewritten into sled's pages. The
//! leaves are not kept: each is its entry's hash, from the log.
//! Each apply writes its nodes there and `fdatasync`s the file before the
//! sled batch that stamps `meta/applied`; opening cuts the file back to the
//! nodes of `meta/applied` entries, and clears the whole state (the ledger
//! replays it from the log) if the file lacks any of them.
//!
//! **The state map's upper levels** (the depths `map_file::depths_for`
//! gives for its leaves, up to two slots per leaf at the deepest) are in `map.nodes`
//! in the same directory, in fixed-size slots overwritten in place
//! (`map_file`); only the nodes below them (fewer than one per leaf) are
//! `s/` keys, so a changed receipt rewrites a few sled keys instead
//! of one per depth. Each apply writes the slots and `fdatasync`s the file
//! before the sled batch; the apply that makes the map deep enough for one
//! more depth in the file moves that depth's nodes out of sled in the same
//! batch. Opening finds a slot written after `meta/applied` (an apply sled
//! lost), torn, or missing, and then rebuilds the file from the objects
//! (`r/`, `g/`, `t/`): the nodes below, in sled, are as of `meta/applied`.
//!
//! **The state map** keeps on disk only each node's newest version,
//! overwritten in place by the apply that changes it; the map's root at
//! `meta/applied` is the root node's hash. The versions a proof at an older
//! size may still need live in memory, in a [`MapHistory`] the store shares
//! with its views: an apply puts each node it overwrites there *before* the
//! sled batch that overwrites it, so a view (which reads sled's live tree,
//! possibly ahead of its own size) reading at size `v` takes the stored
//! node if it was written at or below `v`, else the newest superseded
//! version at or below `v`. [`StateStore::prune_map`] drops, in memory, the
//! versions superseded at or below the floor and the roots below it; it
//! writes nothing. The history is as large as what changed since the floor
//! (one checkpoint interval of writes on a node). After a restart it is
//! gone: the map is provable from the size the store opened at on (its
//! [`VersionedMap::map_floor`]), and below it every read is
//! [`StoreError::MapPruned`]; the ledger's catch-up replay adds versions
//! from there.
//!
//! **A receipt's history** (the entries that changed it) is in its own
//! `r/` value, up to 15 changes, and in `h/` chunks of 16 written once
//! each (`receipt_history` has the layout and its checks): a change adds no
//! sled key of its own, since sled's file costs far more per key than per
//! byte.
//!
//! A table written by another layout (another `meta/format`) is cleared
//! when it opens, and the ledger rebuilds it from the log.
//!
//! Every [`StateStore::apply`] writes its objects, indexes, nodes and
//! `meta/applied` in one atomic sled batch. sled 0.34's `flush()` ends in
//! `sync_file_range`, not a durability barrier, so sled may lose its last
//! batches in a crash; the ledger then replays them from the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::generation::{self, Generation, Live};
use super::map_file::{MapFile, Versioned, depths_for};
use super::merkle_file::MerkleFile;
use super::online::{self, CompactionPolicy, Copy};
use super::receipt_history::{self, StoredReceipt, StoredReceiptRef};
use super::{ReceiptFilter, StateStore, StateUpdate, StateView, StoreError, Upkeep, check_follows};
use crate::crypto::{Digest, PublicKey};
use crate::merkle::{Hash, NodeId, NodeSource};
use crate::model::{
    Certificate, CertificateRef, Governance, KeyOwner, LegalId, Membership, Participant,
    PhysicalTankId, Pledge, PriceAssessment, PriceKey, Receipt, Seq, Tank, TxRecord,
};
use crate::state::{Objects, StateError, StateRead};
use crate::statemap::tree::{MapUpdate, stored_root, upper_nodes};
use crate::statemap::{
    self, AtVersion, Kind, MapHash, MapHistory, MapNode, MapNodeId, VersionedMap, leaf, versioned,
};

const APPLIED_KEY: &[u8] = b"meta/applied";
const LEDGER_ID_KEY: &[u8] = b"meta/ledger_id";
const GOVERNANCE_KEY: &str = "meta/governance";
const MEMBERSHIP_KEY: &str = "meta/membership";
const FORMAT_KEY: &[u8] = b"meta/format";
const MAP_LEAVES_KEY: &[u8] = b"meta/map_leaves";
/// The layout of the state table; a table written by another layout is
/// cleared on open and rebuilt from the log (3: attested oil's objects and
/// indexes; 4: the state map; 5: superseded map nodes indexed for pruning;
/// 6: price assessments and pledges' margin levels; 7: the state map's
/// newest node versions only, overwritten in place; 8: the Merkle log's
/// nodes in `merkle.nodes`; 9: the state map's upper levels in
/// `map.nodes`; 10: receipt histories as chains keyed by seq; 11: two
/// more of the map's depths in `map.nodes`; 12: receipt histories in the
/// receipts' values and chunks of 16; 13: no leaves in `merkle.nodes`).
const STATE_FORMAT: &[u8] = b"13";
/// sled's page cache. sled's default (1 GiB) lets the node's memory grow
/// with the state until it reaches it; the working set of the rules (the
/// receipts and pledges being touched, the Merkle frontier) is far smaller.
const STATE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The state in a sled database.
#[derive(Debug)]
pub struct DiskStateStore {
    /// The state directory.
    dir: PathBuf,
    /// The sled database in use, and its length when it became live.
    live: Live,
    db: sled::Db,
    tree: sled::Tree,
    /// The Merkle log's nodes, shared with the views.
    merkle: Arc<MerkleFile>,
    /// The state map's upper levels, shared with the views.
    map_file: Arc<MapFile>,
    /// The state map's leaves.
    map_leaves: u64,
    applied: u64,
    /// The state map's superseded versions and roots, shared with the views.
    history: SharedHistory,
    /// Whether opening found a table it could not use (another layout, or
    /// a node file short of it) and cleared it.
    cleared_at_open: bool,
    /// Whether sled removes the database when the store is dropped
    /// ([`DiskStateStore::open_temporary`]).
    temporary: bool,
    /// When to compact the database while in use; `None`: never.
    compaction: Option<CompactionPolicy>,
    /// A compaction in progress.
    copy: Option<Copy>,
    /// Keys a compaction copies per upkeep ([`online::STEP_KEYS`]).
    step_keys: usize,
    /// Why writing the last batch to the compaction's copy failed, for the
    /// next [`StateStore::upkeep`] to report.
    copy_failed: Option<StoreError>,
    /// Generations no longer used, to remove once sled lets go of them.
    retired: Vec<Generation>,
    /// Retired generations whose removal failed and was reported; retried
    /// at every upkeep, reported once.
    removal_reported: Vec<Generation>,
    /// A removal that failed, for the next idle [`StateStore::upkeep`] to
    /// report.
    removal_failed: Option<StoreError>,
}

/// The in-memory part of the state map, shared by a store and its views.
type SharedHistory = Arc<RwLock<MapHistory>>;

fn read_history(history: &SharedHistory) -> RwLockReadGuard<'_, MapHistory> {
    history.read().unwrap_or_else(|p| p.into_inner())
}

fn write_history(history: &SharedHistory) -> RwLockWriteGuard<'_, MapHistory> {
    history.write().unwrap_or_else(|p| p.into_inner())
}

impl DiskStateStore {
    /// Opens (or creates) the sled database in `dir`.
    /// A compaction cut short there is first finished or undone
    /// ([`DiskLedger::compact_state`](crate::ledger::DiskLedger::compact_state)).
    /// The live sled database is the one `CURRENT` names; every other
    /// generation there is removed first (module `generation`).
    pub fn open(dir: &Path) -> Result<DiskStateStore, StoreError> {
        super::compact::finish_interrupted(dir)?;
        let live = generation::live(dir)?;
        generation::remove_all_but(dir, live.generation)?;
        let db = open_sled(&live.generation.dir(dir))?;
        let tree = db.open_tree(STATE_TREE).map_err(sled_err("open tree"))?;
        let merkle = Arc::new(MerkleFile::open(dir)?);
        let format = tree.get(FORMAT_KEY).map_err(sled_err("read format"))?;
        let map_leaves = read_count(&tree, MAP_LEAVES_KEY)?;
        let mut store = DiskStateStore {
            dir: dir.to_path_buf(),
            live,
            db,
            applied: read_count(&tree, APPLIED_KEY)?,
            tree,
            merkle,
            map_file: Arc::new(MapFile::open(dir, depths_for(map_leaves))?),
            map_leaves,
            history: SharedHistory::default(),
            cleared_at_open: false,
            temporary: false,
            compaction: None,
            copy: None,
            step_keys: online::STEP_KEYS,
            copy_failed: None,
            retired: Vec::new(),
            removal_reported: Vec::new(),
            removal_failed: None,
        };
        if format.as_deref() != Some(STATE_FORMAT) {
            store.cleared_at_open = !store.tree.is_empty();
            store.clear()?;
        } else if !store.merkle.cut_to(store.applied)? {
            store.cleared_at_open = true;
            store.clear()?;
        } else if !store.map_file.holds_map_at(store.applied)? {
            store.rebuild_upper_map()?;
        }
        store.history = Arc::new(RwLock::new(store.history_from_here()?));
        Ok(store)
    }

    /// A history with nothing superseded, provable at `applied` only: what
    /// the store holds when it opens or is cleared.
    fn history_from_here(&self) -> Result<MapHistory, StoreError> {
        let live = AtVersion {
            map: &self.view_now(),
            version: u64::MAX,
        };
        Ok(MapHistory::starting_at(self.applied, stored_root(&live)?))
    }

    /// Creates an empty sled database in `dir` that sled deletes when the
    /// store is dropped: the state of a node that cannot write to its data
    /// directory (a full disk), rebuilt from the entry log at every start
    /// and kept nowhere else. Whatever `dir` held is removed first (what a
    /// process that did not stop cleanly left): the caller makes sure no
    /// one else uses it.
    pub fn open_temporary(dir: &Path) -> Result<DiskStateStore, StoreError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|error| StoreError::Sled {
                op: "remove a stale temporary database",
                source: sled::Error::Io(error),
            })?;
        }
        let db = sled::Config::new()
            .path(dir)
            .temporary(true)
            .create_new(true)
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(sled_err("create temporary database"))?;
        let tree = db.open_tree(STATE_TREE).map_err(sled_err("open tree"))?;
        tree.insert(FORMAT_KEY, STATE_FORMAT)
            .map_err(sled_err("write format"))?;
        let merkle = Arc::new(MerkleFile::open(dir)?);
        let map_file = Arc::new(MapFile::open(dir, depths_for(0))?);
        map_file.rewrite(depths_for(0), 0, &[])?;
        let mut store = DiskStateStore {
            dir: dir.to_path_buf(),
            live: Live {
                generation: Generation(0),
                baseline: 0,
            },
            db,
            tree,
            merkle,
            map_file,
            map_leaves: 0,
            applied: 0,
            history: SharedHistory::default(),
            cleared_at_open: false,
            temporary: true,
            compaction: None,
            copy: None,
            step_keys: online::STEP_KEYS,
            copy_failed: None,
            retired: Vec::new(),
            removal_reported: Vec::new(),
            removal_failed: None,
        };
        store.history = Arc::new(RwLock::new(store.history_from_here()?));
        Ok(store)
    }

    /// The store, compacting its database while in use under `policy`
    /// ([`StateStore::upkeep`] does the work; module `online` has the
    /// steps). A temporary store ([`DiskStateStore::open_temporary`]) is
    /// never compacted: it is rebuilt at every start.
    pub fn with_compaction(mut self, policy: CompactionPolicy) -> DiskStateStore {
        if !self.temporary {
            self.compaction = Some(policy);
        }
        self
    }

    /// The sled tree of the state, for a compaction's copy.
    pub(super) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// The directory of the sled database in use.
    pub(super) fn live_dir(&self) -> PathBuf {
        self.live.generation.dir(&self.dir)
    }

    /// The sled database in use: which generation, and its length when it
    /// became live (0: not known).
    pub fn live_generation(&self) -> (u64, u64) {
        (self.live.generation.0, self.live.baseline)
    }

    /// Whether opening found a table it could not use and cleared it: one
    /// written by another layout, or one whose node file lacks nodes of the
    /// entries it says are applied. Everything is replayed from the log.
    pub fn cleared_at_open(&self) -> bool {
        self.cleared_at_open
    }

    fn view_now(&self) -> DiskStateView {
        DiskStateView {
            tree: self.tree.clone(),
            merkle: Arc::clone(&self.merkle),
            map_file: Arc::clone(&self.map_file),
            applied: self.applied,
            history: Arc::clone(&self.history),
            read_nodes: None,
        }
    }

    /// Writes the update: the Merkle nodes and the map's upper levels to
    /// their files, synced, then one sled batch with the rest and
    /// `meta/applied`. Returns the map's leaves after it, and the batch
    /// again while a compaction copies the database, for its copy.
    fn write(&self, update: &StateUpdate) -> Result<(u64, Option<sled::Batch>), StoreError> {
        let mut batch = sled::Batch::default();
        let read_nodes = ReadNodes::default();
        let view = DiskStateView {
            read_nodes: Some(Arc::clone(&read_nodes)),
            ..self.view_now()
        };
        let map = versioned::update_for(&view, &update.changes)?;
        self.keep_superseded(&view, &read_nodes, &map, update.end)?;
        let leaves = self.map_leaves + map.added;
        let depths = depths_for(leaves).max(self.map_file.depths());
        let deeper = self.map_file.write(update.end, &map.writes)?;
        let wrote_upper = deeper.len() < map.writes.len();
        let mut moved = self.move_out_of_sled(depths, &mut batch)?;
        for (id, node) in deeper {
            match id.depth < depths {
                true => moved.push((*id, (update.end, *node))),
                false => batch.insert(
                    map_node_key(id).as_slice(),
                    map_node_value(update.end, node),
                ),
            }
        }
        batch.insert(MAP_LEAVES_KEY, &leaves.to_be_bytes());
        self.batch_objects(&mut batch, update)?;
        let for_copy = self.copy.as_ref().map(|_| batch.clone());
        self.write_merkle_nodes(update)?;
        if depths > self.map_file.depths() {
            self.map_file
                .grow(depths, &moved, || self.apply_batch(batch))?;
        } else {
            if wrote_upper {
                self.map_file.sync()?;
            }
            self.apply_batch(batch)?;
        }
        write_history(&self.history).add_root(update.end, map.root);
        Ok((leaves, for_copy))
    }

    fn apply_batch(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.tree
            .apply_batch(batch)
            .map_err(sled_err("apply batch"))
    }

    /// The sled nodes at the depths the map file takes on as it grows to
    /// `depths` (none if it does not), with their versions, and their
    /// removal from sled in `batch`. A node the update rewrites comes after
    /// it, and wins.
    fn move_out_of_sled(
        &self,
        depths: u16,
        batch: &mut sled::Batch,
    ) -> Result<Vec<(MapNodeId, Versioned)>, StoreError> {
        let mut moved = Vec::new();
        for depth in self.map_file.depths()..depths {
            let prefix = [b"s/".as_slice(), &depth.to_be_bytes()].concat();
            for item in self.tree.scan_prefix(&prefix) {
                let (key, bytes) = item.map_err(sled_err("scan state map nodes"))?;
                let id = MapNodeId::from_key(&key[2..]).ok_or_else(|| StoreError::Codec {
                    key: hex::encode(&key),
                    reason: "not a state map position".into(),
                })?;
                moved.push((id, parse_map_node_value(&key, &bytes)?));
                batch.remove(key);
            }
        }
        Ok(moved)
    }

    /// Rebuilds the map file from the objects: what opening does when the
    /// file holds a slot written after `meta/applied`, a torn one, or too
    /// few. The nodes below it, in sled, are as of `meta/applied`.
    fn rebuild_upper_map(&self) -> Result<(), StoreError> {
        let leaves = self.view_now().map_leaves()?;
        let depths = self.map_file.depths();
        self.map_file
            .rewrite(depths, self.applied, &upper_nodes(&leaves, depths))
    }

    /// Puts the update's objects, indexes, receipt histories and
    /// `meta/applied` into `batch`.
    fn batch_objects(
        &self,
        batch: &mut sled::Batch,
        update: &StateUpdate,
    ) -> Result<(), StoreError> {
        let changes = &update.changes;
        if let Some(id) = &changes.ledger_id {
            batch.insert(LEDGER_ID_KEY, id.as_bytes());
        }
        put_objects(batch, changes)?;
        let stored = self.stored_receipts(changes)?;
        self.index_receipts(batch, changes, &stored)?;
        put_receipts(batch, changes, &stored)?;
        batch.insert(APPLIED_KEY, &update.end.to_be_bytes());
        Ok(())
    }

    /// Writes the update's Merkle nodes and makes them durable: the sled
    /// batch stamping its entries applied comes after.
    fn write_merkle_nodes(&self, update: &StateUpdate) -> Result<(), StoreError> {
        if self.merkle.write(&update.nodes)? {
            self.merkle.sync()?;
        }
        Ok(())
    }

    /// Puts the stored versions of the nodes `map` overwrites at `at` into
    /// the history. Called before the batch that overwrites them: a view
    /// that reads a node written at `at` then finds the one it replaced.
    fn keep_superseded(
        &self,
        view: &DiskStateView,
        read_nodes: &ReadNodes,
        map: &MapUpdate,
        at: u64,
    ) -> Result<(), StoreError> {
        let read = read_nodes.lock().unwrap_or_else(|p| p.into_inner());
        let mut superseded = Vec::with_capacity(map.writes.len());
        for (id, _) in &map.writes {
            // Every stored node the update overwrites was read on its path;
            // a node not read is looked up, to be safe.
            let stored = match read.get(id) {
                Some(versioned) => Some(*versioned),
                None => view.stored_map_node(id)?,
            };
            if let Some((version, node)) = stored {
                superseded.push((*id, version, node));
            }
        }
        drop(read);
        let mut history = write_history(&self.history);
        for (id, version, node) in superseded {
            history.supersede(id, version, node, at);
        }
        Ok(())
    }

    /// The stored versions of the receipts `changes` writes (none for a
    /// new receipt): what their list-index keys and histories follow on
    /// from.
    fn stored_receipts(&self, changes: &Objects) -> Result<StoredReceipts, StoreError> {
        let view = self.view_now();
        let mut stored = BTreeMap::new();
        for id in changes.receipts.keys() {
            stored.insert(id.clone(), view.stored_receipt(id)?);
        }
        Ok(stored)
    }

    /// Moves each changed receipt's list-index keys from its old to its new
    /// values. A key whose value did not change (most steps change only the
    /// status, or only the pledgee) is left alone: rewriting it would add a
    /// version of it to sled's log for nothing.
    fn index_receipts(
        &self,
        batch: &mut sled::Batch,
        changes: &Objects,
        stored: &StoredReceipts,
    ) -> Result<(), StoreError> {
        let view = self.view_now();
        for (id, new) in &changes.receipts {
            let old_keys = match stored.get(id).and_then(Option::as_ref) {
                Some(StoredReceipt { receipt: old, .. }) => {
                    index_keys(old, view.pledgee_of(old, &Objects::default())?.as_deref())
                }
                None => Vec::new(),
            };
            let new_keys = index_keys(new, view.pledgee_of(new, changes)?.as_deref());
            for key in old_keys.iter().filter(|k| !new_keys.contains(k)) {
                batch.remove(key.as_slice());
            }
            for key in new_keys.into_iter().filter(|k| !old_keys.contains(k)) {
                batch.insert(key, &[]);
            }
        }
        Ok(())
    }
}

/// Each receipt an update writes, as stored before it (none if new).
type StoredReceipts = BTreeMap<String, Option<StoredReceipt>>;

/// Puts each receipt `changes` writes into `batch` with its history: the
/// changes since its last `h/` chunk in its `r/` value, and the chunks its
/// new changes complete. A history for a receipt the update does not write
/// is refused.
fn put_receipts(
    batch: &mut sled::Batch,
    changes: &Objects,
    stored: &StoredReceipts,
) -> Result<(), StoreError> {
    if let Some(id) =
        (changes.receipt_history.keys()).find(|id| !changes.receipts.contains_key(*id))
    {
        return Err(broken_history(
            id,
            "extended by an update that does not write the receipt",
        ));
    }
    for (id, receipt) in &changes.receipts {
        let stored = stored.get(id).and_then(Option::as_ref);
        let new = changes
            .receipt_history
            .get(id)
            .map_or(&[][..], Vec::as_slice);
        let write = receipt_history::extend(receipt, stored, new)?;
        for (number, chunk) in &write.chunks {
            let key = receipt_history::chunk_key(id, *number);
            let value = encode_value(&key, chunk)?;
            batch.insert(key, value);
        }
        let key = [b"r/".as_slice(), id.as_bytes()].concat();
        let value = StoredReceiptRef {
            receipt,
            recent: &write.recent,
        };
        let value = encode_value(&key, &value)?;
        batch.insert(key, value);
    }
    Ok(())
}

/// Every kind of object but receipts (`put_receipts`) and its key prefix:
/// the one list the disk store keeps (see `crate::state::Objects`).
fn put_objects(batch: &mut sled::Batch, changes: &Objects) -> Result<(), StoreError> {
    let by_id = |id: &String| id.as_bytes().to_vec();
    if let Some(governance) = &changes.governance {
        put_all(
            batch,
            GOVERNANCE_KEY,
            std::iter::once((Vec::new(), governance)),
        )?;
    }
    if let Some(membership) = &changes.membership {
        put_all(
            batch,
            MEMBERSHIP_KEY,
            std::iter::once((Vec::new(), membership)),
        )?;
    }
    put_all(
        batch,
        "p/",
        changes.participants.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "k/",
        changes.key_owners.iter().map(|(k, v)| (k.0.to_vec(), v)),
    )?;
    put_all(
        batch,
        "l/",
        changes.legal_ids.iter().map(|(k, v)| (legal_id_key(k), v)),
    )?;
    put_all(
        batch,
        "t/",
        changes.tanks.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "f/",
        changes
            .physical_tanks
            .iter()
            .map(|(k, v)| (physical_tank_key(k), v)),
    )?;
    put_all(
        batch,
        "c/",
        changes
            .certificates
            .iter()
            .map(|(k, v)| (certificate_key(k), v)),
    )?;
    put_all(
        batch,
        "g/",
        changes.pledges.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "x/",
        changes.transactions.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "a/",
        changes.attempts.iter().map(|(k, v)| (k.0.to_vec(), v)),
    )?;
    put_all(
        batch,
        "q/",
        changes.prices.iter().map(|(k, v)| (price_key(k), v)),
    )
}

/// A count stored under `key` (`meta/applied`, `meta/map_leaves`); 0 if
/// none is.
fn read_count(tree: &sled::Tree, key: &[u8]) -> Result<u64, StoreError> {
    match tree.get(key).map_err(sled_err("read a count"))? {
        None => Ok(0),
        Some(bytes) => {
            let array: [u8; 8] = bytes.as_ref().try_into().map_err(|_| StoreError::Codec {
                key: String::from_utf8_lossy(key).into_owned(),
                reason: format!("{} bytes, expected 8", bytes.len()),
            })?;
            Ok(u64::from_be_bytes(array))
        }
    }
}

/// How many receipts and tanks `changes` creates: the map's new leaves.
/// Compacting while in use (module `online`).
impl DiskStateStore {
    /// Starts a copy if the policy says the database is due one and the
    /// file system has room for it.
    fn start_copy_if_due(&mut self, policy: CompactionPolicy) -> Result<Upkeep, StoreError> {
        let bytes = self.live.generation.db_bytes(&self.dir)?;
        if !policy.due(bytes, self.live.baseline) || !online::room_for_copy(&self.dir, bytes)? {
            return Ok(Upkeep::Idle);
        }
        self.begin_copy()
    }

    /// Starts compacting now, whatever the policy (none in progress and
    /// the store not temporary; else nothing): [`StateStore::upkeep`]
    /// then copies and switches. Returns whether it started one.
    pub fn begin_compaction(&mut self) -> Result<bool, StoreError> {
        if self.copy.is_some() || self.temporary {
            return Ok(false);
        }
        self.begin_copy().map(|_| true)
    }

    fn begin_copy(&mut self) -> Result<Upkeep, StoreError> {
        let next = self
            .retired
            .iter()
            .copied()
            .chain([self.live.generation])
            .max()
            .unwrap_or(self.live.generation)
            .next();
        match Copy::start(&self.dir, next) {
            Ok(copy) => {
                self.copy = Some(copy);
                Ok(Upkeep::Working)
            }
            Err(error) => {
                self.retired.push(next);
                self.wait_for_more_growth()?;
                Err(error)
            }
        }
    }

    /// The copy has every key: it becomes the database in use. If making
    /// it live fails, `CURRENT` is read back: a copy it names (the rename
    /// done, the directory's fsync failed) is used all the same, since a
    /// start opens it, and the old generation is kept (a crash may yet
    /// bring back the old `CURRENT`; opening removes whichever is not
    /// named); a copy it does not name is dropped.
    fn switch_to_copy(&mut self) -> Result<Upkeep, StoreError> {
        let Some(copy) = self.copy.take() else {
            return Ok(Upkeep::Idle);
        };
        let (live, done) = match copy.make_live(&self.dir) {
            Ok(live) => {
                self.retired.push(self.live.generation);
                (live, Ok(Upkeep::Switched))
            }
            Err(error) => {
                let named = generation::live(&self.dir)
                    .ok()
                    .filter(|live| live.generation == copy.generation());
                let Some(live) = named else {
                    self.retired.push(copy.generation());
                    self.wait_for_more_growth()?;
                    return Err(error);
                };
                (live, Err(error))
            }
        };
        let (db, tree) = copy.into_handles();
        self.live = live;
        self.db = db;
        self.tree = tree;
        done
    }

    /// The compaction's part of the upkeep: a step of the copy in
    /// progress, the switch to a finished one, or a new one if due.
    fn compaction_upkeep(&mut self) -> Result<Upkeep, StoreError> {
        if let Some(error) = self.copy_failed.take() {
            self.abandon_copy()?;
            return Err(error);
        }
        let done = match (self.copy.as_mut(), self.compaction) {
            (Some(copy), _) => copy.step(&self.tree, self.step_keys),
            (None, Some(policy)) => return self.start_copy_if_due(policy),
            (None, None) => return Ok(Upkeep::Idle),
        };
        match done {
            Ok(false) => Ok(Upkeep::Working),
            Ok(true) => self.switch_to_copy(),
            Err(error) => {
                self.abandon_copy()?;
                Err(error)
            }
        }
    }

    /// Drops the copy in progress (removed once sled lets go of it); the
    /// next one waits until the database has grown by the policy's
    /// percentage again.
    fn abandon_copy(&mut self) -> Result<(), StoreError> {
        if let Some(copy) = self.copy.take() {
            self.retired.push(copy.generation());
        }
        self.copy_failed = None;
        self.wait_for_more_growth()
    }

    /// After a failed compaction: measure the next against the database as
    /// it is now, so that a failure (a full disk) is not retried at once.
    fn wait_for_more_growth(&mut self) -> Result<(), StoreError> {
        self.live.baseline = self.live.generation.db_bytes(&self.dir)?;
        Ok(())
    }

    /// Removes the retired generations no sled handle holds any more. A
    /// removal that fails is retried at every upkeep and reported once
    /// (`removal_failed`): it never stops a compaction's steps.
    fn remove_retired(&mut self) {
        let dir = &self.dir;
        let mut failed = None;
        self.retired.retain(|&generation| {
            let removed = generation::is_closed(dir, generation).and_then(|closed| {
                closed
                    .then(|| generation::remove(dir, generation))
                    .transpose()
            });
            match removed {
                Ok(removed) => removed.is_none(),
                Err(error) => {
                    failed.get_or_insert((generation, error));
                    true
                }
            }
        });
        let retired = &self.retired;
        self.removal_reported.retain(|g| retired.contains(g));
        if let Some((generation, error)) = failed
            && !self.removal_reported.contains(&generation)
        {
            self.removal_reported.push(generation);
            self.removal_failed.get_or_insert(error);
        }
    }
}

impl StateStore for DiskStateStore {
    type View = DiskStateView;

    fn applied(&self) -> u64 {
        self.applied
    }

    fn view(&self) -> DiskStateView {
        self.view_now()
    }

    fn apply(&mut self, update: &StateUpdate) -> Result<(), StoreError> {
        check_follows(self.applied, update)?;
        let (leaves, for_copy) = self.write(update)?;
        self.map_leaves = leaves;
        self.applied = update.end;
        if let (Some(copy), Some(batch)) = (&self.copy, for_copy)
            && let Err(error) = copy.write(batch)
        {
            // The live database has the update; only the compaction fails.
            self.copy_failed = Some(error);
        }
        Ok(())
    }

    fn upkeep(&mut self) -> Result<Upkeep, StoreError> {
        self.remove_retired();
        match self.compaction_upkeep()? {
            Upkeep::Idle => self.removal_failed.take().map_or(Ok(Upkeep::Idle), Err),
            done => Ok(done),
        }
    }

    fn prune_map(&mut self, floor: u64) -> Result<u64, StoreError> {
        Ok(write_history(&self.history).prune(floor.min(self.applied)))
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        if self.copy.is_some() {
            self.abandon_copy()?;
        }
        self.tree.clear().map_err(sled_err("clear state"))?;
        self.merkle.clear()?;
        self.map_leaves = 0;
        self.map_file.rewrite(depths_for(0), 0, &[])?;
        self.tree
            .insert(FORMAT_KEY, STATE_FORMAT)
            .map_err(sled_err("write format"))?;
        self.applied = 0;
        let emptied = self.history_from_here()?;
        *write_history(&self.history) = emptied;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(sled_err("flush"))?;
        Ok(())
    }
}

/// A view of a [`DiskStateStore`]. It reads sled's live tree: it reflects at
/// least the entries `0..applied()` and may see entries applied after it
/// was taken (whole objects of a later version, never a torn one). The
/// state map it reads at any size from the store's floor on, as of that
/// size (see the module documentation).
#[derive(Debug, Clone)]
pub struct DiskStateView {
    tree: sled::Tree,
    merkle: Arc<MerkleFile>,
    map_file: Arc<MapFile>,
    applied: u64,
    history: SharedHistory,
    /// Where the apply that took this view keeps the stored map nodes it
    /// read (none for any other view).
    read_nodes: Option<ReadNodes>,
}

/// The stored map nodes, with their versions, that an apply read while
/// computing its update: the ones it overwrites are among them, so their
/// superseded versions go to the history without being read again.
type ReadNodes = Arc<Mutex<BTreeMap<MapNodeId, Versioned>>>;

impl DiskStateView {
    fn get<T: DeserializeOwned>(&self, prefix: &str, id: &[u8]) -> Result<Option<T>, StoreError> {
        let key = [prefix.as_bytes(), id].concat();
        match self.tree.get(&key).map_err(sled_err("read"))? {
            None => Ok(None),
            Some(bytes) => decode_value(&key, &bytes).map(Some),
        }
    }

    fn scan<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> impl Iterator<Item = Result<T, StoreError>> + '_ {
        self.tree.scan_prefix(prefix.as_bytes()).map(|item| {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            decode_value(&key, &bytes)
        })
    }

    /// The receipt `id` as stored, with its recent changes.
    fn stored_receipt(&self, id: &str) -> Result<Option<StoredReceipt>, StoreError> {
        self.get("r/", id.as_bytes())
    }

    /// The whole history of a receipt as read: the chunks its `r/` value
    /// implies (none a later apply added), then its recent changes, checked.
    fn history_of(&self, stored: &StoredReceipt) -> Result<Vec<Seq>, StoreError> {
        let id = stored.receipt.id();
        let count = receipt_history::chunks_of(stored)?;
        let range = receipt_history::chunk_key(id, 0)..receipt_history::chunk_key(id, count);
        let mut chunks = Vec::new();
        for item in self.tree.range(range) {
            let (key, value) = item.map_err(sled_err("read history"))?;
            let (_, number) = receipt_history::parse_chunk_key(&key)?;
            chunks.push((number, decode_value(&key, &value)?));
        }
        receipt_history::assemble(stored, chunks)
    }

    /// The bank of the receipt's active pledge, looking in `pending` first.
    fn pledgee_of(
        &self,
        receipt: &Receipt,
        pending: &Objects,
    ) -> Result<Option<String>, StoreError> {
        let Some(pledge_id) = receipt.active_pledge() else {
            return Ok(None);
        };
        let pledge = match pending.pledges.get(pledge_id) {
            Some(pledge) => Some(pledge.clone()),
            None => self.get::<Pledge>("g/", pledge_id.as_bytes())?,
        };
        Ok(pledge.map(|p| p.pledgee().to_owned()))
    }
}

fn put_all<'a, T: Serialize + 'a>(
    batch: &mut sled::Batch,
    prefix: &str,
    items: impl Iterator<Item = (Vec<u8>, &'a T)>,
) -> Result<(), StoreError> {
    for (id, value) in items {
        let key = [prefix.as_bytes(), &id].concat();
        let bytes = encode_value(&key, value)?;
        batch.insert(key, bytes);
    }
    Ok(())
}

fn encode_value<T: Serialize + ?Sized>(key: &[u8], value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Codec {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn decode_value<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Codec {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn index_prefix(kind: &str, value: &str) -> Vec<u8> {
    [
        b"i/".as_slice(),
        kind.as_bytes(),
        b"/",
        value.as_bytes(),
        b"\0",
    ]
    .concat()
}

fn filter_prefix(filter: &ReceiptFilter) -> Vec<u8> {
    match filter {
        ReceiptFilter::All => b"r/".to_vec(),
        ReceiptFilter::Holder(id) => index_prefix("h", id),
        ReceiptFilter::Warehouse(id) => index_prefix("w", id),
        ReceiptFilter::Tank(id) => index_prefix("t", id),
        ReceiptFilter::Pledgee(id) => index_prefix("b", id),
        ReceiptFilter::Status(name) => index_prefix("s", name),
    }
}

fn index_keys(receipt: &Receipt, pledgee: Option<&str>) -> Vec<Vec<u8>> {
    let id = receipt.id().as_bytes();
    let mut keys = vec![
        [index_prefix("h", &receipt.holder_id), id.to_vec()].concat(),
        [index_prefix("w", &receipt.warehouse_id), id.to_vec()].concat(),
        [index_prefix("t", &receipt.terms.tank_id), id.to_vec()].concat(),
        [index_prefix("s", receipt.status.name()), id.to_vec()].concat(),
    ];
    if let Some(bank) = pledgee {
        keys.push([index_prefix("b", bank), id.to_vec()].concat());
    }
    keys
}

fn price_key(key: &PriceKey) -> Vec<u8> {
    [key.product_grade.as_bytes(), b"\0", key.currency.as_bytes()].concat()
}

fn certificate_key(reference: &CertificateRef) -> Vec<u8> {
    [
        reference.inspector.as_bytes(),
        b"\0",
        reference.number.as_bytes(),
    ]
    .concat()
}

fn legal_id_key(legal_id: &LegalId) -> Vec<u8> {
    [
        legal_id.scheme().as_bytes(),
        b"\0",
        legal_id.code().as_bytes(),
    ]
    .concat()
}

fn physical_tank_key(physical_id: &PhysicalTankId) -> Vec<u8> {
    [
        physical_id.facility_code.as_bytes(),
        b"\0",
        physical_id.tank_number.as_bytes(),
    ]
    .concat()
}

/// The sled tree that holds the state.
pub(super) const STATE_TREE: &str = "state";

/// Opens (or creates) the state's sled database in `dir`, with its settings.
pub(super) fn open_sled(dir: &Path) -> Result<sled::Db, StoreError> {
    open_waiting_for_lock(
        &sled::Config::new()
            .path(dir)
            .cache_capacity(STATE_CACHE_BYTES),
    )
}

/// How long [`open_waiting_for_lock`] waits for sled's file lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the sled database, waiting up to [`LOCK_WAIT`] while its file
/// lock is held. A ledger takes the entry log's lock first, so another
/// process never gets this far; a lock still held is this process's own
/// database, just dropped, whose background threads (writing sled's last
/// buffer) keep the file open a moment longer. Seen under load when a store
/// is closed and reopened in one process, as the crash tests do.
fn open_waiting_for_lock(config: &sled::Config) -> Result<sled::Db, StoreError> {
    retry_while_locked(|may_retry| match config.open() {
        Err(sled::Error::Io(error)) if is_lock_refusal(&error) && may_retry => None,
        opened => Some(opened.map_err(sled_err("open"))),
    })
}

/// Calls `attempt` every 20 ms for up to [`LOCK_WAIT`] until it gives an
/// answer (`None`: a lock is still held, try again). Its argument says
/// whether it may still ask for another try; once `false` it must answer.
pub(super) fn retry_while_locked<T>(mut attempt: impl FnMut(bool) -> Option<T>) -> T {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        if let Some(answer) = attempt(Instant::now() < deadline) {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether sled refused to open because another handle holds its file lock
/// (sled 0.34 reports it as an `Other` I/O error with this text).
fn is_lock_refusal(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::Other
        && error.to_string().contains("could not acquire lock")
}

pub(super) fn sled_err(op: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |source| StoreError::Sled { op, source }
}

impl StateView for DiskStateView {
    fn applied(&self) -> u64 {
        self.applied
    }

    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError> {
        let prefix = filter_prefix(filter);
        let start = match after.is_empty() {
            true => prefix.clone(),
            false => [prefix.as_slice(), after.as_bytes(), b"\0"].concat(),
        };
        let mut found = Vec::new();
        for item in self.tree.range(start..) {
            let (key, value) = item.map_err(sled_err("list receipts"))?;
            let Some(id) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            // Scanning `r/` yields the receipts themselves; an index key
            // names one to read.
            let stored = match filter {
                ReceiptFilter::All => Some(decode_value(&key, &value)?),
                _ => self.get("r/", id)?,
            };
            if let Some(StoredReceipt { receipt, .. }) = stored {
                found.push(receipt);
            }
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError> {
        match self.stored_receipt(id)? {
            Some(stored) => self.history_of(&stored),
            None => Ok(Vec::new()),
        }
    }

    fn objects(&self) -> Result<Objects, StoreError> {
        let mut all = Objects {
            ledger_id: self.ledger_id_stored()?,
            governance: self.governance_stored()?,
            membership: self.membership_stored()?,
            ..Objects::default()
        };
        for p in self.scan::<Participant>("p/") {
            all.put_participant(p?);
        }
        for item in self.tree.scan_prefix(b"k/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let public_key = PublicKey::from_slice(&key[2..]).ok_or_else(|| StoreError::Codec {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: "not a public key".into(),
            })?;
            all.put_key_owner(public_key, decode_value(&key, &bytes)?);
        }
        for item in self.tree.scan_prefix(b"l/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let (scheme, code) = split_pair(&key)?;
            let legal_id = match scheme.as_str() {
                "uscc" => LegalId::Uscc(code),
                _ => LegalId::Lei(code),
            };
            all.put_legal_id(legal_id, &decode_value::<String>(&key, &bytes)?);
        }
        for t in self.scan::<Tank>("t/") {
            all.put_tank(t?);
        }
        for item in self.tree.scan_prefix(b"f/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let (facility_code, tank_number) = split_pair(&key)?;
            let physical_id = PhysicalTankId {
                facility_code,
                tank_number,
            };
            all.put_physical_tank(physical_id, &decode_value::<String>(&key, &bytes)?);
        }
        for c in self.scan::<Certificate>("c/") {
            all.put_certificate(c?);
        }
        for stored in self.scan::<StoredReceipt>("r/") {
            let stored = stored?;
            let history = self.history_of(&stored)?;
            if !history.is_empty() {
                all.receipt_history
                    .insert(stored.receipt.id().to_owned(), history);
            }
            all.put_receipt(stored.receipt);
        }
        for g in self.scan::<Pledge>("g/") {
            all.put_pledge(g?);
        }
        for p in self.scan::<PriceAssessment>("q/") {
            all.put_price(p?);
        }
        for item in self.tree.scan_prefix(b"x/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let record: TxRecord = decode_value(&key, &bytes)?;
            all.transactions
                .insert(String::from_utf8_lossy(&key[2..]).into_owned(), record);
        }
        for item in self.tree.scan_prefix(b"a/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let hash: [u8; 32] = key[2..].try_into().map_err(|_| StoreError::Codec {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: "an attempt key is not a 32-byte hash".into(),
            })?;
            all.attempts
                .insert(Digest(hash), decode_value(&key, &bytes)?);
        }
        Ok(all)
    }
}

/// The two parts of a `prefix/first\0second` key.
fn split_pair(key: &[u8]) -> Result<(String, String), StoreError> {
    let text = String::from_utf8_lossy(key.get(2..).unwrap_or_default()).into_owned();
    match text.split_once('\0') {
        Some((first, second)) => Ok((first.to_owned(), second.to_owned())),
        None => Err(StoreError::Codec {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "not a two-part key".into(),
        }),
    }
}

impl DiskStateView {
    fn ledger_id_stored(&self) -> Result<Option<String>, StoreError> {
        let bytes = self
            .tree
            .get(LEDGER_ID_KEY)
            .map_err(sled_err("read ledger id"))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn governance_stored(&self) -> Result<Option<Governance>, StoreError> {
        self.get(GOVERNANCE_KEY, b"")
    }

    fn membership_stored(&self) -> Result<Option<Membership>, StoreError> {
        self.get(MEMBERSHIP_KEY, b"")
    }
}

impl StateRead for DiskStateView {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        Ok(self.ledger_id_stored()?)
    }
    fn governance(&self) -> Result<Option<Governance>, StateError> {
        Ok(self.governance_stored()?)
    }
    fn membership(&self) -> Result<Option<Membership>, StateError> {
        Ok(self.membership_stored()?)
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError> {
        Ok(self.get("p/", id.as_bytes())?)
    }
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StateError> {
        Ok(self.get("k/", &key.0)?)
    }
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StateError> {
        Ok(self.get("l/", &legal_id_key(legal_id))?)
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError> {
        Ok(self.get("t/", id.as_bytes())?)
    }
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StateError> {
        Ok(self.get("f/", &physical_tank_key(physical_id))?)
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError> {
        Ok(self.get("c/", &certificate_key(reference))?)
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError> {
        Ok(self.stored_receipt(id)?.map(|stored| stored.receipt))
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError> {
        Ok(self.get("g/", id.as_bytes())?)
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError> {
        Ok(self.get("x/", tx_id.as_bytes())?)
    }
    fn attempt(&self, tx_hash: &Digest) -> Result<Option<Seq>, StateError> {
        Ok(self.get("a/", &tx_hash.0)?)
    }
    fn price(&self, key: &PriceKey) -> Result<Option<PriceAssessment>, StateError> {
        Ok(self.get("q/", &price_key(key))?)
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError> {
        Ok(self
            .receipts(filter, "", usize::MAX)?
            .iter()
            .map(|r| r.id().to_owned())
            .collect())
    }
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError> {
        let start = match after {
            None => b"t/".to_vec(),
            // The first key after every `t/<after>`: ids hold no NUL.
            Some(after) => [b"t/".as_slice(), after.as_bytes(), b"\0"].concat(),
        };
        let mut tanks = Vec::new();
        for item in self.tree.range(start..).take(limit) {
            let (key, bytes) = item.map_err(sled_err("list tanks"))?;
            if !key.starts_with(b"t/") {
                break;
            }
            tanks.push(decode_value(&key, &bytes)?);
        }
        Ok(tanks)
    }
}

fn map_node_key(id: &MapNodeId) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[..2].copy_from_slice(b"s/");
    key[2..].copy_from_slice(&id.to_key());
    key
}

/// A stored map node: the version it was written at ‖ the node.
fn map_node_value(version: u64, node: &MapNode) -> Vec<u8> {
    [version.to_be_bytes().as_slice(), &node.to_bytes()].concat()
}

fn parse_map_node_value(key: &[u8], bytes: &[u8]) -> Result<(u64, MapNode), StoreError> {
    let bad = || StoreError::Codec {
        key: hex::encode(key),
        reason: "not a versioned state map node".into(),
    };
    let (version, node) = bytes.split_at_checked(8).ok_or_else(bad)?;
    let version = u64::from_be_bytes(version.try_into().map_err(|_| bad())?);
    Ok((version, MapNode::from_bytes(node).ok_or_else(bad)?))
}

impl DiskStateView {
    /// The newest version stored at `id`: the version it was written at,
    /// and the node.
    fn stored_map_node(&self, id: &MapNodeId) -> Result<Option<Versioned>, StoreError> {
        let stored = self.map_file.read(id, |id| self.sled_map_node(id))?;
        if let (Some(read_nodes), Some(versioned)) = (&self.read_nodes, stored) {
            read_nodes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*id, versioned);
        }
        Ok(stored)
    }

    fn sled_map_node(&self, id: &MapNodeId) -> Result<Option<Versioned>, StoreError> {
        let key = map_node_key(id);
        let bytes = self
            .tree
            .get(key)
            .map_err(sled_err("read state map node"))?;
        bytes
            .map(|bytes| parse_map_node_value(&key, &bytes))
            .transpose()
    }

    /// Every leaf of the map, from the stored receipts (with their
    /// pledges) and tanks, read one at a time.
    fn map_leaves(&self) -> Result<BTreeMap<MapHash, MapHash>, StoreError> {
        let mut leaves = BTreeMap::new();
        for stored in self.scan::<StoredReceipt>("r/") {
            let receipt = stored?.receipt;
            let value = statemap::receipt_leaf_value(&receipt, |id| {
                self.get::<Pledge>("g/", id.as_bytes())
            })?;
            leaves.insert(statemap::map_key(Kind::Receipt, receipt.id()), value);
        }
        for tank in self.scan::<Tank>("t/") {
            let tank = tank?;
            leaves.insert(
                statemap::map_key(Kind::Tank, &tank.id),
                leaf::tank_value(&tank),
            );
        }
        Ok(leaves)
    }

    /// Refuses a size below the floor of `history`.
    fn check_provable(history: &MapHistory, size: u64) -> Result<(), StoreError> {
        match size < history.floor() {
            true => Err(StoreError::MapPruned {
                size,
                floor: history.floor(),
            }),
            false => Ok(()),
        }
    }
}

impl VersionedMap for DiskStateView {
    fn map_node_at(&self, id: &MapNodeId, version: u64) -> Result<Option<MapNode>, StoreError> {
        Self::check_provable(&read_history(&self.history), version)?;
        if let Some((written, node)) = self.stored_map_node(id)?
            && written <= version
        {
            return Ok(Some(node));
        }
        // Overwritten after `version`: the version it had then was put in
        // the history before, and stays there until the floor passes it.
        let history = read_history(&self.history);
        Self::check_provable(&history, version)?;
        Ok(history.node_at(id, version))
    }

    fn map_floor(&self) -> Result<u64, StoreError> {
        Ok(read_history(&self.history).floor())
    }

    fn map_node_versions(&self) -> Result<u64, StoreError> {
        let mut count = read_history(&self.history).len() as u64 + self.map_file.nodes_held()?;
        for item in self.tree.scan_prefix(b"s/") {
            item.map_err(sled_err("count state map nodes"))?;
            count += 1;
        }
        Ok(count)
    }

    fn state_root_at(&self, version: u64) -> Result<Option<MapHash>, StoreError> {
        let history = read_history(&self.history);
        Self::check_provable(&history, version)?;
        Ok(history.root_at(version))
    }
}

impl NodeSource for DiskStateView {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        self.merkle.read(id)?.ok_or_else(|| StoreError::Tree {
            reason: format!("node {id:?} is not stored"),
        })
    }
}

fn broken_history(receipt_id: &str, problem: &'static str) -> StoreError {
    StoreError::BrokenHistory {
        receipt: receipt_id.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::super::receipt_history::tests::sample_receipt as receipt;
    use super::*;

    #[test]
    fn a_table_of_another_layout_is_cleared_on_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        let mut update = StateUpdate::starting_at(0);
        update.end = 1;
        update.changes.ledger_id = Some("ledger-1".into());
        store.apply(&update).expect("apply");
        // As the layout before this one left it.
        store.tree.insert(FORMAT_KEY, b"6").expect("write format");
        store.flush().expect("flush");
        drop(store);

        let store = DiskStateStore::open(dir.path()).expect("reopen");
        assert!(store.cleared_at_open());
        assert_eq!(store.applied(), 0);
        assert_eq!(store.view().ledger_id().expect("read"), None);
        let format = store.tree.get(FORMAT_KEY).expect("read format");
        assert_eq!(format.as_deref(), Some(STATE_FORMAT));
    }

    /// Another handle holding the database (as sled's background threads do
    /// for a moment after a store is dropped): opening waits until it lets
    /// go, and reports the lock only after `LOCK_WAIT`.
    #[test]
    fn opening_waits_for_a_handle_that_lets_go_of_the_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let held = sled::Config::new().path(dir.path()).open().expect("hold");
        let refused = sled::Config::new().path(dir.path()).open();
        assert!(
            matches!(&refused, Err(sled::Error::Io(e)) if is_lock_refusal(e)),
            "a second handle is refused while the first holds the lock: {refused:?}"
        );
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let store = DiskStateStore::open(dir.path()).expect("opens once the lock is free");
        assert_eq!(store.applied(), 0);
        letting_go.join().expect("join");
    }

    /// Entry `seq` creates receipt `R-seq`, with the Merkle nodes of a leaf
    /// hashed from `seq` ([`Frontier::append`] from a tree of `seq` such
    /// leaves).
    fn new_receipt(seq: Seq) -> StateUpdate {
        let mut update = StateUpdate::starting_at(seq);
        update.end = seq + 1;
        let mut frontier = crate::merkle::Frontier::default();
        let leaf = |n: u64| -> Hash { std::array::from_fn(|i| (n >> (i % 8)) as u8 ^ i as u8) };
        for n in 0..seq {
            frontier.append(leaf(n));
        }
        update.nodes = frontier.append(leaf(seq)).into_iter().collect();
        let mut created = receipt(&format!("R-{seq}"));
        created.updated_at = seq;
        created.history_len = 1;
        update.changes.put_receipt(created);
        update
            .changes
            .receipt_history
            .insert(format!("R-{seq}"), vec![seq]);
        update
    }

    fn apply_all(store: &mut DiskStateStore, updates: impl IntoIterator<Item = StateUpdate>) {
        for update in updates {
            store.apply(&update).expect("apply");
        }
    }

    /// Runs the upkeep until it is idle, waiting for sled to let go of the
    /// generations it retired; returns what it answered.
    fn upkeep_until_idle(store: &mut DiskStateStore) -> Vec<Upkeep> {
        let mut answers = Vec::new();
        retry_while_locked(|may_retry| {
            let answer = store.upkeep().expect("upkeep");
            if answer != Upkeep::Idle {
                answers.push(answer);
            }
            match answer == Upkeep::Idle && (store.retired.is_empty() || !may_retry) {
                true => Some(()),
                false => None,
            }
        });
        answers
    }

    /// Applies while a compaction copies three keys a step: the copy gets
    /// them too, the store switches to it, reads what a store that never
    /// compacted reads, removes the old generation once no view holds it,
    /// and reopens on the new one.
    #[test]
    fn applies_during_a_compaction_reach_the_copy_and_outlive_the_switch() {
        let dir = tempfile::tempdir().expect("temp dir");
        let plain_dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        let mut plain = DiskStateStore::open(plain_dir.path()).expect("open");
        apply_all(&mut store, (0..20).map(new_receipt));
        apply_all(&mut plain, (0..20).map(new_receipt));
        store.step_keys = 3;
        assert!(store.begin_compaction().expect("begin"));
        assert!(!store.begin_compaction().expect("one at a time"));
        let before_switch = store.view();
        let mut seq = 20;
        let mut answers = Vec::new();
        while answers.last() != Some(&Upkeep::Switched) {
            apply_all(&mut store, [new_receipt(seq)]);
            apply_all(&mut plain, [new_receipt(seq)]);
            seq += 1;
            answers.push(store.upkeep().expect("upkeep"));
        }
        assert!(answers.len() > 10, "{answers:?}");
        assert_eq!(store.live_generation().0, 1);
        let same = |store: &DiskStateStore, plain: &DiskStateStore| {
            let objects = plain.view().objects().expect("read");
            assert!(
                store.view().objects().expect("read") == objects,
                "objects differ"
            );
            objects
        };
        same(&store, &plain);
        apply_all(&mut store, [new_receipt(seq)]);
        apply_all(&mut plain, [new_receipt(seq)]);
        let objects = same(&store, &plain);

        // A view from before the switch still reads the old generation.
        assert!(before_switch.receipt("R-19").expect("read").is_some());
        assert!(dir.path().join("db").exists());
        drop(before_switch);
        upkeep_until_idle(&mut store);
        assert!(store.retired.is_empty(), "{:?}", store.retired);
        assert!(!dir.path().join("db").exists(), "generation 0 removed");

        store.flush().expect("flush");
        drop(store);
        let reopened = retry_while_locked(|may_retry| match DiskStateStore::open(dir.path()) {
            Err(_) if may_retry => None,
            opened => Some(opened.expect("reopen")),
        });
        assert_eq!(reopened.live_generation().0, 1);
        assert!(!reopened.cleared_at_open());
        assert_eq!(reopened.applied(), seq + 1);
        assert!(reopened.view().objects().expect("read") == objects);
    }

    fn reopen(dir: &Path) -> DiskStateStore {
        retry_while_locked(|may_retry| match DiskStateStore::open(dir) {
            Err(_) if may_retry => None,
            opened => Some(opened.expect("reopen")),
        })
    }

    /// What a crash leaves at either side of the switch: a copy cut short
    /// is removed at the next open, which serves the old generation; a
    /// generation replaced but not yet removed (a view held it) is removed
    /// at the next open, which serves the copy. Nothing is cleared.
    #[test]
    fn opening_after_a_crash_on_either_side_of_the_switch_keeps_the_state() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        apply_all(&mut store, (0..30).map(new_receipt));
        let objects = store.view().objects().expect("read");
        store.step_keys = 5;
        assert!(store.begin_compaction().expect("begin"));
        assert_eq!(store.upkeep().expect("step"), Upkeep::Working);
        store.flush().expect("flush");
        drop(store);

        let mut store = reopen(dir.path());
        assert!(!store.cleared_at_open());
        assert_eq!(store.live_generation().0, 0);
        assert!(!dir.path().join("sled.1").exists(), "the copy cut short");
        assert!(store.view().objects().expect("read") == objects);

        assert!(store.begin_compaction().expect("begin"));
        let held = store.view();
        while store.upkeep().expect("step") != Upkeep::Switched {}
        store.flush().expect("flush");
        drop(store);
        assert!(dir.path().join("db").exists(), "held by a view");
        drop(held);
        let store = reopen(dir.path());
        assert!(!store.cleared_at_open());
        assert_eq!(store.live_generation().0, 1);
        assert!(!dir.path().join("db").exists(), "the generation replaced");
        assert!(store.view().objects().expect("read") == objects);
    }

    /// A store past its policy's growth compacts by itself through its
    /// upkeep; one that is not, or that has no policy, does not.
    #[test]
    fn the_upkeep_compacts_when_the_policy_says_so() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        apply_all(&mut store, (0..200).map(new_receipt));
        store.flush().expect("flush");
        assert_eq!(upkeep_until_idle(&mut store), [], "no policy");
        let bytes = store.live.generation.db_bytes(dir.path()).expect("size");
        let mut store = store.with_compaction(CompactionPolicy {
            min_bytes: bytes + 1,
            growth_percent: 0,
        });
        assert_eq!(upkeep_until_idle(&mut store), [], "under the minimum");
        store.compaction = Some(CompactionPolicy {
            min_bytes: 0,
            growth_percent: 0,
        });
        let answers = upkeep_until_idle(&mut store);
        assert_eq!(answers.last(), Some(&Upkeep::Switched), "{answers:?}");
        let (generation, baseline) = store.live_generation();
        assert_eq!(generation, 1);
        assert_eq!(
            baseline,
            store.live.generation.db_bytes(dir.path()).expect("size")
        );
        assert_eq!(upkeep_until_idle(&mut store), [], "not grown since");
    }

    /// A replaced generation that cannot be removed (here a file where
    /// its directory would be) is reported once, at an idle upkeep, and
    /// retried: a compaction's steps go on meanwhile.
    #[test]
    fn a_generation_that_cannot_be_removed_is_reported_once_and_stops_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        apply_all(&mut store, (0..30).map(new_receipt));
        let stuck = dir.path().join("sled.7");
        std::fs::write(&stuck, b"not a directory").expect("write");
        store.retired.push(Generation(7));
        store.step_keys = 5;
        assert!(store.begin_compaction().expect("begin"));
        let mut answers = Vec::new();
        let mut errors = Vec::new();
        for _ in 0..100 {
            match store.upkeep() {
                Ok(answer) => answers.push(answer),
                Err(error) => errors.push(error.to_string()),
            }
        }
        assert_eq!(
            answers.iter().filter(|a| **a == Upkeep::Switched).count(),
            1,
            "{answers:?}"
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("sled.7"), "{errors:?}");
        assert!(store.retired.contains(&Generation(7)), "kept to retry");
        std::fs::remove_file(&stuck).expect("remove");
        upkeep_until_idle(&mut store);
        assert!(store.retired.is_empty(), "{:?}", store.retired);
    }

    /// A receipt changed by entries 1 and 3 in one update, then by 4.
    fn receipt_changed_three_times(store: &mut DiskStateStore) -> Receipt {
        let mut receipt = receipt("R-1");
        let mut update = StateUpdate::starting_at(0);
        update.end = 4;
        receipt.updated_at = 3;
        receipt.history_len = 2;
        update.changes.put_receipt(receipt.clone());
        update
            .changes
            .receipt_history
            .insert("R-1".into(), vec![1, 3]);
        store.apply(&update).expect("apply");
        let mut update = StateUpdate::starting_at(4);
        update.end = 5;
        receipt.updated_at = 4;
        receipt.history_len = 3;
        update.changes.put_receipt(receipt.clone());
        update.changes.receipt_history.insert("R-1".into(), vec![4]);
        store.apply(&update).expect("apply");
        receipt
    }

    #[test]
    fn a_short_receipt_history_is_read_back_from_the_receipt() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        receipt_changed_three_times(&mut store);
        let view = store.view();
        assert_eq!(view.receipt_history("R-1").expect("read"), vec![1, 3, 4]);
        assert_eq!(
            view.objects().expect("read").receipt_history["R-1"],
            vec![1, 3, 4]
        );
        assert!(view.receipt_history("R-2").expect("read").is_empty());
    }

    /// A receipt changed by entries 1..=40, in updates of 1, 20 and 19
    /// changes: two `h/` chunks and 8 changes in its `r/` value.
    fn receipt_changed_forty_times(store: &mut DiskStateStore) -> Vec<Seq> {
        let mut receipt = receipt("R-1");
        let mut applied = 0;
        for changes in [1..=1, 2..=21, 22..=40] {
            let seqs: Vec<Seq> = changes.collect();
            let mut update = StateUpdate::starting_at(applied);
            update.end = seqs[seqs.len() - 1] + 1;
            applied = update.end;
            receipt.updated_at = seqs[seqs.len() - 1];
            receipt.history_len = receipt.updated_at;
            update.changes.put_receipt(receipt.clone());
            update.changes.receipt_history.insert("R-1".into(), seqs);
            store.apply(&update).expect("apply");
        }
        (1..=40).collect()
    }

    /// A new store holding `receipt_changed_forty_times`, and that history.
    fn a_store_with_a_forty_change_receipt() -> (tempfile::TempDir, DiskStateStore, Vec<Seq>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        let history = receipt_changed_forty_times(&mut store);
        (dir, store, history)
    }

    /// R-1's history, read alone and with every object, is `history`.
    fn assert_reads_back_as(store: &DiskStateStore, history: &[Seq]) {
        let view = store.view();
        assert_eq!(view.receipt_history("R-1").expect("read"), history);
        assert_eq!(
            view.objects().expect("read").receipt_history["R-1"],
            history
        );
    }

    #[test]
    fn a_long_history_is_kept_in_chunks_and_read_back_whole() {
        let (_dir, store, history) = a_store_with_a_forty_change_receipt();
        let chunks: Vec<_> = store
            .tree
            .scan_prefix(b"h/")
            .keys()
            .map(|key| receipt_history::parse_chunk_key(&key.expect("key")).expect("parse"))
            .collect();
        assert_eq!(chunks, vec![("R-1".into(), 0), ("R-1".into(), 1)]);
        let stored = store
            .view()
            .stored_receipt("R-1")
            .expect("read")
            .expect("stored");
        assert_eq!(stored.recent, (33..=40).collect::<Vec<Seq>>());
        assert_reads_back_as(&store, &history);
    }

    /// A view reads sled's live tree: between its read of a receipt and of
    /// its chunks, an apply may add the receipt's next chunk. The history
    /// is read as of the receipt the view read.
    #[test]
    fn a_chunk_written_after_the_receipt_was_read_is_not_taken() {
        let (_dir, store, history) = a_store_with_a_forty_change_receipt();
        let next_chunk: Vec<Seq> = (41..=56).collect();
        let key = receipt_history::chunk_key("R-1", 2);
        let value = postcard::to_stdvec(&next_chunk).expect("encode");
        store.tree.insert(key, value).expect("write");
        assert_reads_back_as(&store, &history);
    }

    #[test]
    fn a_history_missing_a_chunk_is_named() {
        let (_dir, store, _) = a_store_with_a_forty_change_receipt();
        store
            .tree
            .remove(receipt_history::chunk_key("R-1", 0))
            .expect("remove");
        for error in [
            store.view().receipt_history("R-1").expect_err("broken"),
            store.view().objects().expect_err("broken"),
        ] {
            assert!(
                matches!(&error, StoreError::BrokenHistory { receipt, problem }
                    if receipt == "R-1" && problem.contains("missing")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_history_chain_longer_than_the_receipt_says_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        let mut receipt = receipt_changed_three_times(&mut store);
        receipt.history_len = 2;
        let value = postcard::to_stdvec(&StoredReceiptRef {
            receipt: &receipt,
            recent: &[1, 3, 4],
        })
        .expect("encode");
        store.tree.insert(b"r/R-1", value).expect("write");
        let error = store.view().receipt_history("R-1").expect_err("broken");
        assert!(
            matches!(&error, StoreError::BrokenHistory { problem, .. } if problem.contains("longer")),
            "{error}"
        );
    }

    #[test]
    fn a_history_entry_without_its_receipt_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = DiskStateStore::open(dir.path()).expect("open");
        receipt_changed_three_times(&mut store);
        let mut update = StateUpdate::starting_at(5);
        update.end = 6;
        update.changes.receipt_history.insert("R-1".into(), vec![5]);
        let error = store.apply(&update).expect_err("refused");
        assert!(
            matches!(&error, StoreError::BrokenHistory { receipt, problem }
                if receipt == "R-1" && problem.contains("does not write the receipt")),
            "{error}"
        );
        assert_eq!(store.applied(), 5);
        assert_eq!(
            store.view().receipt_history("R-1").expect("read"),
            vec![1, 3, 4]
        );
    }
}
