//! The chain is the truth: the alerts a node serves are, alert by alert,
//! what `alerts::derive` gives over the node's own log, with entries sent
//! concurrently (several in a group), refused and recorded as attempts,
//! raised by the clock, and across a restart of the node.

use std::collections::BTreeSet;

use pledge_client::LedgerClient;
use pledge_client::keys::Signer;
use pledge_client::ops::{self, TxHeader};
use pledge_ledger::alerts::{self, Alert, AlertPolicy};
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::Envelope;
use pledge_ledger::testing;
use pledge_proto::v1 as pb;
use pledge_tests::{DEV_LEDGER_ID, Node};
use tokio_stream::StreamExt;

use super::super::common::*;

/// The alert as the node sends it.
fn to_proto(alert: Alert) -> pb::Alert {
    pb::Alert {
        index: alert.index,
        kind: alert.kind.as_str().into(),
        state: alert.state.as_str().into(),
        seq: alert.seq,
        time_ms: alert.time_ms,
        trigger: alert.trigger.as_str().into(),
        subject: alert.subject,
        parties: alert.parties.into_iter().collect(),
        fields: alert.fields.into_iter().collect(),
    }
}

/// Every entry of the node's log.
async fn log_of(client: &LedgerClient) -> Vec<Entry> {
    let stream = client.entries(0, false).await.unwrap();
    let records: Vec<pb::EntryRecord> = stream.map(|r| r.unwrap()).collect().await;
    records
        .iter()
        .map(|r| Entry::decode(&r.record).unwrap())
        .collect()
}

/// Asserts that the alerts the node serves the regulator are those
/// `alerts::derive` gives over the node's log, alert by alert; returns them.
async fn assert_alerts_are_derives(client: &LedgerClient, regulator: &Signer) -> Vec<pb::Alert> {
    let served: Vec<pb::Alert> = client
        .alerts(0, false, Some(regulator))
        .await
        .unwrap()
        .map(|alert| alert.unwrap())
        .collect()
        .await;
    let log = log_of(client).await;
    let derived: Vec<pb::Alert> = alerts::derive(&log, AlertPolicy::default())
        .unwrap()
        .into_iter()
        .map(to_proto)
        .collect();
    assert_eq!(
        served.len(),
        derived.len(),
        "{served:#?}\nderived: {derived:#?}"
    );
    for (served, derived) in served.iter().zip(&derived) {
        assert_eq!(served, derived, "alert {}", derived.index);
    }
    served
}

/// `operation` signed by `signers`.
fn signed(node: &Node, operation: pb::transaction::Operation, signers: &[&str]) -> Envelope {
    let tx = TxHeader::new(DEV_LEDGER_ID, signers[0])
        .unwrap()
        .wrap(operation);
    let signers: Vec<Signer> = signers.iter().map(|id| node.signer(id)).collect();
    pledge_client::keys::sign(&tx, &signers)
}

/// trader-a's pledge of `receipt` to `bank`, maturing at `maturity_ms`.
fn pledge_of(node: &Node, id: &str, receipt: &str, bank: &str, maturity_ms: u64) -> Envelope {
    let op = ops::register_pledge(
        id,
        receipt,
        bank,
        ops::money(300_000_000, "USD"),
        &format!("LOAN-{id}"),
        maturity_ms,
    );
    signed(node, op, &["trader-a", bank])
}

/// Sends `envelopes` all at once; the number accepted.
async fn send_at_once(client: &LedgerClient, envelopes: Vec<Envelope>) -> usize {
    let mut sent = tokio::task::JoinSet::new();
    for envelope in envelopes {
        let client = client.clone();
        sent.spawn(async move { client.submit(&envelope).await });
    }
    let mut accepted = 0;
    while let Some(answer) = sent.join_next().await {
        accepted += usize::from(answer.unwrap().is_ok());
    }
    accepted
}

/// Issues `receipt` on T-101 expiring at `expires_at_ms`.
async fn issue_expiring(node: &Node, client: &LedgerClient, receipt: &str, expires_at_ms: u64) {
    let cert = format!("SGS-{receipt}");
    submit(
        node,
        client,
        certify(&cert, 1_000_000),
        &["wh-1", INSPECTOR, "trader-a"],
    )
    .await
    .unwrap();
    let terms = testing::issue_terms(receipt, "T-101", &cert, 1_000_000, expires_at_ms);
    submit(node, client, ops::issue_receipt(terms), &["wh-1"])
        .await
        .unwrap();
}

fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

fn kinds(alerts: &[pb::Alert]) -> BTreeSet<&str> {
    alerts.iter().map(|a| a.kind.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nodes_alerts_are_derives_over_its_log_with_concurrent_groups_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = ["--metrics-listen", "127.0.0.1:0"];
    let node = Node::start_with(dir.path(), &metrics);
    let client = node.client().await;
    let regulator = node.signer("regulator");
    for n in 1..=24 {
        issue(&node, &client, &format!("WR-{n}"), 1_000_000).await;
    }
    // Within the 30 days' warning of its expiry.
    issue_expiring(&node, &client, "WR-SOON", now_ms() + 10 * DAY_MS).await;

    // Sent at once: pledges, the receipt close to expiry, and a pledge
    // maturing in five seconds; then, at once, a pledge of each receipt
    // to the other bank (refused, recorded as attempts).
    let in_90_days = now_ms() + 90 * DAY_MS;
    let maturity = now_ms() + 5_000;
    let mut first = vec![
        pledge_of(&node, "PL-SOON", "WR-SOON", "bank-a", in_90_days),
        pledge_of(&node, "PL-MATURING", "WR-24", "bank-b", maturity),
    ];
    let mut again = Vec::new();
    for n in 1..=16 {
        let receipt = format!("WR-{n}");
        let (bank, other) = match n % 2 {
            0 => ("bank-a", "bank-b"),
            _ => ("bank-b", "bank-a"),
        };
        first.push(pledge_of(
            &node,
            &format!("PL-{n}"),
            &receipt,
            bank,
            in_90_days,
        ));
        let id = format!("PL-{n}-AGAIN");
        again.push(pledge_of(&node, &id, &receipt, other, in_90_days));
    }
    assert_eq!(send_at_once(&client, first).await, 18);
    assert_eq!(send_at_once(&client, again).await, 0, "each refused");
    let page = node.metrics();
    let (entries, groups) = (
        counter(&page, "pledge_entries_total"),
        counter(&page, "pledge_groups_total"),
    );
    assert!(groups < entries, "several entries shared a group: {page}");
    let before = assert_alerts_are_derives(&client, &regulator).await;
    for kind in [
        "DOUBLE_PLEDGE_ATTEMPT",
        "PLEDGED_RECEIPT_EXPIRING",
        "HOLDER_CONCENTRATION",
    ] {
        assert!(kinds(&before).contains(kind), "{kind}: {before:#?}");
    }

    // Past the maturity: the next entry raises it by the clock.
    while now_ms() <= maturity {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    pledge(&node, &client, "PL-17", "WR-17", "trader-a", "bank-a")
        .await
        .unwrap();
    let matured = assert_alerts_are_derives(&client, &regulator).await;
    let by_clock: Vec<&pb::Alert> = matured
        .iter()
        .filter(|a| a.kind == "PLEDGE_PAST_MATURITY")
        .collect();
    assert_eq!(by_clock.len(), 1, "{matured:#?}");
    assert_eq!(
        (by_clock[0].trigger.as_str(), by_clock[0].subject.as_str()),
        ("CLOCK", "PL-MATURING")
    );

    // Restarted, the node derives the same alerts from its log, then goes
    // on from there.
    node.terminate();
    let node = Node::start_with(dir.path(), &metrics);
    let client = node.client().await;
    let after_restart = assert_alerts_are_derives(&client, &regulator).await;
    assert_eq!(after_restart, matured);
    let release = |id: &str, bank: &str| signed(&node, ops::release_pledge(id), &[bank]);
    let more = vec![
        release("PL-MATURING", "bank-b"),
        release("PL-2", "bank-a"),
        pledge_of(&node, "PL-18", "WR-18", "bank-a", in_90_days),
        pledge_of(&node, "PL-18-AGAIN", "WR-18", "bank-b", in_90_days),
        pledge_of(&node, "PL-1-AGAIN-2", "WR-1", "bank-a", in_90_days),
    ];
    assert_eq!(send_at_once(&client, more).await, 3);
    let last = assert_alerts_are_derives(&client, &regulator).await;
    assert!(last.len() > matured.len(), "{last:#?}");
    assert!(
        last[matured.len()..]
            .iter()
            .any(|a| a.kind == "PLEDGE_PAST_MATURITY" && a.state == "CLEARED"),
        "the release clears the maturity alert: {last:#?}"
    );
}
