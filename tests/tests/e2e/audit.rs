//! An auditor streaming from entry 0 rebuilds exactly the node's state.

use pledge_client::ops;
use pledge_ledger::merkle::{self, MemoryNodes};
use pledge_ledger::model::ReceiptStatus;
use pledge_proto::v1 as pb;
use pledge_tests::Node;

use super::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_streaming_from_entry_zero_rebuilds_the_nodes_state() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 4_000_000).await;
    issue(&node, &client, "WR-2", 1_000_000).await;
    let parts = [
        ("WR-1a".to_string(), 1_000_000),
        ("WR-1b".to_string(), 3_000_000),
    ];
    submit(
        &node,
        &client,
        ops::split_receipt("WR-1", &parts),
        &["wh-1", "trader-a"],
    )
    .await
    .unwrap();
    pledge(&node, &client, "PL-1", "WR-1a", "trader-a", "bank-a")
        .await
        .unwrap();
    pledge(&node, &client, "PL-2", "WR-2", "trader-a", "bank-b")
        .await
        .unwrap();
    submit(
        &node,
        &client,
        ops::enforce_pledge(
            "PL-2",
            Some("trader-b"),
            pb::EnforcementGrounds::HolderConsent,
            "",
        ),
        &["bank-b", "trader-a"],
    )
    .await
    .unwrap();
    submit(
        &node,
        &client,
        ops::freeze_receipt("WR-1b", "order-7"),
        &["regulator"],
    )
    .await
    .unwrap();

    let replayer = replay_from_node(&client).await;
    let state = replayer.state();
    let head = client.head().await.unwrap();
    assert_eq!(replayer.entries(), head.size);
    assert_eq!(replayer.head_hash().0.to_vec(), head.head_hash);

    let mut tree = MemoryNodes::new();
    for seq in 0..head.size {
        let record = client.entry(seq).await.unwrap().record;
        let entry = pledge_ledger::entry::Entry::decode(&record).unwrap();
        tree.append(merkle::leaf_hash(&entry.body())).unwrap();
    }
    assert_eq!(tree.root().unwrap().to_vec(), head.tree_root);

    assert_eq!(state.receipts.len(), 4); // WR-1 (split), WR-1a, WR-1b, WR-2
    for (id, receipt) in &state.receipts {
        let view = client.receipt(id).await.unwrap();
        assert_eq!(view.holder_id, receipt.holder_id, "{id}");
        assert_eq!(view.updated_at_seq, receipt.updated_at, "{id}");
        assert_eq!(view.history, state.receipt_history[id], "{id}");
        assert_eq!(view.frozen.is_some(), receipt.frozen.is_some(), "{id}");
        let pledged_to = match &receipt.status {
            ReceiptStatus::Pledged { pledge_id } => Some(pledge_id.clone()),
            _ => None,
        };
        let view_pledge = view.active_pledge.map(|p| p.terms.unwrap().pledge_id);
        assert_eq!(view_pledge, pledged_to, "{id}");
    }
    for (id, tank) in &state.tanks {
        let view = client.tank(id).await.unwrap();
        assert_eq!(
            (view.certified_kg, view.receipted_kg),
            (tank.certified_kg, tank.receipted_kg),
            "{id}"
        );
    }
    for (id, pledge) in &state.pledges {
        let view = client.pledge(id).await.unwrap();
        assert_eq!(view.pledgor_id, pledge.pledgor_id);
        assert_eq!(view.registered_at_seq, pledge.registered_at);
    }
    for (id, participant) in &state.participants {
        let view = client.participant(id).await.unwrap();
        assert_eq!(view.key_since_seq, participant.key_since);
        assert_eq!(
            view.spec.unwrap().public_key,
            participant.spec.public_key.0.to_vec()
        );
    }
    let listed = client.list_all_receipts(None, 2).await.unwrap();
    assert_eq!(listed.len(), state.receipts.len());
}
