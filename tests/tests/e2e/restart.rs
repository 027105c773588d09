//! Restarting the node, cleanly and after a crash: everything acknowledged
//! is there and the chain verifies.

use pledge_client::{LedgerClient, ops};
use pledge_ledger::bundle::{Bundle, BundleVerdict};
use pledge_ledger::cosigning::Trust;
use pledge_ledger::crypto::PublicKey;
use pledge_proto::v1 as pb;
use pledge_tests::Node;

use super::common::*;
use super::proofs::checkpoint_covering;

/// The bundle the node proves for `receipt` once it has signed a
/// checkpoint covering `size` entries, verified offline with its key. Right
/// after a start the node's state map is provable only from the size its
/// state store opened at: the checkpoint it signs at start must still prove.
async fn proven_at(client: &LedgerClient, receipt: &str, size: u64) -> BundleVerdict {
    checkpoint_covering(client, size).await;
    let key = client.node_info().await.unwrap().node_public_key;
    let bundle = client.prove_receipt(receipt).await.unwrap();
    let verdict = Bundle::from_json(&bundle.json)
        .unwrap()
        .verify(&Trust::log_key_only(PublicKey::from_slice(&key).unwrap()))
        .unwrap();
    assert_eq!(verdict.tree_size, size);
    verdict
}

/// A node started on `dir` with receipt WR-1 issued and pledged to bank-a
/// as PL-1; and its head then.
async fn node_with_pledge_pl1(dir: &std::path::Path) -> (Node, pb::Head) {
    let node = Node::start(dir);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    let head = client.head().await.unwrap();
    (node, head)
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_and_pledges_survive_a_clean_stop_and_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (node, head) = node_with_pledge_pl1(dir.path()).await;
    let status = node.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    let node = Node::start(dir.path());
    let client = node.client().await;
    assert_eq!(client.head().await.unwrap(), head);
    let receipt = client.receipt("WR-1").await.unwrap();
    assert_eq!(receipt.status, pb::ReceiptStatus::Pledged as i32);
    assert_eq!(
        client.pledge("PL-1").await.unwrap().status,
        pb::PledgeStatus::Active as i32
    );
    let verdict = proven_at(&client, "WR-1", head.size).await;
    assert_eq!(verdict.active_pledge.unwrap().pledgee, "bank-a");
    let acknowledged = submit(&node, &client, ops::release_pledge("PL-1"), &["bank-a"])
        .await
        .unwrap();
    node.kill();

    let node = Node::start(dir.path());
    let client = node.client().await;
    let head = client.head().await.unwrap();
    assert_eq!(head.size, acknowledged.seq + 1);
    assert_eq!(head.head_hash, acknowledged.entry_hash);
    assert_eq!(
        client.pledge("PL-1").await.unwrap().status,
        pb::PledgeStatus::Released as i32
    );
    let verdict = proven_at(&client, "WR-1", head.size).await;
    assert!(verdict.active_pledge.is_none());
    let replayer = replay_from_node(&client).await;
    assert_eq!(replayer.entries(), head.size);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_refuses_a_data_directory_of_another_ledger() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    drop(Node::start(first.path()));
    drop(Node::start(second.path()));
    // Point the node at the first ledger's data with the second's genesis.
    let genesis = second.path().join("genesis.bin");
    let output = std::process::Command::new(pledge_tests::binary("pledge-node"))
        .arg("--data-dir")
        .arg(first.path())
        .arg("--genesis")
        .arg(&genesis)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another ledger"), "{stderr}");
}

/// `pledge-node compact-state --data-dir DIR`: its exit status and output.
fn compact_state(dir: &std::path::Path) -> std::process::Output {
    pledge_tests::pledge_node(&["--data-dir", dir.to_str().unwrap(), "compact-state"])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_compacted_between_two_runs_serves_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (node, head) = node_with_pledge_pl1(dir.path()).await;

    let refused = compact_state(dir.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "compacted under a running node");
    assert!(
        stderr.contains("cannot compact the state in") && stderr.contains("is locked"),
        "{stderr}"
    );
    assert!(node.terminate().success());

    let compacted = compact_state(dir.path());
    let stdout = String::from_utf8_lossy(&compacted.stdout);
    assert!(
        compacted.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&compacted.stderr)
    );
    assert!(
        stdout.contains("compacted ") && stdout.contains(" keys, "),
        "{stdout}"
    );
    assert!(!stdout.contains(": 0 keys, "), "{stdout}");

    let node = Node::start(dir.path());
    let client = node.client().await;
    assert!(
        !node.log().contains("recovered the store") && !node.log().contains("rebuilt the state"),
        "the compacted state was not taken as it is: {}",
        node.log()
    );
    assert_eq!(client.head().await.unwrap(), head);
    assert_eq!(
        client.pledge("PL-1").await.unwrap().status,
        pb::PledgeStatus::Active as i32
    );
    let verdict = proven_at(&client, "WR-1", head.size).await;
    assert_eq!(verdict.active_pledge.unwrap().pledgee, "bank-a");
    submit(&node, &client, ops::release_pledge("PL-1"), &["bank-a"])
        .await
        .unwrap();
    let replayer = replay_from_node(&client).await;
    assert_eq!(replayer.entries(), head.size + 1);
}
