use pledge_ledger::Rejection;
use pledge_ledger::model::ReceiptStatus;
use pledge_ledger::rejection::Party;

use crate::support::*;

#[test]
fn cancellation_on_delivery_removes_the_stock() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    let committed = world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    assert_eq!(
        world.receipt("R-1").status,
        ReceiptStatus::Cancelled { at: committed.seq }
    );
    let tank = world.tank_state("T-R-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (0, 0));
    world.assert_replays();
}

#[test]
fn the_holder_must_surrender_the_receipt() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    assert_eq!(
        world.refused(cancel("R-1"), &["wh-1"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "trader-a".into(),
                capacity: "holder"
            }
        }
    );
}

#[test]
fn a_pledged_or_frozen_receipt_cannot_be_cancelled() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    assert!(matches!(
        world.refused(cancel("R-1"), &["trader-a", "wh-1"]),
        Rejection::ReceiptPledged { .. }
    ));
    world.receipt_of("R-2", 10_000);
    world.ok(freeze("R-2"), &["regulator"]);
    assert!(matches!(
        world.refused(cancel("R-2"), &["trader-a", "wh-1"]),
        Rejection::ReceiptFrozen { .. }
    ));
}

#[test]
fn an_expired_receipt_can_still_be_delivered() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    world.now_ms += 400 * DAY_MS;
    world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    world.assert_replays();
}

#[test]
fn a_receipt_is_cancelled_once() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    assert_eq!(
        world.refused(cancel("R-1"), &["trader-a", "wh-1"]),
        Rejection::ReceiptNotLive {
            receipt: "R-1".into(),
            status: "cancelled"
        }
    );
}
