//! Checkpoints, proofs and evidence bundles against a real node.

use std::process::Command;
use std::time::Duration;

use pledge_client::LedgerClient;
use pledge_ledger::checkpoint::{SignedCheckpoint, ledger_origin, verify_consistent};
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::entry::Entry;
use pledge_ledger::merkle;
use pledge_tests::{DEV_LEDGER_ID, Node, binary};

use super::common::*;

async fn node_key(client: &LedgerClient) -> PublicKey {
    PublicKey::from_slice(&client.node_info().await.unwrap().node_public_key).unwrap()
}

/// Waits for a checkpoint covering at least `size` entries.
pub async fn checkpoint_covering(client: &LedgerClient, size: u64) -> SignedCheckpoint {
    let key = node_key(client).await;
    for _ in 0..100 {
        if let Ok(note) = client.checkpoint().await {
            let signed =
                SignedCheckpoint::open(&note.note, &ledger_origin(DEV_LEDGER_ID), &[key]).unwrap();
            if signed.checkpoint.size >= size {
                return signed;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covering {size} entries within 10 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_follow_the_chain_and_are_consistent_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let first = checkpoint_covering(&client, 3).await;
    issue(&node, &client, "WR-1", 1_000).await;
    let size = client.head().await.unwrap().size;
    let second = checkpoint_covering(&client, size).await;
    assert!(second.checkpoint.size > first.checkpoint.size);

    let proof = client
        .consistency_proof(first.checkpoint.size, second.checkpoint.size)
        .await
        .unwrap();
    let hashes: Vec<merkle::Hash> = proof
        .hashes
        .iter()
        .map(|h| merkle::parse_hash(h).unwrap())
        .collect();
    verify_consistent(&first.checkpoint, &second.checkpoint, &hashes).unwrap();

    for seq in 0..second.checkpoint.size {
        let inclusion = client
            .inclusion_proof(seq, second.checkpoint.size)
            .await
            .unwrap();
        let entry = Entry::decode(&inclusion.record).unwrap();
        let path: Vec<merkle::Hash> = inclusion
            .hashes
            .iter()
            .map(|h| merkle::parse_hash(h).unwrap())
            .collect();
        let leaf = merkle::leaf_hash(&entry.body());
        merkle::verify_inclusion(
            &leaf,
            seq,
            second.checkpoint.size,
            &path,
            &second.checkpoint.root,
        )
        .unwrap();
    }
    // The message's fields are the note's lines, the state root included.
    let message = client.checkpoint_covering(size, 10_000).await.unwrap();
    let signed = SignedCheckpoint::open(
        &message.note,
        &ledger_origin(DEV_LEDGER_ID),
        &[node_key(&client).await],
    )
    .unwrap();
    let state_line = format!("state-root {}", hex::encode(&message.state_root));
    assert!(
        message.note.lines().any(|line| line == state_line),
        "{state_line} not in {}",
        message.note
    );
    assert_eq!(message.state_root, signed.checkpoint.state_root);
    assert_eq!(message.tree_root, signed.checkpoint.root);
    assert_eq!(message.head_hash, signed.checkpoint.head_hash.0);
    assert_eq!(
        (message.tree_size, message.time_ms),
        (signed.checkpoint.size, signed.checkpoint.time_ms)
    );

    let past = client.inclusion_proof(size + 5, 0).await.unwrap_err();
    assert_eq!(refusal(&past).0, tonic::Code::OutOfRange);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_proves_its_pledge_offline() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
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
    checkpoint_covering(&client, last.seq + 1).await;

    let bundle = dir.path().join("bundle.json");
    let prove = Command::new(binary("pledgectl"))
        .args(["--node", &node.url(), "receipt", "prove", "WR-1", "--out"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        prove.status.success(),
        "{}",
        String::from_utf8_lossy(&prove.stderr)
    );
    let key = hex::encode(client.node_info().await.unwrap().node_public_key);
    drop(node); // offline from here on

    let verify = |path: &std::path::Path| {
        Command::new(binary("pledgectl"))
            .args(["verify-bundle"])
            .arg(path)
            .args(["--node-key", &key])
            .output()
            .unwrap()
    };
    let verified = verify(&bundle);
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        text.contains("status: live, PLEDGED to bank-b under pledge PL-B"),
        "{text}"
    );
    assert!(
        text.contains("pledge PL-A of receipt WR-1 to bank-a, released at entry"),
        "{text}"
    );
    assert!(text.contains("rests on the node's key alone"), "{text}");

    let tampered = dir.path().join("tampered.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let entries = json["entries"].as_array_mut().unwrap();
    let record = entries.last_mut().unwrap()["record_hex"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if record.as_bytes()[200] == b'0' {
        "1"
    } else {
        "0"
    };
    let record = format!("{}{flipped}{}", &record[..200], &record[201..]);
    entries.last_mut().unwrap()["record_hex"] = serde_json::Value::String(record);
    std::fs::write(&tampered, json.to_string()).unwrap();
    let refused = verify(&tampered);
    assert_eq!(
        refused.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
}
