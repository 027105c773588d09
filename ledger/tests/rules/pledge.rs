//! Registration of pledges, and the double-pledge family.

use pledge_ledger::Rejection;
use pledge_ledger::model::{PledgeStatus, ReceiptStatus, Role};

use crate::support::*;

fn maturity(world: &World) -> u64 {
    world.now_ms + 90 * DAY_MS
}

#[test]
fn holder_and_bank_register_a_pledge() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000_000);
    let committed = world.ok(
        pledge("P-1", "R-1", "bank-a", maturity(&world)),
        &["trader-a", "bank-a"],
    );
    let pledge = world.pledge("P-1");
    assert_eq!(pledge.status, PledgeStatus::Active);
    assert_eq!(pledge.pledgor_id, "trader-a");
    assert_eq!(pledge.registered_at, committed.seq);
    assert_eq!(pledge.started_at_ms, world.now_ms);
    assert_eq!(pledge.terms.secured_amount.minor_units, 450_000_000);
    assert_eq!(
        world.receipt("R-1").status,
        ReceiptStatus::Pledged {
            pledge_id: "P-1".into()
        }
    );
    world.assert_replays();
}

#[test]
fn a_second_bank_cannot_pledge_a_pledged_receipt() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let since = world.pledge("P-A").registered_at;
    let rejection = world.refused(
        pledge("P-B", "R-1", "bank-b", maturity(&world)),
        &["trader-a", "bank-b"],
    );
    assert_eq!(
        rejection,
        Rejection::ReceiptPledged {
            receipt: "R-1".into(),
            pledge: "P-A".into(),
            pledgee: "bank-a".into(),
            since
        }
    );
    assert_eq!(
        rejection.to_string(),
        format!("receipt `R-1` is pledged to bank `bank-a` under pledge `P-A` since entry {since}")
    );
    assert!(world.store_pledge_absent("P-B"));
}

#[test]
fn the_same_bank_cannot_pledge_twice_either() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    assert!(matches!(
        world.refused(
            pledge("P-A2", "R-1", "bank-a", maturity(&world)),
            &["trader-a", "bank-a"]
        ),
        Rejection::ReceiptPledged { .. }
    ));
}

#[test]
fn re_pledge_after_release_is_allowed() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    world.ok(release("P-A"), &["bank-a"]);
    world.ok(
        pledge("P-B", "R-1", "bank-b", maturity(&world)),
        &["trader-a", "bank-b"],
    );
    assert_eq!(
        world.receipt("R-1").status,
        ReceiptStatus::Pledged {
            pledge_id: "P-B".into()
        }
    );
    world.assert_replays();
}

#[test]
fn after_enforcement_only_the_new_holder_can_pledge() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    world.now_ms = world.pledge("P-A").terms.maturity_ms;
    world.ok(enforce("P-A", "trader-b"), &["bank-a"]);
    // The old holder's signature no longer counts.
    assert!(matches!(
        world.refused(
            pledge("P-B", "R-1", "bank-b", maturity(&world)),
            &["trader-a", "bank-b"]
        ),
        Rejection::MissingSignature { .. }
    ));
    world.ok(
        pledge("P-B", "R-1", "bank-b", maturity(&world)),
        &["trader-b", "bank-b"],
    );
    assert_eq!(world.pledge("P-B").pledgor_id, "trader-b");
    world.assert_replays();
}

#[test]
fn a_bank_holding_a_receipt_cannot_pledge_it_to_itself() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    world.now_ms = world.pledge("P-A").terms.maturity_ms;
    world.ok(enforce("P-A", ""), &["bank-a"]);
    assert_eq!(world.receipt("R-1").holder_id, "bank-a");
    assert_eq!(
        world.refused(
            pledge("P-B", "R-1", "bank-a", maturity(&world)),
            &["bank-a"]
        ),
        Rejection::PartiesNotDistinct {
            participant: "bank-a".into(),
            first: "pledgor",
            second: "pledgee",
        }
    );
    // To another bank it pledges as any holder does.
    world.ok(
        pledge("P-B", "R-1", "bank-b", maturity(&world)),
        &["bank-a", "bank-b"],
    );
    assert_eq!(world.pledge("P-B").pledgor_id, "bank-a");
    world.assert_replays();
}

