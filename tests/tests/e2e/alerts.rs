//! WatchAlerts against a real node: who sees which alert, resuming from
//! an index, the refusals of a watch request that is not good, and a
//! pledge's collateral value crossing its margin level.

use pledge_client::keys::Signer;
use pledge_client::ops;
use pledge_client::{ClientError, LedgerClient};
use pledge_ledger::alerts::request::WatchRequest;
use pledge_proto::v1::{self as pb, ledger_service_client::LedgerServiceClient};
use pledge_tests::{DEV_LEDGER_ID, Node};
use tokio_stream::StreamExt;
use tonic::Code;

use super::common::*;

/// The alerts served against `alerts::derive` over the node's log.
mod chain;

/// Every alert `watcher` may see, from `from` (not following).
async fn alerts_of(client: &LedgerClient, watcher: &Signer, from: u64) -> Vec<pb::Alert> {
    let stream = client.alerts(from, false, Some(watcher)).await.unwrap();
    stream.map(|alert| alert.unwrap()).collect().await
}

fn kinds(alerts: &[pb::Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.kind.as_str()).collect()
}

/// WR-1 pledged to bank-a, then bank-b's pledge of it refused (an attempt
/// naming trader-a and both banks); WR-2 pledged to bank-a, then pledged
/// to bank-a again (an attempt naming trader-a and bank-a only).
async fn two_banks_one_fraud_each(node: &Node, client: &LedgerClient) {
    issue(node, client, "WR-1", 1_000_000).await;
    issue(node, client, "WR-2", 1_000_000).await;
    pledge(node, client, "PL-A1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    pledge(node, client, "PL-B1", "WR-1", "trader-a", "bank-b")
        .await
        .unwrap_err();
    pledge(node, client, "PL-A2", "WR-2", "trader-a", "bank-a")
        .await
        .unwrap();
    pledge(node, client, "PL-A3", "WR-2", "trader-a", "bank-a")
        .await
        .unwrap_err();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_sees_its_own_alerts_and_not_another_banks() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    two_banks_one_fraud_each(&node, &client).await;

    let all = alerts_of(&client, &node.signer("regulator"), 0).await;
    let indexes: Vec<u64> = all.iter().map(|a| a.index).collect();
    assert_eq!(indexes, (0..all.len() as u64).collect::<Vec<_>>());
    let attempts: Vec<&pb::Alert> = all
        .iter()
        .filter(|a| a.kind == "DOUBLE_PLEDGE_ATTEMPT")
        .collect();
    assert_eq!(attempts.len(), 2, "{all:#?}");
    // The double pledge names the holder who signed twice and both banks.
    let race = attempts[0];
    assert_eq!(race.parties, ["bank-a", "bank-b", "trader-a"]);
    assert_eq!(race.subject, "WR-1");
    assert_eq!(race.fields["pledgee"], "bank-a");
    assert_eq!(race.fields["refused_pledgee"], "bank-b");
    assert_eq!(race.fields["signers"], "bank-b,trader-a");

    let bank_b = alerts_of(&client, &node.signer("bank-b"), 0).await;
    assert_eq!(bank_b, vec![race.clone()], "bank-b sees only its own");
    let bank_a = alerts_of(&client, &node.signer("bank-a"), 0).await;
    assert!(bank_a.iter().all(|a| a.parties.contains(&"bank-a".into())));
    assert!(kinds(&bank_a).contains(&"DOUBLE_PLEDGE_ATTEMPT"));
    assert_eq!(
        bank_a
            .iter()
            .filter(|a| a.kind == "DOUBLE_PLEDGE_ATTEMPT")
            .count(),
        2
    );
    // The warehouse sees its tank's concentration, none of the attempts.
    let wh = alerts_of(&client, &node.signer("wh-1"), 0).await;
    assert_eq!(kinds(&wh), ["HOLDER_CONCENTRATION"], "{wh:#?}");
    // An auditor sees everything, as the regulator does.
    assert_eq!(alerts_of(&client, &node.signer("auditor"), 0).await, all);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watcher_resumes_from_an_index_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let regulator = node.signer("regulator");
    issue(&node, &client, "WR-1", 1_000_000).await;
    pledge(&node, &client, "PL-A1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();

    // A follower reads what there is, then an alert that comes later.
    let mut follow = client.alerts(0, true, Some(&regulator)).await.unwrap();
    let first = follow.next().await.unwrap().unwrap();
    assert_eq!(first.index, 0);
    pledge(&node, &client, "PL-B1", "WR-1", "trader-a", "bank-b")
        .await
        .unwrap_err();
    let mut seen = vec![first];
    while seen.last().unwrap().kind != "DOUBLE_PLEDGE_ATTEMPT" {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), follow.next())
            .await
            .expect("the attempt's alert comes to a follower")
            .unwrap()
            .unwrap();
        seen.push(next);
    }
    drop(follow);

    // More alerts while nobody watches; then the watcher resumes.
    pledge(&node, &client, "PL-B2", "WR-1", "trader-a", "bank-b")
        .await
        .unwrap_err();
    let resume_from = seen.last().unwrap().index + 1;
    seen.extend(alerts_of(&client, &regulator, resume_from).await);
    let all = alerts_of(&client, &regulator, 0).await;
    assert_eq!(seen, all, "no gap, no duplicate");
    assert!(all.len() >= 3, "{all:#?}");
    // Resuming at the end gives nothing; past it is refused.
    assert!(
        alerts_of(&client, &regulator, all.len() as u64)
            .await
            .is_empty()
    );
    let past = client
        .alerts(all.len() as u64 + 1, false, Some(&regulator))
        .await;
    let error = match past {
        Err(error) => error,
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
    };
    assert_eq!(refusal(&error).1, "PAST_LAST_ALERT", "{error}");
}

