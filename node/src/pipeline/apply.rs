//! The apply thread: writes the durable groups' effects to the state store,
//! off the acknowledgement path.
//!
//! At low load every group is one pledge, and one state-store batch per
//! pledge costs more CPU than deciding it. So once an update arrives the
//! thread waits a short while (`Sizes::apply_wait`) for the next ones, then
//! merges everything waiting into one batch; it does not wait when the
//! updates already waiting cover [`BATCH_ENTRIES`] entries. Readers lose
//! nothing by the wait: the published snapshot carries the pending updates
//! until the store has applied them, and a crash in between loses nothing
//! either (the entries are in the log; opening the ledger replays them).
//!
//! After each batch, and whenever no update is waiting, the thread gives
//! the store its upkeep ([`StateStore::upkeep`]): the disk store's
//! compaction while in use, a bounded step at a time; after a batch as
//! many steps as keep a copy in pace with the entries applied
//! ([`upkeep_steps_after`]), while idle one step at a time until an
//! update arrives. While none is due it looks for one every
//! [`UPKEEP_IDLE`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use pledge_ledger::statemap::MapFloor;
use pledge_ledger::store::{LogRead, StateStore, StateUpdate, Upkeep, upkeep_steps_after};

use super::Published;
use crate::metrics::Metrics;

/// Entries waiting for the state store beyond which the apply thread does
/// not wait for more before writing them.
pub const BATCH_ENTRIES: u64 = 1024;

/// How often an idle apply thread asks the store whether upkeep is due.
pub const UPKEEP_IDLE: Duration = Duration::from_millis(250);

pub(super) struct ApplyStep<S: StateStore, R> {
    pub(super) state: S,
    pub(super) updates: std_mpsc::Receiver<Arc<StateUpdate>>,
    pub(super) published: Arc<Published<R, S::View>>,
    pub(super) failed: Arc<AtomicBool>,
    pub(super) wait: Duration,
    /// Whether the store's last upkeep left work to do now.
    pub(super) upkeep_working: bool,
    /// Where a compaction's outcome is counted.
    pub(super) metrics: Arc<Metrics>,
}

impl<S: StateStore, R: LogRead> ApplyStep<S, R> {
    pub(super) fn run(mut self) {
        while let Some(waiting) = self.next_batch() {
            let entries = entries(&waiting);
            let applied = match waiting.as_slice() {
                [only] => self.state.apply(only),
                several => self.state.apply(&merged(several)),
            };
            if let Err(error) = applied {
                tracing::error!(%error, "the state store failed: the node stops taking writes");
                self.failed.store(true, Ordering::Release);
                return;
            }
            self.published.applied(self.state.view());
            prune_map(&mut self.state, self.published.map_floor());
            self.upkeep_after(entries);
        }
        if let Err(error) = self.state.flush() {
            tracing::warn!(%error, "could not flush the state store; the next start replays");
        }
    }

    /// The updates to apply as one batch: the next one, and every one
    /// that arrives within `wait` of it, unless those already waiting
    /// cover [`BATCH_ENTRIES`]. `None` once the durable side has stopped
    /// and nothing is left.
    fn next_batch(&mut self) -> Option<Vec<Arc<StateUpdate>>> {
        let first = self.next_update()?;
        let mut batch = vec![first];
        batch.extend(self.updates.try_iter());
        if entries(&batch) < BATCH_ENTRIES && !self.wait.is_zero() {
            // One sleep rather than a wake-up per arriving update; the
            // durable thread does not wait meanwhile unless `APPLY_DEPTH`
            // updates arrive within `wait`.
            std::thread::sleep(self.wait);
            batch.extend(self.updates.try_iter());
        }
        Some(batch)
    }
}

impl<S: StateStore, R: LogRead> ApplyStep<S, R> {
    /// The next update, doing the store's upkeep while none comes: every
    /// [`UPKEEP_IDLE`], or back to back while it has work.
    fn next_update(&mut self) -> Option<Arc<StateUpdate>> {
        loop {
            let idle_wait = match self.upkeep_working {
                true => Duration::ZERO,
                false => UPKEEP_IDLE,
            };
            match self.updates.recv_timeout(idle_wait) {
                Ok(update) => return Some(update),
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(std_mpsc::RecvTimeoutError::Timeout) => self.upkeep(),
            }
        }
    }

    /// The store's upkeep after applying `entries`: as many steps as
    /// [`upkeep_steps_after`] gives while it has work, so that a copy
    /// keeps pace with a writer that is never idle.
    fn upkeep_after(&mut self, entries: u64) {
        for _ in 0..upkeep_steps_after(entries) {
            self.upkeep();
            if !self.upkeep_working {
                return;
            }
        }
    }

    /// One step of the store's upkeep. A failure is logged and changes
    /// nothing the readers see; the store drops that work.
    fn upkeep(&mut self) {
        let done = upkeep(&mut self.state, &self.metrics, |view| {
            self.published.applied(view)
        });
        self.upkeep_working = done == Upkeep::Working;
    }
}

/// One step of `state`'s upkeep; `publish` gets a new view when the store
/// has switched to new files, so that readers let go of the old ones. A
/// switch and a failure are counted in `metrics`.
pub fn upkeep<S: StateStore>(
    state: &mut S,
    metrics: &Metrics,
    publish: impl FnOnce(S::View),
) -> Upkeep {
    match state.upkeep() {
        Ok(Upkeep::Switched) => {
            tracing::info!("compacted the state database while running; reads use the copy");
            metrics.state_compaction("switched");
            publish(state.view());
            Upkeep::Switched
        }
        Ok(done) => done,
        Err(error) => {
            metrics.state_compaction("failed");
            tracing::warn!(
                %error,
                "the state database's upkeep failed; the state is unchanged (a compaction \
                 in progress is dropped and retried after more growth; a replaced database \
                 that cannot be removed is retried)"
            );
            Upkeep::Idle
        }
    }
}

/// Entries covered by consecutive updates.
fn entries(updates: &[Arc<StateUpdate>]) -> u64 {
    match (updates.first(), updates.last()) {
        (Some(first), Some(last)) => last.end - first.first,
        _ => 0,
    }
}

/// Drops the state map's versions below the floor the served checkpoints
/// and the proofs being built allow. A failure is logged and changes
/// nothing: the map is only kept longer.
pub fn prune_map<S: StateStore>(state: &mut S, floor: &MapFloor) {
    let floor = floor.advance();
    match state.prune_map(floor) {
        Ok(0) => {}
        Ok(dropped) => tracing::trace!(floor, dropped, "state map pruned"),
        Err(error) => tracing::warn!(%error, floor, "could not prune the state map"),
    }
}

/// Consecutive updates as one. They are copied: the published snapshot
/// still reads them until the state store has applied them.
fn merged(updates: &[Arc<StateUpdate>]) -> StateUpdate {
    let first = updates.first().map_or(0, |u| u.first);
    let mut merged = StateUpdate::starting_at(first);
    for update in updates {
        merged.merge(StateUpdate::clone(update));
    }
    merged
}
