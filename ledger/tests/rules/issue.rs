use pledge_ledger::Rejection;
use pledge_ledger::model::{CertificateRef, ReceiptStatus};
use pledge_ledger::rejection::ReceiptState;
use pledge_ledger::rules;
use pledge_ledger::state::StateRead;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::transaction::Operation;

use crate::support::*;

fn cert(number: &str) -> CertificateRef {
    CertificateRef {
        inspector: INSPECTOR.into(),
        number: number.into(),
    }
}

fn stocked_tank(world: &mut World) {
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", 6_000_000, "trader-a");
    world.certify("T-1", "C-2", 4_000_000, "trader-a");
}

fn expiry(world: &World) -> u64 {
    world.now_ms + 180 * DAY_MS
}

#[test]
fn a_receipt_is_issued_to_the_depositor() {
    let mut world = World::new();
    stocked_tank(&mut world);
    let committed = world.ok(
        issue("R-1", "T-1", "C-1", 6_000_000, expiry(&world)),
        &["wh-1"],
    );
    let receipt = world.receipt("R-1");
    assert_eq!(receipt.holder_id, "trader-a");
    assert_eq!(receipt.warehouse_id, "wh-1");
    assert_eq!(receipt.status, ReceiptStatus::Active);
    assert_eq!(receipt.issued_at, committed.seq);
    assert_eq!(receipt.issued_at_ms, world.now_ms);
    assert_eq!(world.tank_state("T-1").receipted_kg, 6_000_000);
    world.assert_replays();
}

#[test]
fn two_receipts_cannot_sum_above_the_tanks_certified_stock() {
    // 10,000 t certified on the tank; 6,000 t under R-1; a second 6,000 t
    // receipt would put 12,000 t of paper on 10,000 t of oil.
    let mut world = World::new();
    stocked_tank(&mut world);
    world.ok(
        issue("R-1", "T-1", "C-1", 6_000_000, expiry(&world)),
        &["wh-1"],
    );
    assert_eq!(
        world.refused(
            issue("R-2", "T-1", "C-2", 6_000_000, expiry(&world)),
            &["wh-1"]
        ),
        Rejection::QuantityExceedsCertificate {
            certificate: cert("C-2"),
            certified_kg: 4_000_000,
            requested_kg: 6_000_000
        }
    );
    assert!(matches!(
        world.refused(
            issue("R-2", "T-1", "C-1", 6_000_000, expiry(&world)),
            &["wh-1"]
        ),
        Rejection::CertificateInUse { .. }
    ));
    world.ok(
        issue("R-2", "T-1", "C-2", 4_000_000, expiry(&world)),
        &["wh-1"],
    );
    let tank = world.tank_state("T-1");
    assert_eq!(
        (tank.certified_kg, tank.receipted_kg),
        (10_000_000, 10_000_000)
    );
    world.assert_replays();
}

#[test]
fn the_tank_stock_check_holds_even_when_a_certificate_would_allow_more() {
    // Certificates alone keep receipts within stock; the tank check is the
    // invariant itself. Exercise it on a state where a certificate claims more
    // than the tank's certified stock (as a corrupted or hand-edited state would).
    let mut world = World::new();
    stocked_tank(&mut world);
    let mut state = world.store().objects().unwrap();
    state.tanks.get_mut("T-1").unwrap().certified_kg = 5_000_000;
    let tx = world.tx(issue("R-1", "T-1", "C-1", 6_000_000, expiry(&world)));
    let envelope = world.sign(&tx, &["wh-1"]).verify().unwrap();
    let ctx = rules::EntryContext {
        seq: world.len(),
        time_ms: world.now_ms,
    };
    let refusal = rules::apply(&state, &envelope, ctx).unwrap_err();
    assert!(
        matches!(
            &refusal,
            rules::ApplyError::Rejected(rejection) if matches!(**rejection, Rejection::StockExceeded {
                certified_kg: 5_000_000,
                receipted_kg: 0,
                requested_kg: 6_000_000,
                ..
            })
        ),
        "{refusal:?}"
    );
}

