//! The ledger: an entry log and a state store kept in step, and the
//! sequencer's decision for each group of envelopes.
//!
//! ```text
//!  envelopes (signatures already verified, in arrival order)
//!     │ Decider::decide(base, envelopes, now)     rules + seal, against the state as it
//!     │   for each: seq = next, time = max(now, head time)   will be once every earlier
//!     │   Applied → seal entry, Merkle nodes;  Duplicate → original entry;  Rejected
//!     │   (fraud-relevant and within the signers' budget: sealed as an attempt entry)
//!     ▼
//!  DecidedGroup { entries, results, update, entry_changes (when kept) }
//!     │ LogStore::append        ← one fdatasync: the group is durable, answers may go out
//!     ▼
//!  StateStore::apply(update)    ← derived; may lag, batched, replayed on open if lost
//! ```
//!
//! Deciding, making durable and applying are three steps so that a node can
//! run them on different threads and overlap them (`pledge-node`'s
//! pipeline); [`Ledger::append_group`] runs them one after the other, for
//! tests, tools and the chain generator. [`Ledger::open`] checks the chain in
//! the log and replays into the state store whatever it lacks. No clock is
//! read here: the caller passes the time.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::chain::{ChainCursor, ChainError, Sealers};
use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint, ledger_origin};
use crate::crypto::{self, Digest, PublicKey};
use crate::describe;
use crate::entry::{Entry, Sealed};
use crate::envelope::VerifiedEnvelope;
use crate::merkle::{self, Frontier};
use crate::model::{Membership, Seq, TxRecord};
use crate::refusal::Refusal;
use crate::rejection::Rejection;
use crate::replay::{EntryFault, apply_verified};
use crate::rules::{self, ApplyError, AttemptDecision, EntryContext, Outcome};
use crate::state::{Objects, Overlay, StateError, StateRead};
use crate::store::log::EntryLog;
use crate::store::{
    DiskStateStore, LogRead, LogStore, MemoryLog, MemoryStateStore, StateStore, StateUpdate,
    StateView, StoreError,
};
use crate::tx::Transaction;
use crate::view::{LedgerRead, Snapshot, TreeNodes};

/// A transaction that is in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Its entry.
    pub seq: Seq,
    /// The entry hash.
    pub entry_hash: Digest,
    /// The node's seal over the entry hash.
    pub seal: [u8; 64],
    /// The entry time.
    pub time_ms: u64,
    /// Whether this was a retry of a transaction committed before.
    pub duplicate: bool,
    /// For a retry: what has become since of the object the transaction was
    /// about ("pledge `PL-A` was released at entry 20").
    pub since: Option<String>,
}

impl Committed {
    fn of(entry: &Entry, entry_hash: Digest, duplicate: bool) -> Committed {
        Committed {
            seq: entry.seq,
            entry_hash,
            seal: entry.seal,
            time_ms: entry.time_ms,
            duplicate,
            since: None,
        }
    }
}

/// The answer for one envelope of a group.
pub type SubmitResult = Result<Committed, Rejection>;

/// What deciding a group reads besides the state: the answer an earlier
/// entry got, for a retry of its transaction.
pub trait DecideBase: StateRead {
    /// The committed answer of entry `seq` (decided before this group).
    fn answer_of(&self, seq: Seq) -> Result<Committed, StoreError>;

    /// Entry `seq` (decided before this group) if it can be read yet: a
    /// durable one can; one still on its way to the disk may not.
    fn entry_if_readable(&self, seq: Seq) -> Result<Option<Entry>, StoreError>;
}

impl<R: LogRead, V: StateView> DecideBase for Snapshot<R, V> {
    fn answer_of(&self, seq: Seq) -> Result<Committed, StoreError> {
        let entry = self.entry(seq)?;
        Ok(Committed::of(&entry, entry.hash(), true))
    }

    fn entry_if_readable(&self, seq: Seq) -> Result<Option<Entry>, StoreError> {
        match seq < self.len() {
            true => self.entry(seq).map(Some),
            false => Ok(None),
        }
    }
}

/// A group as the sequencer decided it, not yet durable.
#[derive(Debug, Clone)]
pub struct DecidedGroup {
    /// The new entries, sealed, in order (empty when every envelope was a
    /// retry or refused).
    pub entries: Vec<Sealed>,
    /// One answer per envelope, in order. None may be given out before the
    /// group, and every group decided before it, is durable.
    pub results: Vec<SubmitResult>,
    /// Per envelope, in order: the attempt entry that records its refusal
    /// (made by this group, or earlier for the same transaction), if any.
    pub attempts: Vec<Option<Seq>>,
    /// The group's effects on the state store.
    pub update: StateUpdate,
    /// The chain position after the group.
    pub head: ChainCursor,
    /// The Merkle tree's root over the chain up to `head` (from the
    /// decider's frontier: no stored node is read).
    pub tree_root: merkle::Hash,
    /// What each new entry changed, when the decider keeps it
    /// ([`Decider::keeping_entry_changes`]).
    pub entry_changes: EntryChanges,
}

