//! The whole lifecycle through the client library.

use pledge_client::ops;
use pledge_proto::v1::{self as pb, list_receipts_request::Filter};
use pledge_tests::Node;
use tonic::Code;

use super::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_lifecycle_through_the_client_library() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let info = client.node_info().await.unwrap();
    assert_eq!(info.ledger_id, "zhoushan-dev");

    // Issue against certified stock.
    issue(&node, &client, "WR-1", 5_000_000).await;
    let tank = client.tank("T-101").await.unwrap();
    assert_eq!(
        (tank.certified_kg, tank.receipted_kg),
        (5_000_000, 5_000_000)
    );
    assert_eq!(tank.live_receipt_ids, vec!["WR-1".to_string()]);

    // Split, transfer one part, pledge the other, release, enforce.
    let parts = [
        ("WR-1a".to_string(), 3_000_000),
        ("WR-1b".to_string(), 2_000_000),
    ];
    submit(
        &node,
        &client,
        ops::split_receipt("WR-1", &parts),
        &["wh-1", "trader-a"],
    )
    .await
    .unwrap();
    submit(
        &node,
        &client,
        ops::transfer_receipt("WR-1b", "trader-b"),
        &["trader-a", "wh-1"],
    )
    .await
    .unwrap();
    pledge(&node, &client, "PL-1", "WR-1a", "trader-a", "bank-a")
        .await
        .unwrap();
    let view = client.receipt("WR-1a").await.unwrap();
    assert_eq!(view.status, pb::ReceiptStatus::Pledged as i32);
    assert_eq!(
        view.active_pledge
            .as_ref()
            .unwrap()
            .terms
            .as_ref()
            .unwrap()
            .pledgee_id,
        "bank-a"
    );
    submit(&node, &client, ops::release_pledge("PL-1"), &["bank-a"])
        .await
        .unwrap();
    pledge(&node, &client, "PL-2", "WR-1a", "trader-a", "bank-b")
        .await
        .unwrap();
    submit(
        &node,
        &client,
        ops::enforce_pledge("PL-2", None, pb::EnforcementGrounds::HolderConsent, ""),
        &["bank-b", "trader-a"],
    )
    .await
    .unwrap();
    let view = client.receipt("WR-1a").await.unwrap();
    assert_eq!(view.holder_id, "bank-b");
    assert_eq!(
        view.history.len(),
        5,
        "split, pledge, release, pledge, enforce: {:?}",
        view.history
    );

    // Freeze stops everything; unfreeze; deliver (cancel).
    submit(
        &node,
        &client,
        ops::freeze_receipt("WR-1b", "(2026) Zhe 09 Min 1"),
        &["regulator"],
    )
    .await
    .unwrap();
    let refused = submit(
        &node,
        &client,
        ops::cancel_receipt("WR-1b", "delivery"),
        &["trader-b", "wh-1"],
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(&refused).0, Code::FailedPrecondition);
    assert_eq!(refusal(&refused).1, "RECEIPT_FROZEN");
    // Cancelling a frozen receipt is fraud-relevant: the refusal is recorded
    // as an attempt entry, which the head count below includes.
    let recorded = refused
        .refusal()
        .and_then(|r| r.info.as_ref())
        .and_then(|i| i.metadata.get("attempt_entry"));
    assert!(
        recorded.is_some(),
        "the frozen refusal names its attempt entry"
    );
    submit(
        &node,
        &client,
        ops::unfreeze_receipt("WR-1b", "(2026) Zhe 09 Min 1"),
        &["regulator"],
    )
    .await
    .unwrap();
    submit(
        &node,
        &client,
        ops::cancel_receipt("WR-1b", "delivery"),
        &["trader-b", "wh-1"],
    )
    .await
    .unwrap();
    let tank = client.tank("T-101").await.unwrap();
    assert_eq!(
        (tank.certified_kg, tank.receipted_kg),
        (3_000_000, 3_000_000)
    );

    // Lists and views.
    let held = client
        .list_receipts(Some(Filter::HolderId("bank-b".into())), "", 0)
        .await
        .unwrap();
    assert_eq!(
        held.iter()
            .map(|r| r.terms.as_ref().unwrap().receipt_id.as_str())
            .collect::<Vec<_>>(),
        ["WR-1a"]
    );
    let split = client
        .list_receipts(Some(Filter::Status(pb::ReceiptStatus::Split as i32)), "", 0)
        .await
        .unwrap();
    assert_eq!(split.len(), 1);
    let pledge = client.pledge("PL-2").await.unwrap();
    assert_eq!(pledge.status, pb::PledgeStatus::Enforced as i32);
    assert_eq!(
        client.participant("bank-b").await.unwrap().spec.unwrap().id,
        "bank-b"
    );
    let missing = client.receipt("WR-404").await.unwrap_err();
    assert_eq!(refusal(&missing).0, Code::NotFound);
    let head = client.head().await.unwrap();
    // genesis and the two demo tanks, certify and issue, then nine changes
    // and the attempt entry of the refused cancel.
    assert_eq!(head.size, 3 + 2 + 9 + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_returns_the_original_entry_and_a_reused_tx_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let tx = pledge_client::ops::TxHeader::new("zhoushan-dev", "wh-1")
        .unwrap()
        .wrap(register_tank("T-X", "wh-1", "ZS-TEST", "X"));
    let signers = [node.signer("wh-1"), node.signer(INSPECTOR)];
    let envelope = pledge_client::keys::sign(&tx, &signers);
    let first = client.submit(&envelope).await.unwrap();
    let again = client.submit(&envelope).await.unwrap();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(
        (first.seq, &first.entry_hash, &first.seal),
        (again.seq, &again.entry_hash, &again.seal)
    );
    assert!(
        again.since.contains("tank `T-X` of `wh-1`"),
        "{}",
        again.since
    );
    let mut other = tx.clone();
    other.operation = Some(register_tank("T-Y", "wh-1", "ZS-TEST", "Y"));
    let reused = client
        .submit(&pledge_client::keys::sign(&other, &signers))
        .await
        .unwrap_err();
    let (code, reason, message) = refusal(&reused);
    assert_eq!(
        (code, reason.as_str()),
        (Code::AlreadyExists, "TX_ID_REUSED")
    );
    assert!(
        message.ends_with(&format!(
            "already used by entry {}, which registered tank `T-X` (ZS-TEST tank X) of `wh-1`",
            first.seq
        )),
        "{message}"
    );
    assert_eq!(client.head().await.unwrap().size, first.seq + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_node_is_a_transport_error_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let url = node.url();
    node.kill();
    let error = match pledge_client::LedgerClient::connect(&url).await {
        Err(error) => error,
        Ok(client) => client.head().await.unwrap_err(),
    };
    assert!(
        matches!(error, pledge_client::ClientError::Transport { .. }),
        "{error:?}"
    );
    assert!(error.refusal().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_the_window_still_gets_its_original_answer_and_what_became_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-OLD", 1_000).await;
    // A pledge whose window closes two seconds after it was drafted.
    let now = now_ms();
    let tx = pledge_client::ops::TxHeader::new("zhoushan-dev", "trader-a")
        .unwrap()
        .valid_between(now - 60_000, now + 2_000)
        .wrap(ops::register_pledge(
            "PL-OLD",
            "WR-OLD",
            "bank-a",
            ops::money(1_000, "USD"),
            "LN-OLD",
            now + 90 * DAY_MS,
        ));
    let envelope =
        pledge_client::keys::sign(&tx, &[node.signer("trader-a"), node.signer("bank-a")]);
    let first = client.submit(&envelope).await.unwrap();
    let released = submit(&node, &client, ops::release_pledge("PL-OLD"), &["bank-a"])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let retry = client.submit(&envelope).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.seq, retry.entry_hash), (first.seq, first.entry_hash));
    assert_eq!(
        retry.since,
        format!("pledge `PL-OLD` was released at entry {}", released.seq)
    );
    // A new transaction with a closed window is refused.
    let stale = pledge_client::ops::TxHeader::new("zhoushan-dev", "bank-a")
        .unwrap()
        .valid_between(now - 60_000, now + 2_000)
        .wrap(ops::release_pledge("PL-OLD"));
    let error = client
        .submit(&pledge_client::keys::sign(&stale, &[node.signer("bank-a")]))
        .await
        .unwrap_err();
    assert_eq!(refusal(&error).0, Code::FailedPrecondition);
    assert_eq!(refusal(&error).1, "TX_EXPIRED");
}
