//! What readers see: the chain up to a head and the state at that head,
//! through one trait, [`LedgerRead`], whatever the stores behind it.
//!
//! A [`Snapshot`] is an immutable picture of the ledger at a head: a log
//! reader bounded by the head, a view of the state store, and the updates
//! of the entries the state store has not applied yet (`pending`), read
//! first. Taking one costs a few reference counts; no reader waits for a
//! writer or an fsync.
//!
//! ```text
//!  Snapshot { head, log reader, state view (applied A), pending: updates A..head }
//!     reads: pending (newest first) ─▶ state view;  records < head from the log
//!     state map: at the sizes the state view applied (≤ A), never from pending
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::chain::ChainCursor;
use crate::entry::{Entry, SEAL_LEN};
use crate::merkle::{self, Hash, MerkleError, NodeId, NodeSource};
use crate::model::{Receipt, Seq};
use crate::state::{Layered, Objects, StateRead, pledgee_of};
use crate::statemap::{Kind, MapHash, MapProof, versioned};
use crate::store::{LogRead, ReceiptFilter, StateUpdate, StateView, StoreError};

/// Read access to a ledger at a head: the chain, the Merkle tree over it and
/// the state it produces.
pub trait LedgerRead: StateRead + NodeSource<Error = StoreError> {
    /// Number of entries.
    fn len(&self) -> u64;

    /// Whether no entry (not even genesis) is there.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chain position after the last entry.
    fn head(&self) -> ChainCursor;

    /// The record (entry bytes as stored) `seq`.
    fn record(&self, seq: Seq) -> Result<Vec<u8>, StoreError>;

    /// The entry `seq`.
    fn entry(&self, seq: Seq) -> Result<Entry, StoreError> {
        let record = self.record(seq)?;
        Entry::decode(&record)
            .map_err(|source| crate::chain::ChainError::Malformed { seq, source }.into())
    }

    /// Receipts matching `filter` whose ids sort after `after` (exclusive;
    /// "" for the first page), in id order, at most `limit`.
    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError>;

    /// The entries that changed a receipt, in order.
    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError>;

    /// Every object of the state, for comparison with a replay.
    fn objects(&self) -> Result<Objects, StoreError>;

    /// The Merkle root over the first `size` entries.
    fn tree_root(&self, size: u64) -> Result<Hash, StoreError> {
        merkle::root(size, &self).map_err(tree_error)
    }

    /// The state map's root after the first `size` entries
    /// ([`StoreError::NoStateRoot`] unless `size` is one the state store
    /// applied up to; [`StoreError::MapPruned`] below the floor the store
    /// pruned the map to).
    fn state_root(&self, size: u64) -> Result<MapHash, StoreError>;

    /// The proof of the object `kind`/`id` in the state map after the first
    /// `size` entries (a size [`LedgerRead::state_root`] answers for).
    fn state_proof(&self, kind: Kind, id: &str, size: u64) -> Result<MapProof, StoreError>;

    /// The largest size at or below the head with a state root: the size
    /// a checkpoint is made at.
    fn committed_size(&self) -> u64;
}

/// A Merkle error as a store error.
pub fn tree_error(error: MerkleError<StoreError>) -> StoreError {
    match error {
        MerkleError::Storage(error) => error,
        other => StoreError::Tree {
            reason: other.to_string(),
        },
    }
}

/// The ledger at one head. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Snapshot<R, V> {
    head: ChainCursor,
    /// The tree's root at the head, when the writer knew it.
    head_root: Option<Hash>,
    log: R,
    state: V,
    pending: Arc<[Arc<StateUpdate>]>,
}

impl<R: LogRead, V: StateView> Snapshot<R, V> {
    /// The ledger at `head`: `pending` holds, oldest first, the updates of
    /// the entries from `state.applied()` up to the head.
    pub fn new(head: ChainCursor, log: R, state: V, pending: Arc<[Arc<StateUpdate>]>) -> Self {
        Snapshot {
            head,
            head_root: None,
            log,
            state,
            pending,
        }
    }

    /// The same snapshot, told the tree's root at its head (as the writer
    /// computed it from the tree's right edge): the root at the head is
    /// then answered without reading stored nodes, so it stays readable
    /// when the state store can no longer be read (a failed store).
    pub fn with_head_root(mut self, root: Hash) -> Self {
        self.head_root = Some(root);
        self
    }

    /// The state store's view under the pending updates.
    pub fn state_view(&self) -> &V {
        &self.state
    }

    /// The log reader.
    pub fn log(&self) -> &R {
        &self.log
    }

    /// The updates not yet in the state store, oldest first.
    pub fn pending(&self) -> &[Arc<StateUpdate>] {
        &self.pending
    }

    /// Receipts changed by the pending updates, newest version of each.
    fn pending_receipts(&self) -> BTreeMap<&str, &Receipt> {
        let mut changed = BTreeMap::new();
        for update in self.pending.iter() {
            for (id, receipt) in &update.changes.receipts {
                changed.insert(id.as_str(), receipt);
            }
        }
        changed
    }
}

