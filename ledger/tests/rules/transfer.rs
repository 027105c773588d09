use pledge_ledger::Rejection;
use pledge_ledger::model::Role;
use pledge_ledger::rejection::Party;

use crate::support::*;

#[test]
fn holder_endorses_and_warehouse_confirms() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let committed = world.ok(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]);
    let receipt = world.receipt("R-1");
    assert_eq!(receipt.holder_id, "trader-b");
    assert_eq!(receipt.updated_at, committed.seq);
    world.assert_replays();
}

#[test]
fn the_warehouse_must_confirm() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(transfer("R-1", "trader-b"), &["trader-a"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "wh-1".into(),
                capacity: "warehouse"
            }
        }
    );
}

#[test]
fn the_holder_must_endorse() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(transfer("R-1", "trader-b"), &["wh-1", "trader-b"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "trader-a".into(),
                capacity: "holder"
            }
        }
    );
}

#[test]
fn a_pledged_receipt_cannot_be_transferred() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let since = world.pledge("P-1").registered_at;
    assert_eq!(
        world.refused(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]),
        Rejection::ReceiptPledged {
            receipt: "R-1".into(),
            pledge: "P-1".into(),
            pledgee: "bank-a".into(),
            since
        }
    );
}

#[test]
fn a_frozen_receipt_cannot_be_transferred() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.ok(freeze("R-1"), &["regulator"]);
    assert!(matches!(
        world.refused(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]),
        Rejection::ReceiptFrozen { .. }
    ));
}

#[test]
fn an_expired_receipt_cannot_be_transferred() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.now_ms += 366 * DAY_MS;
    assert!(matches!(
        world.refused(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]),
        Rejection::ReceiptExpired { .. }
    ));
}

#[test]
fn a_cancelled_receipt_cannot_be_transferred() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    assert_eq!(
        world.refused(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]),
        Rejection::ReceiptNotLive {
            receipt: "R-1".into(),
            status: "cancelled"
        }
    );
}

#[test]
fn the_new_holder_must_be_able_to_hold() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(transfer("R-1", "regulator"), &["trader-a", "wh-1"]),
        Rejection::MissingRole {
            participant: "regulator".into(),
            role: Role::Holder
        }
    );
    assert_eq!(
        world.refused(transfer("R-1", "ghost"), &["trader-a", "wh-1"]),
        Rejection::ParticipantNotFound { id: "ghost".into() }
    );
    assert_eq!(
        world.refused(transfer("R-1", "trader-a"), &["trader-a", "wh-1"]),
        Rejection::AlreadyHolder {
            receipt: "R-1".into(),
            holder: "trader-a".into()
        }
    );
    assert_eq!(
        world.refused(transfer("R-404", "trader-b"), &["trader-a", "wh-1"]),
        Rejection::ReceiptNotFound { id: "R-404".into() }
    );
}
