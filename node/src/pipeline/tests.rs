//! The pipeline when making a group durable fails: its submitters are told
//! the outcome is unknown, nothing after it is written or acknowledged, and
//! the pipeline says it takes no more writes. And the state store's writer:
//! acknowledgements and reads do not wait for it, it writes the groups that
//! waited for it as one batch, and it has written everything once the
//! pipeline has stopped.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::MemoryLedger;
use pledge_ledger::model::Seq;
use pledge_ledger::state::StateRead;
use pledge_ledger::store::log::LogError;
use pledge_ledger::store::{LogStore, MemoryLog, StoreError};
use pledge_ledger::{demo, ops, testing};
use pledge_proto::v1::transaction::Operation;

use super::*;
use crate::status;

const LEDGER: &str = "pipeline-faults";
const HOUR_MS: u64 = 3_600_000;

/// A memory log whose appends fail from the `fail_from`-th call on (the
/// first call is 1), as a disk that fills up would.
struct FailingLog {
    log: MemoryLog,
    calls: usize,
    fail_from: usize,
}

impl Durability for FailingLog {
    type Reader = <MemoryLog as LogStore>::Reader;

    fn reader(&self) -> Self::Reader {
        LogStore::reader(&self.log)
    }

    fn make_durable(&mut self, first: Seq, records: &[&[u8]]) -> Result<(), StoreError> {
        self.calls += 1;
        if self.calls >= self.fail_from {
            return Err(StoreError::Log(LogError::Io {
                op: "write group",
                path: PathBuf::from("log/00000000.log"),
                source: io::Error::other("no space left on device"),
            }));
        }
        self.log.make_durable(first, records)
    }
}

fn envelope(tx_id: &str, operation: Operation, signers: &[&str]) -> VerifiedEnvelope {
    let now = now_ms();
    let tx = ops::transaction(LEDGER, tx_id, (now - HOUR_MS, now + HOUR_MS), operation);
    testing::sign(&tx, signers)
        .verify()
        .expect("signed by demo keys")
}

fn tank(tank_id: &str) -> VerifiedEnvelope {
    let operation = testing::register_tank(tank_id, "wh-1", 10_000_000);
    envelope(tank_id, operation, &["wh-1", demo::INSPECTOR])
}

/// A state store whose first `apply` waits until `gate`'s sender sends or
/// is dropped, and which records the entries every `apply` covered.
struct GatedState<S> {
    state: S,
    gate: Option<std_mpsc::Receiver<()>>,
    applied: Arc<Mutex<Vec<(Seq, Seq)>>>,
}

impl<S: StateStore> StateStore for GatedState<S> {
    type View = S::View;

    fn applied(&self) -> u64 {
        self.state.applied()
    }

    fn view(&self) -> S::View {
        self.state.view()
    }

    fn apply(&mut self, update: &StateUpdate) -> Result<(), StoreError> {
        if let Some(gate) = self.gate.take() {
            let _ = gate.recv();
        }
        let mut applied = self.applied.lock().unwrap();
        applied.push((update.first, update.end));
        self.state.apply(update)
    }

    fn prune_map(&mut self, floor: u64) -> Result<u64, StoreError> {
        self.state.prune_map(floor)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.state.clear()
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.state.flush()
    }
}

/// The parts of a ledger holding its genesis.
fn genesis_parts() -> (MemoryLog, impl StateStore, Decider) {
    let mut ledger = MemoryLedger::in_memory(testing::node_key());
    let genesis = envelope("genesis", testing::genesis_operation(), demo::QUORUM);
    ledger
        .append_owned(vec![genesis], now_ms())
        .expect("genesis");
    ledger.into_parts()
}

fn sizes(apply_wait: Duration) -> Sizes {
    Sizes {
        max_group: 1,
        queue_depth: 16,
        attempts: pledge_ledger::ledger::AttemptPolicy::OFF,
        apply_wait,
    }
}

/// A pipeline over a ledger holding its genesis, whose log fails from the
/// `fail_from`-th group on.
fn pipeline_failing_from(
    fail_from: usize,
) -> Running<<MemoryLog as LogStore>::Reader, impl StateView> {
    let (log, state, decider) = genesis_parts();
    let durability = FailingLog {
        log,
        calls: 0,
        fail_from,
    };
    let sizes = sizes(Duration::from_millis(5));
    let (heads, _) = watch::channel(1);
    start(
        durability,
        state,
        decider,
        sizes,
        heads,
        None,
        Metrics::new(),
    )
    .expect("threads")
}

/// Stops the pipeline (every submission handle dropped) and waits for its
/// threads to end.
fn stop<R, V>(running: Running<R, V>) {
    drop(running.sequencer);
    for thread in running.threads {
        thread.join().expect("a pipeline thread panicked");
    }
}