/// Reads see the pending updates, newest first, then the state view.
impl<R: LogRead, V: StateView> Layered for Snapshot<R, V> {
    type Base = V;
    fn base(&self) -> &V {
        &self.state
    }
    fn layers(&self) -> impl DoubleEndedIterator<Item = &Objects> {
        self.pending.iter().map(|update| &update.changes)
    }
}

impl<R: LogRead, V: StateView> NodeSource for Snapshot<R, V> {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        let pending = self.pending.iter().rev();
        match pending.into_iter().find_map(|u| u.nodes.get(&id)) {
            Some(hash) => Ok(*hash),
            None => TreeNodes::new(&self.log, &self.state).node(id),
        }
    }
}

/// The Merkle tree's nodes over a log and its state: a leaf is the hash of
/// its entry's record without the seal, read from the log; every other node
/// comes from the state store, which keeps no leaves (they would repeat
/// what the log holds).
#[derive(Debug)]
pub struct TreeNodes<'a, R, V> {
    log: &'a R,
    state: &'a V,
}

impl<'a, R: LogRead, V: StateView> TreeNodes<'a, R, V> {
    /// The nodes over `log` and `state`.
    pub fn new(log: &'a R, state: &'a V) -> Self {
        TreeNodes { log, state }
    }
}

impl<R: LogRead, V: StateView> NodeSource for TreeNodes<'_, R, V> {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        if id.level > 0 {
            return self.state.node(id);
        }
        let record = self.log.read(id.index)?;
        let body = record
            .len()
            .checked_sub(SEAL_LEN)
            .map(|end| &record[..end])
            .ok_or_else(|| StoreError::Tree {
                reason: format!(
                    "record {} is {} bytes, shorter than a seal",
                    id.index,
                    record.len()
                ),
            })?;
        Ok(merkle::leaf_hash(body))
    }
}

impl<R: LogRead, V: StateView> LedgerRead for Snapshot<R, V> {
    fn len(&self) -> u64 {
        self.head.next_seq
    }

    fn head(&self) -> ChainCursor {
        self.head
    }

    fn tree_root(&self, size: u64) -> Result<Hash, StoreError> {
        match self.head_root {
            Some(root) if size == self.head.next_seq => Ok(root),
            _ => merkle::root(size, &self).map_err(tree_error),
        }
    }

    fn record(&self, seq: Seq) -> Result<Vec<u8>, StoreError> {
        match seq < self.head.next_seq {
            true => self.log.read(seq),
            false => Err(StoreError::OutOfRange {
                seq,
                len: self.head.next_seq,
            }),
        }
    }

    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError> {
        if self.pending.is_empty() {
            return self.state.receipts(filter, after, limit);
        }
        let changed = self.pending_receipts();
        let extra = limit.saturating_add(changed.len());
        let mut listed = self.state.receipts(filter, after, extra)?;
        listed.retain(|r| !changed.contains_key(r.id()));
        for receipt in changed.values().filter(|r| r.id() > after) {
            if filter.matches(receipt, pledgee_of(self, receipt)?.as_deref()) {
                listed.push((*receipt).clone());
            }
        }
        listed.sort_by(|a, b| a.id().cmp(b.id()));
        listed.truncate(limit);
        Ok(listed)
    }

    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError> {
        let applied = self.state.applied();
        let mut history = self.state.receipt_history(id)?;
        history.retain(|seq| *seq < applied);
        for update in self.pending.iter() {
            if let Some(seqs) = update.changes.receipt_history.get(id) {
                history.extend(seqs.iter().filter(|s| **s < self.head.next_seq));
            }
        }
        Ok(history)
    }

    fn objects(&self) -> Result<Objects, StoreError> {
        let mut all = self.state.objects()?;
        for update in self.pending.iter() {
            all.merge(update.changes.clone());
        }
        Ok(all)
    }

    fn state_root(&self, size: u64) -> Result<MapHash, StoreError> {
        let applied = self.state.applied();
        let root = match size <= applied.min(self.head.next_seq) {
            true => self.state.state_root_at(size)?,
            false => None,
        };
        // Read after the root: a prune in between shows here.
        let floor = self.state.map_floor()?;
        if size < floor {
            return Err(StoreError::MapPruned { size, floor });
        }
        root.ok_or(StoreError::NoStateRoot { size, applied })
    }

    fn state_proof(&self, kind: Kind, id: &str, size: u64) -> Result<MapProof, StoreError> {
        self.state_root(size)?;
        let proof = versioned::prove_at(&self.state, kind, id, size)?;
        // Pruned while it was read: its nodes may be missing.
        let floor = self.state.map_floor()?;
        match size < floor {
            true => Err(StoreError::MapPruned { size, floor }),
            false => Ok(proof),
        }
    }

    fn committed_size(&self) -> u64 {
        self.state.applied().min(self.head.next_seq)
    }
}