impl DecidedGroup {
    /// The records to append to the log.
    pub fn records(&self) -> Vec<&[u8]> {
        self.entries.iter().map(|s| s.record.as_slice()).collect()
    }
}

/// What each new entry of a decided group changed: the objects the rules
/// gave it, the same that replaying the entry gives. For an observer of the
/// chain that would otherwise run the rules a second time to learn them
/// (the node's alerts). A group of one envelope keeps no copy: what its
/// entry (if it made one) changed is the group's update.
#[derive(Debug, Clone, Default)]
pub enum EntryChanges {
    /// Not kept: the decider was not asked to.
    #[default]
    NotKept,
    /// The group's one entry, if any, changed what the group's update holds.
    InUpdate,
    /// Each new entry's changes, in order.
    Each(Vec<Objects>),
}

impl EntryChanges {
    /// Each of the group's `entries` with what it changed, `update` being
    /// the group's update; `None` when not kept.
    pub fn of<'a>(
        &'a self,
        entries: &'a [Sealed],
        update: &'a StateUpdate,
    ) -> Option<Vec<(&'a Entry, &'a Objects)>> {
        let entries = entries.iter().map(|sealed| &sealed.entry);
        match self {
            EntryChanges::NotKept => None,
            EntryChanges::InUpdate => Some(entries.take(1).zip([&update.changes]).collect()),
            EntryChanges::Each(each) => Some(entries.zip(each).collect()),
        }
    }
}

/// Decides groups: runs the rules and seals the entries against a base
/// state, advancing its own head and Merkle frontier. The base must include
/// every group decided before (durable or not): the speculative state.
#[derive(Debug, Clone)]
pub struct Decider {
    node_key: SigningKey,
    head: ChainCursor,
    frontier: Frontier,
    attempt_budget: AttemptBudget,
    keep_entry_changes: bool,
}

/// How many attempt entries a signer may cause: at most `per_signer` in
/// each window of `window_ms` of entry time (windows start at multiples of
/// `window_ms` since the Unix epoch). Beyond it a fraud-relevant refusal is
/// answered as before but recorded nowhere. A node's policy, not a rule:
/// replay does not check it. `per_signer` 0 records no attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    /// Attempt entries per signer per window (0: none).
    pub per_signer: u32,
    /// The window, ms (at least 1).
    pub window_ms: u64,
}

impl AttemptPolicy {
    /// Records no attempts.
    pub const OFF: AttemptPolicy = AttemptPolicy {
        per_signer: 0,
        window_ms: 1,
    };
}

/// The attempt entries each signer caused in the current window, under an
/// [`AttemptPolicy`]. Kept by a sequencer from group to group; counted from
/// the moment it starts (a restarted node, or a new leader, starts afresh).
#[derive(Debug, Clone)]
pub struct AttemptBudget {
    policy: AttemptPolicy,
    used: std::collections::HashMap<String, (u64, u32)>,
}

impl AttemptBudget {
    /// Nothing used yet.
    pub fn new(policy: AttemptPolicy) -> AttemptBudget {
        AttemptBudget {
            policy,
            used: Default::default(),
        }
    }

    /// Whether every signer may cause one more attempt entry at `time_ms`;
    /// if so, counts it against each.
    fn take(&mut self, envelope: &VerifiedEnvelope, time_ms: u64) -> bool {
        let window = time_ms / self.policy.window_ms.max(1);
        let used_now =
            |id: &str, used: &std::collections::HashMap<String, (u64, u32)>| match used.get(id) {
                Some(&(w, count)) if w == window => count,
                _ => 0,
            };
        if envelope
            .signers()
            .any(|id| used_now(id, &self.used) >= self.policy.per_signer)
        {
            return false;
        }
        for id in envelope.signers() {
            let count = used_now(id, &self.used) + 1;
            self.used.insert(id.to_owned(), (window, count));
        }
        true
    }
}

impl Decider {
    /// A decider continuing the chain at `head`, whose Merkle tree has the
    /// right edge `frontier`.
    pub fn new(node_key: SigningKey, head: ChainCursor, frontier: Frontier) -> Decider {
        Decider {
            node_key,
            head,
            frontier,
            attempt_budget: AttemptBudget::new(AttemptPolicy::OFF),
            keep_entry_changes: false,
        }
    }

    /// Keeps what each new entry changed in the groups it decides
    /// ([`DecidedGroup::entry_changes`]): a copy of each entry's changes in
    /// a group of several envelopes, none in a group of one.
    pub fn keeping_entry_changes(mut self) -> Decider {
        self.keep_entry_changes = true;
        self
    }

    /// Records attempt entries under `policy` from now on (a new decider
    /// records none: [`AttemptPolicy::OFF`]).
    pub fn with_attempts(self, policy: AttemptPolicy) -> Decider {
        self.with_attempt_budget(AttemptBudget::new(policy))
    }

    /// Records attempt entries within `budget` (what an earlier decider
    /// left: [`Decider::into_attempt_budget`]).
    pub fn with_attempt_budget(mut self, budget: AttemptBudget) -> Decider {
        self.attempt_budget = budget;
        self
    }