#[tokio::test]
async fn a_failed_write_is_unknown_to_its_submitter_and_nothing_after_it_is_acknowledged() {
    let running = pipeline_failing_from(2);
    let writes = running.sequencer.writes();

    let first = running
        .sequencer
        .submit(tank("t-1"))
        .await
        .expect("written")
        .result
        .expect("accepted");
    assert_eq!(first.seq, 1);
    assert!(writes.accepted());

    let failed = running.sequencer.submit(tank("t-2")).await.unwrap_err();
    assert!(
        matches!(failed, SequencerError::OutcomeUnknown { .. }),
        "{failed:?}"
    );
    assert!(failed.to_string().contains("no space left"), "{failed}");
    assert_eq!(status::sequencer(&failed).code(), tonic::Code::Unavailable);

    let after = running.sequencer.submit(tank("t-3")).await.unwrap_err();
    assert!(
        matches!(
            after,
            SequencerError::Stopped { .. } | SequencerError::Store { .. }
        ),
        "a submission after the failure is refused as not written: {after:?}"
    );
    for _ in 0..100 {
        if !writes.accepted() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !writes.accepted(),
        "the pipeline still says it takes writes"
    );
    assert_eq!(
        running.published.load().head().next_seq,
        2,
        "only the genesis and the first tank are published"
    );
}

#[tokio::test]
async fn acknowledgements_and_reads_do_not_wait_for_the_state_store() {
    let (log, state, decider) = genesis_parts();
    let (open_gate, gate) = std_mpsc::channel();
    let applied = Arc::new(Mutex::new(Vec::new()));
    let state = GatedState {
        state,
        gate: Some(gate),
        applied: applied.clone(),
    };
    let (heads, _) = watch::channel(1);
    let sizes = sizes(Duration::ZERO);
    let running = start(log, state, decider, sizes, heads, None, Metrics::new()).expect("threads");

    for (seq, tank_id) in [(1, "t-1"), (2, "t-2"), (3, "t-3")] {
        let answer = running
            .sequencer
            .submit(tank(tank_id))
            .await
            .expect("written");
        assert_eq!(answer.result.expect("accepted").seq, seq);
    }
    let snapshot = running.published.load();
    assert_eq!(
        snapshot.head().next_seq,
        4,
        "every acknowledged group is published"
    );
    assert_eq!(
        snapshot.committed_size(),
        1,
        "the state store has applied nothing yet: its first write is held"
    );
    for tank_id in ["t-1", "t-2", "t-3"] {
        let found = snapshot.tank(tank_id).expect("readable");
        assert!(
            found.is_some(),
            "{tank_id} is read from the pending updates"
        );
    }
    drop(snapshot);

    // Every update is queued for the state store once the decide and
    // durable threads have ended; then its first write may go on.
    let published = running.published.clone();
    drop(running.sequencer);
    let mut threads = running.threads.into_iter();
    let apply_thread = threads.next_back().expect("the apply thread");
    for thread in threads {
        thread.join().expect("a pipeline thread panicked");
    }
    drop(open_gate);
    apply_thread.join().expect("the apply thread panicked");
    let batches = applied.lock().unwrap().clone();
    assert!(
        batches.len() < 3,
        "the groups that waited were written as one batch: {batches:?}"
    );
    let covered: Vec<Seq> = batches
        .iter()
        .flat_map(|&(first, end)| first..end)
        .collect();
    assert_eq!(
        covered,
        vec![1, 2, 3],
        "every entry applied once, in order: {batches:?}"
    );
    let snapshot = published.load();
    assert_eq!(snapshot.committed_size(), 4);
    assert!(snapshot.pending().is_empty(), "nothing is left pending");
}

#[tokio::test]
async fn a_stopped_pipeline_has_written_every_group_to_the_state_store() {
    let (log, state, decider) = genesis_parts();
    let (heads, _) = watch::channel(1);
    let sizes = sizes(Duration::from_millis(50));
    let running = start(log, state, decider, sizes, heads, None, Metrics::new()).expect("threads");

    for tank_id in ["t-1", "t-2"] {
        let answer = running
            .sequencer
            .submit(tank(tank_id))
            .await
            .expect("written");
        answer.result.expect("accepted");
    }
    let published = running.published.clone();
    stop(running);

    let snapshot = published.load();
    assert_eq!(snapshot.head().next_seq, 3);
    assert_eq!(
        snapshot.committed_size(),
        3,
        "the state store's writer wrote what it was waiting with before it ended"
    );
    assert!(snapshot.pending().is_empty());
}

#[tokio::test]
async fn a_pipeline_refusing_writes_from_the_start_writes_nothing_and_says_why() {
    let mut running = pipeline_failing_from(usize::MAX);
    running.refuse_writes("the node started read-only: the disk is full");
    let writes = running.sequencer.writes();
    assert!(!writes.accepted(), "the pipeline says it takes writes");

    let refused = running.sequencer.submit(tank("t-1")).await.unwrap_err();
    assert!(
        matches!(&refused, SequencerError::Stopped { reason } if reason.contains("read-only")),
        "{refused:?}"
    );
    let answer = status::sequencer(&refused);
    assert_eq!(answer.code(), tonic::Code::Unavailable);
    assert!(answer.message().contains("the disk is full"), "{answer:?}");
    assert_eq!(
        running.published.load().head().next_seq,
        1,
        "only the genesis is published"
    );
}
