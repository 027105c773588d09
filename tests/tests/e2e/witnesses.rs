//! Witnesses run by a bank and the regulator next to a real node: the node
//! gathers their cosignatures on every checkpoint; a history the operator
//! rewrote and re-sealed with the node's own key gets none, and the
//! witnesses keep the evidence.

use std::path::{Path, PathBuf};

use pledge_client::LedgerClient;
use pledge_ledger::checkpoint::{SignedCheckpoint, ledger_origin};
use pledge_ledger::cosigning::{QuorumError, WitnessPolicy};
use pledge_ledger::crypto::{self, Digest};
use pledge_ledger::entry::Entry;
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::store::log::EntryLog;
use pledge_tests::{DEV_LEDGER_ID, Node, WitnessProcess};

use super::common::*;

/// A node whose checkpoints two witnesses cosign, under a 2-of-2 policy.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub node: Node,
    pub witnesses: Vec<WitnessProcess>,
    pub policy_file: PathBuf,
    pub node_key: String,
}

impl Deployment {
    pub fn start() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("node");
        std::fs::create_dir_all(&data).unwrap();
        let key = crypto::generate_signing_key().unwrap();
        KeyFile::new("node", &key)
            .write(&data.join("node-key.json"))
            .unwrap();
        let node_key = crypto::public_key(&key).to_hex();
        let origin = ledger_origin(DEV_LEDGER_ID);
        let witnesses: Vec<WitnessProcess> =
            ["witness.bank-a.example", "witness.regulator.example"]
                .iter()
                .map(|name| WitnessProcess::start(&dir.path().join(name), name, &origin, &node_key))
                .collect();
        let policy_file = dir.path().join("witnesses.policy");
        let mut policy: String = witnesses
            .iter()
            .map(|w| format!("{}\n", w.policy_line))
            .collect();
        policy.push_str(
            "group bank-and-regulator all witness.bank-a.example witness.regulator.example\n\
             quorum bank-and-regulator\n",
        );
        std::fs::write(&policy_file, policy).unwrap();
        let node = start_node(&data, &policy_file);
        Deployment {
            dir,
            node,
            witnesses,
            policy_file,
            node_key,
        }
    }

    pub fn policy(&self) -> WitnessPolicy {
        WitnessPolicy::parse(&std::fs::read_to_string(&self.policy_file).unwrap()).unwrap()
    }

    /// The first published checkpoint covering `size` entries, verified as
    /// signed by the node.
    pub async fn checkpoint(&self, client: &LedgerClient, size: u64) -> SignedCheckpoint {
        let note = client.checkpoint_covering(size, 20_000).await.unwrap().note;
        let key = crypto::PublicKey::from_slice(&crypto::decode_lower_hex(&self.node_key).unwrap())
            .unwrap();
        SignedCheckpoint::open(&note, &ledger_origin(DEV_LEDGER_ID), &[key]).unwrap()
    }
}

fn start_node(data: &Path, policy: &Path) -> Node {
    Node::start_with(
        data,
        &[
            "--witness-policy",
            policy.to_str().unwrap(),
            "--config",
            write_fast_config(data).to_str().unwrap(),
        ],
    )
}