    /// The attempt budget as this decider left it.
    pub fn into_attempt_budget(self) -> AttemptBudget {
        self.attempt_budget
    }

    /// The chain position after every decided group.
    pub fn head(&self) -> ChainCursor {
        self.head
    }

    /// The Merkle tree's right edge after every decided group.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// The node's public key.
    pub fn node_public_key(&self) -> PublicKey {
        crypto::public_key(&self.node_key)
    }

    /// The node's key (it seals entries and checkpoints).
    pub fn node_key(&self) -> &SigningKey {
        &self.node_key
    }

    /// Goes back to `head` and `frontier`, forgetting every group decided
    /// after them (they will not become durable: a failed append, or a
    /// replicated log that did not commit them).
    pub fn reset(&mut self, head: ChainCursor, frontier: Frontier) {
        self.head = head;
        self.frontier = frontier;
    }

    /// Decides a group against `base`. Rejected envelopes leave no trace;
    /// applied ones move into their entries.
    pub fn decide<'a, B: DecideBase + ?Sized>(
        &mut self,
        base: &B,
        envelopes: impl ExactSizeIterator<Item = Cow<'a, VerifiedEnvelope>>,
        now_ms: u64,
    ) -> Result<DecidedGroup, StateError> {
        let time_ms = now_ms.max(self.head.head_time_ms);
        let first = self.head.next_seq;
        let mut overlay = Overlay::new(base);
        let mut update = StateUpdate::starting_at(first);
        let mut entries: Vec<Sealed> = Vec::with_capacity(envelopes.len());
        let mut results = Vec::with_capacity(envelopes.len());
        let mut attempts = Vec::with_capacity(envelopes.len());
        let mut kept = KeptChanges::new(self.keep_entry_changes, envelopes.len());
        let own_key = self.node_public_key();
        let mut barred = barred_since(base.membership()?.as_ref(), &own_key);
        for envelope in envelopes {
            if let Some(since) = barred {
                results.push(Err(Rejection::SealerNotAMember { since }));
                attempts.push(None);
                continue;
            }
            let ctx = EntryContext {
                seq: first + entries.len() as u64,
                time_ms,
            };
            let mut attempt = None;
            let result = match rules::apply(&overlay, &envelope, ctx) {
                Ok(Outcome::Applied(changes)) => {
                    if let Some(membership) = &changes.membership {
                        barred = barred_since(Some(membership), &own_key);
                    }
                    kept.keep(&changes);
                    overlay.push(changes);
                    let sealed = self.seal(ctx, envelope.into_owned());
                    update
                        .nodes
                        .extend(self.frontier.append(merkle::leaf_hash(sealed.body())));
                    let committed = Committed::of(&sealed.entry, sealed.hash, false);
                    entries.push(sealed);
                    Ok(committed)
                }
                Ok(Outcome::Duplicate(record)) => {
                    let mut answer = original(base, &entries, record).map_err(StateError::from)?;
                    answer.since = describe::since(&overlay, &envelope.tx.operation)?;
                    Ok(answer)
                }
                Err(ApplyError::Rejected(rejection)) => {
                    let rejection =
                        explain(base, &entries, *rejection).map_err(StateError::from)?;
                    attempt = match decide_attempt(&overlay, &envelope, &rejection, ctx)? {
                        AttemptDecision::RecordedAt(seq) => Some(seq),
                        AttemptDecision::Record(refusal, changes)
                            if self.attempt_budget.take(&envelope, ctx.time_ms) =>
                        {
                            kept.keep(&changes);
                            overlay.push(*changes);
                            let sealed = self.seal_attempt(ctx, envelope.into_owned(), refusal);
                            update
                                .nodes
                                .extend(self.frontier.append(merkle::leaf_hash(sealed.body())));
                            entries.push(sealed);
                            Some(ctx.seq)
                        }
                        _ => None,
                    };
                    Err(rejection)
                }
                Err(ApplyError::Store(error)) => return Err(error),
            };
            results.push(result);
            attempts.push(attempt);
        }
        update.end = self.head.next_seq;
        update.changes = overlay.into_pending();
        Ok(DecidedGroup {
            entries,
            results,
            attempts,
            update,
            head: self.head,
            tree_root: self.frontier.root(),
            entry_changes: kept.into_entry_changes(),
        })
    }

    fn seal_attempt(
        &mut self,
        ctx: EntryContext,
        envelope: VerifiedEnvelope,
        refusal: Refusal,
    ) -> Sealed {
        let entry = Entry {
            seq: ctx.seq,
            prev_hash: self.head.head_hash,
            time_ms: ctx.time_ms,
            envelope: envelope.envelope,
            refusal: Some(refusal),
            seal: [0; 64],
        };
        let sealed = Entry::seal_sealed(entry, &self.node_key);
        self.head.advance(&sealed.entry, sealed.hash);
        sealed
    }

    fn seal(&mut self, ctx: EntryContext, envelope: VerifiedEnvelope) -> Sealed {
        let sealed = Entry::seal_new_sealed(
            ctx.seq,
            self.head.head_hash,
            ctx.time_ms,
            envelope.envelope,
            &self.node_key,
        );
        self.head.advance(&sealed.entry, sealed.hash);
        sealed
    }
}

