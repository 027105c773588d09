//! Durable storage: the entry log (the truth) and the derived state (a cache).
//!
//! ```text
//!            commit(group of entries, their changes)
//!                 │
//!                 ├─1─▶ entry log: append the group's records, fdatasync   ← "committed" from here
//!                 └─2─▶ sled: put changed objects + applied count, one atomic batch
//!                                (not fsynced: rebuilt from the log on open)
//!
//!            open(dir)
//!                 ├─ log: drop a torn last group; refuse damage before it
//!                 ├─ chain: every link, sequence number and time; the head's seal
//!                 └─ sled: replay (full rules, every signature) whatever it lacks
//! ```
//!
//! sled 0.34's `flush()` ends in `sync_file_range`, which is not a durability
//! barrier, so sled is never relied on for durability: the log's
//! `fdatasync` is. [`Store`] is the trait both stores implement;
//! [`MemoryStore`] keeps everything in memory for tests and tools,
//! [`DiskStore`] is the production store.

mod disk;
mod error;
pub mod log;
mod memory;

pub use disk::DiskStore;
pub use error::StoreError;
pub use memory::MemoryStore;

use std::collections::BTreeMap;

use crate::chain::ChainCursor;
use crate::entry::{Entry, Sealed};
use crate::merkle::{self, Hash, MerkleError, NodeId, NodeSource};
use crate::model::{Receipt, Seq};
use crate::state::{Objects, StateRead};

/// A ledger store: the chain of entries, the Merkle tree over them (as
/// stored perfect subtrees, see [`crate::merkle`]) and the derived state.
pub trait Store: StateRead + NodeSource<Error = StoreError> {
    /// Number of committed entries.
    fn len(&self) -> u64;

    /// Whether no entry (not even genesis) is committed.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chain position after the last committed entry.
    fn head(&self) -> ChainCursor;

    /// The committed entry `seq`.
    fn entry(&self, seq: Seq) -> Result<Entry, StoreError>;

    /// The committed record (entry bytes as stored) `seq`.
    fn record(&self, seq: Seq) -> Result<Vec<u8>, StoreError>;

    /// Makes `entries` (which must follow on from the head) and the state
    /// `changes` they produce durable. On `Ok` the entries survive a crash or
    /// power loss. On `Err` the store must be reopened before further use.
    /// The entries come [`Sealed`]: with the hash and record the sequencer
    /// computed once, so the store encodes and hashes no body again.
    fn commit(&mut self, entries: &[Sealed], changes: &Objects) -> Result<(), StoreError>;

    /// Every object of the derived state, for comparison with a replay.
    fn objects(&self) -> Result<Objects, StoreError>;

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

    /// The Merkle root over the first `size` entries.
    fn tree_root(&self, size: u64) -> Result<Hash, StoreError> {
        merkle::root(size, &self).map_err(tree_error)
    }
}

/// The Merkle nodes that entries with these leaf hashes complete, in order,
/// when appended to a tree of `size_before` leaves stored in `base`.
fn tree_nodes_for<S: NodeSource<Error = StoreError> + ?Sized>(
    base: &S,
    size_before: u64,
    leaves: impl Iterator<Item = Hash>,
) -> Result<Vec<(NodeId, Hash)>, StoreError> {
    let mut pending = PendingNodes {
        base,
        added: BTreeMap::new(),
    };
    let mut all = Vec::new();
    for (offset, leaf) in leaves.enumerate() {
        let nodes = merkle::nodes_completed_by_append(size_before + offset as u64, leaf, &pending)
            .map_err(tree_error)?;
        pending.added.extend(nodes.iter().copied());
        all.extend(nodes);
    }
    Ok(all)
}

fn tree_error(error: MerkleError<StoreError>) -> StoreError {
    match error {
        MerkleError::Storage(error) => error,
        other => StoreError::Tree {
            reason: other.to_string(),
        },
    }
}

/// Stored nodes, plus those added by the group being committed.
struct PendingNodes<'a, S: ?Sized> {
    base: &'a S,
    added: BTreeMap<NodeId, Hash>,
}

impl<S: NodeSource<Error = StoreError> + ?Sized> NodeSource for PendingNodes<'_, S> {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        match self.added.get(&id) {
            Some(hash) => Ok(*hash),
            None => self.base.node(id),
        }
    }
}

/// Checks that `entries` follow on from `head`, without seals (they were
/// just sealed by the caller), and returns the new head.
fn follow_on(head: ChainCursor, entries: &[Sealed]) -> Result<ChainCursor, StoreError> {
    let mut cursor = head;
    for sealed in entries {
        cursor.check_hashed(&sealed.entry, sealed.hash, None)?;
    }
    Ok(cursor)
}

/// Which receipts to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptFilter {
    /// Every receipt.
    All,
    /// Held by this participant.
    Holder(String),
    /// Issued by this warehouse.
    Warehouse(String),
    /// Drawn on this tank.
    Tank(String),
    /// Under an active pledge to this bank.
    Pledgee(String),
    /// In this status: "active", "pledged", "cancelled" or "split".
    Status(&'static str),
}

impl ReceiptFilter {
    /// Whether `receipt` (whose active pledge, if any, is to `pledgee`) matches.
    pub fn matches(&self, receipt: &Receipt, pledgee: Option<&str>) -> bool {
        match self {
            ReceiptFilter::All => true,
            ReceiptFilter::Holder(id) => receipt.holder_id == *id,
            ReceiptFilter::Warehouse(id) => receipt.warehouse_id == *id,
            ReceiptFilter::Tank(id) => receipt.terms.tank_id == *id,
            ReceiptFilter::Pledgee(id) => pledgee == Some(id.as_str()),
            ReceiptFilter::Status(name) => receipt.status.name() == *name,
        }
    }
}

/// The pledge id a receipt is under, if pledged.
pub(crate) fn active_pledge_id(receipt: &Receipt) -> Option<&str> {
    receipt.active_pledge()
}
