use pledge_ledger::Rejection;
use pledge_ledger::model::{Freeze, Role};
use pledge_ledger::rejection::Party;

use crate::support::*;

#[test]
fn a_regulator_freezes_and_unfreezes() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let committed = world.ok(freeze("R-1"), &["regulator"]);
    assert_eq!(
        world.receipt("R-1").frozen,
        Some(Freeze {
            regulator_id: "regulator".into(),
            order_reference: "(2026) Zhe 09 Min Chu 1".into(),
            since: committed.seq
        })
    );
    world.ok(unfreeze("R-1"), &["regulator"]);
    assert_eq!(world.receipt("R-1").frozen, None);
    world.ok(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]);
    world.assert_replays();
}

#[test]
fn a_frozen_receipt_cannot_change_at_all() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.ok(freeze("R-1"), &["regulator"]);
    let ops = [
        (transfer("R-1", "trader-b"), vec!["trader-a", "wh-1"]),
        (
            split("R-1", &[("a", 500), ("b", 500)]),
            vec!["wh-1", "trader-a"],
        ),
        (cancel("R-1"), vec!["trader-a", "wh-1"]),
        (
            pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS),
            vec!["trader-a", "bank-a"],
        ),
        (freeze("R-1"), vec!["regulator"]),
    ];
    for (op, signers) in ops {
        let rejection = world.refused(op, &signers);
        assert!(
            matches!(rejection, Rejection::ReceiptFrozen { .. }),
            "{rejection:?}"
        );
    }
}

#[test]
fn only_a_regulator_freezes() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    for signer in ["bank-a", "wh-1", "admin", "auditor"] {
        assert_eq!(
            world.refused(freeze("R-1"), &[signer]),
            Rejection::MissingSignature {
                party: Party::AnyWithRole(Role::Regulator)
            }
        );
    }
}

#[test]
fn only_the_freezing_regulator_or_the_quorum_lifts_a_freeze() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(freeze("R-1"), &["regulator-2"]);
    let expected = Rejection::MissingSignature {
        party: Party::OneOf(vec![
            Party::Participant {
                id: "regulator-2".into(),
                capacity: "freezing regulator",
            },
            Party::Quorum {
                members: QUORUM.iter().map(|m| (*m).into()).collect(),
                threshold: 2,
            },
        ]),
    };
    // Another regulator alone cannot lift it.
    let rejection = world.refused(unfreeze("R-1"), &["regulator"]);
    assert_eq!(rejection, expected);
    assert_eq!(
        rejection.to_string(),
        "missing signature of `regulator-2` as freezing regulator or 2 of the quorum {admin, regulator}"
    );
    // The quorum can.
    world.ok(unfreeze("R-1"), QUORUM);
    // And the freezer can lift its own freeze.
    world.ok(freeze("R-1"), &["regulator-2"]);
    assert_eq!(world.refused(unfreeze("R-1"), &["admin"]), expected);
    world.ok(unfreeze("R-1"), &["regulator-2"]);
    world.assert_replays();
}

#[test]
fn a_refusal_on_a_frozen_receipt_names_its_pledge() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let since = world.ok(freeze("R-1"), &["regulator"]).seq;
    let rejection = world.refused(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]);
    assert_eq!(
        rejection,
        Rejection::ReceiptFrozen {
            receipt: "R-1".into(),
            regulator: "regulator".into(),
            order_reference: "(2026) Zhe 09 Min Chu 1".into(),
            since,
            pledge: Some("P-1".into()),
            pledgee: Some("bank-a".into()),
        }
    );
    assert!(
        rejection
            .to_string()
            .ends_with("; it is pledged to bank `bank-a` under pledge `P-1`"),
        "{rejection}"
    );
}

#[test]
fn unfreezing_needs_a_freeze_and_a_regulator() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(unfreeze("R-1"), &["regulator"]),
        Rejection::ReceiptNotFrozen {
            receipt: "R-1".into()
        }
    );
    world.ok(freeze("R-1"), &["regulator"]);
    assert!(matches!(
        world.refused(unfreeze("R-1"), &["trader-a"]),
        Rejection::UnexpectedSigner { .. } | Rejection::MissingSignature { .. }
    ));
}

#[test]
fn an_unfreeze_names_a_missing_or_unfrozen_receipt_before_its_signers_standing() {
    // The party that may lift a freeze depends on the freeze, so these two
    // codes come first, whoever (a registered participant) signs.
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(unfreeze("R-1"), &["trader-a"]),
        Rejection::ReceiptNotFrozen {
            receipt: "R-1".into()
        }
    );
    assert_eq!(
        world.refused(unfreeze("R-404"), &["trader-a"]),
        Rejection::ReceiptNotFound { id: "R-404".into() }
    );
}

#[test]
fn a_cancelled_receipt_cannot_be_frozen() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    assert_eq!(
        world.refused(freeze("R-1"), &["regulator"]),
        Rejection::ReceiptNotLive {
            receipt: "R-1".into(),
            status: "cancelled"
        }
    );
}