/// What a decider keeps of each new entry's changes while deciding a group.
enum KeptChanges {
    /// Nothing (not asked to, or a group of one envelope: its update).
    Nothing(EntryChanges),
    /// A copy of each.
    Each(Vec<Objects>),
}

impl KeptChanges {
    fn new(keep: bool, envelopes: usize) -> KeptChanges {
        match (keep, envelopes) {
            (false, _) => KeptChanges::Nothing(EntryChanges::NotKept),
            (true, 0 | 1) => KeptChanges::Nothing(EntryChanges::InUpdate),
            (true, _) => KeptChanges::Each(Vec::with_capacity(envelopes)),
        }
    }

    /// Keeps what a new entry changed.
    fn keep(&mut self, changes: &Objects) {
        if let KeptChanges::Each(each) = self {
            each.push(changes.clone());
        }
    }

    fn into_entry_changes(self) -> EntryChanges {
        match self {
            KeptChanges::Nothing(changes) => changes,
            KeptChanges::Each(each) => EntryChanges::Each(each),
        }
    }
}

/// Whether a refusal is recorded as an attempt ([`rules::decide_attempt`]),
/// a state read failing as the rules' reads do.
fn decide_attempt<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
    rejection: &Rejection,
    ctx: EntryContext,
) -> Result<AttemptDecision, StateError> {
    match rules::decide_attempt(state, envelope, rejection, ctx) {
        Ok(decision) => Ok(decision),
        Err(ApplyError::Store(error)) => Err(error),
        Err(ApplyError::Rejected(_)) => Ok(AttemptDecision::NotRecorded),
    }
}

/// The membership entry after which `key` may not seal, if it may not: a
/// ledger without membership entries is sealed by its one node key.
fn barred_since(membership: Option<&Membership>, key: &PublicKey) -> Option<Seq> {
    let membership = membership?;
    (!membership.sealer_keys().contains(key)).then_some(membership.since)
}

/// Completes a refusal with what only the chain knows: for a reused
/// transaction id, what the entry that used it did.
fn explain<B: DecideBase + ?Sized>(
    base: &B,
    group: &[Sealed],
    rejection: Rejection,
) -> Result<Rejection, StoreError> {
    let Rejection::TxIdReused { tx_id, seq, .. } = rejection else {
        return Ok(rejection);
    };
    let entry = match group.iter().find(|s| s.entry.seq == seq) {
        Some(sealed) => Some(sealed.entry.clone()),
        None => base.entry_if_readable(seq)?,
    };
    let earlier = entry
        .and_then(|entry| Transaction::decode(&entry.envelope.tx_bytes).ok())
        .map(|tx| describe::what_it_did(&tx.operation));
    Ok(Rejection::TxIdReused {
        tx_id,
        seq,
        earlier,
    })
}

/// The committed answer of an earlier entry (this group's, or the base's).
fn original<B: DecideBase + ?Sized>(
    base: &B,
    group: &[Sealed],
    record: TxRecord,
) -> Result<Committed, StoreError> {
    match group.iter().find(|s| s.entry.seq == record.seq) {
        Some(sealed) => Ok(Committed::of(&sealed.entry, sealed.hash, true)),
        None => base.answer_of(record.seq),
    }
}

/// What opening a ledger found and repaired.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Entries in the chain.
    pub entries: u64,
    /// Bytes of a torn last group dropped from the log.
    pub dropped_tail_bytes: u64,
    /// Entries replayed into the state store because it lacked them.
    pub replayed: u64,
    /// Whether the state store was rebuilt from scratch (it claimed more
    /// entries than the log holds).
    pub rebuilt: bool,
}

/// An entry log and a state store in step, with the key that seals.
#[derive(Debug)]
pub struct Ledger<L: LogStore, S: StateStore> {
    log: L,
    state: S,
    decider: Decider,
}

/// The production ledger: the entry log and the sled state in a directory.
pub type DiskLedger = Ledger<EntryLog, DiskStateStore>;

/// A ledger in memory, for tests and tools.
pub type MemoryLedger = Ledger<MemoryLog, MemoryStateStore>;

/// Entries replayed per state store write while catching up.
const CATCH_UP_BATCH: u64 = 4096;

impl MemoryLedger {
    /// An empty ledger in memory sealing with `node_key`.
    pub fn in_memory(node_key: SigningKey) -> MemoryLedger {
        let decider = Decider::new(node_key, ChainCursor::default(), Frontier::default());
        Ledger {
            log: MemoryLog::new(),
            state: MemoryStateStore::new(),
            decider,
        }
    }
}

impl DiskLedger {
    /// Opens (or creates) the ledger in `dir`: the entry log in `dir/log`
    /// (a torn last group is dropped), the state in `dir/state`; then as
    /// [`Ledger::open`].
    pub fn open_dir(
        dir: &Path,
        node_key: SigningKey,
    ) -> Result<(DiskLedger, OpenReport), StoreError> {
        DiskLedger::open_dir_preallocating(dir, node_key, 0)
    }