/// A request signed by `signer` at `time_ms`, with its signature.
fn signed(signer: &Signer, from_index: u64, time_ms: u64) -> pb::WatchAlertsRequest {
    let request = WatchRequest {
        ledger_id: DEV_LEDGER_ID.into(),
        participant_id: signer.id.clone(),
        from_index,
        follow: false,
        time_ms,
    };
    pb::WatchAlertsRequest {
        from_index,
        follow: false,
        participant_id: signer.id.clone(),
        time_ms,
        signature: request.sign(&signer.key).unwrap().to_vec(),
    }
}

async fn refused(
    service: &mut LedgerServiceClient<tonic::transport::Channel>,
    request: pb::WatchAlertsRequest,
) -> (Code, String) {
    let status = match service.watch_alerts(request).await {
        Err(status) => status,
        Ok(stream) => {
            let mut stream = stream.into_inner();
            stream
                .next()
                .await
                .expect("an answer")
                .expect_err("a refusal")
        }
    };
    let (code, reason, _) = refusal(&ClientError::from(status));
    (code, reason)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_request_stale_replayed_forged_or_anonymous_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let mut service = LedgerServiceClient::connect(node.url()).await.unwrap();
    let bank_b = node.signer("bank-b");

    let good = signed(&bank_b, 0, now_ms());
    let answered = service.watch_alerts(good.clone()).await.unwrap();
    let none: Vec<_> = answered.into_inner().collect().await;
    assert!(none.iter().all(Result::is_ok), "{none:?}");
    assert_eq!(
        refused(&mut service, good).await,
        (Code::Unauthenticated, "REQUEST_REPLAYED".into())
    );
    let stale = signed(&bank_b, 0, now_ms() - 10 * 60 * 1000);
    assert_eq!(
        refused(&mut service, stale).await,
        (Code::Unauthenticated, "REQUEST_STALE".into())
    );
    let mut forged = signed(&bank_b, 0, now_ms());
    forged.participant_id = "bank-a".into();
    assert_eq!(
        refused(&mut service, forged).await,
        (Code::Unauthenticated, "BAD_SIGNATURE".into())
    );
    let mut stranger = signed(&bank_b, 0, now_ms());
    stranger.participant_id = "bank-zz".into();
    assert_eq!(
        refused(&mut service, stranger).await,
        (Code::Unauthenticated, "UNKNOWN_SIGNER".into())
    );
    assert_eq!(
        refused(&mut service, pb::WatchAlertsRequest::default()).await,
        (Code::Unauthenticated, "WATCHER_NOT_NAMED".into())
    );
}

