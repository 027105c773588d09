//! A member's ledger as the cluster's state machine sees it: committed
//! groups are checked against the chain head and appended to the entry
//! log, then the state store catches up by replaying them, and readers get
//! the new snapshot.
//!
//! ```text
//!   openraft apply(Group) ──▶ MemberChain::apply_group
//!                               │ each entry: seq, previous-hash link, time, seal (a key allowed
//!                               │   there: a voter's of the membership in force, docs/FORMAT.md §3.1)
//!                               │ entries the chain already holds: byte for byte the same, or a fault
//!                               │ EntryLog::append (fdatasync)
//!                               │ catch_up: the state store replays the new entries with the rules
//!                               ▼
//!                             Published::caught_up(head, state)   readers see head and state together
//! ```
//!
//! The state store's upkeep (its compaction while in use) is taken in
//! pace with the entries applied, after each group, and by
//! [`spawn_idle_upkeep`]'s thread while no group has come for
//! [`UPKEEP_IDLE`]: a member that stops receiving groups still finishes a
//! compaction and removes the database it replaced.

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use pledge_cluster::network::ChainRecords;
use pledge_cluster::state_machine::{Chain, ChainFault};
use pledge_cluster::types::{Group, StateSnapshot};
use pledge_ledger::chain::{ChainCursor, Sealers};
use pledge_ledger::ledger::catch_up;
use pledge_ledger::store::log::{EntryLog, LogReader};
use pledge_ledger::store::{
    DiskStateStore, LogRead, LogStore, StateStore, Upkeep, upkeep_steps_after,
};
use pledge_ledger::view::LedgerRead;
use tokio::sync::watch;

use crate::NodePublished;
use crate::metrics::Metrics;
use crate::pipeline::UPKEEP_IDLE;

/// A member's entry log and state store, driven by committed groups.
#[derive(Debug)]
pub struct MemberChain {
    log: EntryLog,
    state: DiskStateStore,
    head: ChainCursor,
    sealers: Sealers,
    published: Arc<NodePublished>,
    heads: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    /// When the state last caught up with an applied group.
    last_applied: Instant,
}

impl MemberChain {
    /// The chain over an opened, recovered ledger whose next entry may be
    /// sealed by `sealers`.
    pub fn new(
        log: EntryLog,
        state: DiskStateStore,
        head: ChainCursor,
        sealers: Sealers,
        heads: watch::Sender<u64>,
        metrics: Arc<Metrics>,
    ) -> MemberChain {
        let published = Arc::new(NodePublished::new(head, log.reader(), state.view()));
        MemberChain {
            log,
            state,
            head,
            sealers,
            published,
            heads,
            metrics,
            last_applied: Instant::now(),
        }
    }

    /// What readers read.
    pub fn published(&self) -> Arc<NodePublished> {
        self.published.clone()
    }

    /// Reads records for snapshots sent to other members.
    pub fn records(&self) -> LogRecords {
        LogRecords(self.log.reader())
    }

    /// A record the chain holds must be the one the group carries.
    fn check_held(&self, seq: u64, record: &[u8]) -> Result<(), ChainFault> {
        let held = self.log.reader().read(seq).map_err(fault)?;
        if held != record {
            return Err(ChainFault(format!(
                "entry {seq} of a committed group differs from the one this member holds"
            )));
        }
        Ok(())
    }

    /// Checks `records` (entries `first ..`) against the head and appends
    /// the ones the chain lacks.
    fn append_checked<'a>(
        &mut self,
        first: u64,
        records: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(), ChainFault> {
        let mut cursor = self.head;
        let mut sealers = self.sealers.clone();
        let mut fresh = Vec::new();
        for (offset, record) in records.enumerate() {
            let seq = first + offset as u64;
            if seq < self.head.next_seq {
                self.check_held(seq, record)?;
                continue;
            }
            let entry = cursor.check_record(record, None).map_err(fault)?;
            sealers.check(&entry, &cursor.head_hash).map_err(fault)?;
            sealers.follow(&entry);
            fresh.push(record);
        }
        if fresh.is_empty() {
            return Ok(());
        }
        self.log.append(&fresh).map_err(fault)?;
        self.head = cursor;
        self.sealers = sealers;
        self.catch_up()
    }

    /// Replays into the state store what it lacks and publishes the result.
    fn catch_up(&mut self) -> Result<(), ChainFault> {
        let before = self.state.applied();
        catch_up(&self.log, &mut self.state).map_err(fault)?;
        self.published.caught_up(self.head, self.state.view());
        crate::pipeline::prune_map(&mut self.state, self.published.map_floor());
        // The state's compaction in pace with the entries applied (and,
        // while no group comes, by the idle thread: spawn_idle_upkeep).
        for _ in 0..upkeep_steps_after(self.state.applied() - before) {
            if self.upkeep() != Upkeep::Working {
                break;
            }
        }
        self.last_applied = Instant::now();
        self.heads.send_replace(self.head.next_seq);
        self.metrics.set_chain_size(self.head.next_seq);
        Ok(())
    }

    /// One step of the state store's upkeep; readers get the new view
    /// after a switch.
    fn upkeep(&mut self) -> Upkeep {
        let head = self.head;
        crate::pipeline::upkeep(&mut self.state, &self.metrics, |view| {
            self.published.caught_up(head, view)
        })
    }