    /// [`DiskLedger::open_dir`] with an entry log that keeps zeros written
    /// ahead of its end, `chunk` bytes at a time
    /// ([`EntryLog::open_preallocating`]).
    pub fn open_dir_preallocating(
        dir: &Path,
        node_key: SigningKey,
        chunk: u64,
    ) -> Result<(DiskLedger, OpenReport), StoreError> {
        let ledger_key = crypto::public_key(&node_key);
        DiskLedger::open_dir_as(dir, node_key, ledger_key, chunk)
    }

    /// [`DiskLedger::open_dir_preallocating`] for a ledger whose genesis was
    /// sealed under `ledger_key`, as [`Ledger::open_as`]: what the node does.
    pub fn open_dir_as(
        dir: &Path,
        node_key: SigningKey,
        ledger_key: PublicKey,
        chunk: u64,
    ) -> Result<(DiskLedger, OpenReport), StoreError> {
        let recovered = recover_dir_preallocating(dir, &ledger_key, chunk)?;
        let ledger = Ledger {
            log: recovered.log,
            state: recovered.state,
            decider: Decider::new(node_key, recovered.head, recovered.frontier),
        };
        Ok((ledger, recovered.report))
    }

    /// Opens the ledger in `dir` for reading only, as a node on a full
    /// disk does: the entry log without space written ahead (opening it
    /// writes nothing unless it must cut a torn last group, which frees
    /// space, or repair its offset index, which fails without room), and
    /// the state rebuilt from the whole log into a temporary store in
    /// `state_dir` ([`DiskStateStore::open_temporary`], once the log's lock
    /// is held) instead of `dir/state`, which is not opened. The rebuilt
    /// state is flushed before this returns, so that a write the temporary
    /// storage cannot take (it is full too, or past the file-size limit)
    /// fails the open rather than a read later. The report counts every
    /// entry as replayed.
    pub fn open_read_only(
        dir: &Path,
        node_key: SigningKey,
        ledger_key: PublicKey,
        state_dir: &Path,
    ) -> Result<(DiskLedger, OpenReport), StoreError> {
        let (log, recovery) = EntryLog::open(&dir.join("log"))?;
        let state = DiskStateStore::open_temporary(state_dir)?;
        let mut recovered = recover(log, state, &ledger_key)
            .and_then(|recovered| recovered.state.flush().map(|()| recovered))
            .inspect_err(|_| {
                // sled removes its temporary directory when its last handle
                // goes, which a failed write can leave to a background
                // thread that outlives a process about to exit: remove it
                // here, once the store is dropped.
                let _ = std::fs::remove_dir_all(state_dir);
            })?;
        recovered.report.dropped_tail_bytes = recovery.dropped_tail_bytes;
        let ledger = Ledger {
            log: recovered.log,
            state: recovered.state,
            decider: Decider::new(node_key, recovered.head, recovered.frontier),
        };
        Ok((ledger, recovered.report))
    }

    /// Compacts the state database in `dir/state`
    /// ([`Compacted`](crate::store::Compacted); module
    /// `store::state::compact` has the steps), holding the entry log's lock
    /// meanwhile, so it fails with
    /// [`LogError::Locked`](crate::store::log::LogError::Locked) while a
    /// node runs on `dir`. The entry log is opened as a node opens it (a
    /// torn last group is dropped) and not otherwise touched.
    pub fn compact_state(dir: &Path) -> Result<crate::store::Compacted, StoreError> {
        let (_log, _) = EntryLog::open(&dir.join("log"))?;
        crate::store::compact(&dir.join("state"))
    }

    /// The ledger, its state compacted while in use under `policy` as
    /// [`Ledger::upkeep_state`] is called
    /// ([`DiskStateStore::with_compaction`]).
    pub fn with_state_compaction(self, policy: crate::store::CompactionPolicy) -> DiskLedger {
        Ledger {
            state: self.state.with_compaction(policy),
            ..self
        }
    }

    /// The directory layout, for operators' messages.
    pub fn paths(dir: &Path) -> [PathBuf; 2] {
        [dir.join("log"), dir.join("state")]
    }
}

impl<L: LogStore, S: StateStore> Ledger<L, S> {
    /// Opens a ledger over its two stores, as [`recover`] does, to seal new
    /// entries with `node_key`, which is also the ledger key (a single node).
    pub fn open(log: L, state: S, node_key: SigningKey) -> Result<(Self, OpenReport), StoreError> {
        let ledger_key = crypto::public_key(&node_key);
        Self::open_as(log, state, node_key, ledger_key)
    }