/// `pledgectl alerts` as bank B prints its refused attempt, and `--json`
/// one object a line.
#[tokio::test(flavor = "multi_thread")]
async fn pledgectl_alerts_shows_bank_b_its_refused_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    two_banks_one_fraud_each(&node, &client).await;
    let key = dir.path().join("dev-keys").join("bank-b.json");
    let url = node.url();
    let args = [
        "--node",
        url.as_str(),
        "alerts",
        "--key",
        key.to_str().unwrap(),
    ];
    let output = pledge_tests::pledgectl(&args);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("DOUBLE_PLEDGE_ATTEMPT RAISED WR-1"),
        "{text}"
    );
    assert!(lines[0].contains("refused_pledgee=bank-b"), "{text}");
    let json_args = [
        "--node",
        url.as_str(),
        "--json",
        "alerts",
        "--key",
        key.to_str().unwrap(),
    ];
    let output = pledge_tests::pledgectl(&json_args);
    let alert: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(alert["fields"]["pledgee"], "bank-a", "{alert}");
}

/// trader-a pledges `receipt_id` to `bank` for `secured_minor` US cents,
/// with a margin level of 80 %.
async fn pledge_with_margin(
    node: &Node,
    client: &LedgerClient,
    ids: (&str, &str),
    bank: &str,
    secured_minor: u64,
) {
    let (pledge_id, receipt_id) = ids;
    let op = ops::register_pledge(
        pledge_id,
        receipt_id,
        bank,
        ops::money(secured_minor, "USD"),
        &format!("LOAN-{pledge_id}"),
        now_ms() + 90 * DAY_MS,
    );
    let op = ops::with_margin_level(op, 8_000);
    submit(node, client, op, &["trader-a", bank]).await.unwrap();
}

/// The demo price reporter assesses VLSFO at `price_minor` US cents a tonne.
async fn assess(node: &Node, client: &LedgerClient, price_minor: u64, at_ms: u64) -> u64 {
    let price = ops::money(price_minor, "USD");
    let op = ops::assess_price("price-desk", "VLSFO 0.5%S", price, at_ms);
    submit(node, client, op, &["price-desk"]).await.unwrap().seq
}

fn below_margin(alerts: &[pb::Alert]) -> Vec<&pb::Alert> {
    alerts
        .iter()
        .filter(|a| a.kind == "COLLATERAL_BELOW_MARGIN")
        .collect()
}

/// A price fall takes bank-a's pledge below its margin level and a rise
/// brings it back: bank-a sees the alert raised and cleared; bank-b, whose
/// own pledge of the same grade stays well within its level, sees neither.
#[tokio::test(flavor = "multi_thread")]
async fn a_bank_sees_its_collateral_fall_below_the_margin_level_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-V", 1_000_000).await;
    issue(&node, &client, "WR-W", 1_000_000).await;
    // USD 490,000.00 and USD 100,000.00 on 1,000 t each.
    pledge_with_margin(&node, &client, ("PL-V", "WR-V"), "bank-a", 49_000_000).await;
    pledge_with_margin(&node, &client, ("PL-W", "WR-W"), "bank-b", 10_000_000).await;
    let now = now_ms();
    // USD 600.00 a tonne: PL-V at 81.67 %, PL-W at 16.67 %.
    let fall = assess(&node, &client, 60_000, now - 1_000).await;
    // USD 700.00 a tonne: PL-V at 70 %.
    let rise = assess(&node, &client, 70_000, now).await;

    let bank_a = alerts_of(&client, &node.signer("bank-a"), 0).await;
    let seen = below_margin(&bank_a);
    assert_eq!(seen.len(), 2, "{bank_a:#?}");
    let (raised, cleared) = (seen[0], seen[1]);
    assert_eq!(
        (raised.state.as_str(), raised.seq, raised.subject.as_str()),
        ("RAISED", fall, "PL-V")
    );
    assert_eq!(raised.parties, ["bank-a"]);
    assert_eq!(raised.fields["ltv_bp"], "8167");
    assert_eq!(raised.fields["margin_level_bp"], "8000");
    assert_eq!(raised.fields["collateral_value_minor"], "60000000");
    assert_eq!(raised.fields["secured_minor"], "49000000");
    assert_eq!(raised.fields["price_entry"], fall.to_string());
    assert_eq!(
        (
            cleared.state.as_str(),
            cleared.seq,
            cleared.subject.as_str()
        ),
        ("CLEARED", rise, "PL-V")
    );

    let bank_b = alerts_of(&client, &node.signer("bank-b"), 0).await;
    assert!(below_margin(&bank_b).is_empty(), "{bank_b:#?}");
    // The regulator sees the very same two, and no others of the kind.
    let all = alerts_of(&client, &node.signer("regulator"), 0).await;
    assert_eq!(below_margin(&all), seen);
}
