//! Making decided groups durable, publishing them and answering their
//! submitters: the [`Writer`]. The durable thread runs it for the groups the
//! decide thread queues while earlier ones are still being made durable;
//! when nothing is queued or being written, the decide thread runs it
//! itself for the group it just decided, which saves a thread hand-off
//! (a wake-up of the durable thread) on the acknowledgement path of a lone
//! pledge. The writer is behind a mutex, and the decide thread only writes
//! when every group it queued has been written, so groups are written,
//! answered and sent to the observer, in the order they were decided.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc as std_mpsc};

use pledge_ledger::chain::ChainCursor;
use pledge_ledger::merkle::Hash;
use pledge_ledger::store::{StateUpdate, StateView, StoreError};
use tokio::sync::watch;

use super::{
    Answer, Decided, Durability, DurableEntries, Observer, Published, SequencerError,
    refuse_replies, store_error,
};
use crate::metrics::Metrics;

/// The durable step's state, shared by the decide and the durable threads.
pub(super) struct Writer<D: Durability, V> {
    pub(super) durability: D,
    pub(super) published: Arc<Published<D::Reader, V>>,
    pub(super) to_apply: std_mpsc::SyncSender<Arc<StateUpdate>>,
    pub(super) heads: watch::Sender<u64>,
    /// Told each durable group's entries; `None` once it is gone.
    pub(super) observer: Observer,
    pub(super) metrics: Arc<Metrics>,
    pub(super) failed: Arc<AtomicBool>,
    /// Why the store failed, once it did: nothing is written after that.
    pub(super) broken: Option<String>,
}

/// The writer and how many groups are queued for the durable thread and
/// not yet written (counted by the decide thread, which queues them).
pub(super) struct SharedWriter<D: Durability, V> {
    writer: Mutex<Writer<D, V>>,
    queued: AtomicUsize,
}

impl<D: Durability, V: StateView> SharedWriter<D, V> {
    pub(super) fn new(writer: Writer<D, V>) -> SharedWriter<D, V> {
        SharedWriter {
            writer: Mutex::new(writer),
            queued: AtomicUsize::new(0),
        }
    }

    /// Whether every group queued so far has been written: a group decided
    /// now may be written by its decider, after them.
    pub(super) fn idle(&self) -> bool {
        self.queued.load(Ordering::Acquire) == 0
    }

    /// Counts a group the decide thread is about to queue.
    pub(super) fn queue_one(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts `groups` queued groups as written (or refused).
    pub(super) fn done(&self, groups: usize) {
        self.queued.fetch_sub(groups, Ordering::AcqRel);
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Writer<D, V>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<D: Durability, V: StateView> Writer<D, V> {
    /// Makes `batch` durable in one write, publishes it, answers its
    /// submitters and hands its effects to the apply thread. Once a write
    /// failed, every later batch is refused unwritten.
    pub(super) fn write(&mut self, batch: Vec<Decided>) {
        if let Some(reason) = &self.broken {
            let refusal = store_error(reason);
            for decided in batch {
                refuse_replies(decided.replies, &refusal);
            }
            return;
        }
        if let Err(error) = self.make_durable(batch) {
            tracing::error!(%error, "store failure: the node stops taking writes");
            self.broken = Some(error.to_string());
            self.failed.store(true, Ordering::Release);
        }
    }

    fn make_durable(&mut self, batch: Vec<Decided>) -> Result<(), StoreError> {
        let first = batch[0].first;
        let records: Vec<&[u8]> = batch.iter().flat_map(|d| d.group.records()).collect();
        let written = self.durability.make_durable(first, &records);
        drop(records);
        if let Err(error) = written {
            let refusal = SequencerError::OutcomeUnknown {
                reason: error.to_string(),
            };
            for decided in batch {
                refuse_replies(decided.replies, &refusal);
            }
            return Err(error);
        }
        let last = &batch[batch.len() - 1].group;
        let (head, root) = (last.head, last.tree_root);
        let updates = self.publish(head, root, &batch);
        let observed = self.answer(batch, head.next_seq);
        self.tell_observer(observed);
        for update in updates {
            if self.to_apply.send(update).is_err() {
                return Err(StoreError::StateStopped);
            }
        }
        Ok(())
    }

    /// Moves the published head past `batch` and adds its effects to the
    /// pending updates; returns those effects, for the apply thread.
    fn publish(&self, head: ChainCursor, root: Hash, batch: &[Decided]) -> Vec<Arc<StateUpdate>> {
        let updates: Vec<Arc<StateUpdate>> = batch
            .iter()
            .filter(|d| !d.update.is_empty())
            .map(|d| d.update.clone())
            .collect();
        self.published.durable(head, root, updates.iter().cloned());
        self.heads.send_replace(head.next_seq);
        updates
    }

    /// Answers the submitters of `batch`; returns the groups' new entries
    /// for the observer (none without one).
    fn answer(&self, batch: Vec<Decided>, chain_size: u64) -> Vec<DurableEntries> {
        let mut observed = Vec::new();
        for decided in batch {
            let Decided {
                group,
                update,
                replies,
                started,
                ..
            } = decided;
            self.metrics
                .group_committed(group.entries.len(), started.elapsed(), chain_size);
            let answers = group.results.into_iter().zip(group.attempts);
            for (reply, (result, attempt)) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(Answer { result, attempt }));
            }
            if self.observer.is_some() && !group.entries.is_empty() {
                observed.push(DurableEntries {
                    entries: group.entries,
                    changes: group.entry_changes,
                    update,
                });
            }
        }
        observed
    }

    /// Sends the observer the durable groups' entries, in order; stops
    /// sending once it is gone.
    fn tell_observer(&mut self, observed: Vec<DurableEntries>) {
        let Some(observer) = &self.observer else {
            return;
        };
        for entries in observed {
            if observer.send(entries).is_err() {
                tracing::warn!("the chain's observer is gone: no longer telling it");
                self.observer = None;
                return;
            }
        }
    }
}

/// The durable thread: writes the groups the decide thread queued, every
/// group waiting at once.
pub(super) struct DurableStep<D: Durability, V> {
    pub(super) decided: std_mpsc::Receiver<Decided>,
    pub(super) writer: Arc<SharedWriter<D, V>>,
}

impl<D: Durability, V: StateView> DurableStep<D, V> {
    pub(super) fn run(self) {
        while let Ok(first) = self.decided.recv() {
            let mut batch = vec![first];
            batch.extend(self.decided.try_iter());
            let groups = batch.len();
            self.writer.lock().write(batch);
            self.writer.done(groups);
        }
    }
}
