//! The regulator's report (ledger/src/report) on a hand-built chain, every
//! figure worked out by hand below; the same rows from the stored state and
//! from a replay of the chain; a bounded, ordered listing; a state that
//! moved past the report's size refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pledge_ledger::ops;
use pledge_ledger::replay::Replayer;
use pledge_ledger::report::{
    self, BankRow, HolderRow, ReportError, ReportRow, ReportScope, TankRow,
};
use pledge_ledger::state::{MemoryState, StateRead};
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1 as pb;

use support::*;

const REPORTER: &str = "platts";

fn assess(price_minor: u64, currency: &str, world: &World) -> pb::transaction::Operation {
    ops::assess_price(
        REPORTER,
        PRODUCT,
        ops::money(price_minor, currency),
        world.now_ms - HOUR_MS,
    )
}

fn pledge_in(
    world: &mut World,
    (pledge_id, receipt_id): (&str, &str),
    (holder, bank): (&str, &str),
    amount: (u64, &str),
) {
    let op = ops::register_pledge(
        pledge_id,
        receipt_id,
        bank,
        ops::money(amount.0, amount.1),
        &format!("LOAN-{pledge_id}"),
        world.now_ms + 90 * DAY_MS,
    );
    world.ok(op, &[holder, bank]);
}

fn issue_on(world: &mut World, receipt_id: &str, tank_id: &str, kg: u64, holder: &str) {
    let cert = format!("C-{receipt_id}");
    world.certify(tank_id, &cert, kg, holder);
    let warehouse = world.tank_state(tank_id).warehouse_id;
    let expires = world.now_ms + 365 * DAY_MS;
    world.ok(
        issue(receipt_id, tank_id, &cert, kg, expires),
        &[&warehouse],
    );
}

/// The chain:
///
/// - T-1 (wh-1): R-1, 1,000,000 kg to trader-a, pledged (P-1) to bank-a for
///   USD 490,000.00; R-2, 600,000 kg to trader-b, pledged (P-2) to bank-b
///   for EUR 300,000.00 (no EUR price: unpriced). Re-gauged at 1,500,000
///   kg: certified 1,500,000 < receipted 1,600,000, short 100,000.
/// - T-2 (wh-2): R-3, 400,000 kg to trader-a, pledged (P-3) to bank-a for
///   CNY 1,000,000.00; R-4, 250,000 kg to trader-b, pledged (P-4) to bank-a
///   and released; R-5, 50,000 kg to trader-b, cancelled.
/// - T-3 (wh-2): registered, nothing certified.
/// - Prices of the grade: USD 600.00/t, then USD 612.34/t (the latest
///   counts); CNY 4,400.00/t.
fn world() -> World {
    let mut world = World::new();
    let reporter_key = key(40);
    world.ok(
        admit(REPORTER, &[pb::Role::PriceReporter], &reporter_key),
        QUORUM,
    );
    world.keys.insert(REPORTER.into(), reporter_key);
    world.now_ms += HOUR_MS;
    world.tank("T-1", "wh-1");
    world.tank("T-2", "wh-2");
    world.tank("T-3", "wh-2");
    issue_on(&mut world, "R-1", "T-1", 1_000_000, "trader-a");
    issue_on(&mut world, "R-2", "T-1", 600_000, "trader-b");
    issue_on(&mut world, "R-3", "T-2", 400_000, "trader-a");
    issue_on(&mut world, "R-4", "T-2", 250_000, "trader-b");
    issue_on(&mut world, "R-5", "T-2", 50_000, "trader-b");
    pledge_in(
        &mut world,
        ("P-1", "R-1"),
        ("trader-a", "bank-a"),
        (49_000_000, "USD"),
    );
    pledge_in(
        &mut world,
        ("P-2", "R-2"),
        ("trader-b", "bank-b"),
        (30_000_000, "EUR"),
    );
    pledge_in(
        &mut world,
        ("P-3", "R-3"),
        ("trader-a", "bank-a"),
        (100_000_000, "CNY"),
    );
    pledge_in(
        &mut world,
        ("P-4", "R-4"),
        ("trader-b", "bank-a"),
        (7_000_000, "USD"),
    );
    world.ok(release("P-4"), &["bank-a"]);
    world.ok(cancel("R-5"), &["trader-b", "wh-2"]);
    world.ok(assess(60_000, "USD", &world), &[REPORTER]);
    world.now_ms += HOUR_MS;
    world.ok(assess(61_234, "USD", &world), &[REPORTER]);
    world.ok(assess(440_000, "CNY", &world), &[REPORTER]);
    world.regauge("T-1", 1_500_000);
    world
}

/// A tank row; `figures`: capacity, certified, receipted, pledged, short.
fn tank(id: &str, warehouse: &str, figures: [u64; 5], measured_kg: Option<u64>) -> ReportRow {
    let [
        capacity_kg,
        certified_kg,
        receipted_kg,
        pledged_kg,
        shortfall_kg,
    ] = figures;
    ReportRow::Tank(TankRow {
        tank_id: id.into(),
        warehouse_id: warehouse.into(),
        product: PRODUCT.into(),
        capacity_kg,
        certified_kg,
        measured_kg,
        receipted_kg,
        pledged_kg,
        shortfall_kg,
    })
}

fn holder(holder_id: &str, tank_id: &str, held_kg: u64, pledged_kg: u64, bp: u128) -> ReportRow {
    ReportRow::Holder(HolderRow {
        holder_id: holder_id.into(),
        tank_id: tank_id.into(),
        held_kg,
        pledged_kg,
        pledged_share_bp: bp,
    })
}

