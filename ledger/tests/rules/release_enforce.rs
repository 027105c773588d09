use pledge_ledger::Rejection;
use pledge_ledger::model::{PledgeStatus, ReceiptStatus, Role};
use pledge_ledger::rejection::Party;

use crate::support::*;

#[test]
fn the_pledgee_releases() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let committed = world.ok(release("P-1"), &["bank-a"]);
    assert_eq!(
        world.pledge("P-1").status,
        PledgeStatus::Released { at: committed.seq }
    );
    let receipt = world.receipt("R-1");
    assert_eq!(receipt.status, ReceiptStatus::Active);
    assert_eq!(receipt.holder_id, "trader-a");
    world.assert_replays();
}

#[test]
fn only_the_pledgee_releases() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let pledgee = Party::Participant {
        id: "bank-a".into(),
        capacity: "pledgee",
    };
    assert_eq!(
        world.refused(release("P-1"), &["bank-b"]),
        Rejection::MissingSignature {
            party: pledgee.clone()
        }
    );
    assert_eq!(
        world.refused(release("P-1"), &["trader-a"]),
        Rejection::MissingSignature { party: pledgee }
    );
}

#[test]
fn a_pledge_ends_once() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(release("P-1"), &["bank-a"]);
    assert_eq!(
        world.refused(release("P-1"), &["bank-a"]),
        Rejection::PledgeNotActive {
            pledge: "P-1".into(),
            status: "released"
        }
    );
    assert_eq!(
        world.refused(enforce("P-1", ""), &["bank-a"]),
        Rejection::PledgeNotActive {
            pledge: "P-1".into(),
            status: "released"
        }
    );
    assert_eq!(
        world.refused(release("P-404"), &["bank-a"]),
        Rejection::PledgeNotFound { id: "P-404".into() }
    );
}

#[test]
fn enforcement_gives_the_receipt_to_the_bank() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let committed = world.ok(enforce("P-1", ""), &["bank-a"]);
    assert_eq!(
        world.pledge("P-1").status,
        PledgeStatus::Enforced {
            at: committed.seq,
            transferee_id: "bank-a".into()
        }
    );
    let receipt = world.receipt("R-1");
    assert_eq!(receipt.holder_id, "bank-a");
    assert_eq!(receipt.status, ReceiptStatus::Active);
    // The bank now holds it and can sell it on, with the warehouse's confirmation.
    world.ok(transfer("R-1", "trader-b"), &["bank-a", "wh-1"]);
    world.assert_replays();
}

#[test]
fn enforcement_can_direct_the_receipt_to_a_buyer() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(enforce("P-1", "trader-b"), &["bank-a"]);
    assert_eq!(world.receipt("R-1").holder_id, "trader-b");
    world.assert_replays();
}

#[test]
fn the_buyer_must_be_able_to_hold() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    assert_eq!(
        world.refused(enforce("P-1", "wh-2"), &["bank-a"]),
        Rejection::MissingRole {
            participant: "wh-2".into(),
            role: Role::Holder
        }
    );
    assert_eq!(
        world.refused(enforce("P-1", "ghost"), &["bank-a"]),
        Rejection::ParticipantNotFound { id: "ghost".into() }
    );
}

#[test]
fn a_frozen_receipts_pledge_cannot_end() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(freeze("R-1"), &["regulator"]);
    assert!(matches!(
        world.refused(release("P-1"), &["bank-a"]),
        Rejection::ReceiptFrozen { .. }
    ));
    assert!(matches!(
        world.refused(enforce("P-1", ""), &["bank-a"]),
        Rejection::ReceiptFrozen { .. }
    ));
    world.ok(unfreeze("R-1"), &["regulator"]);
    world.ok(release("P-1"), &["bank-a"]);
    world.assert_replays();
}
