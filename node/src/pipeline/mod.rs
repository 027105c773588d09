//! The write pipeline: three threads, each owning one step, so that a group
//! is decided while the one before it is being made durable, and the state
//! store is written off the acknowledgement path.
//!
//! ```text
//!  handlers ──try_send──▶ [submissions] ──▶ decide thread
//!                                             │ drain ≤ max_group_entries
//!                                             │ Decider::decide(speculative state, group, now)
//!                                             │   speculative = published snapshot + groups in flight
//!                                             │ nothing queued or waiting? write it here (Writer) ─┐
//!                                             ▼                                                    │
//!                                         [decided] ──▶ durable thread                             │
//!                                                         │ drain every decided group waiting      │
//!                                                         │ Writer::write:                ◀────────┘
//!                                                         │   Durability::make_durable   (one fdatasync)
//!                                                         │   publish: head moves, updates pending
//!     ▲                                                   │   answer every submitter of those groups
//!     └──────────────── oneshot replies ◀─────────────────┘
//!                                                         ▼
//!                                                     [updates] ──▶ apply thread
//!                                                                     │ wait ≤ apply_wait for more
//!                                                                     │ merge every update waiting
//!                                                                     │ StateStore::apply (one batch)
//!                                                                     │ publish: new view, pending shrinks
//!  readers: Published::load() → Snapshot (no lock held while reading)
//! ```
//!
//! A lone pledge (nothing queued for the durable thread, nothing waiting to
//! be decided) is made durable by the decide thread itself: its path is
//! handler → decide thread → handler, two thread hand-offs instead of
//! three (`durable.rs`). Under load the durable thread takes the groups,
//! so that the next group is decided during the previous one's sync.
//!
//! Answers are given in the order groups were decided and only once every
//! earlier group is durable, so no answer (an acknowledgement, a refusal
//! because of an earlier pledge, a retry's original entry) depends on a
//! group that could still be lost. When making a group durable fails, its
//! submitters are told the outcome is unknown (`OutcomeUnknown`: part of it
//! may be on disk) and the pipeline stops taking writes: groups decided
//! after it are never written and are refused (`Store`), and the node must
//! restart (it then recovers from the log). The time of each group is read
//! here, in the node shell.
//!
//! An observer of the chain (the node's alerts) may be given a channel: the
//! writer sends it each durable group's new entries, in chain order, with
//! what the decide thread found each entry changed ([`DurableEntries`]), so
//! that it need not run the rules again. Only durable groups are sent;
//! after a store failure nothing is. The channel holds at most
//! [`OBSERVER_DEPTH`] groups: an observer that far behind makes the writer
//! wait (memory stays bounded; the writes slow down rather than it).

mod apply;
mod durability;
mod durable;
mod published;

pub use apply::{UPKEEP_IDLE, prune_map, upkeep};
pub use durability::Durability;
pub use published::Published;

use apply::ApplyStep;
use durable::{DurableStep, SharedWriter, Writer};

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pledge_ledger::entry::{Entry, Sealed};
use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::{
    AttemptPolicy, Committed, DecideBase, DecidedGroup, Decider, EntryChanges, SubmitResult,
};
use pledge_ledger::model::Seq;
use pledge_ledger::state::{Layered, Objects, StateError};
use pledge_ledger::store::{LogRead, StateStore, StateUpdate, StateView, StoreError};
use pledge_ledger::view::{LedgerRead, Snapshot};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::Metrics;

/// Decided groups waiting to be made durable, at most.
const DECIDED_DEPTH: usize = 64;
/// Updates waiting for the state store, at most.
const APPLY_DEPTH: usize = 256;

/// Why a submission got no answer from the rules.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SequencerError {
    /// The queue is full: the node is overloaded.
    #[error("the node's submission queue is full ({depth} waiting); retry later")]
    QueueFull {
        /// The queue depth.
        depth: usize,
    },
    /// The node is shutting down or the pipeline stopped after a store failure.
    #[error("the node is not accepting writes: {reason}")]
    Stopped {
        /// Why.
        reason: String,
    },
    /// The store failed before this submission was written: it was not
    /// committed.
    #[error("the store failed; this submission was not written: {reason}")]
    Store {
        /// The store's error.
        reason: String,
    },
    /// Making this submission's group durable failed part-way: it may or
    /// may not be in the chain (the entry log's contract: a failed append's
    /// fate is unknown until the log is reopened).
    #[error(
        "the store failed while making this submission durable ({reason}): it may or may not \
         have been committed. Resend the same envelope (to another member, or once this node \
         is back): a committed one is answered with its entry and duplicate = true"
    )]
    OutcomeUnknown {
        /// The store's error.
        reason: String,
    },
    /// Cluster mode: this member cannot sequence now (not the leader, not
    /// ready yet, or leadership lost while the group was in flight).
    #[error("{message}")]
    Cluster {
        /// The stable reason code.
        reason: &'static str,
        /// What happened and what to do.
        message: String,
    },
}

