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

/// Kill rounds: `PLEDGE_CRASH_ROUNDS`, else 3.
fn crash_rounds() -> usize {
    std::env::var("PLEDGE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_acknowledged_is_lost_when_the_node_is_killed_under_load() {
    let rounds = crash_rounds();
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

/// The generations of the state database in `data_dir`: the number
/// `state/CURRENT` names (0 without it) and every `sled.N` directory there.
fn state_generations(data_dir: &Path) -> (u64, Vec<String>) {
    let state = data_dir.join("ledger/state");
    let live = std::fs::read_to_string(state.join("CURRENT")).map_or(0, |text| {
        let name = text.split(' ').next().unwrap();
        name.trim_start_matches("sled.").parse().unwrap()
    });
    let mut dirs: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("sled."))
        .collect();
    dirs.sort();
    (live, dirs)
}

/// A node that compacts its state database whenever its file has grown by
/// 10 % (from 0 MiB on), killed under load at random moments, mid-copy or
/// mid-switch as it falls: nothing acknowledged is lost, the state equals
/// the replay, and opening leaves the one live generation.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_compacting_its_state_loses_nothing_when_killed_under_load() {
    let rounds = crash_rounds();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[limits]\nstate_compact_min_mb = 0\nstate_compact_growth_percent = 10\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let data = dir.path().join("data");
    let acks: Acks = Arc::default();
    let mut seed = now_ms();
    let mut counted = 0;
    for round in 0..rounds {
        let args = ["--config", config, "--metrics-listen", "127.0.0.1:0"];
        let node = Node::start_with(&data, &args);
        let tasks = load(&node, 8, round, &acks).await;
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(500 + (seed >> 33) % 1500)).await;
        let metrics = node.metrics();
        counted += counter(
            &metrics,
            "pledge_state_compactions_total{outcome=\"switched\"}",
        );
        let failed = counter(
            &metrics,
            "pledge_state_compactions_total{outcome=\"failed\"}",
        );
        assert_eq!(failed, 0, "round {round}: {metrics}");
        node.kill();
        for task in tasks {
            task.await.unwrap();
        }
        // Checked by a node that does not compact: its opening removed
        // every generation but the live one, and nothing makes another.
        let node = Node::start(&data);
        check_acknowledged(&node, &acks).await;
        let (live, dirs) = state_generations(&data);
        let expected: Vec<String> = match live {
            0 => vec![],
            n => vec![format!("sled.{n}")],
        };
        assert_eq!(dirs, expected, "round {round}: generation {live} is live");
        node.kill();
    }
    let (live, _) = state_generations(&data);
    let log = std::fs::read_to_string(data.join("node.log")).unwrap();
    let switches = log.matches("compacted the state database").count() as u64;
    eprintln!(
        "{rounds} kill rounds, {} acknowledged entries checked, generation {live} live, {switches} \
         compactions logged",
        acks.lock().unwrap().len()
    );
    assert!(live > 0 && switches > 0, "the node never compacted");
    // Read before each kill: a switch after the read is logged, not counted.
    assert!(
        (1..=switches).contains(&counted),
        "{counted} switches counted in the metrics, {switches} logged"
    );
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
async fn a_file_size_limit_that_leaves_no_room_even_for_the_temporary_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let head = a_little_history(dir.path()).await;
    let before = chain_files_of(dir.path());
    // Files may not grow past 4 KiB (`ulimit -f` counts 512-byte blocks
    // in `sh`): the state database cannot be opened for writing, and there
    // is no room, so the node opens read-only; but the limit holds for its
    // temporary state too. (With the Merkle nodes and the map's upper
    // levels beside sled, this history's sled file is about 9 KiB, and an
    // 8 KiB limit no longer stops the node from opening it.)
    let script = "ulimit -f 8; trap '' XFSZ; exec \"$0\" \"$@\"";
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(binary("pledge-node"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "the node started");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("the file-size limit")
            && error.contains("cannot open the ledger")
            && error.contains("opening the ledger read-only failed too")
            && error.contains("File too large"),
        "{error}"
    );
    assert_eq!(
        chain_files_of(dir.path()),
        before,
        "the chain or a key changed"
    );
    assert!(!read_only_state_dir(dir.path()).exists());
    let node = Node::start(dir.path());
    let client = node.client().await;
    assert_eq!(client.head().await.unwrap(), head);
    replay_from_node(&client).await;
}

/// A file system of its own (tmpfs) of `size`, to fill and free; unmounted
/// when dropped.
struct SmallDisk {
    mount_point: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let mount_point = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount_point.path())
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "mounting a tmpfs (the tests run as root)"
        );
        SmallDisk { mount_point }
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }

    /// Writes a file until not one byte more fits; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let bytes = vec![0xa5; chunk];
            let full = loop {
                if let Err(error) = file.write_all(&bytes) {
                    break error;
                }
            };
            assert_eq!(full.kind(), std::io::ErrorKind::StorageFull, "{full}");
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

