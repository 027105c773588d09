use pledge_ledger::Rejection;
use pledge_ledger::model::ReceiptStatus;

use crate::support::*;

#[test]
fn a_split_conserves_quantity_and_retires_the_parent() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    let committed = world.ok(
        split("R-1", &[("R-1a", 7_000), ("R-1b", 3_000)]),
        &["wh-1", "trader-a"],
    );
    let parent = world.receipt("R-1");
    assert_eq!(
        parent.status,
        ReceiptStatus::Split {
            at: committed.seq,
            parts: vec!["R-1a".into(), "R-1b".into()]
        }
    );
    let a = world.receipt("R-1a");
    let b = world.receipt("R-1b");
    assert_eq!((a.terms.quantity_kg, b.terms.quantity_kg), (7_000, 3_000));
    assert_eq!(a.parent_id.as_deref(), Some("R-1"));
    assert_eq!(a.holder_id, "trader-a");
    assert_eq!(world.tank_state("T-R-1").receipted_kg, 10_000);
    // The parts are live receipts: one can be pledged, the other transferred.
    world.ok(
        pledge("P-1", "R-1a", "bank-a", world.now_ms + DAY_MS),
        &["trader-a", "bank-a"],
    );
    world.ok(transfer("R-1b", "trader-b"), &["trader-a", "wh-1"]);
    world.assert_replays();
}

#[test]
fn parts_that_do_not_add_up_are_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    for parts in [[("a", 7_000), ("b", 2_999)], [("a", 7_000), ("b", 3_001)]] {
        let sum = parts[0].1 + parts[1].1;
        assert_eq!(
            world.refused(split("R-1", &parts), &["wh-1", "trader-a"]),
            Rejection::SplitMismatch {
                receipt: "R-1".into(),
                receipt_kg: 10_000,
                parts_kg: sum
            }
        );
    }
}

#[test]
fn a_pledged_receipt_cannot_be_split() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    assert!(matches!(
        world.refused(
            split("R-1", &[("a", 500_000), ("b", 500_000)]),
            &["wh-1", "trader-a"]
        ),
        Rejection::ReceiptPledged { .. }
    ));
}

#[test]
fn split_parts_cannot_reuse_receipt_ids() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    world.receipt_of("R-2", 10_000);
    assert!(matches!(
        world.refused(split("R-1", &[("R-2", 5_000), ("R-new", 5_000)]), &["wh-1", "trader-a"]),
        Rejection::ReceiptExists { ref id, .. } if id == "R-2"
    ));
}

#[test]
fn a_split_receipt_is_retired() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    world.ok(
        split("R-1", &[("a", 5_000), ("b", 5_000)]),
        &["wh-1", "trader-a"],
    );
    assert_eq!(
        world.refused(
            split("R-1", &[("c", 5_000), ("d", 5_000)]),
            &["wh-1", "trader-a"]
        ),
        Rejection::ReceiptNotLive {
            receipt: "R-1".into(),
            status: "split"
        }
    );
}

#[test]
fn a_split_needs_the_warehouse_and_the_holder() {
    let mut world = World::new();
    world.receipt_of("R-1", 10_000);
    assert!(matches!(
        world.refused(split("R-1", &[("a", 5_000), ("b", 5_000)]), &["trader-a"]),
        Rejection::MissingSignature { .. }
    ));
    assert!(matches!(
        world.refused(split("R-1", &[("a", 5_000), ("b", 5_000)]), &["wh-1"]),
        Rejection::MissingSignature { .. }
    ));
}
