//! A revoked warehouse's tanks: receipts are "custodian revoked" until the
//! quorum appoints a successor custodian, re-gauged by an inspector.

use pledge_ledger::Rejection;
use pledge_ledger::model::{CustodyChange, ReceiptStatus};
use pledge_ledger::rejection::Party;

use crate::support::*;

fn revoked_warehouse(world: &mut World) -> u64 {
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.receipt_of("R-2", 2_000);
    world.now_ms += HOUR_MS;
    world.ok(revoke("wh-1"), QUORUM).seq
}

#[test]
fn a_revoked_warehouses_receipts_cannot_be_pledged_or_moved() {
    let mut world = World::new();
    let revoked_at = revoked_warehouse(&mut world);
    assert_eq!(
        world.refused(
            pledge("P-2", "R-2", "bank-b", world.now_ms + DAY_MS),
            &["trader-a", "bank-b"]
        ),
        Rejection::CustodianRevoked {
            receipt: Some("R-2".into()),
            tank: "T-R-2".into(),
            warehouse: "wh-1".into(),
            revoked_at
        }
    );
    assert_eq!(
        world.refused(transfer("R-2", "trader-b"), &["trader-a"]),
        Rejection::CustodianRevoked {
            receipt: None,
            tank: "T-R-2".into(),
            warehouse: "wh-1".into(),
            revoked_at
        }
    );
    // An existing pledge can still be released by its bank.
    world.ok(release("P-1"), &["bank-a"]);
    world.assert_replays();
}

#[test]
fn a_successor_custodian_appointed_by_the_quorum_and_re_gauged_takes_over() {
    let mut world = World::new();
    revoked_warehouse(&mut world);
    let now = world.now_ms;
    // The successor and the inspector alone are not enough.
    assert!(matches!(
        world.refused(
            appoint_custodian("T-R-2", "wh-2", 2_000, now),
            &["wh-2", INSPECTOR]
        ),
        Rejection::QuorumNotMet { .. }
    ));
    // Nor the quorum without the inspector's re-gauge.
    assert_eq!(
        world.refused(
            appoint_custodian("T-R-2", "wh-2", 2_000, now),
            &["wh-2", "admin", "regulator"]
        ),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: INSPECTOR.into(),
                capacity: "inspector"
            }
        }
    );
    let at = world
        .ok(
            appoint_custodian("T-R-2", "wh-2", 2_000, now),
            &["wh-2", INSPECTOR, "admin", "regulator"],
        )
        .seq;
    let tank = world.tank_state("T-R-2");
    assert_eq!(tank.warehouse_id, "wh-2");
    assert_eq!(
        tank.custody,
        vec![CustodyChange {
            from: "wh-1".into(),
            to: "wh-2".into(),
            at
        }]
    );
    assert_eq!(tank.last_gauging.unwrap().gauging.measured_kg, 2_000);
    let receipt = world.receipt("R-2");
    assert_eq!(receipt.warehouse_id, "wh-2");
    assert_eq!(receipt.updated_at, at);
    // Pledgeable again; the successor confirms transfers.
    world.ok(
        pledge("P-2", "R-2", "bank-b", world.now_ms + DAY_MS),
        &["trader-a", "bank-b"],
    );
    world.ok(release("P-2"), &["bank-b"]);
    world.ok(transfer("R-2", "trader-b"), &["trader-a", "wh-2"]);
    world.assert_replays();
}

#[test]
fn the_hand_over_re_gauge_can_reveal_a_shortfall() {
    let mut world = World::new();
    revoked_warehouse(&mut world);
    let now = world.now_ms;
    world.ok(
        appoint_custodian("T-R-2", "wh-2", 500, now),
        &["wh-2", INSPECTOR, "admin", "regulator"],
    );
    let tank = world.tank_state("T-R-2");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (500, 2_000));
    assert!(tank.shortfall.is_some());
    assert!(matches!(
        world.refused(
            pledge("P-2", "R-2", "bank-b", world.now_ms + DAY_MS),
            &["trader-a", "bank-b"]
        ),
        Rejection::TankShortfall { .. }
    ));
}

#[test]
fn only_a_revoked_warehouses_tank_gets_a_successor() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(
            appoint_custodian("T-R-1", "wh-2", 1_000, world.now_ms),
            &["wh-2", INSPECTOR, "admin", "regulator"]
        ),
        Rejection::CustodianNotRevoked {
            tank: "T-R-1".into(),
            warehouse: "wh-1".into()
        }
    );
}

#[test]
fn dead_receipts_stay_with_the_warehouse_that_issued_them() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    world.receipt_of("R-3", 1_000);
    world.now_ms += HOUR_MS;
    world.ok(revoke("wh-1"), QUORUM);
    world.ok(
        appoint_custodian("T-R-1", "wh-2", 0, world.now_ms),
        &["wh-2", INSPECTOR, "admin", "regulator"],
    );
    let cancelled = world.receipt("R-1");
    assert!(matches!(cancelled.status, ReceiptStatus::Cancelled { .. }));
    assert_eq!(cancelled.warehouse_id, "wh-1");
    world.assert_replays();
}