/// A submission's answer once its group is durable: the rules' verdict,
/// and the attempt entry that records its refusal, if one does.
#[derive(Debug)]
pub struct Answer {
    /// Committed, or refused.
    pub result: SubmitResult,
    /// The attempt entry recording the refusal (new, or earlier for the
    /// same transaction).
    pub attempt: Option<Seq>,
}

/// Where a submission's answer goes.
pub(crate) type Reply = oneshot::Sender<Result<Answer, SequencerError>>;

/// A verified envelope waiting to be sequenced, and its submitter.
pub(crate) struct Submission {
    pub(crate) envelope: VerifiedEnvelope,
    pub(crate) reply: Reply,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission")
            .field("tx_id", &self.envelope.tx.tx_id)
            .finish()
    }
}

/// A handle for submitting to the pipeline; cheap to clone.
#[derive(Clone, Debug)]
pub struct Sequencer {
    queue: mpsc::Sender<Submission>,
    depth: usize,
    failed: Arc<AtomicBool>,
    /// What a write is told once `failed` is set.
    refusal: Arc<str>,
}

/// What a write is told after a store failure.
const STORE_FAILED: &str = "the store failed; restart the node";

impl Sequencer {
    /// Whether the pipeline takes writes, to watch without holding the
    /// queue open (a `Sequencer` kept alive would keep the pipeline from
    /// draining at shutdown).
    pub fn writes(&self) -> Writes {
        Writes(self.failed.clone())
    }

    /// Stops taking writes after the store failed outside the pipeline (a
    /// state read while admitting a write), as a failure inside it does:
    /// health turns `NOT_SERVING` and the node restarts itself once there is
    /// room again. Without it a lone writer whose every write fails at
    /// admission would never reach the pipeline, and nothing would stop.
    pub fn store_failed(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// Submits a verified envelope and waits until its group is durable.
    pub async fn submit(&self, envelope: VerifiedEnvelope) -> Result<Answer, SequencerError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(stopped(&self.refusal));
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Submission { envelope, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    SequencerError::QueueFull { depth: self.depth }
                }
                mpsc::error::TrySendError::Closed(_) => stopped("shutting down"),
            })?;
        answer
            .await
            .unwrap_or_else(|_| Err(stopped("the pipeline stopped")))
    }
}

/// Whether the pipeline takes writes: no once the store failed (until the
/// node restarts).
#[derive(Debug, Clone)]
pub struct Writes(Arc<AtomicBool>);

impl Writes {
    /// False once the store failed.
    pub fn accepted(&self) -> bool {
        !self.0.load(Ordering::Acquire)
    }
}

/// A submission queue without the single-node pipeline behind it: cluster
/// mode's sequencing step takes the submissions.
pub(crate) fn queue(depth: usize) -> (Sequencer, mpsc::Receiver<Submission>) {
    let (queue, submissions) = mpsc::channel(depth.max(1));
    let sequencer = Sequencer {
        queue,
        depth,
        failed: Arc::new(AtomicBool::new(false)),
        refusal: Arc::from(STORE_FAILED),
    };
    (sequencer, submissions)
}

fn stopped(reason: &str) -> SequencerError {
    SequencerError::Stopped {
        reason: reason.into(),
    }
}

fn store_error(reason: &str) -> SequencerError {
    SequencerError::Store {
        reason: reason.into(),
    }
}

/// How the pipeline is sized.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Most envelopes decided as one group.
    pub max_group: usize,
    /// Submissions waiting to be decided, at most.
    pub queue_depth: usize,
    /// How many attempt entries a signer may cause (docs/FORMAT.md §3.2).
    pub attempts: AttemptPolicy,
    /// How long the state store's writer waits for more durable groups
    /// before writing one batch (see `apply.rs`); zero writes each batch
    /// as soon as it arrives.
    pub apply_wait: Duration,
}

/// A durable group's new entries and what each changed, as the decide
/// thread found (the same objects replaying each entry gives): what the
/// pipeline sends an observer of the chain.
#[derive(Debug)]
pub struct DurableEntries {
    entries: Vec<Sealed>,
    changes: EntryChanges,
    update: Arc<StateUpdate>,
}

