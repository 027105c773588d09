//! Re-gauging by an inspector, and the shortfall it can reveal: receipts that
//! claim more oil than the tank holds.

use pledge_ledger::Rejection;
use pledge_ledger::model::{Gauging, Role, Shortfall};
use pledge_proto::v1 as pb;

use crate::support::*;

/// Tank T-1 at wh-1 with receipts R-6 (6 t) and R-4 (4 t) for trader-a,
/// R-6 pledged to bank-a.
fn ten_tonnes_receipted(world: &mut World) {
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-6", 6_000, "trader-a");
    world.certify("T-1", "C-4", 4_000, "trader-a");
    let expires = world.now_ms + 365 * DAY_MS;
    world.ok(issue("R-6", "T-1", "C-6", 6_000, expires), &["wh-1"]);
    world.ok(issue("R-4", "T-1", "C-4", 4_000, expires), &["wh-1"]);
    let maturity = world.now_ms + 90 * DAY_MS;
    world.ok(
        pledge("P-6", "R-6", "bank-a", maturity),
        &["trader-a", "bank-a"],
    );
    world.now_ms += HOUR_MS;
}

fn shortfall_of(world: &World, measured_kg: u64, since: u64) -> Option<Shortfall> {
    let _ = world;
    Some(Shortfall {
        gauging: Gauging {
            inspector_id: INSPECTOR.into(),
            report_no: format!("RG-T-1-{since}"),
            measured_kg,
            gauged_at_ms: T0 + HOUR_MS,
        },
        since,
    })
}

#[test]
fn a_re_gauge_that_finds_the_oil_changes_nothing_but_the_record() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    let at = world.regauge("T-1", 10_000).seq;
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (10_000, 10_000));
    assert_eq!(tank.shortfall, None);
    assert_eq!(tank.last_gauging.unwrap().at, at);
    world.assert_replays();
}

#[test]
fn oil_that_left_the_tank_puts_it_in_shortfall_and_stops_new_pledges() {
    // Oil leaves without the receipts being cancelled; the inspector finds 6 t.
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    let at = world.regauge("T-1", 6_000).seq;
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (6_000, 10_000));
    assert_eq!(tank.shortfall, shortfall_of(&world, 6_000, at));
    assert_eq!(tank.missing_kg(), 4_000);
    let rejection = world.refused(
        pledge("P-4", "R-4", "bank-b", world.now_ms + 90 * DAY_MS),
        &["trader-a", "bank-b"],
    );
    assert_eq!(
        rejection,
        Rejection::TankShortfall {
            receipt: Some("R-4".into()),
            tank: "T-1".into(),
            measured_kg: 6_000,
            receipted_kg: 10_000,
            missing_kg: 4_000,
            inspector: INSPECTOR.into(),
            report_no: format!("RG-T-1-{at}"),
            since: at
        }
    );
    assert!(
        rejection
            .to_string()
            .starts_with("receipt `R-4`: tank `T-1` is in shortfall since entry"),
        "{rejection}"
    );
    // Nor can new receipts be issued on it, whatever certificates exist.
    world.now_ms += HOUR_MS;
    world.certify("T-1", "C-new", 1_000, "trader-b");
    assert!(matches!(
        world.refused(
            issue("R-new", "T-1", "C-new", 1_000, world.now_ms + DAY_MS),
            &["wh-1"]
        ),
        Rejection::TankShortfall { receipt: None, .. }
    ));
    // The existing pledge stands; its bank can release it.
    world.ok(release("P-6"), &["bank-a"]);
    world.assert_replays();
}

#[test]
fn certifying_the_stock_again_clears_the_shortfall() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    world.regauge("T-1", 6_000);
    world.now_ms += HOUR_MS;
    world.certify("T-1", "C-refill", 3_000, "trader-b");
    assert!(
        world.tank_state("T-1").shortfall.is_some(),
        "9 t for 10 t of receipts"
    );
    world.certify("T-1", "C-refill-2", 1_000, "trader-b");
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (10_000, 10_000));
    assert_eq!(tank.shortfall, None);
    world.ok(
        pledge("P-4", "R-4", "bank-b", world.now_ms + 90 * DAY_MS),
        &["trader-a", "bank-b"],
    );
    world.assert_replays();
}

#[test]
fn cancelling_receipts_down_to_the_measured_quantity_clears_the_shortfall() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    world.regauge("T-1", 6_000);
    // R-4 is surrendered for oil that is not there: a write-off.
    world.ok(cancel("R-4"), &["trader-a", "wh-1"]);
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (6_000, 6_000));
    assert_eq!(tank.shortfall, None);
    world.assert_replays();
}

