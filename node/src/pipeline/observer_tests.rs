//! The alerts of a single node, learnt from the pipeline's durable groups
//! (each entry with what the decide thread found it changed) instead of
//! running the rules a second time: the same alerts, alert by alert, as
//! `alerts::derive` over the node's own log. Entries come in groups of
//! several envelopes (held behind a slow write), refused and recorded as
//! attempts, time-triggered, committed before the alerts start (in the log
//! and in the pipeline's channel both), and across a restart.

use std::sync::Mutex;
use std::time::Duration;

use pledge_ledger::alerts::{self, Alert, AlertPolicy, Trigger};
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::{AttemptPolicy, DiskLedger};
use pledge_ledger::model::Seq;
use pledge_ledger::store::log::{EntryLog, LogReader};
use pledge_ledger::store::{DiskStateView, LogStore, StoreError};
use pledge_ledger::{demo, ops, testing};
use pledge_proto::v1::transaction::Operation;

use super::*;
use crate::alerts::{AlertLog, Source, Watcher};

const LEDGER: &str = "pipeline-alerts";
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Receipts issued in the set-up, R-1 …
const RECEIPTS: usize = 24;

fn envelope(tx_id: &str, operation: Operation, signers: &[&str]) -> VerifiedEnvelope {
    let now = now_ms();
    let tx = ops::transaction(LEDGER, tx_id, (now - HOUR_MS, now + HOUR_MS), operation);
    testing::sign(&tx, signers)
        .verify()
        .expect("signed by demo keys")
}

/// trader-a pledges `receipt` to `bank`, maturing at `maturity_ms`.
fn pledge(pledge_id: &str, receipt: &str, bank: &str, maturity_ms: u64) -> VerifiedEnvelope {
    let operation = testing::pledge(pledge_id, receipt, bank, maturity_ms);
    envelope(pledge_id, operation, &["trader-a", bank])
}

fn in_90_days(pledge_id: &str, receipt: &str, bank: &str) -> VerifiedEnvelope {
    pledge(pledge_id, receipt, bank, now_ms() + 90 * DAY_MS)
}

fn release(pledge_id: &str, bank: &str) -> VerifiedEnvelope {
    let tx_id = format!("release-{pledge_id}");
    envelope(&tx_id, ops::release_pledge(pledge_id), &[bank])
}

/// A write held until the test lets it go.
struct Gate {
    entered: std_mpsc::Sender<()>,
    open: std_mpsc::Receiver<()>,
}

/// The node's entry log, whose next write after a gate is set waits at it.
struct GatedLog {
    log: EntryLog,
    gate: Arc<Mutex<Option<Gate>>>,
}

impl Durability for GatedLog {
    type Reader = LogReader;

    fn reader(&self) -> LogReader {
        LogStore::reader(&self.log)
    }

    fn make_durable(&mut self, first: Seq, records: &[&[u8]]) -> Result<(), StoreError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.entered.send(());
            let _ = gate.open.recv();
        }
        self.log.make_durable(first, records)
    }
}

/// The ledger in `dir` as the node opens it: on first open its genesis, a
/// tank of wh-1 and [`RECEIPTS`] receipts of trader-a's (R-1 expiring
/// within the warning period, the others in 180 days) and R-2 pledged to
/// bank-a, all appended before any pipeline runs.
fn opened(dir: &std::path::Path) -> DiskLedger {
    let (mut ledger, _) = DiskLedger::open_dir(dir, testing::node_key()).expect("opens");
    if !ledger.is_empty() {
        return ledger;
    }
    let mut setup = vec![
        envelope("genesis", testing::genesis_operation(), demo::QUORUM),
        envelope(
            "tank",
            testing::register_tank("T-1", "wh-1", 10_000_000),
            &["wh-1", demo::INSPECTOR],
        ),
    ];
    for n in 1..=RECEIPTS {
        let (cert, receipt) = (format!("CERT-{n}"), format!("R-{n}"));
        let certify = testing::certify_stock("T-1", &cert, 100_000, "trader-a", now_ms());
        setup.push(envelope(
            &cert,
            certify,
            &["wh-1", demo::INSPECTOR, "trader-a"],
        ));
        let days = if n == 1 { 10 } else { 180 };
        let issue = testing::issue(&receipt, "T-1", &cert, 100_000, now_ms() + days * DAY_MS);
        setup.push(envelope(&receipt, issue, &["wh-1"]));
    }
    setup.push(in_90_days("P-2", "R-2", "bank-a"));
    for envelope in setup {
        let results = ledger.append_group(&[envelope], now_ms()).expect("written");
        results[0].as_ref().expect("accepted");
    }
    ledger
}

