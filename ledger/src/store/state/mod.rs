//! The derived state as a trait: [`StateStore`] for the one writer (its
//! documentation states the contract), [`StateView`] for readers on other
//! threads.

mod compact;
mod disk;
mod generation;
mod map_file;
mod memory;
mod merkle_file;
mod online;
mod receipt_history;

pub use compact::Compacted;
pub(crate) use compact::compact;
pub use disk::{DiskStateStore, DiskStateView};
pub use map_file::MAP_FILE;
pub use memory::{MemoryStateStore, MemoryStateView};
pub use merkle_file::MERKLE_FILE;
pub use online::{CompactionPolicy, steps_after as upkeep_steps_after};

use std::collections::BTreeMap;

use super::StoreError;
use crate::merkle::{Hash, NodeId, NodeSource};
use crate::model::{Receipt, Seq};
pub use crate::state::ReceiptFilter;
use crate::state::{Objects, StateRead};
use crate::statemap::VersionedMap;

/// The derived state's writer.
///
/// **Contract.** A state store reflects exactly the entries `0..applied()`
/// of the log: their objects, the list indexes over receipts, each
/// receipt's history, the Merkle nodes over those entries above the leaves
/// (a leaf is its entry's hash, which readers take from the log:
/// [`crate::view::TreeNodes`]; [`StateUpdate::nodes`] still carries the
/// leaves, and a store drops them), and the state
/// map (`crate::statemap::versioned`) at every size it applied up to from
/// its floor on ([`VersionedMap::map_floor`]: 0 until pruned; a disk store
/// keeps older versions in memory only, so once reopened its floor is the
/// size it opened at).
/// [`StateStore::apply`] takes the effects of the next entries (a
/// [`StateUpdate`] starting at `applied()`, possibly covering several
/// groups) and makes them visible to every view taken afterwards; it need
/// not make them durable. After a crash the store may come back with any
/// `applied()` it once had, or empty, never a mix: the ledger replays the
/// rest from the log. The store never runs the rules and never reads the
/// log.
///
/// Both implementations pass one shared suite (`ledger/tests/state_store_suite.rs`).
pub trait StateStore: Send + 'static {
    /// What readers hold.
    type View: StateView;

    /// Number of entries whose effects the store holds.
    fn applied(&self) -> u64;

    /// A read-only view of the state as it is now, for any thread.
    fn view(&self) -> Self::View;

    /// Applies the effects of entries `update.first..update.end`, which must
    /// start at [`StateStore::applied`] (else [`StoreError::StateBehind`]).
    fn apply(&mut self, update: &StateUpdate) -> Result<(), StoreError>;

    /// Drops the state map's node versions superseded at or below `floor`
    /// and its roots below `floor` (at most `applied()`; a lower floor than
    /// before changes nothing). Roots and proofs at sizes ≥ `floor` are
    /// unchanged; below it they are [`StoreError::MapPruned`]. Returns the
    /// number of node versions and roots dropped.
    fn prune_map(&mut self, floor: u64) -> Result<u64, StoreError>;

    /// Forgets everything: `applied()` becomes 0, to be rebuilt from the log.
    fn clear(&mut self) -> Result<(), StoreError>;

    /// Writes what is cached in memory to the store's files, so that the
    /// next open replays nothing. Not a durability barrier (the log is).
    fn flush(&self) -> Result<(), StoreError>;

    /// Background work between applies: a bounded step of it, if any is
    /// due (a disk store's compaction while in use: [`CompactionPolicy`]).
    /// The writer calls it after each apply and, while it answers
    /// [`Upkeep::Working`], whenever it has nothing else to do. An error is
    /// the upkeep's own: the state and its views are as before. A failed
    /// compaction is dropped and waits for more growth; a replaced
    /// database that cannot be removed is reported once and retried at
    /// every upkeep, without stopping a compaction.
    fn upkeep(&mut self) -> Result<Upkeep, StoreError> {
        Ok(Upkeep::Idle)
    }
}

/// What [`StateStore::upkeep`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Nothing is due.
    Idle,
    /// A step was taken, and more is due.
    Working,
    /// A compaction finished: the store now reads and writes its new
    /// database. Views taken before read the old one until they are
    /// dropped, and it is removed after: replace them.
    Switched,
}

/// A read-only view of a state store, cheap to clone and shared between
/// threads. It reflects at least the entries `0..applied()`; the disk store's
/// views may also see entries applied after they were taken (see
/// [`DiskStateView`]).
pub trait StateView:
    StateRead + NodeSource<Error = StoreError> + VersionedMap + Clone + Send + Sync + 'static
{
    /// Entries reflected when the view was taken.
    fn applied(&self) -> u64;

    /// Receipts matching `filter` whose ids sort after `after` (exclusive; ""
    /// for the first page), in id order, at most `limit`.
    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError>;

    /// The entries that changed a receipt, in order.
    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError>;

    /// Every object, for comparison with a replay and for state snapshots.
    fn objects(&self) -> Result<Objects, StoreError>;
}

/// The effects of a run of consecutive entries on the derived state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateUpdate {
    /// The first entry covered.
    pub first: Seq,
    /// One past the last entry covered.
    pub end: Seq,
    /// The objects those entries put, latest version of each.
    pub changes: Objects,
    /// The Merkle nodes those entries complete (see
    /// [`crate::merkle::nodes_completed_by_append`]).
    pub nodes: BTreeMap<NodeId, Hash>,
}

impl StateUpdate {
    /// An empty update starting at entry `first`.
    pub fn starting_at(first: Seq) -> StateUpdate {
        StateUpdate {
            first,
            end: first,
            ..StateUpdate::default()
        }
    }

    /// Whether it covers no entry.
    pub fn is_empty(&self) -> bool {
        self.end == self.first
    }

    /// Appends the effects of the entries that follow (`later.first` must
    /// be `self.end`).
    pub fn merge(&mut self, later: StateUpdate) {
        debug_assert_eq!(later.first, self.end, "updates must be consecutive");
        self.end = later.end;
        self.changes.merge(later.changes);
        self.nodes.extend(later.nodes);
    }
}

/// Refuses an update that does not start where the store stands.
fn check_follows(applied: u64, update: &StateUpdate) -> Result<(), StoreError> {
    match update.first == applied && update.end >= update.first {
        true => Ok(()),
        false => Err(StoreError::StateBehind {
            applied,
            first: update.first,
        }),
    }
}

/// An I/O failure on one of the state's own files (`merkle.nodes`,
/// `map.nodes`), naming the operation and the file.
fn file_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl Fn(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::StateFile {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Opens (or creates) the state's own file `name` in `dir`, for reading
/// and writing in place.
fn open_state_file(
    dir: &std::path::Path,
    name: &str,
) -> Result<(std::fs::File, std::path::PathBuf), StoreError> {
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(file_err("open", &path))?;
    Ok((file, path))
}

/// The length of one of the state's own files.
fn state_file_len(file: &std::fs::File, path: &std::path::Path) -> Result<u64, StoreError> {
    let metadata = file.metadata().map_err(file_err("read the length", path))?;
    Ok(metadata.len())
}