#[test]
fn one_certificate_backs_one_receipt_and_the_refusal_says_what_became_of_it() {
    let mut world = World::new();
    stocked_tank(&mut world);
    world.ok(
        issue("R-1", "T-1", "C-1", 3_000_000, expiry(&world)),
        &["wh-1"],
    );
    let pledged = world
        .ok(
            pledge("P-1", "R-1", "bank-a", world.now_ms + 90 * DAY_MS),
            &["trader-a", "bank-a"],
        )
        .seq;
    let rejection = world.refused(
        issue("R-2", "T-1", "C-1", 3_000_000, expiry(&world)),
        &["wh-1"],
    );
    assert_eq!(
        rejection,
        Rejection::CertificateInUse {
            certificate: cert("C-1"),
            receipt: "R-1".into(),
            receipt_state: Box::new(ReceiptState {
                receipt_status: "pledged",
                receipt_holder: "trader-a".into(),
                receipt_pledge: Some("P-1".into()),
                receipt_pledgee: Some("bank-a".into()),
                receipt_updated_at: pledged,
            })
        }
    );
    assert_eq!(
        rejection.to_string(),
        "certificate C-1 of `insp-1` already backs receipt `R-1`, which is pledged to bank \
         `bank-a` under pledge `P-1`, held by `trader-a`"
    );
    assert!(
        rejection
            .fields()
            .contains(&("receipt_pledgee".into(), "bank-a".into()))
    );
}

#[test]
fn a_receipt_cannot_exceed_its_certificate() {
    let mut world = World::new();
    stocked_tank(&mut world);
    assert_eq!(
        world.refused(
            issue("R-1", "T-1", "C-2", 4_000_001, expiry(&world)),
            &["wh-1"]
        ),
        Rejection::QuantityExceedsCertificate {
            certificate: cert("C-2"),
            certified_kg: 4_000_000,
            requested_kg: 4_000_001
        }
    );
}

#[test]
fn the_certificate_must_be_for_the_tank() {
    let mut world = World::new();
    stocked_tank(&mut world);
    world.tank("T-2", "wh-1");
    assert_eq!(
        world.refused(issue("R-1", "T-2", "C-1", 1, expiry(&world)), &["wh-1"]),
        Rejection::CertificateTankMismatch {
            certificate: cert("C-1"),
            certificate_tank: "T-1".into(),
            tank: "T-2".into()
        }
    );
    assert_eq!(
        world.refused(issue("R-1", "T-1", "C-404", 1, expiry(&world)), &["wh-1"]),
        Rejection::CertificateNotFound {
            certificate: cert("C-404")
        }
    );
    assert_eq!(
        world.refused(issue("R-1", "T-404", "C-1", 1, expiry(&world)), &["wh-1"]),
        Rejection::TankNotFound { id: "T-404".into() }
    );
}

#[test]
fn the_product_must_be_the_tanks() {
    let mut world = World::new();
    stocked_tank(&mut world);
    let mut terms = issue_terms("R-1", "T-1", "C-1", 1, expiry(&world));
    terms.product_grade = "HSFO 380cSt".into();
    assert_eq!(
        world.refused(Operation::IssueReceipt(terms), &["wh-1"]),
        Rejection::ProductMismatch {
            tank: "T-1".into(),
            tank_product: "VLSFO 0.5%S".into(),
            requested: "HSFO 380cSt".into()
        }
    );
}

#[test]
fn expiry_must_be_in_the_future() {
    let mut world = World::new();
    stocked_tank(&mut world);
    let now = world.now_ms;
    assert_eq!(
        world.refused(issue("R-1", "T-1", "C-1", 1, now), &["wh-1"]),
        Rejection::NotInFuture {
            field: "expires_at_ms",
            value_ms: now,
            now_ms: now
        }
    );
}

#[test]
fn only_the_tanks_warehouse_issues() {
    let mut world = World::new();
    stocked_tank(&mut world);
    assert!(matches!(
        world.refused(issue("R-1", "T-1", "C-1", 1, expiry(&world)), &["wh-2"]),
        Rejection::MissingSignature { .. }
    ));
}

#[test]
fn receipt_ids_are_never_reused_even_after_cancellation() {
    let mut world = World::new();
    stocked_tank(&mut world);
    let issued = world.ok(issue("R-1", "T-1", "C-1", 1_000, expiry(&world)), &["wh-1"]);
    world.ok(cancel("R-1"), &["trader-a", "wh-1"]);
    assert_eq!(
        world.refused(issue("R-1", "T-1", "C-2", 1_000, expiry(&world)), &["wh-1"]),
        Rejection::ReceiptExists {
            id: "R-1".into(),
            issued_at: issued.seq
        }
    );
}

#[test]
fn ids_are_case_sensitive() {
    let mut world = World::new();
    stocked_tank(&mut world);
    world.ok(
        issue("WR-1", "T-1", "C-1", 1_000_000, expiry(&world)),
        &["wh-1"],
    );
    world.ok(
        issue("wr-1", "T-1", "C-2", 1_000_000, expiry(&world)),
        &["wh-1"],
    );
    assert_eq!(world.receipt("WR-1").terms.certificate.number, "C-1");
    assert_eq!(world.receipt("wr-1").terms.certificate.number, "C-2");
    assert!(world.store().receipt("Wr-1").unwrap().is_none());
    world.assert_replays();
}