#[test]
fn a_cancellation_beyond_the_shortfall_counts_the_rest_as_delivered() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    world.regauge("T-1", 7_000);
    world.ok(release("P-6"), &["bank-a"]);
    // 3 t are missing; cancelling the 6 t receipt writes 3 t off and
    // delivers 3 t: 4 t of receipts on 4 t of oil.
    world.ok(cancel("R-6"), &["trader-a", "wh-1"]);
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (4_000, 4_000));
    assert_eq!(tank.shortfall, None);
    world.assert_replays();
}

#[test]
fn without_a_shortfall_a_cancellation_is_a_delivery() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    world.ok(cancel("R-4"), &["trader-a", "wh-1"]);
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (6_000, 6_000));
}

#[test]
fn a_re_gauge_lowers_unreceipted_certified_stock_without_a_shortfall() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", 5_000, "trader-a");
    world.certify("T-1", "C-2", 5_000, "trader-b");
    world.ok(
        issue("R-1", "T-1", "C-1", 5_000, world.now_ms + 2 * DAY_MS),
        &["wh-1"],
    );
    world.now_ms += HOUR_MS;
    world.regauge("T-1", 7_000);
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (7_000, 5_000));
    assert_eq!(tank.shortfall, None);
    // C-2's 5 t no longer fit: only 2 t of certified stock is free.
    assert_eq!(
        world.refused(
            issue("R-2", "T-1", "C-2", 5_000, world.now_ms + DAY_MS),
            &["wh-1"]
        ),
        Rejection::StockExceeded {
            tank: "T-1".into(),
            certified_kg: 7_000,
            receipted_kg: 5_000,
            requested_kg: 5_000
        }
    );
}

#[test]
fn only_an_inspector_re_gauges_and_not_at_its_own_tank() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    let now = world.now_ms;
    assert_eq!(
        world.refused(regauge("T-1", "wh-1", "RG-1", 0, now), &["wh-1"]),
        Rejection::MissingRole {
            participant: "wh-1".into(),
            role: Role::Inspector
        }
    );
    assert!(matches!(
        world.refused(regauge("T-1", INSPECTOR, "RG-1", 0, now), &["wh-1"]),
        Rejection::MissingSignature { .. }
    ));
    assert_eq!(
        world.refused(regauge("T-9", INSPECTOR, "RG-1", 0, now), &[INSPECTOR]),
        Rejection::TankNotFound { id: "T-9".into() }
    );
}

#[test]
fn a_gauging_above_capacity_in_the_future_or_out_of_date_is_refused() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    let now = world.now_ms;
    assert_eq!(
        world.refused(
            regauge("T-1", INSPECTOR, "RG-1", TANK_CAPACITY_KG + 1, now),
            &[INSPECTOR]
        ),
        Rejection::MeasuredAboveCapacity {
            tank: "T-1".into(),
            measured_kg: TANK_CAPACITY_KG + 1,
            capacity_kg: TANK_CAPACITY_KG
        }
    );
    assert!(matches!(
        world.refused(regauge("T-1", INSPECTOR, "RG-1", 0, now + 1), &[INSPECTOR]),
        Rejection::NotInPast {
            field: "gauged_at_ms",
            ..
        }
    ));
    let at = world.regauge("T-1", 10_000).seq;
    assert_eq!(
        world.refused(regauge("T-1", "insp-2", "RG-2", 0, now - 1), &["insp-2"]),
        Rejection::GaugingSuperseded {
            tank: "T-1".into(),
            gauged_at_ms: now - 1,
            last_gauged_at_ms: now,
            last_gauged_at: at
        }
    );
    // A stock certificate gauged before the last re-gauge is out of date too.
    assert!(matches!(
        world.refused(
            certify_stock("T-1", "C-old", 1, "trader-b", now - 1),
            &["wh-1", INSPECTOR, "trader-b"]
        ),
        Rejection::GaugingSuperseded { .. }
    ));
}

#[test]
fn an_empty_tank_re_gauges_to_zero() {
    let mut world = World::new();
    ten_tonnes_receipted(&mut world);
    let op = pb::transaction::Operation::RegaugeTank(pb::RegaugeTank {
        tank_id: "T-1".into(),
        gauging: Some(gauging("insp-2", "RG-EMPTY", 0, world.now_ms)),
    });
    world.ok(op, &["insp-2"]);
    let tank = world.tank_state("T-1");
    assert_eq!((tank.certified_kg, tank.missing_kg()), (0, 10_000));
    world.assert_replays();
}
