//! The sequencer: one thread that owns every write. It takes verified
//! envelopes from a bounded queue, applies as many as are waiting (up to the
//! group limit) as one group, makes the group durable with one fdatasync, and
//! only then answers each submitter. While a group is being made durable, new
//! submissions collect in the queue and form the next group.
//!
//! ```text
//!  handlers ──try_send──▶ [queue, bounded] ──▶ sequencer thread
//!     ▲                                         │ drain ≤ max_group_entries
//!     │                                         │ ledger.append_group(group, now)   (rules, seal, log fdatasync, sled)
//!     └──────────── oneshot reply ◀─────────────┘ publish the new head
//! ```
//! The time of each group is read here, in the node shell, and recorded in
//! the entries; the ledger's rules never read a clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::{Ledger, SubmitResult};
use pledge_ledger::store::{DiskStore, Store};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::Metrics;

/// The ledger shared between the sequencer (writes) and the handlers (reads).
pub type SharedLedger = Arc<RwLock<Ledger<DiskStore>>>;

/// Why a submission got no answer from the rules.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SequencerError {
    /// The queue is full: the node is overloaded.
    #[error("the node's submission queue is full ({depth} waiting); retry later")]
    QueueFull {
        /// The queue depth.
        depth: usize,
    },
    /// The node is shutting down or the sequencer stopped after a store failure.
    #[error("the node is not accepting writes: {reason}")]
    Stopped {
        /// Why.
        reason: String,
    },
    /// The store failed while committing this group: nothing of it was acknowledged.
    #[error("the store failed while committing: {reason}")]
    Store {
        /// The store's error.
        reason: String,
    },
}

struct Submission {
    envelope: VerifiedEnvelope,
    reply: oneshot::Sender<Result<SubmitResult, SequencerError>>,
}

/// A handle for submitting to the sequencer; cheap to clone.
#[derive(Clone, Debug)]
pub struct Sequencer {
    queue: mpsc::Sender<Submission>,
    depth: usize,
    failed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission")
            .field("tx_id", &self.envelope.tx.tx_id)
            .finish()
    }
}

impl Sequencer {
    /// Starts the sequencer thread. It ends when every handle is dropped and
    /// the queue is drained.
    pub fn start(
        ledger: SharedLedger,
        max_group: usize,
        depth: usize,
        heads: watch::Sender<u64>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Sequencer, JoinHandle<()>)> {
        let (queue, receiver) = mpsc::channel(depth.max(1));
        let failed = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            ledger,
            receiver,
            max_group: max_group.max(1),
            heads,
            failed: failed.clone(),
            metrics,
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || worker.run())?;
        Ok((
            Sequencer {
                queue,
                depth,
                failed,
            },
            thread,
        ))
    }

    /// Submits a verified envelope and waits until its group is durable.
    pub async fn submit(&self, envelope: VerifiedEnvelope) -> Result<SubmitResult, SequencerError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(stopped("the store failed; restart the node"));
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
            .unwrap_or_else(|_| Err(stopped("the sequencer stopped")))
    }
}

fn stopped(reason: &str) -> SequencerError {
    SequencerError::Stopped {
        reason: reason.into(),
    }
}

struct Worker {
    ledger: SharedLedger,
    receiver: mpsc::Receiver<Submission>,
    max_group: usize,
    heads: watch::Sender<u64>,
    failed: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl Worker {
    fn run(mut self) {
        while let Some(first) = self.receiver.blocking_recv() {
            let mut group = vec![first];
            while group.len() < self.max_group {
                match self.receiver.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            if let Err(error) = self.commit(group) {
                tracing::error!(%error, "store failure: the sequencer stops taking writes");
                self.failed.store(true, Ordering::Release);
                self.refuse_all(&error);
                return;
            }
        }
    }

    fn commit(&mut self, group: Vec<Submission>) -> Result<(), SequencerError> {
        let (envelopes, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|s| (s.envelope, s.reply)).unzip();
        let submissions = envelopes.len();
        let started = std::time::Instant::now();
        let (results, size) = {
            let mut ledger = self
                .ledger
                .write()
                .map_err(|_| store_error("the ledger lock is poisoned"))?;
            let results = ledger.append_owned(envelopes, now_ms());
            (results, ledger.store().len())
        };
        let results = match results {
            Ok(results) => results,
            Err(error) => {
                let error = store_error(&error.to_string());
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
                return Err(error);
            }
        };
        let new_entries = results
            .iter()
            .filter(|r| matches!(r, Ok(c) if !c.duplicate))
            .count();
        self.metrics
            .group_committed(new_entries, started.elapsed(), size);
        tracing::debug!(submissions, new_entries, size, "group committed");
        self.heads.send_replace(size);
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(Ok(result));
        }
        Ok(())
    }

    fn refuse_all(&mut self, error: &SequencerError) {
        self.receiver.close();
        while let Ok(submission) = self.receiver.try_recv() {
            let _ = submission.reply.send(Err(error.clone()));
        }
    }
}

fn store_error(reason: &str) -> SequencerError {
    SequencerError::Store {
        reason: reason.into(),
    }
}

/// The node's clock, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
