//! Price assessments by a price reporter, pledges' margin levels, and the
//! loan-to-value the ledger derives from them (rules/valuation.rs).

use pledge_ledger::Rejection;
use pledge_ledger::model::{PriceKey, Role};
use pledge_ledger::ops;
use pledge_ledger::rejection::Party;
use pledge_ledger::rules::valuation::{PledgeValuation, pledge_valuation};
use pledge_ledger::state::StateRead;
use pledge_proto::v1 as pb;

use crate::support::*;

const REPORTER: &str = "platts";

/// The world with a price reporter admitted.
fn with_reporter() -> World {
    let mut world = World::new();
    let reporter_key = key(40);
    world.ok(
        admit(REPORTER, &[pb::Role::PriceReporter], &reporter_key),
        QUORUM,
    );
    world.keys.insert(REPORTER.into(), reporter_key);
    world.now_ms += HOUR_MS;
    world
}

fn assess(price_minor: u64, currency: &str, assessed_at_ms: u64) -> pb::transaction::Operation {
    ops::assess_price(
        REPORTER,
        PRODUCT,
        ops::money(price_minor, currency),
        assessed_at_ms,
    )
}

fn usd_key() -> PriceKey {
    PriceKey {
        product_grade: PRODUCT.into(),
        currency: "USD".into(),
    }
}

/// Receipt R-1 (1,000 t) pledged to bank-a for USD 490,000.00 with a margin
/// level of 80 %.
fn pledged_at_margin(world: &mut World) {
    world.receipt_of("R-1", 1_000_000);
    let pledge = ops::register_pledge(
        "P-1",
        "R-1",
        "bank-a",
        ops::money(49_000_000, "USD"),
        "LOAN-P-1",
        world.now_ms + 90 * DAY_MS,
    );
    world.ok(
        ops::with_margin_level(pledge, 8_000),
        &["trader-a", "bank-a"],
    );
}

fn valuation(world: &World) -> PledgeValuation {
    let store = world.store();
    pledge_valuation(&store, &world.pledge("P-1"))
        .unwrap()
        .expect("the receipt exists")
}

#[test]
fn a_price_reporter_records_the_latest_price_of_a_grade() {
    let mut world = with_reporter();
    let at = world.ok(assess(61_250, "USD", world.now_ms - HOUR_MS), &[REPORTER]);
    let latest = world.store().price(&usd_key()).unwrap().expect("recorded");
    assert_eq!(latest.price_per_tonne_minor, 61_250);
    assert_eq!(latest.assessed_at_ms, world.now_ms - HOUR_MS);
    assert_eq!((latest.reporter_id.as_str(), latest.at), (REPORTER, at.seq));
    // A newer assessment replaces it; one in another currency is its own.
    world.now_ms += HOUR_MS;
    world.ok(assess(61_000, "USD", world.now_ms), &[REPORTER]);
    world.ok(
        assess(440_000, "CNY", world.now_ms - 2 * HOUR_MS),
        &[REPORTER],
    );
    let store = world.store();
    assert_eq!(
        store
            .price(&usd_key())
            .unwrap()
            .unwrap()
            .price_per_tonne_minor,
        61_000
    );
    let cny = PriceKey {
        currency: "CNY".into(),
        ..usd_key()
    };
    assert_eq!(
        store.price(&cny).unwrap().unwrap().price_per_tonne_minor,
        440_000
    );
    world.assert_replays();
}

#[test]
fn an_assessment_not_newer_than_the_latest_is_refused() {
    let mut world = with_reporter();
    let first = world.ok(assess(61_250, "USD", world.now_ms - HOUR_MS), &[REPORTER]);
    world.now_ms += HOUR_MS;
    for assessed_at_ms in [world.now_ms - 3 * HOUR_MS, world.now_ms - 2 * HOUR_MS] {
        assert_eq!(
            world.refused(assess(60_000, "USD", assessed_at_ms), &[REPORTER]),
            Rejection::AssessmentSuperseded {
                product_grade: PRODUCT.into(),
                currency: "USD".into(),
                assessed_at_ms,
                latest_assessed_at_ms: world.now_ms - 2 * HOUR_MS,
                latest_at: first.seq,
            }
        );
    }
    let latest = world.store().price(&usd_key()).unwrap().unwrap();
    assert_eq!(latest.price_per_tonne_minor, 61_250);
}

