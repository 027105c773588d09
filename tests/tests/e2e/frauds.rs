//! The frauds of Qingdao (2014), Hin Leong (2020) and 广州浪奇 (2020), tried
//! against a real node the way they happened: each is refused, with the
//! reason a bank's officer can act on, and nothing is applied: a refusal for
//! a fraud-relevant reason is recorded as an attempt entry, nothing else.

use pledge_client::ops::{self, TxHeader};
use pledge_client::{ClientError, LedgerClient, keys};
use pledge_ledger::crypto;
use pledge_proto::v1 as pb;
use pledge_tests::{DEV_LEDGER_ID, Node};
use tonic::Code;

use super::common::*;

/// Submits and expects a refusal with `code` and `reason`; the chain grows
/// by the attempt entry that records a fraud-relevant refusal, at `size`,
/// and by nothing else (`size` follows). The refusal's message.
async fn refused(
    client: &LedgerClient,
    answer: Result<pb::SubmitResponse, ClientError>,
    code: Code,
    reason: &str,
    size: &mut u64,
) -> String {
    let error = answer.expect_err("the fraud must be refused");
    let (found_code, found_reason, message) = refusal(&error);
    assert_eq!(
        (found_code, found_reason.as_str()),
        (code, reason),
        "{message}"
    );
    let metadata = error
        .refusal()
        .and_then(|r| r.info.as_ref())
        .map(|i| &i.metadata);
    let attempt = metadata.and_then(|m| m.get("attempt_entry"));
    let fraud = pledge_ledger::rules::FRAUD_RELEVANT_REASONS.contains(&reason);
    assert_eq!(
        attempt.is_some(),
        fraud,
        "{reason}: attempt entry {attempt:?}"
    );
    if let Some(seq) = attempt {
        assert_eq!(seq.parse::<u64>().unwrap(), *size);
        *size += 1;
    }
    assert_eq!(client.head().await.unwrap().size, *size, "{message}");
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_physical_tank_at_two_warehouses_and_a_tank_on_the_warehouses_word() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let first = submit(
        &node,
        &client,
        register_tank("ZS7/T-7", "wh-1", "ZS-BONDED-07", "T-7"),
        &["wh-1", INSPECTOR],
    )
    .await
    .unwrap();
    // wh-2 registers the very same tank under another id, to receipt its oil again.
    let mut size = client.head().await.unwrap().size;
    let again = submit(
        &node,
        &client,
        register_tank("DS/T-7", "wh-2", "ZS-BONDED-07", "T-7"),
        &["wh-2", INSPECTOR],
    )
    .await;
    let message = refused(
        &client,
        again,
        Code::AlreadyExists,
        "PHYSICAL_TANK_REGISTERED",
        &mut size,
    )
    .await;
    assert_eq!(
        message,
        format!(
            "ZS-BONDED-07 tank T-7 is already registered as tank `ZS7/T-7` of warehouse `wh-1` (entry {})",
            first.seq
        )
    );
    // A tank on the warehouse's word alone: no calibrating inspector signed.
    let alone = submit(
        &node,
        &client,
        register_tank("ZS8/T-8", "wh-1", "ZS-BONDED-07", "T-8"),
        &["wh-1"],
    )
    .await;
    let message = refused(
        &client,
        alone,
        Code::PermissionDenied,
        "MISSING_SIGNATURE",
        &mut size,
    )
    .await;
    assert!(
        message.contains("`insp-sgs` as calibrating inspector"),
        "{message}"
    );
    // A ten-million-tonne tank is not a tank (the largest accepted holds a
    // million tonnes).
    let huge = ops::register_tank(
        "ZS9/T-9",
        "wh-1",
        10_000_000_000,
        "MGO",
        ops::physical_tank_id("ZS-BONDED-07", "T-9"),
        INSPECTOR,
        "CAL-9",
    );
    let huge = submit(&node, &client, huge, &["wh-1", INSPECTOR]).await;
    refused(&client, huge, Code::InvalidArgument, "MALFORMED", &mut size).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stock_on_the_warehouses_word_or_in_a_forwarders_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let mut size = client.head().await.unwrap().size;
    // The inspector absent: the warehouse types an agency's name and a number.
    let no_inspector = submit(
        &node,
        &client,
        certify("SGS-1", 1_000),
        &["wh-1", "trader-a"],
    )
    .await;
    let message = refused(
        &client,
        no_inspector,
        Code::PermissionDenied,
        "MISSING_SIGNATURE",
        &mut size,
    )
    .await;
    assert!(message.contains("`insp-sgs` as inspector"), "{message}");
    // Goods in a forwarder's name, without the owner's word.
    let no_owner = submit(
        &node,
        &client,
        certify("SGS-1", 1_000),
        &["wh-1", INSPECTOR],
    )
    .await;
    let message = refused(
        &client,
        no_owner,
        Code::PermissionDenied,
        "MISSING_SIGNATURE",
        &mut size,
    )
    .await;
    assert!(message.contains("`trader-a` as depositor"), "{message}");
    // All three sign: certified.
    submit(
        &node,
        &client,
        certify("SGS-1", 1_000),
        &["wh-1", INSPECTOR, "trader-a"],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn oil_that_left_the_tank_then_a_pledge_is_refused_naming_the_shortfall() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 5_000_000).await;
    issue(&node, &client, "WR-2", 3_000_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    // 6,000 t leave the tank without any receipt being cancelled; the
    // inspector re-gauges and finds 2,000 t.
    let gauged = ops::gauging(INSPECTOR, "SGS-RG-77", 2_000_000, now_ms());
    let regauge = submit(
        &node,
        &client,
        ops::regauge_tank("T-101", gauged),
        &[INSPECTOR],
    )
    .await
    .unwrap();
    let mut size = client.head().await.unwrap().size;
    let second = pledge(&node, &client, "PL-2", "WR-2", "trader-a", "bank-b").await;
    let message = refused(
        &client,
        second,
        Code::FailedPrecondition,
        "TANK_SHORTFALL",
        &mut size,
    )
    .await;
    assert_eq!(
        message,
        format!(
            "receipt `WR-2`: tank `T-101` is in shortfall since entry {}: inspector `insp-sgs` \
             measured 2000000 kg (report SGS-RG-77) against 8000000 kg of live receipts, \
             6000000 kg missing",
            regauge.seq
        )
    );
    // The existing pledge is marked; the receipts show the shortfall.
    let receipt = client.receipt("WR-1").await.unwrap();
    let shortfall = receipt.tank_shortfall.unwrap();
    assert_eq!(
        (shortfall.missing_kg, shortfall.since_seq),
        (6_000_000, regauge.seq)
    );
    assert!(
        receipt
            .active_pledge
            .unwrap()
            .collateral_shortfall
            .is_some()
    );
    assert!(client.tank("T-101").await.unwrap().shortfall.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_and_identities_are_nobody_elses_word() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    let mut size = client.head().await.unwrap().size;
    // The admin rotates bank-a's key to one it holds, to release bank-a's pledge.
    let admins_key = crypto::generate_signing_key().unwrap();
    let rotate = ops::rotate_key("bank-a", &crypto::public_key(&admins_key));
    let rotated = submit(&node, &client, rotate, &["admin"]).await;
    let message = refused(
        &client,
        rotated,
        Code::PermissionDenied,
        "MISSING_SIGNATURE",
        &mut size,
    )
    .await;
    assert!(message.contains("`bank-a` as key owner"), "{message}");
    let recover = ops::recover_key("bank-a", &crypto::public_key(&admins_key), "lost");
    let recovered = submit(&node, &client, recover, &["admin"]).await;
    let message = refused(
        &client,
        recovered,
        Code::PermissionDenied,
        "QUORUM_NOT_MET",
        &mut size,
    )
    .await;
    assert!(
        message.contains("2 of the quorum members {admin, regulator}"),
        "{message}"
    );
    // A look-alike legal name with bank-a's legal identity.
    let bank_a = client.participant("bank-a").await.unwrap().spec.unwrap();
    let look_alike = ops::participant_spec(
        "bank-a-zs",
        "Bank A (Zhoushan) Branch",
        &[pb::Role::Bank],
        &crypto::public_key(&crypto::generate_signing_key().unwrap()),
        bank_a.legal_identity.clone().unwrap(),
    );
    let admitted = submit(&node, &client, ops::admit_participant(look_alike), QUORUM).await;
    refused(
        &client,
        admitted,
        Code::AlreadyExists,
        "LEGAL_ID_IN_USE",
        &mut size,
    )
    .await;
    // The warehouse's own key admitted again as a trader, to finance its own receipts.
    let wh_key = node.signer("wh-1").public_key();
    let own_trader = ops::participant_spec(
        "wh-1-trading",
        "Zhoushan Tank Farm Trading",
        &[pb::Role::Holder],
        &wh_key,
        ops::uscc("91350100M000100Y43"),
    );
    let admitted = submit(&node, &client, ops::admit_participant(own_trader), QUORUM).await;
    let message = refused(
        &client,
        admitted,
        Code::AlreadyExists,
        "KEY_IN_USE",
        &mut size,
    )
    .await;
    assert!(
        message.contains("belongs to participant `wh-1`"),
        "{message}"
    );
    // Revoking bank-a would strand its pledge: a successor is required.
    let revoke = ops::revoke_participant("bank-a", "licence withdrawn", None);
    let stranded = submit(&node, &client, revoke, QUORUM).await;
    refused(
        &client,
        stranded,
        Code::FailedPrecondition,
        "SUCCESSOR_REQUIRED",
        &mut size,
    )
    .await;
    let revoke = ops::revoke_participant("bank-a", "licence withdrawn", Some("bank-b"));
    submit(&node, &client, revoke, QUORUM).await.unwrap();
    assert_eq!(client.pledge("PL-1").await.unwrap().pledgee_id, "bank-b");
    submit(&node, &client, ops::release_pledge("PL-1"), &["bank-b"])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_day_old_co_signature_is_accepted_and_an_expired_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000_000).await;
    issue(&node, &client, "WR-2", 1_000_000).await;
    let pledge_of = |id: &str, receipt: &str| {
        ops::register_pledge(
            id,
            receipt,
            "bank-a",
            ops::money(1_000_000, "USD"),
            &format!("LN-{id}"),
            now_ms() + 90 * DAY_MS,
        )
    };
    let signers = [node.signer("trader-a"), node.signer("bank-a")];
    // Drafted by trader-a yesterday for a week; bank-a's credit committee
    // signs today.
    let drafted = now_ms() - DAY_MS;
    let tx = TxHeader::new(DEV_LEDGER_ID, "trader-a")
        .unwrap()
        .valid_between(drafted, drafted + 7 * DAY_MS)
        .wrap(pledge_of("PL-1", "WR-1"));
    let committed = client.submit(&keys::sign(&tx, &signers)).await.unwrap();
    assert!(!committed.duplicate);
    // Drafted eight days ago for a week: expired yesterday.
    let drafted = now_ms() - 8 * DAY_MS;
    let tx = TxHeader::new(DEV_LEDGER_ID, "trader-a")
        .unwrap()
        .valid_between(drafted, drafted + 7 * DAY_MS)
        .wrap(pledge_of("PL-2", "WR-2"));
    let mut size = client.head().await.unwrap().size;
    let expired = client.submit(&keys::sign(&tx, &signers)).await;
    let message = refused(
        &client,
        expired,
        Code::FailedPrecondition,
        "TX_EXPIRED",
        &mut size,
    )
    .await;
    assert!(
        message.starts_with("the transaction expired at 20"),
        "{message}"
    );
    assert!(message.contains("Z (entry time 20"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn early_enforcement_and_a_revoked_warehouses_receipts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000_000).await;
    issue(&node, &client, "WR-2", 1_000_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    let mut size = client.head().await.unwrap().size;
    // The bank takes the oil before the loan matures, on its own word.
    let early = ops::enforce_pledge("PL-1", None, pb::EnforcementGrounds::Maturity, "");
    let early = submit(&node, &client, early, &["bank-a"]).await;
    refused(
        &client,
        early,
        Code::FailedPrecondition,
        "ENFORCEMENT_BEFORE_MATURITY",
        &mut size,
    )
    .await;
    // With a court order, co-signed by a regulator, it may.
    let ordered = ops::enforce_pledge(
        "PL-1",
        None,
        pb::EnforcementGrounds::Order,
        "(2026) Zhe 09 Zhi 77",
    );
    submit(&node, &client, ordered, &["bank-a", "regulator"])
        .await
        .unwrap();
    assert_eq!(client.receipt("WR-1").await.unwrap().holder_id, "bank-a");
    // The warehouse is revoked: its receipts cannot be newly pledged.
    let revoke = ops::revoke_participant("wh-1", "licence withdrawn", None);
    submit(&node, &client, revoke, QUORUM).await.unwrap();
    let mut size = client.head().await.unwrap().size;
    let pledged = pledge(&node, &client, "PL-2", "WR-2", "trader-a", "bank-b").await;
    refused(
        &client,
        pledged,
        Code::FailedPrecondition,
        "CUSTODIAN_REVOKED",
        &mut size,
    )
    .await;
    assert!(client.receipt("WR-2").await.unwrap().custodian_revoked);
}