impl DurableEntries {
    /// Each entry, in order, with the objects it changed; `None` if the
    /// decider did not keep them (it does when the pipeline has an observer).
    pub fn each(&self) -> Option<Vec<(&Entry, &Objects)>> {
        self.changes.of(&self.entries, &self.update)
    }
}

/// Where the pipeline sends each durable group's entries, if anywhere.
pub type Observer = Option<std_mpsc::SyncSender<DurableEntries>>;

/// Durable groups an observer may fall behind by before the writer waits
/// for it: what it holds in memory stays bounded (an observer that does
/// its work per entry keeps far ahead of the writes it follows).
pub const OBSERVER_DEPTH: usize = 256;

/// A channel for an observer of the chain: the pipeline's end, given to
/// [`start`], and the observer's.
pub fn observer_channel() -> (Observer, std_mpsc::Receiver<DurableEntries>) {
    let (observer, groups) = std_mpsc::sync_channel(OBSERVER_DEPTH);
    (Some(observer), groups)
}

/// The running pipeline: the submission handle, the published snapshot,
/// and the threads to join on shutdown (they end once every handle is
/// dropped and the queues are drained).
#[derive(Debug)]
pub struct Running<R, V> {
    /// Submits writes.
    pub sequencer: Sequencer,
    /// What readers read.
    pub published: Arc<Published<R, V>>,
    /// The three threads, in pipeline order.
    pub threads: Vec<JoinHandle<()>>,
}

/// Starts the pipeline over an opened ledger's parts; `observer` is sent
/// every durable group's entries ([`DurableEntries`]).
pub fn start<D, S>(
    durability: D,
    state: S,
    decider: Decider,
    sizes: Sizes,
    heads: watch::Sender<u64>,
    observer: Observer,
    metrics: Arc<Metrics>,
) -> std::io::Result<Running<D::Reader, S::View>>
where
    D: Durability,
    S: StateStore,
{
    let published = Arc::new(Published::new(
        decider.head(),
        durability.reader(),
        state.view(),
    ));
    let failed = Arc::new(AtomicBool::new(false));
    let (queue, submissions) = mpsc::channel(sizes.queue_depth.max(1));
    let (to_durable, decided) = std_mpsc::sync_channel(DECIDED_DEPTH);
    let (to_apply, updates) = std_mpsc::sync_channel(APPLY_DEPTH);
    let decider = match observer {
        Some(_) => decider.keeping_entry_changes(),
        None => decider,
    };
    let writer = Arc::new(SharedWriter::new(Writer {
        durability,
        published: published.clone(),
        to_apply,
        heads,
        observer,
        metrics: metrics.clone(),
        failed: failed.clone(),
        broken: None,
    }));
    let decide = DecideStep {
        decider: decider.with_attempts(sizes.attempts),
        submissions,
        published: published.clone(),
        in_flight: VecDeque::new(),
        to_durable,
        writer: writer.clone(),
        max_group: sizes.max_group.max(1),
        failed: failed.clone(),
    };
    let durable = DurableStep { decided, writer };
    let apply = ApplyStep {
        state,
        updates,
        published: published.clone(),
        failed: failed.clone(),
        wait: sizes.apply_wait,
        upkeep_working: false,
        metrics,
    };
    let threads = vec![
        spawn("decide", move || decide.run())?,
        spawn("durable", move || durable.run())?,
        spawn("apply", move || apply.run())?,
    ];
    Ok(Running {
        sequencer: Sequencer {
            queue,
            depth: sizes.queue_depth,
            failed,
            refusal: Arc::from(STORE_FAILED),
        },
        published,
        threads,
    })
}

impl<R, V> Running<R, V> {
    /// Refuses every write from the start, as after a store failure but
    /// telling writers `why`: a node that started read-only. Before the
    /// sequencer is handed out.
    pub fn refuse_writes(&mut self, why: &str) {
        self.sequencer.failed.store(true, Ordering::Release);
        self.sequencer.refusal = Arc::from(why);
    }
}

fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(run)
}

/// A decided group on its way to durability, with its submitters.
struct Decided {
    first: Seq,
    group: DecidedGroup,
    update: Arc<StateUpdate>,
    replies: Vec<Reply>,
    started: Instant,
}

/// A decided group not yet in the published snapshot: what the decide
/// thread layers over the snapshot.
struct InFlight {
    update: Arc<StateUpdate>,
    answers: Vec<Committed>,
}