#[test]
fn an_assessment_in_the_future_is_refused() {
    let mut world = with_reporter();
    let now_ms = world.now_ms;
    assert_eq!(
        world.refused(assess(61_250, "USD", now_ms + 1), &[REPORTER]),
        Rejection::NotInPast {
            field: "assessed_at_ms",
            value_ms: now_ms + 1,
            now_ms,
        }
    );
}

#[test]
fn only_the_named_price_reporter_assesses() {
    let mut world = with_reporter();
    let now = world.now_ms;
    // A bank names itself as reporter: it lacks the role.
    let by_bank = ops::assess_price("bank-a", PRODUCT, ops::money(1, "USD"), now);
    assert_eq!(
        world.refused(by_bank, &["bank-a"]),
        Rejection::MissingRole {
            participant: "bank-a".into(),
            role: Role::PriceReporter,
        }
    );
    // Someone else signs the reporter's assessment.
    assert_eq!(
        world.refused(assess(1, "USD", now), &["bank-a"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: REPORTER.into(),
                capacity: "price reporter",
            }
        }
    );
    // The reporter with a co-signer nobody asked for.
    assert!(matches!(
        world.refused(assess(1, "USD", now), &[REPORTER, "bank-a"]),
        Rejection::UnexpectedSigner { .. }
    ));
    // A revoked reporter signs nothing.
    world.ok(revoke(REPORTER), QUORUM);
    assert!(matches!(
        world.refused(assess(1, "USD", now), &[REPORTER]),
        Rejection::SignerRevoked { .. }
    ));
    assert!(world.store().price(&usd_key()).unwrap().is_none());
}

#[test]
fn a_pledge_records_its_margin_level() {
    let mut world = with_reporter();
    pledged_at_margin(&mut world);
    assert_eq!(world.pledge("P-1").terms.margin_level_bp, Some(8_000));
    world.pledged_receipt("R-2", "P-2", "bank-b");
    assert_eq!(world.pledge("P-2").terms.margin_level_bp, None);
    world.assert_replays();
}

#[test]
fn the_ltv_crosses_the_margin_level_as_the_price_falls_and_recovers() {
    let mut world = with_reporter();
    pledged_at_margin(&mut world);
    assert_eq!(
        valuation(&world),
        PledgeValuation::NoPrice { key: usd_key() }
    );

    // USD 612.50/t: 1,000 t are worth USD 612,500.00; 490,000 / 612,500 is
    // exactly 80 %: at the margin level, not below it.
    world.ok(assess(61_250, "USD", world.now_ms), &[REPORTER]);
    let at_level = valuation(&world);
    let v = at_level.valued().expect("priced");
    assert_eq!(v.collateral_value_minor, 61_250_000);
    assert_eq!(v.loan_to_value_bp, 8_000);
    assert!(!v.below_margin());

    // USD 612.49/t: 8000.13 bp, rounded up to 8,001: below the margin.
    world.now_ms += HOUR_MS;
    world.ok(assess(61_249, "USD", world.now_ms), &[REPORTER]);
    let fallen = valuation(&world);
    let v = fallen.valued().expect("priced");
    assert_eq!(v.collateral_value_minor, 61_249_000);
    assert_eq!(v.loan_to_value_bp, 8_001);
    assert!(v.below_margin());
    assert_eq!(v.assessment.price_per_tonne_minor, 61_249);

    // The price recovers to USD 700.00/t: 7,000 bp, within the level again.
    world.now_ms += HOUR_MS;
    world.ok(assess(70_000, "USD", world.now_ms), &[REPORTER]);
    let recovered = valuation(&world);
    let v = recovered.valued().expect("priced");
    assert_eq!(v.loan_to_value_bp, 7_000);
    assert!(!v.below_margin());
    world.assert_replays();
}

#[test]
fn a_price_in_another_currency_or_grade_spelling_does_not_value_the_pledge() {
    let mut world = with_reporter();
    pledged_at_margin(&mut world);
    world.ok(assess(440_000, "CNY", world.now_ms), &[REPORTER]);
    let lower_case = ops::assess_price(
        REPORTER,
        &PRODUCT.to_lowercase(),
        ops::money(61_250, "USD"),
        world.now_ms,
    );
    world.ok(lower_case, &[REPORTER]);
    assert_eq!(
        valuation(&world),
        PledgeValuation::NoPrice { key: usd_key() }
    );
}
