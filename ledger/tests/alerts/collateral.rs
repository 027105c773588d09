//! COLLATERAL_BELOW_MARGIN: a price reporter's assessments move a pledge's
//! loan-to-value across its margin level and back; the alert follows, for
//! the pledge's bank only.

use pledge_ledger::ops;

use crate::*;

/// The alerts' world with a price reporter admitted.
fn with_reporter() -> World {
    let mut world = world();
    admit_reporter(&mut world);
    world
}

/// A receipt of 1,000 t pledged to bank-a for USD 490,000.00, with
/// `margin_level_bp` if given; returns the pledge's entry.
fn pledge_of_1000_t(world: &mut World, pledge_id: &str, margin_level_bp: Option<u32>) -> u64 {
    let receipt_id = format!("R-{pledge_id}");
    world.receipt_of(&receipt_id, 1_000_000);
    let pledge = ops::register_pledge(
        pledge_id,
        &receipt_id,
        "bank-a",
        ops::money(49_000_000, "USD"),
        &format!("LOAN-{pledge_id}"),
        world.now_ms + 90 * DAY_MS,
    );
    let pledge = match margin_level_bp {
        Some(bp) => ops::with_margin_level(pledge, bp),
        None => pledge,
    };
    world.ok(pledge, &["trader-a", "bank-a"]).seq
}

fn below_margin(world: &World) -> Vec<Alert> {
    of_kind(&derive(world), AlertKind::CollateralBelowMargin)
}

#[test]
fn the_ltv_crossing_the_margin_level_is_raised_and_its_recovery_cleared() {
    let mut world = with_reporter();
    pledge_of_1000_t(&mut world, "P-1", Some(8_000));
    // USD 700.00 a tonne: USD 700,000.00 of collateral, LTV 70 %.
    assess(&mut world, 70_000, "USD");
    assert!(below_margin(&world).is_empty(), "70 % is within 80 %");
    // USD 600.00: USD 600,000.00, LTV 81.67 % (81.666… rounded up).
    let fall = assess(&mut world, 60_000, "USD");
    let raised = below_margin(&world);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let alert = &raised[0];
    assert_eq!((alert.state, alert.seq), (AlertState::Raised, fall));
    assert_eq!(
        (alert.trigger, alert.subject.as_str()),
        (Trigger::Entry, "P-1")
    );
    assert_eq!(parties(alert), ["bank-a"], "the pledge's bank");
    for (key, value) in [
        ("pledge", "P-1"),
        ("receipt", "R-P-1"),
        ("pledgee", "bank-a"),
        ("pledgor", "trader-a"),
        ("grade", PRODUCT),
        ("currency", "USD"),
        ("price_per_tonne_minor", "60000"),
        ("assessed_at_ms", &world.now_ms.to_string()),
        ("price_entry", &fall.to_string()),
        ("reporter", REPORTER),
        ("quantity_kg", "1000000"),
        ("collateral_value_minor", "60000000"),
        ("secured_minor", "49000000"),
        ("ltv_bp", "8167"),
        ("margin_level_bp", "8000"),
    ] {
        assert_eq!(field(alert, key), value, "{key}");
    }
    // A further fall keeps it raised: nothing new.
    assess(&mut world, 59_000, "USD");
    assert_eq!(below_margin(&world).len(), 1);
    // USD 650.00: LTV 75.39 %, within the level again.
    let recovery = assess(&mut world, 65_000, "USD");
    let alerts = below_margin(&world);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(
        (alerts[1].state, alerts[1].seq),
        (AlertState::Cleared, recovery)
    );
    assert_eq!(alerts[1].subject, "P-1");
    assert_eq!(alerts[1].parties, alerts[0].parties);
}

#[test]
fn an_ltv_exactly_at_the_margin_level_is_within_it() {
    let mut world = with_reporter();
    pledge_of_1000_t(&mut world, "P-1", Some(8_000));
    // USD 612.50 a tonne: USD 612,500.00, LTV exactly 80.00 %.
    assess(&mut world, 61_250, "USD");
    assert!(below_margin(&world).is_empty(), "at the level is within it");
    // One cent a tonne less: 80.0013 %, rounded up to 80.01 %.
    let fall = assess(&mut world, 61_249, "USD");
    let raised = below_margin(&world);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].seq, fall);
    assert_eq!(field(&raised[0], "ltv_bp"), "8001");
    assert_eq!(field(&raised[0], "collateral_value_minor"), "61249000");
}

#[test]
fn a_price_in_another_currency_does_not_value_the_pledge() {
    let mut world = with_reporter();
    pledge_of_1000_t(&mut world, "P-1", Some(8_000));
    // CNY 1.00 a tonne would put a USD loan far above any margin level,
    // were it converted; there is no exchange rate on the ledger.
    assess(&mut world, 100, "CNY");
    assert!(
        below_margin(&world).is_empty(),
        "{:#?}",
        below_margin(&world)
    );
    let usd = assess(&mut world, 60_000, "USD");
    let raised = below_margin(&world);
    assert_eq!(raised.len(), 1, "the USD price values it: {raised:#?}");
    assert_eq!((raised[0].seq, field(&raised[0], "currency")), (usd, "USD"));
    // A later CNY price changes nothing for the USD pledge.
    assess(&mut world, 900_000, "CNY");
    assert_eq!(below_margin(&world).len(), 1);
}

#[test]
fn a_pledge_released_while_below_its_margin_level_is_cleared() {
    let mut world = with_reporter();
    pledge_of_1000_t(&mut world, "P-1", Some(8_000));
    assess(&mut world, 60_000, "USD");
    assert_eq!(below_margin(&world).len(), 1);
    let released = world.ok(release("P-1"), &["bank-a"]).seq;
    let alerts = below_margin(&world);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(
        (alerts[1].state, alerts[1].seq),
        (AlertState::Cleared, released)
    );
    assert_eq!(parties(&alerts[1]), ["bank-a"]);
    // The released pledge is not valued again by a later price.
    assess(&mut world, 50_000, "USD");
    assert_eq!(below_margin(&world).len(), 2);
}

#[test]
fn a_pledge_registered_below_its_margin_level_is_raised_at_its_entry() {
    let mut world = with_reporter();
    assess(&mut world, 60_000, "USD");
    let registered = pledge_of_1000_t(&mut world, "P-1", Some(8_000));
    let raised = below_margin(&world);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(
        (raised[0].seq, raised[0].subject.as_str()),
        (registered, "P-1")
    );
}

#[test]
fn a_pledge_without_a_margin_level_never_fires() {
    let mut world = with_reporter();
    pledge_of_1000_t(&mut world, "P-NONE", None);
    pledge_of_1000_t(&mut world, "P-80", Some(8_000));
    // One cent a tonne: LTV 4,900,000 %, far above any level.
    assess(&mut world, 1, "USD");
    let raised = below_margin(&world);
    assert_eq!(raised.len(), 1, "only the pledge with a level: {raised:#?}");
    assert_eq!(raised[0].subject, "P-80");
}