struct DecideStep<D: Durability, V> {
    decider: Decider,
    submissions: mpsc::Receiver<Submission>,
    published: Arc<Published<D::Reader, V>>,
    in_flight: VecDeque<InFlight>,
    to_durable: std_mpsc::SyncSender<Decided>,
    writer: Arc<SharedWriter<D, V>>,
    max_group: usize,
    failed: Arc<AtomicBool>,
}

impl<D: Durability, V: StateView> DecideStep<D, V> {
    fn run(mut self) {
        while let Some(first) = self.submissions.blocking_recv() {
            let mut group = vec![first];
            while group.len() < self.max_group {
                match self.submissions.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            if self.failed.load(Ordering::Acquire) {
                refuse(group, &stopped(STORE_FAILED));
                continue;
            }
            if let Err(error) = self.decide(group) {
                tracing::error!(%error, "deciding failed: the node stops taking writes");
                self.failed.store(true, Ordering::Release);
            }
        }
    }

    fn decide(&mut self, group: Vec<Submission>) -> Result<(), StateError> {
        let started = Instant::now();
        let (envelopes, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|s| (s.envelope, s.reply)).unzip();
        let snapshot = self.published.load();
        let durable = snapshot.head().next_seq;
        while self
            .in_flight
            .front()
            .is_some_and(|g| g.update.end <= durable)
        {
            self.in_flight.pop_front();
        }
        let first = self.decider.head().next_seq;
        let base = Speculative {
            snapshot: &snapshot,
            in_flight: &self.in_flight,
        };
        let decided = self.decider.decide(
            &base,
            envelopes.into_iter().map(std::borrow::Cow::Owned),
            now_ms(),
        );
        let mut group = match decided {
            Ok(group) => group,
            Err(error) => {
                refuse_replies(replies, &store_error(&error.to_string()));
                return Err(error);
            }
        };
        let update = Arc::new(std::mem::take(&mut group.update));
        if !update.is_empty() {
            let answers = group.results.iter().flatten().filter(|c| !c.duplicate);
            self.in_flight.push_back(InFlight {
                update: update.clone(),
                answers: answers.cloned().collect(),
            });
        }
        self.hand_on(Decided {
            first,
            group,
            update,
            replies,
            started,
        });
        Ok(())
    }

    /// Makes `decided` durable here when nothing decided before it is still
    /// waiting to be and no submission waits to be decided (a lone pledge:
    /// one thread hand-off fewer on its acknowledgement path); otherwise
    /// queues it for the durable thread, so that the next group is decided
    /// while this one is synced.
    fn hand_on(&mut self, decided: Decided) {
        if self.writer.idle() && self.submissions.is_empty() {
            self.writer.lock().write(vec![decided]);
            return;
        }
        self.writer.queue_one();
        if let Err(std_mpsc::SendError(decided)) = self.to_durable.send(decided) {
            self.writer.done(1);
            refuse_replies(decided.replies, &stopped("the pipeline stopped"));
        }
    }
}

fn refuse(group: Vec<Submission>, error: &SequencerError) {
    refuse_replies(group.into_iter().map(|s| s.reply).collect(), error);
}

/// Answers every one of `replies` with `error`.
pub(crate) fn refuse_replies(replies: Vec<Reply>, error: &SequencerError) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// The published snapshot with the groups in flight layered over it,
/// newest first: the state as it will be once they are all durable.
struct Speculative<'a, R, V> {
    snapshot: &'a Snapshot<R, V>,
    in_flight: &'a VecDeque<InFlight>,
}

impl<'a, R: LogRead, V: StateView> Layered for Speculative<'a, R, V> {
    type Base = Snapshot<R, V>;
    fn base(&self) -> &Snapshot<R, V> {
        self.snapshot
    }
    fn layers(&self) -> impl DoubleEndedIterator<Item = &Objects> {
        self.in_flight.iter().map(|group| &group.update.changes)
    }
}

impl<R: LogRead, V: StateView> DecideBase for Speculative<'_, R, V> {
    fn answer_of(&self, seq: Seq) -> Result<Committed, StoreError> {
        let in_flight = self.in_flight.iter().flat_map(|g| g.answers.iter());
        match in_flight.into_iter().find(|c| c.seq == seq) {
            Some(answer) => Ok(Committed {
                duplicate: true,
                ..answer.clone()
            }),
            None => self.snapshot.answer_of(seq),
        }
    }

    fn entry_if_readable(
        &self,
        seq: Seq,
    ) -> Result<Option<pledge_ledger::entry::Entry>, StoreError> {
        self.snapshot.entry_if_readable(seq)
    }
}

/// The node's clock, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod observer_tests;
#[cfg(test)]
mod tests;