    /// One step of the upkeep if no group has come for [`UPKEEP_IDLE`];
    /// `None` if one has.
    fn idle_upkeep(&mut self) -> Option<Upkeep> {
        (self.last_applied.elapsed() >= UPKEEP_IDLE).then(|| self.upkeep())
    }
}

/// Starts the thread that takes `chain`'s upkeep steps while the member is
/// idle (module documentation): back to back while a step leaves more to
/// do, else every [`UPKEEP_IDLE`]; the lock is let go between steps, so a
/// group that comes waits for one step at most. It ends when the chain is
/// dropped.
pub fn spawn_idle_upkeep(chain: Weak<Mutex<MemberChain>>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("state-upkeep".into())
        .spawn(move || {
            loop {
                let Some(chain) = chain.upgrade() else { return };
                let done = match chain.lock() {
                    Ok(mut chain) => chain.idle_upkeep(),
                    Err(_) => return,
                };
                drop(chain);
                if done != Some(Upkeep::Working) {
                    std::thread::sleep(UPKEEP_IDLE);
                }
            }
        })
        .map(drop)
}

fn fault(error: impl std::fmt::Display) -> ChainFault {
    ChainFault(error.to_string())
}

impl Chain for MemberChain {
    fn position(&self) -> ChainCursor {
        self.head
    }

    fn apply_group(&mut self, group: &Group) -> Result<(), ChainFault> {
        let records = group.entries.iter().map(|s| s.record.as_slice());
        self.append_checked(group.first_seq, records)
    }

    fn sync(&mut self) -> Result<(), ChainFault> {
        // Every append was synced already: the entry log's append is durable.
        Ok(())
    }

    fn export(&self) -> Result<StateSnapshot, ChainFault> {
        let root = self
            .published
            .load()
            .tree_root(self.head.next_seq)
            .map_err(fault)?;
        // The state travels as the chain itself: a member installing the
        // snapshot replays the records it lacks with the full rules.
        Ok(StateSnapshot::at(self.head, root, Vec::new()))
    }

    fn install(&mut self, snapshot: &StateSnapshot) -> Result<(), ChainFault> {
        if snapshot.records_from > self.head.next_seq {
            return Err(ChainFault(format!(
                "the snapshot's records start at entry {}, after this member's head {}",
                snapshot.records_from, self.head.next_seq
            )));
        }
        let records = snapshot.records.iter().map(Vec::as_slice);
        self.append_checked(snapshot.records_from, records)?;
        if self.head.next_seq < snapshot.position.next_seq {
            return Err(ChainFault(format!(
                "the snapshot's records end at {}, its position is {}",
                self.head.next_seq, snapshot.position.next_seq
            )));
        }
        let size = snapshot.position.next_seq;
        let root = self.published.load().tree_root(size).map_err(fault)?;
        if root != snapshot.tree_root {
            return Err(ChainFault(format!(
                "the Merkle root at size {size} differs from the snapshot's"
            )));
        }
        Ok(())
    }
}

/// A member's records, for the snapshots it sends.
#[derive(Debug, Clone)]
pub struct LogRecords(LogReader);

impl ChainRecords for LogRecords {
    fn records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, ChainFault> {
        self.0
            .read_range(from, to)
            .map(|item| item.map(|(_, record)| record).map_err(fault))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pledge_ledger::ledger::DiskLedger;
    use pledge_ledger::{demo, ops, testing};

    use super::*;
    use crate::pipeline::now_ms;

    /// A member that gets no more groups still finishes a compaction it
    /// began and removes the database it replaced (the idle thread's
    /// steps; without them both would stay until the next group).
    #[test]
    fn an_idle_member_finishes_a_compaction_and_removes_the_old_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut ledger, _) = DiskLedger::open_dir(dir.path(), testing::node_key()).expect("open");
        let now = now_ms();
        let genesis = ops::transaction(
            "member-upkeep",
            "genesis",
            (now - 60_000, now + 60_000),
            testing::genesis_operation(),
        );
        let genesis = testing::sign(&genesis, demo::QUORUM)
            .verify()
            .expect("signed by demo keys");
        ledger.append_owned(vec![genesis], now).expect("genesis");
        let ledger_key = ledger.node_public_key();
        let (log, mut state, decider) = ledger.into_parts();
        assert!(state.begin_compaction().expect("begin"));
        let metrics = Metrics::new();
        let chain = MemberChain::new(
            log,
            state,
            decider.head(),
            Sealers::ledger_key(ledger_key),
            watch::channel(0).0,
            metrics.clone(),
        );
        let chain = Arc::new(Mutex::new(chain));
        spawn_idle_upkeep(Arc::downgrade(&chain)).expect("spawn");

        let old_db = dir.path().join("state").join("db");
        let done = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            let generation = chain.lock().expect("lock").state.live_generation().0;
            generation == 1 && !old_db.exists()
        });
        assert!(
            done,
            "the member's state is still on generation 0 or keeps it"
        );
        let page = metrics.render();
        assert!(
            page.contains("pledge_state_compactions_total{outcome=\"switched\"} 1\n"),
            "{page}"
        );
    }
}
