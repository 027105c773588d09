//! Faults: SIGKILL under load over many rounds, SIGTERM under load, and data
//! directories that are locked, read-only or full.
//!
//! `PLEDGE_CRASH_ROUNDS` sets the number of kill rounds (default 3 in the
//! test suite; see README "Long-running checks" for the long form).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pledge_client::ops;
use pledge_ledger::entry::Entry;
use pledge_tests::{Node, binary};

use super::common::*;

/// An acknowledged write: its entry and hash, as the node answered.
type Acks = Arc<Mutex<BTreeMap<u64, Vec<u8>>>>;

/// Certifies stock from `writers` concurrent clients until the node goes away.
async fn load(
    node: &Node,
    writers: usize,
    round: usize,
    acks: &Acks,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let client = node.client().await;
        let signers = [
            node.signer("wh-1"),
            node.signer(super::common::INSPECTOR),
            node.signer("trader-a"),
        ];
        let acks = acks.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let cert = format!("C-{round}-{writer}-{n}");
                let op = super::common::certify(&cert, 1);
                let tx = ops::TxHeader::new("zhoushan-dev", "wh-1").unwrap().wrap(op);
                match client
                    .submit(&pledge_client::keys::sign(&tx, &signers))
                    .await
                {
                    Ok(answer) => {
                        acks.lock().unwrap().insert(answer.seq, answer.entry_hash);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tasks
}

/// Every acknowledged entry is in the chain with the hash the node gave,
/// the chain replays, and the node's state equals the replay's.
async fn check_acknowledged(node: &Node, acks: &Acks) {
    use tokio_stream::StreamExt;
    let client = node.client().await;
    let info = client.node_info().await.unwrap();
    let node_key = pledge_ledger::crypto::PublicKey::from_slice(&info.node_public_key).unwrap();
    let mut replayer = pledge_ledger::replay::Replayer::new(Some(node_key));
    let mut hashes = Vec::new();
    let mut stream = client.entries(0, false).await.unwrap();
    while let Some(record) = stream.next().await {
        let record = record.unwrap().record;
        replayer
            .push_record(&record)
            .unwrap_or_else(|e| panic!("replay failed: {e}"));
        hashes.push(Entry::decode(&record).unwrap().hash().0.to_vec());
    }
    for (seq, hash) in acks.lock().unwrap().iter() {
        let found = hashes.get(*seq as usize);
        assert_eq!(
            found,
            Some(hash),
            "acknowledged entry {seq} lost or changed ({} entries)",
            hashes.len()
        );
    }
    let tank = client.tank("T-101").await.unwrap();
    let replayed = &replayer.state().tanks["T-101"];
    assert_eq!(
        (tank.certified_kg, tank.receipted_kg),
        (replayed.certified_kg, replayed.receipted_kg)
    );
    assert_eq!(replayer.entries(), client.head().await.unwrap().size);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_acknowledged_is_lost_when_the_node_is_killed_under_load() {
    let rounds: usize = std::env::var("PLEDGE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let acks: Acks = Arc::default();
    let mut seed = now_ms();
    for round in 0..rounds {
        let node = Node::start(dir.path());
        let tasks = load(&node, 8, round, &acks).await;
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 50 + (seed >> 33) % 400;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let last_round = round + 1 == rounds;
        if last_round {
            assert!(
                node.terminate().success(),
                "SIGTERM under load must exit cleanly"
            );
        } else {
            node.kill();
        }
        for task in tasks {
            task.await.unwrap();
        }
        let node = Node::start(dir.path());
        check_acknowledged(&node, &acks).await;
        node.kill();
    }
    eprintln!(
        "{rounds} kill rounds, {} acknowledged entries checked",
        acks.lock().unwrap().len()
    );
    assert!(!acks.lock().unwrap().is_empty());
}

fn start_fails(data_dir: &Path) -> String {
    let output = Command::new(binary("pledge-node"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the node started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn a_little_history(dir: &Path) -> pledge_proto::v1::Head {
    let node = Node::start(dir);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000).await;
    let head = client.head().await.unwrap();
    assert!(node.terminate().success());
    head
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_in_use_by_another_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let error = start_fails(dir.path());
    assert!(
        error.contains("lock") || error.contains("in use"),
        "{error}"
    );
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_directory_is_refused_and_left_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let head = a_little_history(&data).await;
    let read_only = dir.path().join("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    let mounted = Command::new("mount")
        .arg("--bind")
        .arg(&data)
        .arg(&read_only)
        .status()
        .unwrap();
    assert!(mounted.success(), "bind mount (the tests run as root)");
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro,bind"])
        .arg(&read_only)
        .status()
        .unwrap();
    let error = start_fails(&read_only);
    let _ = Command::new("umount").arg(&read_only).status();
    assert!(remounted.success());
    assert!(error.contains("Read-only file system"), "{error}");
    let node = Node::start(&data);
    let client = node.client().await;
    assert_eq!(client.head().await.unwrap(), head);
    replay_from_node(&client).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_refused_at_start_and_left_intact() {
    let dir = tempfile::tempdir().unwrap();
    let head = a_little_history(dir.path()).await;
    // Files may not grow past 16 KiB: the state database cannot be opened.
    let script = "ulimit -f 16; trap '' XFSZ; exec \"$0\" \"$@\"";
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(binary("pledge-node"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "the node started on a full disk");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("File too large") && error.contains("cannot open the ledger"),
        "{error}"
    );
    let node = Node::start(dir.path());
    let client = node.client().await;
    assert_eq!(client.head().await.unwrap(), head);
    replay_from_node(&client).await;
}

/// A certificate envelope for `n`, signed by everyone it needs.
fn certificate(node: &Node, n: usize) -> pledge_ledger::envelope::Envelope {
    let signers = ["wh-1", INSPECTOR, "trader-a"].map(|id| node.signer(id));
    let tx = pledge_client::ops::TxHeader::new(pledge_tests::DEV_LEDGER_ID, "wh-1")
        .unwrap()
        .wrap(certify(&format!("SGS-FULL-{n}"), 1));
    pledge_client::keys::sign(&tx, &signers)
}

/// The health service's answer for `service`.
async fn health_of(node: &Node, service: &str) -> i32 {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// What the submitters of a filling store were told.
#[derive(Default)]
struct Filled {
    /// Acknowledged, with the sequence number given.
    acknowledged: Vec<(pledge_ledger::envelope::Envelope, u64)>,
    /// `OUTCOME_UNKNOWN`: may or may not be in the chain.
    unknown: Vec<pledge_ledger::envelope::Envelope>,
    /// `STORE_FAILED` or `NOT_ACCEPTING_WRITES`: not written.
    not_written: Vec<pledge_ledger::envelope::Envelope>,
}

/// Submits one certificate at a time until three are refused as not
/// written (the store failed).
async fn fill_until_refused(node: &Node, client: &pledge_client::LedgerClient) -> Filled {
    let mut filled = Filled::default();
    let reached = tokio::time::timeout(Duration::from_secs(240), async {
        for n in 0..20_000 {
            let envelope = certificate(node, n);
            match client.submit(&envelope).await {
                Ok(answer) => filled.acknowledged.push((envelope, answer.seq)),
                Err(error) => {
                    let (code, reason, message) = refusal(&error);
                    assert_eq!(code, tonic::Code::Unavailable, "{message}");
                    match reason.as_str() {
                        "OUTCOME_UNKNOWN" => filled.unknown.push(envelope),
                        "STORE_FAILED" | "NOT_ACCEPTING_WRITES" => {
                            filled.not_written.push(envelope)
                        }
                        other => panic!("refused with {other}: {message}"),
                    }
                    if filled.not_written.len() >= 3 {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(reached.is_ok(), "the file-size limit was never reached");
    eprintln!(
        "acknowledged {}, outcome unknown {}, not written {}",
        filled.acknowledged.len(),
        filled.unknown.len(),
        filled.not_written.len()
    );
    assert!(!filled.acknowledged.is_empty());
    filled
}

/// Waits (up to ten seconds) for health to say `NOT_SERVING`, and checks
/// it says so for the server as a whole too.
async fn health_turns_not_serving(node: &Node) {
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut status = ServingStatus::Serving as i32;
    for _ in 0..100 {
        status = health_of(node, "pledgeledger.v1.LedgerService").await;
        if status == ServingStatus::NotServing as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, ServingStatus::NotServing as i32);
    assert_eq!(health_of(node, "").await, ServingStatus::NotServing as i32);
}

/// After the node is back with room: everything acknowledged is there,
/// nothing refused as not written is, and the chain verifies.
async fn check_after_the_fill(client: &pledge_client::LedgerClient, filled: &Filled) {
    for (envelope, seq) in &filled.acknowledged {
        let again = client.submit(envelope).await.unwrap();
        assert!(again.duplicate && again.seq == *seq, "{again:?}");
    }
    for envelope in &filled.not_written {
        let again = client.submit(envelope).await.unwrap();
        assert!(!again.duplicate, "refused as not written, but committed");
    }
    for envelope in &filled.unknown {
        client.submit(envelope).await.unwrap();
    }
    replay_from_node(client).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_fills_up_refuses_writes_says_what_is_unknown_and_serves_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    // No file may grow past 700 kB: the node starts, and a write fails
    // after some hundreds of entries (SIGXFSZ must not kill it: the write fails with
    // EFBIG, as it would with ENOSPC on a full disk).
    let node = Node::start_wrapped(&["prlimit", "--fsize=700000", "--"], &data, &[]);
    let client = node.client().await;
    let filled = fill_until_refused(&node, &client).await;

    // The node is up, says writes are refused, and answers reads.
    health_turns_not_serving(&node).await;
    let head = client.head().await.unwrap();
    let last = filled.acknowledged.last().unwrap().1;
    assert!(head.size > last, "{head:?}");
    client.entry(last).await.unwrap();
    client.node_info().await.unwrap();

    // After a restart with room again: everything acknowledged is there,
    // nothing refused as not written is, and the chain verifies.
    node.kill();
    let node = Node::start(&data);
    check_after_the_fill(&node.client().await, &filled).await;
}

/// The health service's answer for `service`, or `None` while the node
/// does not answer (it is starting again).
async fn health_if_up(node: &Node, service: &str) -> Option<i32> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .connect()
        .await
        .ok()?;
    let request = HealthCheckRequest {
        service: service.into(),
    };
    let answer = HealthClient::new(channel).check(request).await.ok()?;
    Some(answer.into_inner().status)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_fills_up_resumes_writes_by_itself_when_there_is_room_again() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    // A soft limit of 700 kB under an unlimited hard one: the limit can
    // be lifted later without privileges.
    let node = Node::start_wrapped(
        &["prlimit", "--fsize=700000:unlimited", "--"],
        &data,
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let pid = node.pid();
    let client = node.client().await;
    let filled = fill_until_refused(&node, &client).await;
    health_turns_not_serving(&node).await;
    // Still refused while the limit holds: the node waits for room.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !node.log().contains("restarting in place"),
        "{}",
        node.log()
    );

    // Room again: the limit is lifted on the running process.
    let lifted = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=unlimited"])
        .status()
        .unwrap();
    assert!(lifted.success());
    let serving = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let status = health_if_up(&node, "pledgeledger.v1.LedgerService").await;
            if status == Some(ServingStatus::Serving as i32) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(serving.is_ok(), "not serving again: {}", node.log());
    assert_eq!(
        health_if_up(&node, "").await,
        Some(ServingStatus::Serving as i32)
    );

    // The same process, on the same port, restarted itself once.
    assert_eq!(node.pid(), pid);
    assert!(
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .unwrap()
            .ends_with("pledge-node")
    );
    let log = node.log();
    assert_eq!(
        log.matches("restarting in place to resume writes").count(),
        1,
        "{log}"
    );
    let metrics = node.metrics();
    assert!(
        metrics.contains("pledge_restarts_after_store_failure_total 1"),
        "{metrics}"
    );

    // It takes new writes, and nothing acknowledged before is lost.
    let client = node.client().await;
    let fresh = client.submit(&certificate(&node, 30_000)).await.unwrap();
    assert!(!fresh.duplicate);
    check_after_the_fill(&client, &filled).await;
}