    /// Opens a ledger whose genesis was sealed under `ledger_key` (the key
    /// auditors hold), to seal new entries with `node_key`: a member of a
    /// registry of several nodes (docs/FORMAT.md §3.1).
    pub fn open_as(
        log: L,
        state: S,
        node_key: SigningKey,
        ledger_key: PublicKey,
    ) -> Result<(Self, OpenReport), StoreError> {
        let recovered = recover(log, state, &ledger_key)?;
        let ledger = Ledger {
            log: recovered.log,
            state: recovered.state,
            decider: Decider::new(node_key, recovered.head, recovered.frontier),
        };
        Ok((ledger, recovered.report))
    }

    /// The ledger as it stands, for reads.
    pub fn snapshot(&self) -> Snapshot<L::Reader, S::View> {
        Snapshot::new(
            self.decider.head(),
            self.log.reader(),
            self.state.view(),
            Arc::from(Vec::new()),
        )
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.decider.head().next_seq
    }

    /// Whether no entry (not even genesis) is committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The node's public key.
    pub fn node_public_key(&self) -> PublicKey {
        self.decider.node_public_key()
    }

    /// The entry log.
    pub fn log(&self) -> &L {
        &self.log
    }

    /// The state store.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Drops the state map's versions below `floor` (see
    /// [`StateStore::prune_map`]): the map stays provable at every size
    /// from `floor` on.
    pub fn prune_state_map(&mut self, floor: u64) -> Result<u64, StoreError> {
        self.state.prune_map(floor)
    }

    /// One step of the state store's upkeep ([`StateStore::upkeep`]), for
    /// a caller that applies on its own thread (a node's apply thread does
    /// this itself).
    pub fn upkeep_state(&mut self) -> Result<crate::store::Upkeep, StoreError> {
        self.state.upkeep()
    }

    /// Takes the ledger apart, for a node that runs the three steps on
    /// threads of its own.
    pub fn into_parts(self) -> (L, S, Decider) {
        (self.log, self.state, self.decider)
    }

    /// Signs a checkpoint of the whole chain as it stands, at `time_ms`.
    pub fn sign_checkpoint(&self, time_ms: u64) -> Result<SignedCheckpoint, CheckpointError> {
        sign_checkpoint(&self.snapshot(), self.decider.node_key(), time_ms)
    }

    /// Sequences, seals and durably commits a group, then applies it to the
    /// state store. Returns one result per envelope, in order; rejected
    /// envelopes leave no trace. On `Err` nothing of the group may be
    /// reported as committed.
    pub fn append_group(
        &mut self,
        envelopes: &[VerifiedEnvelope],
        now_ms: u64,
    ) -> Result<Vec<SubmitResult>, StoreError> {
        Ok(self.append(envelopes.iter().map(Cow::Borrowed), now_ms)?.0)
    }

    /// [`Ledger::append_group`], also giving per envelope the attempt entry
    /// that records its refusal, if any ([`DecidedGroup::attempts`]).
    pub fn append_group_attempts(
        &mut self,
        envelopes: &[VerifiedEnvelope],
        now_ms: u64,
    ) -> Result<(Vec<SubmitResult>, Vec<Option<Seq>>), StoreError> {
        self.append(envelopes.iter().map(Cow::Borrowed), now_ms)
    }

    /// Records attempt entries under `policy` from now on (a ledger opened
    /// or created records none: [`AttemptPolicy::OFF`]).
    pub fn set_attempt_policy(&mut self, policy: AttemptPolicy) {
        self.decider = self.decider.clone().with_attempts(policy);
    }

    /// [`Ledger::append_group`] taking the envelopes by value, so that each
    /// applied envelope moves into its entry instead of being copied.
    pub fn append_owned(
        &mut self,
        envelopes: Vec<VerifiedEnvelope>,
        now_ms: u64,
    ) -> Result<Vec<SubmitResult>, StoreError> {
        Ok(self
            .append(envelopes.into_iter().map(Cow::Owned), now_ms)?
            .0)
    }

    fn append<'a>(
        &mut self,
        envelopes: impl ExactSizeIterator<Item = Cow<'a, VerifiedEnvelope>>,
        now_ms: u64,
    ) -> Result<(Vec<SubmitResult>, Vec<Option<Seq>>), StoreError> {
        let before = (self.decider.head(), self.decider.frontier().clone());
        // The snapshot (a state view) is dropped at the end of this
        // statement, before `apply`: a live view of the memory store would
        // make `apply` copy the whole state.
        let group = self.decider.decide(&self.snapshot(), envelopes, now_ms)?;
        if let Err(error) = self.log.append(&group.records()) {
            self.decider.reset(before.0, before.1);
            return Err(error);
        }
        self.state.apply(&group.update)?;
        Ok((group.results, group.attempts))
    }
}

/// A ledger's two stores once opened and checked, before anyone seals.
#[derive(Debug)]
pub struct Recovered<L, S> {
    /// The entry log.
    pub log: L,
    /// The state store, caught up with the log.
    pub state: S,
    /// The chain position after the last entry.
    pub head: ChainCursor,
    /// The Merkle tree's right edge.
    pub frontier: Frontier,
    /// What was found and repaired.
    pub report: OpenReport,
}

