//! The pipeline when making a group durable fails: its submitters are told
//! the outcome is unknown, nothing after it is written or acknowledged, and
//! the pipeline says it takes no more writes.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::MemoryLedger;
use pledge_ledger::model::Seq;
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

/// A pipeline over a ledger holding its genesis, whose log fails from the
/// `fail_from`-th group on.
fn pipeline_failing_from(
    fail_from: usize,
) -> Running<<MemoryLog as LogStore>::Reader, impl StateView> {
    let mut ledger = MemoryLedger::in_memory(testing::node_key());
    let genesis = envelope("genesis", testing::genesis_operation(), demo::QUORUM);
    ledger
        .append_owned(vec![genesis], now_ms())
        .expect("genesis");
    let (log, state, decider) = ledger.into_parts();
    let durability = FailingLog {
        log,
        calls: 0,
        fail_from,
    };
    let sizes = Sizes {
        max_group: 1,
        queue_depth: 16,
        attempts: pledge_ledger::ledger::AttemptPolicy::OFF,
    };
    let (heads, _) = watch::channel(1);
    start(durability, state, decider, sizes, heads, Metrics::new()).expect("threads")
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
