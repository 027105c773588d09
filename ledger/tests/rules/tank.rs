//! Tank registration (physical identity, calibration by an inspector) and
//! stock certification (warehouse, inspector and depositor together).

use pledge_ledger::Rejection;
use pledge_ledger::model::{CertificateRef, PhysicalTankId, Role};
use pledge_ledger::rejection::Party;
use pledge_proto::v1::transaction::Operation;

use crate::support::*;

fn cert(number: &str) -> CertificateRef {
    CertificateRef {
        inspector: INSPECTOR.into(),
        number: number.into(),
    }
}

fn certify_now(world: &World, tank: &str, cert: &str, kg: u64, depositor: &str) -> Operation {
    certify_stock(tank, cert, kg, depositor, world.now_ms)
}

#[test]
fn a_warehouse_and_its_calibrating_inspector_register_a_tank() {
    let mut world = World::new();
    world.ok(
        register_tank("T-101", "wh-1", 30_000_000),
        &["wh-1", INSPECTOR],
    );
    let tank = world.tank_state("T-101");
    assert_eq!(
        (tank.capacity_kg, tank.certified_kg, tank.receipted_kg),
        (30_000_000, 0, 0)
    );
    assert_eq!(tank.warehouse_id, "wh-1");
    assert_eq!(
        tank.physical_id,
        PhysicalTankId {
            facility_code: "ZS-BONDED-01".into(),
            tank_number: "T-101".into()
        }
    );
    assert_eq!(tank.calibration.inspector, INSPECTOR);
    world.assert_replays();
}

#[test]
fn a_tank_registered_by_the_warehouse_alone_is_refused() {
    // The 10-million-tonne tank: a warehouse's word alone on its own capacity.
    let mut world = World::new();
    assert_eq!(
        world.refused(register_tank("T-1", "wh-1", 30_000_000), &["wh-1"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: INSPECTOR.into(),
                capacity: "calibrating inspector"
            }
        }
    );
}

#[test]
fn the_calibrating_inspector_must_be_an_inspector_and_not_the_warehouse() {
    let mut world = World::new();
    let op = register_tank_at("T-1", "wh-1", 1_000, physical_of("T-1"), "trader-a");
    assert_eq!(
        world.refused(op, &["wh-1", "trader-a"]),
        Rejection::MissingRole {
            participant: "trader-a".into(),
            role: Role::Inspector
        }
    );
    let op = register_tank_at("T-1", "wh-1", 1_000, physical_of("T-1"), "wh-1");
    assert!(matches!(
        world.refused(op, &["wh-1"]),
        Rejection::MissingRole { ref participant, role: Role::Inspector } if participant == "wh-1"
    ));
}

#[test]
fn tank_ids_are_unique() {
    let mut world = World::new();
    world.tank("T-101", "wh-1");
    let op = register_tank_at("T-101", "wh-2", 1, physical("ZS-OTHER", "9"), INSPECTOR);
    assert_eq!(
        world.refused(op, &["wh-2", INSPECTOR]),
        Rejection::TankExists {
            id: "T-101".into(),
            registered_at: 1
        }
    );
}

#[test]
fn the_same_physical_tank_cannot_be_registered_twice_by_any_warehouse() {
    // One tank, two warehouses, two ledger ids: the same oil financed twice.
    let mut world = World::new();
    let first = world
        .ok(
            register_tank_at(
                "A/T-7",
                "wh-1",
                9_000_000,
                physical("ZS-BONDED-07", "T-7"),
                INSPECTOR,
            ),
            &["wh-1", INSPECTOR],
        )
        .seq;
    let expected = Rejection::PhysicalTankRegistered {
        physical_id: PhysicalTankId {
            facility_code: "ZS-BONDED-07".into(),
            tank_number: "T-7".into(),
        },
        tank: "A/T-7".into(),
        warehouse: "wh-1".into(),
        registered_at: first,
    };
    let by_another = register_tank_at(
        "B/T-7",
        "wh-2",
        9_000_000,
        physical("ZS-BONDED-07", "T-7"),
        "insp-2",
    );
    assert_eq!(world.refused(by_another, &["wh-2", "insp-2"]), expected);
    let by_the_same = register_tank_at(
        "A/T-7-bis",
        "wh-1",
        9_000_000,
        physical("ZS-BONDED-07", "T-7"),
        INSPECTOR,
    );
    assert_eq!(world.refused(by_the_same, &["wh-1", INSPECTOR]), expected);
    world.assert_replays();
}