/// A config with a short checkpoint interval, so tests need not wait.
fn write_fast_config(data: &Path) -> PathBuf {
    let path = data.join("fast.toml");
    std::fs::write(&path, "[limits]\ncheckpoint_interval_ms = 200\n").unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_publishes_checkpoints_cosigned_by_its_witnesses() {
    let deployment = Deployment::start();
    let client = deployment.node.client().await;
    issue(&deployment.node, &client, "WR-1", 1_000_000).await;
    let size = client.head().await.unwrap().size;
    let checkpoint = deployment.checkpoint(&client, size).await;
    assert!(checkpoint.checkpoint.size >= size);
    let cosigners = deployment.policy().check(&checkpoint.note).unwrap();
    assert_eq!(
        cosigners.names(),
        ["witness.bank-a.example", "witness.regulator.example"]
    );
    for witness in &deployment.witnesses {
        assert!(witness.evidence().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_history_rewritten_and_resealed_by_the_operator_gets_no_quorum() {
    let deployment = Deployment::start();
    let client = deployment.node.client().await;
    issue(&deployment.node, &client, "WR-1", 1_000_000).await;
    let size = client.head().await.unwrap().size;
    let honest = deployment.checkpoint(&client, size).await;
    deployment.policy().check(&honest.note).unwrap();
    drop(client);
    let Deployment {
        dir,
        node,
        witnesses,
        policy_file,
        ..
    } = deployment;
    let data = node.data_dir.clone();
    assert!(node.terminate().success());

    // The operator swaps the two tank registrations and re-seals everything
    // after them with the node's own key: every link, seal, signature and
    // rule still checks out, and the node starts on it.
    let key = KeyFile::read(&data.join("node-key.json"))
        .unwrap()
        .signing_key()
        .unwrap();
    let (mut log, _) = EntryLog::open(&data.join("ledger/log")).unwrap();
    let mut records: Vec<Vec<u8>> = (0..log.len()).map(|seq| log.read(seq).unwrap()).collect();
    records.swap(1, 2);
    let mut prev = Entry::decode(&records[0]).unwrap().hash();
    for (seq, record) in records.iter_mut().enumerate().skip(1) {
        let entry = Entry::decode(record).unwrap();
        let sealed = Entry::seal_new(seq as u64, prev, entry.time_ms, entry.envelope, &key);
        prev = sealed.hash();
        *record = sealed.encode();
    }
    assert_ne!(prev, Digest::ZERO);
    log.truncate(0).unwrap();
    let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    log.append_group(&slices).unwrap();
    drop(log);
    std::fs::remove_dir_all(data.join("ledger/state")).unwrap();

    let node = start_node(&data, &policy_file);
    let client = node.client().await;
    let note = client
        .checkpoint_covering(records.len() as u64, 20_000)
        .await
        .unwrap()
        .note;
    let node_key = crypto::public_key(&key);
    let rewritten =
        SignedCheckpoint::open(&note, &ledger_origin(DEV_LEDGER_ID), &[node_key]).unwrap();
    assert_ne!(rewritten.checkpoint.root, honest.checkpoint.root);
    let policy = WitnessPolicy::parse(&std::fs::read_to_string(&policy_file).unwrap()).unwrap();
    let refusal = policy.check(&rewritten.note).unwrap_err();
    let QuorumError::NotMet { missing, .. } = &refusal else {
        panic!("{refusal}");
    };
    assert_eq!(
        missing,
        &["witness.bank-a.example", "witness.regulator.example"]
    );
    for witness in &witnesses {
        let evidence = witness.evidence();
        assert_eq!(evidence.len(), 1, "{}", witness.name);
        assert!(
            evidence[0].contains(rewritten.note.text()),
            "{}",
            evidence[0]
        );
    }
    drop(dir);
}

/// `pledgectl` with the deployment's node.
fn pledgectl(deployment: &Deployment, args: &[&str]) -> std::process::Output {
    std::process::Command::new(pledge_tests::binary("pledgectl"))
        .args(["--node", &deployment.node.url()])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_verifies_a_bundle_under_its_two_of_two_policy() {
    let deployment = Deployment::start();
    let client = deployment.node.client().await;
    issue(&deployment.node, &client, "WR-1", 1_000_000).await;
    pledge(
        &deployment.node,
        &client,
        "PL-A",
        "WR-1",
        "trader-a",
        "bank-a",
    )
    .await
    .unwrap();
    let bundle = deployment.dir.path().join("bundle.json");
    let policy = deployment.policy_file.to_str().unwrap();
    let proved = pledgectl(
        &deployment,
        &[
            "receipt",
            "prove",
            "WR-1",
            "--witness-policy",
            policy,
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&proved.stdout);
    assert!(
        proved.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&proved.stderr)
    );
    let verify = |policy: &str| {
        pledgectl(
            &deployment,
            &[
                "verify-bundle",
                bundle.to_str().unwrap(),
                "--node-key",
                &deployment.node_key,
                "--witness-policy",
                policy,
            ],
        )
    };
    let verified = verify(policy);
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{text}");
    assert!(
        text.contains("status: live, PLEDGED to bank-a under pledge PL-A"),
        "{text}"
    );
    assert!(
        text.contains("cosigned by witness.bank-a.example at")
            && text.contains("witness.regulator.example at"),
        "{text}"
    );

    // A bank that also requires a witness the node does not use refuses the
    // bundle and says whose cosignature is missing.
    let stricter = deployment.dir.path().join("stricter.policy");
    let third = crypto::public_key(&ed25519_dalek::SigningKey::from_bytes(&[9; 32])).to_hex();
    let mut text = std::fs::read_to_string(&deployment.policy_file).unwrap();
    text = text.replace("quorum bank-and-regulator\n", "");
    text.push_str(&format!(
        "witness witness.bank-b.example {third}\n\
         group three all bank-and-regulator witness.bank-b.example\nquorum three\n"
    ));
    std::fs::write(&stricter, text).unwrap();
    let refused = verify(stricter.to_str().unwrap());
    let text = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(3), "{text}");
    assert!(
        text.contains("cosignatures missing from witness.bank-b.example"),
        "{text}"
    );

    // `pledgectl checkpoint` shows the checkpoint under the same policy,
    // its state root as the signed note states it.
    let shown = pledgectl(
        &deployment,
        &["--json", "checkpoint", "--witness-policy", policy],
    );
    let shown_text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{shown_text}");
    let shown: serde_json::Value = serde_json::from_str(&shown_text).unwrap();
    let note = shown["note"].as_str().unwrap();
    let state_line = format!("state-root {}", shown["state_root"].as_str().unwrap());
    assert!(note.lines().any(|line| line == state_line), "{shown_text}");
    assert_eq!(
        shown["cosigners"].as_array().unwrap().len(),
        2,
        "{shown_text}"
    );

    // The audit holds the node's latest checkpoint to the same policy.
    let state = deployment.dir.path().join("audit.checkpoint");
    let audit = |policy: &str| {
        pledgectl(
            &deployment,
            &[
                "audit",
                "--node-key",
                &deployment.node_key,
                "--state",
                state.to_str().unwrap(),
                "--witness-policy",
                policy,
            ],
        )
    };
    let audited = audit(stricter.to_str().unwrap());
    let text = String::from_utf8_lossy(&audited.stdout);
    assert_eq!(audited.status.code(), Some(3), "{text}");
    assert!(text.contains("witness.bank-b.example"), "{text}");
    let audited = audit(policy);
    assert!(
        audited.status.success(),
        "{}",
        String::from_utf8_lossy(&audited.stdout)
    );
}
