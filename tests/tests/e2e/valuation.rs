//! The collateral value watch through a real node: a price reporter's
//! assessments move a pledge's loan-to-value across its margin level and
//! back, as the pledge view shows it, and the view equals what replay of
//! the chain computes.

use pledge_client::LedgerClient;
use pledge_client::keys::{self, Signer};
use pledge_client::ops::{self, TxHeader};
use pledge_ledger::rules::valuation::{self, PledgeValuation};
use pledge_proto::v1::{self as pb, transaction::Operation};
use pledge_tests::{DEV_LEDGER_ID, Node};
use tonic::Code;

use super::common::*;

const GRADE: &str = "VLSFO 0.5%S";

/// Admits price reporter `platts` (the quorum signs) and returns its signer.
async fn admit_reporter(node: &Node, client: &LedgerClient) -> Signer {
    let key = pledge_ledger::crypto::generate_signing_key().unwrap();
    let first17 = "91330900MA2P8R1C0";
    let check = pledge_ledger::identity::uscc_check_character(first17).unwrap();
    let spec = ops::participant_spec(
        "platts",
        "Platts Zhoushan Desk",
        &[pb::Role::PriceReporter],
        &pledge_ledger::crypto::public_key(&key),
        ops::uscc(&format!("{first17}{check}")),
    );
    submit(node, client, ops::admit_participant(spec), QUORUM)
        .await
        .unwrap();
    Signer::new("platts", key)
}

async fn assess(
    client: &LedgerClient,
    reporter: &Signer,
    price_minor: u64,
    currency: &str,
) -> Result<pb::SubmitResponse, pledge_client::ClientError> {
    let op: Operation =
        ops::assess_price("platts", GRADE, ops::money(price_minor, currency), now_ms());
    let tx = TxHeader::new(DEV_LEDGER_ID, "platts").unwrap().wrap(op);
    client
        .submit(&keys::sign(&tx, std::slice::from_ref(reporter)))
        .await
}

/// The pledge view's collateral value of PL-V.
async fn collateral(client: &LedgerClient) -> pb::CollateralValueView {
    let view = client.pledge("PL-V").await.unwrap();
    view.collateral_value.expect("an active pledge is valued")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ltv_crosses_the_margin_level_and_recovers_in_the_pledge_view() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let reporter = admit_reporter(&node, &client).await;
    issue(&node, &client, "WR-V", 1_000_000).await;
    let pledge = ops::register_pledge(
        "PL-V",
        "WR-V",
        "bank-a",
        ops::money(49_000_000, "USD"),
        "LOAN-V",
        now_ms() + 90 * DAY_MS,
    );
    let pledge = ops::with_margin_level(pledge, 8_000);
    submit(&node, &client, pledge, &["trader-a", "bank-a"])
        .await
        .unwrap();

    let view = client.pledge("PL-V").await.unwrap();
    assert_eq!(view.terms.unwrap().margin_level_bp, 8_000);
    let unpriced = view.collateral_value.unwrap();
    assert!(!unpriced.priced);
    assert_eq!(
        unpriced.unpriced_reason,
        "no price of `VLSFO 0.5%S` in USD has been assessed"
    );
    // Only a CNY price: still no LTV for a USD loan.
    assess(&client, &reporter, 440_000, "CNY").await.unwrap();
    assert!(!collateral(&client).await.priced);

    // USD 612.50/t: exactly 80 %, at the level.
    let at_level = assess(&client, &reporter, 61_250, "USD").await.unwrap();
    let value = collateral(&client).await;
    assert!(value.priced);
    assert_eq!(value.collateral_value_minor, 61_250_000);
    assert_eq!(
        (value.loan_to_value_bp, value.margin_level_bp),
        (8_000, 8_000)
    );
    assert!(!value.below_margin);
    assert_eq!(value.assessment.unwrap().at_seq, at_level.seq);

    // USD 612.49/t: 8,000.13 bp rounds up to 8,001: below the margin.
    assess(&client, &reporter, 61_249, "USD").await.unwrap();
    let value = collateral(&client).await;
    assert_eq!(value.loan_to_value_bp, 8_001);
    assert!(value.below_margin);
    // The receipt's view shows its pledge the same way.
    let receipt = client.receipt("WR-V").await.unwrap();
    assert_eq!(
        receipt.active_pledge.unwrap().collateral_value,
        Some(value.clone())
    );

    // USD 700.00/t: 7,000 bp, within the level again.
    assess(&client, &reporter, 70_000, "USD").await.unwrap();
    let recovered = collateral(&client).await;
    assert_eq!(recovered.loan_to_value_bp, 7_000);
    assert!(!recovered.below_margin);

    // The chain is the truth: replay computes the same valuation.
    let replayer = replay_from_node(&client).await;
    let state = replayer.state();
    let replayed = valuation::pledge_valuation(state, &state.pledges["PL-V"])
        .unwrap()
        .unwrap();
    let PledgeValuation::Valued(replayed) = replayed else {
        panic!("replay found no price: {replayed:?}");
    };
    assert_eq!(replayed.loan_to_value_bp_u64(), recovered.loan_to_value_bp);
    assert_eq!(
        replayed.collateral_value_minor,
        u128::from(recovered.collateral_value_minor)
    );
    assert_eq!(replayed.assessment.at, recovered.assessment.unwrap().at_seq);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_or_unauthorised_assessment_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let reporter = admit_reporter(&node, &client).await;
    assess(&client, &reporter, 61_250, "USD").await.unwrap();
    let size = client.head().await.unwrap().size;
    // An assessment an hour older than the one in force.
    let an_hour_ago = now_ms() - 3_600_000;
    let op = ops::assess_price("platts", GRADE, ops::money(60_000, "USD"), an_hour_ago);
    let tx = TxHeader::new(DEV_LEDGER_ID, "platts").unwrap().wrap(op);
    let stale = client
        .submit(&keys::sign(&tx, std::slice::from_ref(&reporter)))
        .await
        .unwrap_err();
    let (code, reason, message) = refusal(&stale);
    assert_eq!(
        (code, reason.as_str()),
        (Code::FailedPrecondition, "ASSESSMENT_SUPERSEDED")
    );
    assert!(message.contains("`VLSFO 0.5%S` in USD"), "{message}");
    // A bank is no price reporter.
    let op = ops::assess_price("bank-a", GRADE, ops::money(1, "USD"), now_ms());
    let by_bank = submit(&node, &client, op, &["bank-a"]).await.unwrap_err();
    assert_eq!(
        refusal(&by_bank).1,
        "MISSING_ROLE",
        "{}",
        refusal(&by_bank).2
    );
    // Neither refusal is a fraud attempt: the chain did not grow.
    assert_eq!(client.head().await.unwrap().size, size);
}