impl<L: LogStore, S: StateStore> Recovered<L, S> {
    /// The ledger as recovered, for reads.
    pub fn snapshot(&self) -> Snapshot<L::Reader, S::View> {
        Snapshot::new(
            self.head,
            self.log.reader(),
            self.state.view(),
            Arc::from(Vec::new()),
        )
    }
}

/// Checks every link of the chain in `log` and the last entry's seal under
/// `node_key` (refusing a chain that does not verify, naming the first bad
/// entry), then brings `state` up to the log, replaying with the full rules
/// and every signature whatever it lacks (from scratch if it claims more
/// entries than the log holds). Catching up is the ledger's job, never a
/// store's.
pub fn recover<L: LogStore, S: StateStore>(
    log: L,
    mut state: S,
    node_key: &PublicKey,
) -> Result<Recovered<L, S>, StoreError> {
    let head = verify_chain(&log.reader(), node_key)?;
    let mut report = OpenReport {
        entries: head.next_seq,
        ..OpenReport::default()
    };
    if state.applied() > head.next_seq {
        state.clear()?;
        report.rebuilt = true;
    }
    report.replayed = catch_up(&log, &mut state)?;
    let frontier = Frontier::load(head.next_seq, &TreeNodes::new(&log.reader(), &state.view()))?;
    Ok(Recovered {
        log,
        state,
        head,
        frontier,
        report,
    })
}

/// [`recover`] for the stores in `dir` (as [`DiskLedger::open_dir`] opens
/// them), for tools that read a ledger without sealing.
pub fn recover_dir(
    dir: &Path,
    node_key: &PublicKey,
) -> Result<Recovered<EntryLog, DiskStateStore>, StoreError> {
    recover_dir_preallocating(dir, node_key, 0)
}

fn recover_dir_preallocating(
    dir: &Path,
    node_key: &PublicKey,
    chunk: u64,
) -> Result<Recovered<EntryLog, DiskStateStore>, StoreError> {
    let (log, recovery) = EntryLog::open_preallocating(&dir.join("log"), chunk)?;
    let state = DiskStateStore::open(&dir.join("state"))?;
    let cleared = state.cleared_at_open();
    let mut recovered = recover(log, state, node_key)?;
    recovered.report.dropped_tail_bytes = recovery.dropped_tail_bytes;
    recovered.report.rebuilt |= cleared;
    Ok(recovered)
}

/// Replays into `state` the entries of `log` it lacks, with the rules and
/// each envelope's signatures but not the seals (the caller checked the
/// chain: its links up to a sealed head vouch for every entry); returns how
/// many. A cluster member runs it after appending a committed group.
///
/// From `CHECK_AHEAD_FROM` (512) missing entries on (a rebuild; a restart
/// after a crash that left the state that far behind; a cluster member's
/// large group), a second thread reads the entries and checks their
/// signatures (strictly, one by one, as the node admitted them) while this
/// one runs the rules and writes the state: the signatures are about a
/// third of a rebuild's time on one thread. Fewer entries are checked in
/// line.
pub fn catch_up<L: LogStore, S: StateStore>(log: &L, state: &mut S) -> Result<u64, StoreError> {
    let start = state.applied();
    let end = log.len();
    let reader = log.reader();
    if end.saturating_sub(start) >= CHECK_AHEAD_FROM
        && let Some(caught_up) = catch_up_checking_ahead(&reader, state, start, end)
    {
        return caught_up;
    }
    let keys = crypto::KeyCache::new();
    let checked = reader
        .read_range(start, end)
        .map(|item| check_entry(item, &keys));
    apply_checked(&reader, state, start, end, checked)
}

/// [`catch_up`] with the signatures checked on a second thread; `None`
/// (nothing done) if that thread cannot be started.
fn catch_up_checking_ahead<R: LogRead, S: StateStore>(
    reader: &R,
    state: &mut S,
    start: Seq,
    end: Seq,
) -> Option<Result<u64, StoreError>> {
    std::thread::scope(|scope| {
        let (to_rules, checked) = std::sync::mpsc::sync_channel(CHECKED_CHUNKS_AHEAD);
        std::thread::Builder::new()
            .name("catch-up-check".into())
            .spawn_scoped(scope, move || check_ahead(reader, start, end, to_rules))
            .ok()?;
        Some(apply_checked(
            reader,
            state,
            start,
            end,
            checked.into_iter().flatten(),
        ))
    })
}

/// Entries from which [`catch_up`] checks signatures on a second thread.
const CHECK_AHEAD_FROM: u64 = 512;
/// Entries handed from the checking thread to the rules at a time.
const CHECKED_CHUNK: usize = 256;
/// Chunks the checking thread may be ahead of the rules.
const CHECKED_CHUNKS_AHEAD: usize = 8;

/// A log entry, decoded, with its envelope's signatures checked (or why
/// they fail: the rules' thread names the entry).
type Checked = Result<(Entry, Result<VerifiedEnvelope, EntryFault>), StoreError>;

