//! Release and enforcement of pledges: who ends a pledge, and on what grounds
//! a bank may take the receipt.

use pledge_ledger::Rejection;
use pledge_ledger::model::{EnforcementGrounds, PledgeStatus, ReceiptStatus, Role};
use pledge_ledger::rejection::Party;
use pledge_proto::v1 as pb;

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
    world.now_ms = world.pledge("P-1").terms.maturity_ms;
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
fn enforcing_a_pledge_no_longer_in_force_says_so_first() {
    // Before maturity, to a transferee that does not exist or cannot hold:
    // the caller still learns first that the pledge has ended.
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(release("P-1"), &["bank-a"]);
    let ended = Rejection::PledgeNotActive {
        pledge: "P-1".into(),
        status: "released",
    };
    assert_eq!(world.refused(enforce("P-1", "ghost"), &["bank-a"]), ended);
    assert_eq!(world.refused(enforce("P-1", "wh-2"), &["bank-a"]), ended);
    assert_eq!(world.refused(enforce("P-1", ""), &["bank-a"]), ended);
}

fn at_maturity(world: &mut World, pledge_id: &str) {
    world.now_ms = world.pledge(pledge_id).terms.maturity_ms;
}

#[test]
fn at_maturity_enforcement_gives_the_receipt_to_the_bank() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    at_maturity(&mut world, "P-1");
    let committed = world.ok(enforce("P-1", ""), &["bank-a"]);
    assert_eq!(
        world.pledge("P-1").status,
        PledgeStatus::Enforced {
            at: committed.seq,
            transferee_id: "bank-a".into(),
            grounds: EnforcementGrounds::Maturity
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
fn after_enforcement_the_bank_can_take_delivery() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    at_maturity(&mut world, "P-1");
    world.ok(enforce("P-1", ""), &["bank-a"]);
    world.ok(cancel("R-1"), &["bank-a", "wh-1"]);
    let tank = world.tank_state("T-R-1");
    assert_eq!((tank.certified_kg, tank.receipted_kg), (0, 0));
    world.assert_replays();
}

#[test]
fn enforcement_can_direct_the_receipt_to_a_buyer() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    at_maturity(&mut world, "P-1");
    world.ok(enforce("P-1", "trader-b"), &["bank-a"]);
    assert_eq!(world.receipt("R-1").holder_id, "trader-b");
    world.assert_replays();
}

#[test]
fn a_bank_cannot_enforce_before_maturity_on_its_own_word() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let maturity = world.pledge("P-1").terms.maturity_ms;
    world.now_ms = maturity - 1;
    let rejection = world.refused(enforce("P-1", ""), &["bank-a"]);
    assert_eq!(
        rejection,
        Rejection::EnforcementBeforeMaturity {
            pledge: "P-1".into(),
            maturity_ms: maturity,
            now_ms: maturity - 1
        }
    );
    assert!(
        rejection
            .to_string()
            .contains("matures at 2027-04-15T08:00:00Z"),
        "{rejection}"
    );
    assert_eq!(world.receipt("R-1").holder_id, "trader-a");
}

#[test]
fn before_maturity_a_regulators_order_allows_enforcement() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let order = || {
        enforce_on(
            "P-1",
            "",
            pb::EnforcementGrounds::Order,
            "(2026) Zhe 09 Zhi 77",
        )
    };
    assert_eq!(
        world.refused(order(), &["bank-a"]),
        Rejection::MissingSignature {
            party: Party::AnyWithRole(Role::Regulator)
        }
    );
    assert!(matches!(
        world.refused(order(), &["bank-a", "trader-a"]),
        Rejection::MissingSignature { .. }
    ));
    let committed = world.ok(order(), &["bank-a", "regulator-2"]);
    assert_eq!(
        world.pledge("P-1").status,
        PledgeStatus::Enforced {
            at: committed.seq,
            transferee_id: "bank-a".into(),
            grounds: EnforcementGrounds::Order {
                order_reference: "(2026) Zhe 09 Zhi 77".into()
            }
        }
    );
    world.assert_replays();
}

#[test]
fn before_maturity_the_holders_consent_allows_enforcement() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let consent = || enforce_on("P-1", "trader-b", pb::EnforcementGrounds::HolderConsent, "");
    assert_eq!(
        world.refused(consent(), &["bank-a"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "trader-a".into(),
                capacity: "consenting holder"
            }
        }
    );
    world.ok(consent(), &["bank-a", "trader-a"]);
    assert_eq!(world.receipt("R-1").holder_id, "trader-b");
    world.assert_replays();
}

#[test]
fn the_buyer_must_be_able_to_hold() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    at_maturity(&mut world, "P-1");
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
    let rejection = world.refused(release("P-1"), &["bank-a"]);
    assert!(
        matches!(
            rejection,
            Rejection::ReceiptFrozen { ref pledge, ref pledgee, .. }
                if pledge.as_deref() == Some("P-1") && pledgee.as_deref() == Some("bank-a")
        ),
        "{rejection:?}"
    );
    at_maturity(&mut world, "P-1");
    assert!(matches!(
        world.refused(enforce("P-1", ""), &["bank-a"]),
        Rejection::ReceiptFrozen { .. }
    ));
    world.ok(unfreeze("R-1"), &["regulator"]);
    world.ok(release("P-1"), &["bank-a"]);
    world.assert_replays();
}