#[test]
fn a_maturity_after_the_receipts_expiry_is_accepted_and_enforceable() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000_000);
    let expiry = world.receipt("R-1").terms.expires_at_ms;
    world.ok(
        pledge("P-1", "R-1", "bank-a", expiry + 30 * DAY_MS),
        &["trader-a", "bank-a"],
    );
    world.now_ms = expiry + 30 * DAY_MS;
    world.ok(enforce("P-1", ""), &["bank-a"]);
    assert_eq!(world.receipt("R-1").holder_id, "bank-a");
    world.assert_replays();
}

#[test]
fn frozen_expired_or_cancelled_receipts_cannot_be_pledged() {
    let mut world = World::new();
    world.receipt_of("R-frozen", 1_000);
    world.ok(freeze("R-frozen"), &["regulator"]);
    assert!(matches!(
        world.refused(
            pledge("P-1", "R-frozen", "bank-a", maturity(&world)),
            &["trader-a", "bank-a"]
        ),
        Rejection::ReceiptFrozen { .. }
    ));

    world.receipt_of("R-cancelled", 1_000);
    world.ok(cancel("R-cancelled"), &["trader-a", "wh-1"]);
    assert_eq!(
        world.refused(
            pledge("P-2", "R-cancelled", "bank-a", maturity(&world)),
            &["trader-a", "bank-a"]
        ),
        Rejection::ReceiptNotLive {
            receipt: "R-cancelled".into(),
            status: "cancelled"
        }
    );

    world.receipt_of("R-old", 1_000);
    let expires = world.receipt("R-old").terms.expires_at_ms;
    world.now_ms = expires;
    let rejection = world.refused(
        pledge("P-3", "R-old", "bank-a", expires + DAY_MS),
        &["trader-a", "bank-a"],
    );
    assert_eq!(
        rejection,
        Rejection::ReceiptExpired {
            receipt: "R-old".into(),
            expires_at_ms: expires,
            now_ms: expires
        }
    );
    assert_eq!(
        rejection.to_string(),
        "receipt `R-old` expired at 2028-01-15T08:00:00Z (entry time 2028-01-15T08:00:00Z)"
    );
}

#[test]
fn the_pledgee_must_be_a_bank() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(
            pledge("P-1", "R-1", "trader-b", maturity(&world)),
            &["trader-a", "trader-b"]
        ),
        Rejection::MissingRole {
            participant: "trader-b".into(),
            role: Role::Bank
        }
    );
}

#[test]
fn pledge_ids_are_never_reused_and_maturity_is_in_the_future() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.receipt_of("R-2", 1_000);
    assert!(matches!(
        world.refused(pledge("P-1", "R-2", "bank-a", maturity(&world)), &["trader-a", "bank-a"]),
        Rejection::PledgeExists { ref id, .. } if id == "P-1"
    ));
    let now = world.now_ms;
    assert!(matches!(
        world.refused(pledge("P-2", "R-2", "bank-a", now), &["trader-a", "bank-a"]),
        Rejection::NotInFuture {
            field: "maturity_ms",
            ..
        }
    ));
}

#[test]
fn a_pledge_needs_both_holder_and_bank() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert!(matches!(
        world.refused(
            pledge("P-1", "R-1", "bank-a", maturity(&world)),
            &["bank-a"]
        ),
        Rejection::MissingSignature { .. }
    ));
    assert!(matches!(
        world.refused(
            pledge("P-1", "R-1", "bank-a", maturity(&world)),
            &["trader-a"]
        ),
        Rejection::MissingSignature { .. }
    ));
}

trait PledgeAbsent {
    fn store_pledge_absent(&self, id: &str) -> bool;
}

impl PledgeAbsent for World {
    fn store_pledge_absent(&self, id: &str) -> bool {
        use pledge_ledger::state::StateRead;
        self.store().pledge(id).unwrap().is_none()
    }
}