/// Every file under `dir` and its bytes, but the node's own log and the
/// probe the node writes (and removes) when it looks for room.
fn files_of(dir: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "node.log" || name == ".write-probe" {
            continue;
        }
        if path.is_dir() {
            files.extend(files_of(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

/// [`files_of`] but the state database, which the failed open for writing
/// (under a file-size limit, not on a full disk) may write to: it is
/// derived from the chain, and caught up from it at every start.
fn chain_files_of(dir: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let state = dir.join("ledger").join("state");
    let mut files = files_of(dir);
    files.retain(|path, _| !path.starts_with(&state));
    files
}

/// Where a read-only start of `data_dir` keeps its temporary state
/// (docs/OPERATIONS.md §7).
fn read_only_state_dir(data_dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(data_dir).unwrap();
    Path::new("/dev/shm").join(format!(
        "pledge-node-read-only-{}-{}",
        metadata.dev(),
        metadata.ino()
    ))
}

/// What a reader sees of a node, to compare across starts.
#[derive(Debug, PartialEq)]
struct Seen {
    head: pledge_proto::v1::Head,
    entry: pledge_proto::v1::EntryRecord,
    receipt: pledge_proto::v1::ReceiptView,
    inclusion: pledge_proto::v1::InclusionProof,
    replayed: (u64, pledge_ledger::chain::ChainCursor),
}

async fn seen(client: &pledge_client::LedgerClient, receipt_id: &str) -> Seen {
    let head = client.head().await.unwrap();
    let replayer = replay_from_node(client).await;
    Seen {
        entry: client.entry(head.size - 1).await.unwrap(),
        receipt: client.receipt(receipt_id).await.unwrap(),
        inclusion: client.inclusion_proof(1, head.size).await.unwrap(),
        replayed: (replayer.entries(), replayer.cursor()),
        head,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_on_a_full_disk_starts_read_only_and_resumes_when_there_is_room() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let disk = SmallDisk::mount("128m");
    let data = disk.path().join("node");
    let metrics = ["--metrics-listen", "127.0.0.1:0"];
    let node = Node::start_with(&data, &metrics);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    let before = seen(&client, "WR-1").await;
    assert!(node.terminate().success());
    // The node's log goes on a disk with room, so that it can be read.
    let log_elsewhere = tempfile::NamedTempFile::new().unwrap();
    std::fs::remove_file(data.join("node.log")).unwrap();
    std::os::unix::fs::symlink(log_elsewhere.path(), data.join("node.log")).unwrap();
    let filler = disk.fill();
    let files = files_of(&data);

    // Full: it starts read-only, says so, and serves every read as before.
    let node = Node::start_with(&data, &metrics);
    assert!(
        node.announced("writes")
            .is_some_and(|line| line.contains("started read-only")),
        "{}",
        node.log()
    );
    let service = "pledgeledger.v1.LedgerService";
    assert_eq!(
        health_of(&node, service).await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(health_of(&node, "").await, ServingStatus::NotServing as i32);
    let client = node.client().await;
    assert_eq!(seen(&client, "WR-1").await, before);
    let bundle = client.prove_receipt("WR-1").await.unwrap();
    assert_eq!(bundle.tree_size, before.head.size);
    let log = node.log();
    assert_eq!(log.matches("started read-only: ").count(), 1, "{log}");
    assert!(log.contains("writes refused until there is room"), "{log}");
    let page = node.metrics();
    assert!(page.contains("pledge_read_only 1"), "{page}");
    assert!(read_only_state_dir(&data).is_dir());

    // A write is refused as after a store failure, saying why; nothing on
    // disk changed.
    let refused = submit(
        &node,
        &client,
        certify("SGS-FULL", 1),
        &["wh-1", INSPECTOR, "trader-a"],
    )
    .await
    .unwrap_err();
    let (code, reason, message) = refusal(&refused);
    assert_eq!(
        (code, reason.as_str()),
        (tonic::Code::Unavailable, "NOT_ACCEPTING_WRITES")
    );
    assert!(
        message.contains("started read-only because there is no room"),
        "{message}"
    );
    assert_eq!(client.head().await.unwrap(), before.head);
    assert_eq!(files_of(&data), files, "the data directory changed");

    // Stopped, it leaves no temporary state behind; started again, it is
    // read-only again.
    assert!(node.terminate().success());
    assert!(
        !read_only_state_dir(&data).exists(),
        "the temporary state outlived the node"
    );
    let node = Node::start_with(&data, &metrics);
    let pid = node.pid();
    assert_eq!(
        health_of(&node, service).await,
        ServingStatus::NotServing as i32
    );

    // Room again: the node restarts itself in place and takes writes.
    std::fs::remove_file(filler).unwrap();
    let serving = tokio::time::timeout(Duration::from_secs(60), async {
        while health_if_up(&node, service).await != Some(ServingStatus::Serving as i32) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(serving.is_ok(), "not serving again: {}", node.log());
    assert_eq!(node.pid(), pid);
    let page = node.metrics();
    assert!(
        page.contains("pledge_restarts_after_store_failure_total 1"),
        "{page}"
    );
    assert!(page.contains("pledge_read_only 0"), "{page}");
    assert!(
        !read_only_state_dir(&data).exists(),
        "the temporary state is left behind"
    );
    let client = node.client().await;
    assert_eq!(seen(&client, "WR-1").await, before);
    issue(&node, &client, "WR-2", 1_000).await;
    let replayer = replay_from_node(&client).await;
    assert_eq!(replayer.entries(), before.head.size + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_where_the_entry_index_needs_a_repair_is_refused_at_start_naming_it() {
    let disk = SmallDisk::mount("128m");
    let data = disk.path().join("node");
    let head = a_little_history(&data).await;
    let index = data.join("ledger").join("log").join("entries.idx");
    std::fs::remove_file(&index).unwrap();
    std::fs::remove_file(data.join("node.log")).unwrap();
    let filler = disk.fill();

    let error = start_fails(&data);
    assert!(
        error.contains("no room to write")
            && error.contains("opening the ledger read-only failed too")
            && error.contains("entries.idx")
            && error.contains("No space left on device"),
        "{error}"
    );
    assert!(!read_only_state_dir(&data).exists());

    std::fs::remove_file(filler).unwrap();
    let node = Node::start(&data);
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