/// A node over the ledger in `dir`: its pipeline (with the gate) and its
/// alerts, started once `before_alerts` has been submitted and answered.
struct TestNode {
    running: Running<LogReader, DiskStateView>,
    published: Arc<crate::NodePublished>,
    alerts: AlertLog,
    gate: Arc<Mutex<Option<Gate>>>,
}

impl TestNode {
    async fn start(dir: &std::path::Path, before_alerts: Vec<VerifiedEnvelope>) -> TestNode {
        let (log, state, decider) = opened(dir).into_parts();
        let gate = Arc::new(Mutex::new(None));
        let log = GatedLog {
            log,
            gate: gate.clone(),
        };
        let sizes = Sizes {
            max_group: 64,
            queue_depth: 64,
            attempts: AttemptPolicy {
                per_signer: 100,
                window_ms: HOUR_MS,
            },
            apply_wait: Duration::from_millis(2),
        };
        let (heads, _) = watch::channel(decider.head().next_seq);
        let (observer, groups) = observer_channel();
        let running =
            start(log, state, decider, sizes, heads, observer, Metrics::new()).expect("threads");
        for envelope in before_alerts {
            running.sequencer.submit(envelope).await.expect("written");
        }
        let published = running.published.clone();
        let source = Source::Pipeline(groups);
        let alerts = AlertLog::start(published.clone(), source, AlertPolicy::default())
            .expect("the alerts thread");
        TestNode {
            running,
            published,
            alerts,
            gate,
        }
    }

    async fn submit(&self, envelope: VerifiedEnvelope) -> Answer {
        self.running
            .sequencer
            .submit(envelope)
            .await
            .expect("written")
    }

    /// Submits `envelopes` while the write of `held` is held, so that the
    /// decide thread finds them all waiting and decides them as one group;
    /// returns their answers, in order.
    async fn submit_as_one_group(
        &self,
        held: VerifiedEnvelope,
        envelopes: Vec<VerifiedEnvelope>,
    ) -> Vec<Answer> {
        let (entered, at_gate) = std_mpsc::channel();
        let (open, gate) = std_mpsc::channel();
        *self.gate.lock().unwrap() = Some(Gate {
            entered,
            open: gate,
        });
        let held = self.spawn_submit(held);
        tokio::task::spawn_blocking(move || at_gate.recv())
            .await
            .unwrap()
            .expect("the held write reaches the gate");
        let queue = &self.running.sequencer.queue;
        let mut answers = Vec::new();
        for envelope in envelopes {
            // One at a time, so that they queue in this order.
            answers.push(self.spawn_submit(envelope));
            while queue.max_capacity() - queue.capacity() < answers.len() {
                tokio::task::yield_now().await;
            }
        }
        open.send(()).unwrap();
        held.await.unwrap().result.expect("accepted");
        let mut out = Vec::new();
        for answer in answers {
            out.push(answer.await.unwrap());
        }
        out
    }

    fn spawn_submit(&self, envelope: VerifiedEnvelope) -> tokio::task::JoinHandle<Answer> {
        let sequencer = self.running.sequencer.clone();
        tokio::spawn(async move { sequencer.submit(envelope).await.expect("written") })
    }

    /// Every alert, once the alerts have come to the published head.
    async fn alerts(&self) -> Vec<Alert> {
        let head = self.running.published.load().len();
        let progress = self.alerts.caught_up(head).await;
        assert_eq!(progress.failed_at, None, "the alerts stopped");
        let (alerts, _) = self
            .alerts
            .read(0, usize::MAX, &Watcher::All("regulator".into()));
        alerts
    }

    /// What `alerts::derive` gives over the node's log.
    fn derived(&self) -> Vec<Alert> {
        let ledger = self.running.published.load();
        let entries: Vec<Entry> = (0..ledger.len())
            .map(|seq| ledger.entry(seq).expect("readable"))
            .collect();
        alerts::derive(&entries, AlertPolicy::default()).expect("the chain derives")
    }

    async fn assert_alerts_are_derives(&self) -> Vec<Alert> {
        let node = self.alerts().await;
        let derived = self.derived();
        assert_eq!(node.len(), derived.len(), "{node:#?}\n{derived:#?}");
        for (ours, theirs) in node.iter().zip(&derived) {
            assert_eq!(ours, theirs, "alert {}", theirs.index);
        }
        node
    }

