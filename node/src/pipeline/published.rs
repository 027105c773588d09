//! The snapshot every reader is served from. It is replaced, never changed:
//! when groups become durable (the head moves, their updates join the
//! pending ones) and when the state store has applied updates (its new
//! view replaces the old, the applied updates leave the pending list).
//! Readers take an `Arc` of the current snapshot and never wait for a
//! writer or an fsync; the two writers hold a mutex only to build the next
//! snapshot. It also carries the state map's floor
//! ([`pledge_ledger::statemap::MapFloor`]): the checkpoints served and the
//! proofs being built raise it, the state store's writer prunes below it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use pledge_ledger::chain::ChainCursor;
use pledge_ledger::merkle::Hash;
use pledge_ledger::statemap::MapFloor;
use pledge_ledger::store::{LogRead, StateUpdate, StateView};
use pledge_ledger::view::Snapshot;

/// The current snapshot and what it is built from.
#[derive(Debug)]
pub struct Published<R, V> {
    current: RwLock<Arc<Snapshot<R, V>>>,
    parts: Mutex<Parts<R, V>>,
    map_floor: Arc<MapFloor>,
}

#[derive(Debug)]
struct Parts<R, V> {
    head: ChainCursor,
    /// The tree's root at `head`, when the writer gave it.
    head_root: Option<Hash>,
    log: R,
    state: V,
    pending: VecDeque<Arc<StateUpdate>>,
}

impl<R: LogRead, V: StateView> Published<R, V> {
    /// The ledger at `head`, with a state view that has applied it all.
    pub fn new(head: ChainCursor, log: R, state: V) -> Published<R, V> {
        let parts = Parts {
            head,
            head_root: None,
            log,
            state,
            pending: VecDeque::new(),
        };
        Published {
            current: RwLock::new(Arc::new(parts.snapshot())),
            parts: Mutex::new(parts),
            map_floor: Arc::new(MapFloor::new()),
        }
    }

    /// The sizes the state map must stay provable at.
    pub fn map_floor(&self) -> &Arc<MapFloor> {
        &self.map_floor
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot<R, V>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.clone()
    }

    /// Groups up to `head` are durable; `root` is the tree's root there;
    /// `updates` are their effects, in order.
    pub fn durable(
        &self,
        head: ChainCursor,
        root: Hash,
        updates: impl IntoIterator<Item = Arc<StateUpdate>>,
    ) {
        let mut parts = self.parts();
        parts.head = head;
        parts.head_root = Some(root);
        parts.pending.extend(updates);
        self.replace(&parts);
    }

    /// The state store has applied everything below `state.applied()`.
    pub fn applied(&self, state: V) {
        let mut parts = self.parts();
        let applied = state.applied();
        while parts.pending.front().is_some_and(|u| u.end <= applied) {
            parts.pending.pop_front();
        }
        parts.state = state;
        self.replace(&parts);
    }

    /// The chain is at `head` and `state` has applied all of it (a cluster
    /// member after applying a committed group): both change at once.
    pub fn caught_up(&self, head: ChainCursor, state: V) {
        let mut parts = self.parts();
        parts.head = head;
        parts.head_root = None;
        parts.pending.clear();
        parts.state = state;
        self.replace(&parts);
    }

    fn parts(&self) -> MutexGuard<'_, Parts<R, V>> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn replace(&self, parts: &Parts<R, V>) {
        let next = Arc::new(parts.snapshot());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
    }
}

impl<R: LogRead, V: StateView> Parts<R, V> {
    fn snapshot(&self) -> Snapshot<R, V> {
        let pending: Vec<Arc<StateUpdate>> = self.pending.iter().cloned().collect();
        let snapshot = Snapshot::new(
            self.head,
            self.log.clone(),
            self.state.clone(),
            Arc::from(pending),
        );
        match self.head_root {
            Some(root) => snapshot.with_head_root(root),
            None => snapshot,
        }
    }
}
