//! Tampering with a stopped node's data and with an exported chain: each
//! alteration is detected and named by the audit, and the node refuses to
//! start on a corrupted store, naming the entry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pledge_client::export::{ExportReader, write_record};
use pledge_ledger::crypto::{self, Digest};
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::PartySignature;
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::store::log::{EntryLog, LOG_FILE};
use pledge_tests::{Node, binary};

use super::common::*;
use super::proofs::checkpoint_covering;

/// A stopped node's data, its export, and the audit state remembered from an
/// audit of the intact chain.
struct Scene {
    _dir: tempfile::TempDir,
    data: PathBuf,
    export: PathBuf,
    state: PathBuf,
    node_key: String,
    records: Vec<Vec<u8>>,
}

/// Entries: 0 genesis, 1-2 tanks, 3 certify, 4 issue, 5 pledge PL-A (trader-a
/// + bank-a), 6 release, 7 pledge PL-B (trader-a + bank-b).
async fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = Node::start(&data);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000_000).await;
    pledge(&node, &client, "PL-A", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    submit(
        &node,
        &client,
        pledge_client::ops::release_pledge("PL-A"),
        &["bank-a"],
    )
    .await
    .unwrap();
    let last = pledge(&node, &client, "PL-B", "WR-1", "trader-a", "bank-b")
        .await
        .unwrap();
    assert_eq!(last.seq, 7);
    checkpoint_covering(&client, 8).await;
    let node_key = hex::encode(client.node_info().await.unwrap().node_public_key);
    let export = dir.path().join("chain.export");
    let state = dir.path().join("audit.checkpoint");
    let url = node.url();
    let audit = ctl(&url, &["audit", "--state", path(&state)]);
    assert!(audit.status.success(), "{}", text(&audit));
    assert!(
        ctl(&url, &["export", "--out", path(&export)])
            .status
            .success()
    );
    assert!(node.terminate().success());
    let records = read_export(&export);
    Scene {
        _dir: dir,
        data,
        export,
        state,
        node_key,
        records,
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ctl(url: &str, args: &[&str]) -> Output {
    Command::new(binary("pledgectl"))
        .args(["--node", url])
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn read_export(path: &Path) -> Vec<Vec<u8>> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    ExportReader::new(file).map(Result::unwrap).collect()
}

fn write_export(path: &Path, records: &[Vec<u8>]) {
    let mut out = Vec::new();
    for record in records {
        write_record(&mut out, record).unwrap();
    }
    std::fs::write(path, out).unwrap();
}

impl Scene {
    /// Audits `records` written as an export, against the remembered checkpoint.
    fn audit_export(&self, records: &[Vec<u8>]) -> Output {
        let file = self.export.with_extension("tampered");
        write_export(&file, records);
        let state = self.state.with_extension("copy");
        std::fs::copy(&self.state, &state).unwrap();
        ctl(
            "http://127.0.0.1:9",
            &[
                "audit",
                "--file",
                path(&file),
                "--node-key",
                &self.node_key,
                "--state",
                path(&state),
            ],
        )
    }

    /// Replaces the node's log with `records` (valid framing and checksums,
    /// as an attacker with the disk would write them) and drops its state
    /// cache.
    fn rewrite_store(&self, records: &[Vec<u8>]) {
        let (mut log, _) = EntryLog::open(&self.data.join("ledger/log")).unwrap();
        log.truncate(0).unwrap();
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        log.append_group(&slices).unwrap();
        drop(log);
        let _ = std::fs::remove_dir_all(self.data.join("ledger/state"));
    }

    /// Starts the node on the tampered data; it must refuse. Returns its stderr.
    fn start_refused(&self) -> String {
        let mut child = Command::new(binary("pledge-node"))
            .arg("--data-dir")
            .arg(&self.data)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("the node started on a tampered store");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Re-seals the chain from `from` on with the node's own key, as a
    /// dishonest operator could.
    fn reseal(&self, mut records: Vec<Vec<u8>>, from: usize) -> Vec<Vec<u8>> {
        let key = KeyFile::read(&self.data.join("node-key.json"))
            .unwrap()
            .signing_key()
            .unwrap();
        let mut prev = match from {
            0 => Digest::ZERO,
            n => Entry::decode(&records[n - 1]).unwrap().hash(),
        };
        for (seq, record) in records.iter_mut().enumerate().skip(from) {
            let entry = Entry::decode(record).unwrap();
            let sealed = Entry::seal_new(seq as u64, prev, entry.time_ms, entry.envelope, &key);
            prev = sealed.hash();
            *record = sealed.encode();
        }
        records
    }
}

fn assert_named(output: &Output, expected: &str) {
    let all = text(output);
    assert_eq!(output.status.code(), Some(3), "{all}");
    assert!(all.contains(expected), "expected {expected:?} in: {all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_is_named() {
    let scene = scene().await;
    let mut records = scene.records.clone();
    records[5][70] ^= 0x01; // inside entry 5's transaction bytes
    assert_named(&scene.audit_export(&records), "entry 5 is bad");

    // The file ends in zeros written ahead (FORMAT.md §5): the groups end
    // where the log says, not at the file's end.
    let groups_end = EntryLog::open(&scene.data.join("ledger/log"))
        .unwrap()
        .0
        .byte_len() as usize;
    let log = scene.data.join("ledger/log").join(LOG_FILE);
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes[..groups_end]
        .windows(6)
        .position(|w| w == b"PL-A\x1a\x06")
        .unwrap_or(groups_end / 2);
    bytes[at] ^= 0x01;
    std::fs::write(&log, bytes).unwrap();
    let refused = scene.start_refused();
    assert!(refused.contains("record"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_entry_is_named() {
    let scene = scene().await;
    let mut records = scene.records.clone();
    records.remove(6);
    assert_named(&scene.audit_export(&records), "entry 6 is bad");
    scene.rewrite_store(&records);
    let refused = scene.start_refused();
    assert!(refused.contains("entry 6"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn swapped_entries_are_named() {
    let scene = scene().await;
    let mut records = scene.records.clone();
    records.swap(5, 6);
    assert_named(&scene.audit_export(&records), "entry 5 is bad");
    scene.rewrite_store(&records);
    let refused = scene.start_refused();
    assert!(refused.contains("entry 5"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_tail_is_caught_by_the_remembered_checkpoint() {
    let scene = scene().await;
    let records = scene.records[..6].to_vec();
    assert_named(&scene.audit_export(&records), "entries were removed");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_admitted_keys_signature_is_named() {
    let scene = scene().await;
    let mut records = scene.records.clone();
    let mut entry = Entry::decode(&records[5]).unwrap();
    let bank_b = KeyFile::read(&scene.data.join("dev-keys/bank-b.json"))
        .unwrap()
        .signing_key()
        .unwrap();
    entry.envelope.signatures[1] = PartySignature {
        signer: "bank-b".into(),
        public_key: crypto::public_key(&bank_b),
        signature: crypto::sign_transaction(&bank_b, &entry.envelope.tx_bytes),
    };
    records[5] = entry.encode();
    assert_named(&scene.audit_export(&records), "entry 5 is bad");
    scene.rewrite_store(&records);
    let refused = scene.start_refused();
    assert!(refused.contains("entry 5"), "{refused}");

    // Even re-sealed by the operator, the rules refuse the wrong signer.
    let resealed = scene.reseal(records, 5);
    assert_named(&scene.audit_export(&resealed), "entry 5 is bad");
}

#[tokio::test(flavor = "multi_thread")]
async fn history_rewritten_and_resealed_is_caught_by_the_remembered_checkpoint() {
    let scene = scene().await;
    // Put the two tank registrations the other way round and re-seal
    // everything after with the node's own key: the same length, and every
    // link, seal, signature and rule checks out.
    let mut records = scene.records.clone();
    records.swap(1, 2);
    let rewritten = scene.reseal(records, 1);
    let fresh_state = scene.state.with_extension("fresh");
    let file = scene.export.with_extension("rewritten");
    write_export(&file, &rewritten);
    let blind = ctl(
        "http://127.0.0.1:9",
        &[
            "audit",
            "--file",
            path(&file),
            "--node-key",
            &scene.node_key,
            "--state",
            path(&fresh_state),
        ],
    );
    assert!(
        blind.status.success(),
        "without a remembered checkpoint it cannot be told: {}",
        text(&blind)
    );
    assert_named(&scene.audit_export(&rewritten), "history was rewritten");
}

/// A checkpoint the node signed over the true chain but a false state (a
/// state root the chain does not produce): the auditor's replay recomputes
/// the state root and refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_with_a_false_state_root_is_refused() {
    use pledge_ledger::checkpoint::SignedCheckpoint;
    let scene = scene().await;
    let note = std::fs::read_to_string(&scene.state).unwrap();
    let node_key = KeyFile::read(&scene.data.join("node-key.json"))
        .unwrap()
        .signing_key()
        .unwrap();
    let origin = pledge_ledger::checkpoint::ledger_origin(pledge_tests::DEV_LEDGER_ID);
    let honest = SignedCheckpoint::open(&note, &origin, &[crypto::public_key(&node_key)])
        .unwrap()
        .checkpoint;
    let mut forged = honest.clone();
    forged.state_root[0] ^= 0x01;
    let forged_file = scene.export.with_extension("forged-checkpoint");
    std::fs::write(&forged_file, forged.sign(&node_key).unwrap().to_text()).unwrap();
    let honest_file = scene.export.with_extension("honest-checkpoint");
    std::fs::write(&honest_file, honest.sign(&node_key).unwrap().to_text()).unwrap();
    let audit_against = |checkpoint: &Path| {
        ctl(
            "http://127.0.0.1:9",
            &[
                "audit",
                "--file",
                path(&scene.export),
                "--node-key",
                &scene.node_key,
                "--state",
                path(&scene.state.with_extension("fresh")),
                "--checkpoint",
                path(checkpoint),
            ],
        )
    };
    let honest_audit = audit_against(&honest_file);
    assert!(honest_audit.status.success(), "{}", text(&honest_audit));
    assert_named(
        &audit_against(&forged_file),
        "the node's state commitment is false",
    );
}