    /// Stops the pipeline, and waits for its threads and the alerts' to end
    /// (they hold the stores open).
    async fn stop(self) {
        let TestNode {
            running,
            published,
            alerts,
            ..
        } = self;
        drop(running.sequencer);
        for thread in running.threads {
            thread.join().expect("a pipeline thread panicked");
        }
        drop((running.published, alerts));
        while Arc::strong_count(&published) > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn kinds(alerts: &[Alert]) -> Vec<&'static str> {
    alerts.iter().map(|a| a.kind.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_alerts_from_decided_groups_are_derives_over_its_log_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Committed once the pipeline runs but before the alerts start: in the
    // log for the catch-up, and waiting in the pipeline's channel.
    let early = vec![
        in_90_days("P-3", "R-3", "bank-a"),
        in_90_days("P-3-AGAIN", "R-3", "bank-b"),
    ];
    let node = TestNode::start(dir.path(), early).await;

    // One group of several envelopes: pledges, a double pledge (refused,
    // recorded as an attempt), the same refusal again (no new entry), a
    // pledge of the receipt expiring within the warning period, a release,
    // and a pledge maturing in two seconds.
    let maturity = now_ms() + 2_000;
    let again = in_90_days("P-4-AGAIN", "R-4", "bank-b");
    let answers = node
        .submit_as_one_group(
            in_90_days("P-HELD", "R-24", "bank-b"),
            vec![
                in_90_days("P-4", "R-4", "bank-a"),
                in_90_days("P-5", "R-5", "bank-b"),
                again.clone(),
                again,
                in_90_days("P-1", "R-1", "bank-a"),
                release("P-2", "bank-a"),
                pledge("P-6", "R-6", "bank-a", maturity),
                in_90_days("P-7", "R-7", "bank-b"),
            ],
        )
        .await;
    let seqs: Vec<Option<Seq>> = answers
        .iter()
        .map(|a| a.result.as_ref().ok().map(|c| c.seq).or(a.attempt))
        .collect();
    let first = seqs[0].expect("P-4 committed");
    assert_eq!(
        seqs,
        [0, 1, 2, 2, 3, 4, 5, 6].map(|n| Some(first + n)),
        "one entry each, the refusal's attempt entry answered twice"
    );
    let times: std::collections::BTreeSet<u64> = answers
        .iter()
        .filter_map(|a| a.result.as_ref().ok())
        .map(|c| c.time_ms)
        .collect();
    assert_eq!(times.len(), 1, "decided as one group: {answers:?}");

    // Concurrent submissions, groups as they come.
    let racing: Vec<_> = (8..=15)
        .map(|n| node.spawn_submit(in_90_days(&format!("P-{n}"), &format!("R-{n}"), "bank-b")))
        .collect();
    for answer in racing {
        answer.await.unwrap().result.expect("accepted");
    }
    let before = node.assert_alerts_are_derives().await;
    for kind in [
        "DOUBLE_PLEDGE_ATTEMPT",
        "PLEDGED_RECEIPT_EXPIRING",
        "HOLDER_CONCENTRATION",
    ] {
        assert!(kinds(&before).contains(&kind), "{kind}: {before:#?}");
    }

    // Past P-6's maturity: the next entry raises it by the clock.
    while now_ms() <= maturity {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.submit(in_90_days("P-16", "R-16", "bank-a"))
        .await
        .result
        .expect("accepted");
    let after_maturity = node.assert_alerts_are_derives().await;
    let past_maturity: Vec<&Alert> = after_maturity
        .iter()
        .filter(|a| a.kind.as_str() == "PLEDGE_PAST_MATURITY")
        .collect();
    assert_eq!(past_maturity.len(), 1, "{after_maturity:#?}");
    assert_eq!(past_maturity[0].trigger, Trigger::Clock);
    assert_eq!(past_maturity[0].subject, "P-6");
    node.stop().await;

    // Restarted: the alerts catch up over the whole log, then follow the
    // pipeline again.
    let node = TestNode::start(dir.path(), vec![in_90_days("P-17", "R-17", "bank-a")]).await;
    assert_eq!(
        &node.alerts().await[..after_maturity.len()],
        &after_maturity[..],
        "the same alerts again after the restart"
    );
    node.submit_as_one_group(
        in_90_days("P-HELD-2", "R-23", "bank-b"),
        vec![
            in_90_days("P-18", "R-18", "bank-a"),
            in_90_days("P-18-AGAIN", "R-18", "bank-b"),
            release("P-6", "bank-a"),
        ],
    )
    .await;
    let restarted = node.assert_alerts_are_derives().await;
    assert!(
        restarted.len() > after_maturity.len(),
        "the double pledge and the release after the restart raise and clear alerts"
    );
    node.stop().await;
}