#[test]
fn only_a_warehouse_owns_tanks() {
    let mut world = World::new();
    assert_eq!(
        world.refused(
            register_tank("T-1", "trader-a", 1),
            &["trader-a", INSPECTOR]
        ),
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
        world.refused(register_tank("T-1", "wh-1", 1), &["wh-2", INSPECTOR]),
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
    let certificate = world.store_certificate(&cert("C-1"));
    assert_eq!(certificate.depositor_id, "trader-a");
    assert_eq!(certificate.product_grade, PRODUCT);
    assert_eq!(certificate.gauged_at_ms, world.now_ms);
    world.assert_replays();
}

#[test]
fn certification_needs_the_warehouse_the_inspector_and_the_depositor() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    let op = || certify_stock("T-1", "C-1", 10, "trader-a", T0);
    // The warehouse typing an agency's name: no inspector signed.
    assert_eq!(
        world.refused(op(), &["wh-1", "trader-a"]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: INSPECTOR.into(),
                capacity: "inspector"
            }
        }
    );
    // Goods in a forwarder's name without the owner's word.
    assert_eq!(
        world.refused(op(), &["wh-1", INSPECTOR]),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "trader-a".into(),
                capacity: "depositor"
            }
        }
    );
    assert!(matches!(
        world.refused(op(), &["wh-2", INSPECTOR, "trader-a"]),
        Rejection::MissingSignature { .. }
    ));
    world.ok(op(), &["trader-a", INSPECTOR, "wh-1"]);
}

#[test]
fn the_depositor_must_hold_and_the_tank_must_exist() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    assert_eq!(
        world.refused(
            certify_now(&world, "T-9", "C-1", 10, "trader-a"),
            &["wh-1", INSPECTOR, "trader-a"]
        ),
        Rejection::TankNotFound { id: "T-9".into() }
    );
    assert_eq!(
        world.refused(
            certify_now(&world, "T-1", "C-1", 10, "bank-a"),
            &["wh-1", INSPECTOR, "bank-a"]
        ),
        Rejection::MissingRole {
            participant: "bank-a".into(),
            role: Role::Holder
        }
    );
}

#[test]
fn a_participant_cannot_certify_its_own_oil_as_two_parties() {
    // A warehouse that also trades: depositor and warehouse in one.
    let mut world = World::new();
    let dual = key(40);
    world.keys.insert("wh-trader".into(), dual.clone());
    world.ok(
        admit(
            "wh-trader",
            &[
                pledge_proto::v1::Role::Warehouse,
                pledge_proto::v1::Role::Holder,
            ],
            &dual,
        ),
        QUORUM,
    );
    world.tank("T-1", "wh-trader");
    assert_eq!(
        world.refused(
            certify_now(&world, "T-1", "C-1", 10, "wh-trader"),
            &["wh-trader", INSPECTOR]
        ),
        Rejection::PartiesNotDistinct {
            participant: "wh-trader".into(),
            first: "warehouse",
            second: "depositor"
        }
    );
}

#[test]
fn the_grade_must_be_the_tanks_and_the_gauging_not_in_the_future() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    let mut op = pledge_proto::v1::CertifyStock {
        tank_id: "T-1".into(),
        inspector_id: INSPECTOR.into(),
        certificate_no: "C-1".into(),
        quantity_kg: 10,
        depositor_id: "trader-a".into(),
        product_grade: "HSFO 380cSt".into(),
        gauged_at_ms: world.now_ms,
    };
    assert_eq!(
        world.refused(
            Operation::CertifyStock(op.clone()),
            &["wh-1", INSPECTOR, "trader-a"]
        ),
        Rejection::ProductMismatch {
            tank: "T-1".into(),
            tank_product: PRODUCT.into(),
            requested: "HSFO 380cSt".into()
        }
    );
    op.product_grade = PRODUCT.into();
    op.gauged_at_ms = world.now_ms + 1;
    assert_eq!(
        world.refused(
            Operation::CertifyStock(op),
            &["wh-1", INSPECTOR, "trader-a"]
        ),
        Rejection::NotInPast {
            field: "gauged_at_ms",
            value_ms: world.now_ms + 1,
            now_ms: world.now_ms
        }
    );
}

#[test]
fn certified_stock_never_exceeds_capacity() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", TANK_CAPACITY_KG - 10, "trader-a");
    assert_eq!(
        world.refused(
            certify_now(&world, "T-1", "C-2", 11, "trader-a"),
            &["wh-1", INSPECTOR, "trader-a"]
        ),
        Rejection::CapacityExceeded {
            tank: "T-1".into(),
            capacity_kg: TANK_CAPACITY_KG,
            certified_kg: TANK_CAPACITY_KG - 10,
            requested_kg: 11
        }
    );
}

#[test]
fn a_certificate_is_recorded_once_per_inspector() {
    let mut world = World::new();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", 10, "trader-a");
    assert_eq!(
        world.refused(
            certify_now(&world, "T-1", "C-1", 10, "trader-a"),
            &["wh-1", INSPECTOR, "trader-a"]
        ),
        Rejection::CertificateExists {
            certificate: cert("C-1"),
            certified_at: 2
        }
    );
    // Another inspector's C-1 is another certificate.
    let mut other = certify_now(&world, "T-1", "C-1", 10, "trader-a");
    if let Operation::CertifyStock(c) = &mut other {
        c.inspector_id = "insp-2".into();
    }
    world.ok(other, &["wh-1", "insp-2", "trader-a"]);
    world.assert_replays();
}

trait Certificates {
    fn store_certificate(&self, reference: &CertificateRef) -> pledge_ledger::model::Certificate;
}

impl Certificates for World {
    fn store_certificate(&self, reference: &CertificateRef) -> pledge_ledger::model::Certificate {
        use pledge_ledger::state::StateRead;
        self.store().certificate(reference).unwrap().unwrap()
    }
}
