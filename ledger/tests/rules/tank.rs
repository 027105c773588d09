use pledge_ledger::Rejection;
use pledge_ledger::model::{CertificateRef, Role};
use pledge_ledger::rejection::Party;

use crate::support::*;

fn sgs(number: &str) -> CertificateRef {
    CertificateRef {
        agency: "SGS Zhoushan".into(),
        number: number.into(),
    }
}

#[test]
fn a_warehouse_registers_a_tank() {
    let mut world = World::new();
    world.ok(register_tank("T-101", "wh-1", 30_000_000), &["wh-1"]);
    let tank = world.tank_state("T-101");
    assert_eq!(
        (tank.capacity_kg, tank.certified_kg, tank.receipted_kg),
        (30_000_000, 0, 0)
    );
    assert_eq!(tank.warehouse_id, "wh-1");
}

#[test]
fn tank_ids_are_unique() {
    let mut world = World::new();
    world.tank("T-101", "wh-1");
    assert_eq!(
        world.refused(register_tank("T-101", "wh-2", 1), &["wh-2"]),
        Rejection::TankExists {
            id: "T-101".into(),
            registered_at: 1
        }
    );
}

#[test]
fn only_a_warehouse_owns_tanks() {
    let mut world = World::new();
    assert_eq!(
        world.refused(register_tank("T-1", "trader-a", 1), &["trader-a"]),
        Rejection::MissingRole {
            participant: "trader-a".into(),
            role: Role::Warehouse
        }
    );
}

#[test]
fn a_warehouse_cannot_register_a_tank_for_another() {
    let mut world = World::new();
    assert_eq!(
        world.refused(register_tank("T-1", "wh-1", 1), &["wh-2"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "wh-1".into(),
                capacity: "warehouse"
            }
        }
    );
}

#[test]
fn certified_stock_adds_up() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", 10_000_000, "trader-a");
    world.certify("T-1", "C-2", 5_000_000, "trader-b");
    assert_eq!(world.tank_state("T-1").certified_kg, 15_000_000);
    world.assert_replays();
}

#[test]
fn certified_stock_never_exceeds_capacity() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", TANK_CAPACITY_KG - 10, "trader-a");
    assert_eq!(
        world.refused(certify_stock("T-1", "C-2", 11, "trader-a"), &["wh-1"]),
        Rejection::CapacityExceeded {
            tank: "T-1".into(),
            capacity_kg: TANK_CAPACITY_KG,
            certified_kg: TANK_CAPACITY_KG - 10,
            requested_kg: 11
        }
    );
}

#[test]
fn certifying_u64_max_on_top_of_stock_reports_overflow() {
    let mut world = World::new();
    world.ok(register_tank("T-big", "wh-1", u64::MAX), &["wh-1"]);
    world.certify("T-big", "C-1", 10, "trader-a");
    assert_eq!(
        world.refused(
            certify_stock("T-big", "C-2", u64::MAX, "trader-a"),
            &["wh-1"]
        ),
        Rejection::QuantityOverflow {
            tank: "T-big".into()
        }
    );
}

#[test]
fn a_certificate_is_recorded_once() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", 10, "trader-a");
    assert_eq!(
        world.refused(certify_stock("T-1", "C-1", 10, "trader-a"), &["wh-1"]),
        Rejection::CertificateExists {
            certificate: sgs("C-1"),
            certified_at: 2
        }
    );
}

#[test]
fn certification_needs_the_tank_owner_a_known_tank_and_a_holder() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    assert!(matches!(
        world.refused(certify_stock("T-1", "C-1", 10, "trader-a"), &["wh-2"]),
        Rejection::MissingSignature { .. }
    ));
    assert_eq!(
        world.refused(certify_stock("T-9", "C-1", 10, "trader-a"), &["wh-1"]),
        Rejection::TankNotFound { id: "T-9".into() }
    );
    assert_eq!(
        world.refused(certify_stock("T-1", "C-1", 10, "bank-a"), &["wh-1"]),
        Rejection::MissingRole {
            participant: "bank-a".into(),
            role: Role::Holder
        }
    );
}