fn bank(id: &str, currency: &str, pledges: u64, exposure: u128, value: u128) -> BankRow {
    BankRow {
        bank_id: id.into(),
        currency: currency.into(),
        active_pledges: pledges,
        exposure_minor: exposure,
        collateral_value_minor: value,
        unpriced_pledges: 0,
        unpriced_exposure_minor: 0,
    }
}

/// The rows worked out by hand.
fn expected() -> Vec<ReportRow> {
    let cap = TANK_CAPACITY_KG;
    vec![
        // T-1: certified 1,500,000 after the re-gauge; receipted
        // 1,000,000 + 600,000; both pledged; short 100,000.
        tank(
            "T-1",
            "wh-1",
            [cap, 1_500_000, 1_600_000, 1_600_000, 100_000],
            Some(1_500_000),
        ),
        // 1,000,000 × 10,000 / 1,500,000 = 6,666.67 → 6,666.
        holder("trader-a", "T-1", 1_000_000, 1_000_000, 6_666),
        // 600,000 × 10,000 / 1,500,000 = 4,000.
        holder("trader-b", "T-1", 600_000, 600_000, 4_000),
        // T-2: certified 700,000 − 50,000 delivered (R-5 cancelled);
        // receipted 400,000 + 250,000; only R-3 pledged (P-4 released).
        tank("T-2", "wh-2", [cap, 650_000, 650_000, 400_000, 0], None),
        // 400,000 × 10,000 / 650,000 = 6,153.8 → 6,153.
        holder("trader-a", "T-2", 400_000, 400_000, 6_153),
        holder("trader-b", "T-2", 250_000, 0, 0),
        tank("T-3", "wh-2", [cap, 0, 0, 0, 0], None),
        // bank-a in CNY: P-3, 400 t × 4,400.00 = 1,760,000.00.
        ReportRow::Bank(bank("bank-a", "CNY", 1, 100_000_000, 176_000_000)),
        // bank-a in USD: P-1, 1,000 t × 612.34 = 612,340.00 (the latest
        // price); P-4 released, not counted.
        ReportRow::Bank(bank("bank-a", "USD", 1, 49_000_000, 61_234_000)),
        // bank-b in EUR: P-2, no EUR price: unpriced.
        ReportRow::Bank(BankRow {
            unpriced_pledges: 1,
            unpriced_exposure_minor: 30_000_000,
            ..bank("bank-b", "EUR", 1, 30_000_000, 0)
        }),
    ]
}

#[test]
fn the_report_has_the_figures_worked_out_by_hand() {
    let world = world();
    let store = world.store();
    let rows = report::report(&store, store.len(), ReportScope::All).unwrap();
    assert_eq!(rows, expected());
}

#[test]
fn a_replay_of_the_chain_gives_the_same_report() {
    let world = world();
    let store = world.store();
    let mut replayer = Replayer::new(None);
    for seq in 0..store.len() {
        replayer.push_record(&store.record(seq).unwrap()).unwrap();
    }
    let replayed: &MemoryState = replayer.state();
    let rows = report::report(replayed, store.len(), ReportScope::All).unwrap();
    assert_eq!(rows, expected());
}

#[test]
fn a_warehouse_report_covers_its_tanks_and_the_pledges_on_them() {
    let world = world();
    let store = world.store();
    let scope = ReportScope::Warehouse("wh-1".into());
    let rows = report::report(&store, store.len(), scope).unwrap();
    let all = expected();
    let mut wanted = all[..3].to_vec();
    wanted.push(ReportRow::Bank(bank(
        "bank-a", "USD", 1, 49_000_000, 61_234_000,
    )));
    wanted.push(all[9].clone());
    assert_eq!(rows, wanted);
}

#[test]
fn a_state_changed_after_the_reports_size_is_refused() {
    let world = world();
    let store = world.store();
    // The re-gauge of T-1 is the last entry: a report "at" the size before
    // it reads a tank it changed.
    let before = store.len() - 1;
    let mut rows = report::rows(&store, before, ReportScope::All);
    match rows.next() {
        Some(Err(ReportError::StateMoved {
            object,
            changed_at,
            size,
        })) => {
            assert_eq!(object, "tank T-1");
            assert_eq!((changed_at, size), (before, before));
        }
        other => panic!("expected StateMoved, got {other:?}"),
    }
    assert!(rows.next().is_none(), "nothing after an error");
}

#[test]
fn tanks_are_listed_a_bounded_page_at_a_time_in_id_order() {
    let world = world();
    let store = world.store();
    let ids = |tanks: Vec<pledge_ledger::model::Tank>| -> Vec<String> {
        tanks.into_iter().map(|t| t.id).collect()
    };
    assert_eq!(ids(store.tanks(None, 10).unwrap()), ["T-1", "T-2", "T-3"]);
    assert_eq!(ids(store.tanks(None, 2).unwrap()), ["T-1", "T-2"]);
    assert_eq!(ids(store.tanks(Some("T-2"), 2).unwrap()), ["T-3"]);
    assert_eq!(ids(store.tanks(Some("T-1x"), 5).unwrap()), ["T-2", "T-3"]);
    assert!(store.tanks(Some("T-3"), 5).unwrap().is_empty());
    assert!(store.tanks(None, 0).unwrap().is_empty());
}