fn check_entry(item: Result<(Seq, Vec<u8>), StoreError>, keys: &crypto::KeyCache) -> Checked {
    let (seq, record) = item?;
    let entry = Entry::decode(&record).map_err(|source| ChainError::Malformed { seq, source })?;
    let verified = entry
        .envelope
        .clone()
        .verify_with(keys)
        .map_err(EntryFault::from);
    Ok((entry, verified))
}

/// Reads and checks the entries `start..end`, handing them on in chunks
/// until the rules' thread stops taking them or an entry cannot be read.
fn check_ahead<R: LogRead>(
    reader: &R,
    start: Seq,
    end: Seq,
    to_rules: std::sync::mpsc::SyncSender<Vec<Checked>>,
) {
    let keys = crypto::KeyCache::new();
    let mut chunk = Vec::with_capacity(CHECKED_CHUNK);
    for item in reader.read_range(start, end) {
        let checked = check_entry(item, &keys);
        let unreadable = checked.is_err();
        chunk.push(checked);
        if unreadable || chunk.len() == CHECKED_CHUNK {
            let taken = to_rules.send(std::mem::take(&mut chunk)).is_ok();
            if unreadable || !taken {
                return;
            }
        }
    }
    let _ = to_rules.send(chunk);
}

/// Runs the rules over the checked entries `start..end`, in order, and
/// writes their effects to `state` every [`CATCH_UP_BATCH`] entries.
fn apply_checked<R: LogRead, S: StateStore>(
    reader: &R,
    state: &mut S,
    start: Seq,
    end: Seq,
    checked: impl Iterator<Item = Checked>,
) -> Result<u64, StoreError> {
    let mut frontier = Frontier::load(start, &TreeNodes::new(reader, &state.view()))?;
    let mut update = StateUpdate::starting_at(start);
    let mut view = state.view();
    for item in checked {
        let (entry, verified) = item?;
        let seq = entry.seq;
        if seq != update.end {
            return Err(StoreError::OutOfRange {
                seq: update.end,
                len: end,
            });
        }
        let mut overlay = Overlay::with_pending(&view, std::mem::take(&mut update.changes));
        let changes = verified
            .and_then(|verified| apply_verified(&overlay, &entry, &verified))
            .map_err(|fault| StoreError::InvalidEntry {
                seq,
                reason: fault.to_string(),
            })?;
        overlay.push(changes);
        update.changes = overlay.into_pending();
        update
            .nodes
            .extend(frontier.append(merkle::leaf_hash(&entry.body())));
        update.end = seq + 1;
        if update.end - update.first >= CATCH_UP_BATCH {
            drop(view); // a live view of the memory store makes `apply` copy the state
            state.apply(&update)?;
            update = StateUpdate::starting_at(update.end);
            view = state.view();
        }
    }
    drop(view);
    if update.end != end {
        return Err(StoreError::OutOfRange {
            seq: update.end,
            len: end,
        });
    }
    if !update.is_empty() {
        state.apply(&update)?;
    }
    Ok(end - start)
}

/// Signs a checkpoint of `ledger` at `time_ms`, of every entry whose state
/// the state store has applied ([`LedgerRead::committed_size`]: the whole
/// chain once the store has caught up).
pub fn sign_checkpoint<R: LedgerRead>(
    ledger: &R,
    node_key: &SigningKey,
    time_ms: u64,
) -> Result<SignedCheckpoint, CheckpointError> {
    let ledger_id = ledger
        .ledger_id()
        .map_err(StoreError::from)?
        .unwrap_or_default();
    let origin = ledger_origin(&ledger_id);
    Checkpoint::from_store(ledger, ledger.committed_size(), time_ms, &origin)?.sign(node_key)
}

/// Checks every link of the chain in the log, and the head's seal under a
/// key allowed to seal it (the ledger key, or a voter's key after a
/// membership entry). Seals of inner entries are implied by the links up to
/// the sealed head; where a link breaks, the previous entry's seal tells
/// which of the two was altered.
fn verify_chain<R: LogRead>(log: &R, ledger_key: &PublicKey) -> Result<ChainCursor, StoreError> {
    let mut cursor = ChainCursor::default();
    let mut sealers = Sealers::ledger_key(*ledger_key);
    let mut last: Option<(Entry, Sealers)> = None;
    for item in log.read_range(0, log.len()) {
        let (_, record) = item?;
        match cursor.check_record(&record, None) {
            Ok(entry) => {
                let allowed = sealers.clone();
                sealers.follow(&entry);
                last = Some((entry, allowed));
            }
            Err(broken) => return Err(first_bad_entry(broken, last).into()),
        }
    }
    if let Some((entry, mut allowed)) = last {
        allowed.check(&entry, &entry.hash())?;
    }
    Ok(cursor)
}

/// A broken link at entry n means entry n-1 or entry n was altered: an
/// altered n-1 no longer matches its seal.
fn first_bad_entry(broken: ChainError, previous: Option<(Entry, Sealers)>) -> ChainError {
    match (&broken, previous) {
        (ChainError::BrokenLink { .. }, Some((previous, mut allowed))) => allowed
            .check(&previous, &previous.hash())
            .err()
            .unwrap_or(broken),
        _ => broken,
    }
}
