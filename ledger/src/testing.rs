//! Fixtures for tests, benchmarks and examples (feature `testing`): the demo
//! participants ([`crate::demo`]) with fixed keys, a fixed node key, their
//! genesis, and operations with sample terms filled in.
//!
//! Keys come from fixed seeds, `SigningKey::from_bytes(&[seed; 32])`: the
//! demo participants have seeds 1 (admin) to 10 (the inspector `insp-sgs`)
//! in genesis order, the node 100. A chain built from these fixtures is the
//! same on every machine. Anyone can derive these keys: never use them for a
//! real ledger.
//!
//! The operations here fill [`crate::ops`]'s builders with sample terms
//! (product, inspector, amounts, references); the builders themselves are
//! in [`crate::ops`] only.
//!
//! ```
//! use pledge_ledger::{demo, ledger::MemoryLedger, testing};
//!
//! let mut ledger = MemoryLedger::in_memory(testing::node_key());
//! let genesis = testing::sign(&testing::genesis(testing::LEDGER_ID), demo::QUORUM);
//! let tank = testing::transaction(testing::LEDGER_ID, "tx-1", testing::register_tank("T-1", "wh-1", 1_000_000));
//! let tank = testing::sign(&tank, &["wh-1", demo::INSPECTOR]);
//! let group = [genesis.verify().unwrap(), tank.verify().unwrap()];
//! let results = ledger.append_group(&group, testing::T0).unwrap();
//! assert!(results.iter().all(Result::is_ok));
//! ```

use ed25519_dalek::SigningKey;
use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::crypto;
use crate::demo;
use crate::envelope::{Envelope, EnvelopeBuilder};
use crate::ops;

/// The ledger id of fixture chains.
pub const LEDGER_ID: &str = "zhoushan-test";
/// The time of fixture chains' first entry, ms since the Unix epoch
/// (2027-01-15T08:00:00Z).
pub const T0: u64 = 1_800_000_000_000;
/// A day in ms.
pub const DAY_MS: u64 = 86_400_000;
/// An hour in ms.
pub const HOUR_MS: u64 = 3_600_000;
/// Capacity of the tanks the fixtures register, kg.
pub const TANK_CAPACITY_KG: u64 = 50_000_000;
/// The product of the fixtures' tanks and receipts.
pub const PRODUCT: &str = "VLSFO 0.5%S";
/// The bonded facility of the fixtures' tanks.
pub const FACILITY_CODE: &str = "ZS-BONDED-01";
/// Seed of the node key.
pub const NODE_SEED: u8 = 100;
/// Seed of the key [`key_of`] gives an id that is not a demo participant.
pub const STRANGER_SEED: u8 = 0;
/// The court order the fixtures freeze and unfreeze under.
pub const ORDER_REFERENCE: &str = "(2026) Zhe 09 Min Chu 1";

/// The key of seed `seed`: `SigningKey::from_bytes(&[seed; 32])`.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A demo participant's seed: its position in [`demo::PARTICIPANTS`] plus
/// one (admin 1 … insp-sgs 10, price-desk 11).
pub fn seed_of(id: &str) -> Option<u8> {
    let index = demo::PARTICIPANTS.iter().position(|p| p.id == id)?;
    u8::try_from(index + 1).ok()
}

/// A demo participant's key; any other id gets the key of
/// [`STRANGER_SEED`], which no demo participant holds.
pub fn key_of(id: &str) -> SigningKey {
    key(seed_of(id).unwrap_or(STRANGER_SEED))
}

/// The node key that seals fixture chains.
pub fn node_key() -> SigningKey {
    key(NODE_SEED)
}

/// The genesis operation admitting every demo participant with its fixed
/// key and legal identity, under the demo governance.
pub fn genesis_operation() -> Operation {
    let specs = demo::PARTICIPANTS
        .iter()
        .map(|p| {
            let public_key = crypto::public_key(&key_of(p.id));
            ops::participant_spec(p.id, p.name, p.roles, &public_key, p.legal.identity())
        })
        .collect();
    ops::genesis(specs, demo::governance())
}

/// The genesis transaction of a fixture chain (tx id `genesis`); every
/// member of [`demo::QUORUM`] signs it.
pub fn genesis(ledger_id: &str) -> pb::Transaction {
    transaction(ledger_id, "genesis", genesis_operation())
}

/// A transaction valid from an hour before [`T0`] to a day after it.
pub fn transaction(ledger_id: &str, tx_id: &str, operation: Operation) -> pb::Transaction {
    ops::transaction(ledger_id, tx_id, (T0 - HOUR_MS, T0 + DAY_MS), operation)
}

/// `tx` signed by the demo participants `signers`, with their fixed keys.
pub fn sign(tx: &pb::Transaction, signers: &[&str]) -> Envelope {
    signers
        .iter()
        .fold(EnvelopeBuilder::new(tx), |b, id| b.sign(id, &key_of(id)))
        .build()
}

/// A tank of [`PRODUCT`] at [`FACILITY_CODE`], its tank number the tank id
/// (upper case, other characters as `-`), calibrated by [`demo::INSPECTOR`]
/// (the warehouse and the inspector sign).
pub fn register_tank(tank_id: &str, warehouse: &str, capacity_kg: u64) -> Operation {
    let number = tank_number(tank_id);
    ops::register_tank(
        tank_id,
        warehouse,
        capacity_kg,
        PRODUCT,
        ops::physical_tank_id(FACILITY_CODE, &number),
        demo::INSPECTOR,
        &format!("CAL-{number}"),
    )
}

/// The tank number the fixtures give a tank id: upper case, any character a
/// tank number may not hold as `-`, at most 16 characters.
pub fn tank_number(tank_id: &str) -> String {
    tank_id
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            c @ ('A'..='Z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .take(16)
        .collect()
}

/// [`demo::INSPECTOR`] certifies `kg` of a depositor's oil, gauged at
/// `gauged_at_ms` (the warehouse, the inspector and the depositor sign).
pub fn certify_stock(
    tank_id: &str,
    certificate_no: &str,
    kg: u64,
    depositor: &str,
    gauged_at_ms: u64,
) -> Operation {
    ops::certify_stock(&ops::StockCertificate {
        tank_id,
        inspector_id: demo::INSPECTOR,
        certificate_no,
        quantity_kg: kg,
        product_grade: PRODUCT,
        gauged_at_ms,
        depositor_id: depositor,
    })
}

/// Receipt terms for `kg` of [`PRODUCT`] against [`demo::INSPECTOR`]'s
/// certificate `certificate_no`.
pub fn issue_terms(
    receipt_id: &str,
    tank_id: &str,
    certificate_no: &str,
    kg: u64,
    expires_at_ms: u64,
) -> pb::IssueReceipt {
    pb::IssueReceipt {
        receipt_id: receipt_id.into(),
        tank_id: tank_id.into(),
        inspector_id: demo::INSPECTOR.into(),
        certificate_no: certificate_no.into(),
        product_grade: PRODUCT.into(),
        specification: "ISO 8217:2017 RMG 380".into(),
        quantity_kg: kg,
        customs_status: pb::CustomsStatus::Bonded as i32,
        customs_reference: "ZS-2026-000123".into(),
        expires_at_ms,
        loss_allowance_ppm: 3_000,
        insurance_reference: "PICC-OIL-77".into(),
    }
}

/// The warehouse issues a receipt on [`issue_terms`].
pub fn issue(
    receipt_id: &str,
    tank_id: &str,
    certificate_no: &str,
    kg: u64,
    expires_at_ms: u64,
) -> Operation {
    ops::issue_receipt(issue_terms(
        receipt_id,
        tank_id,
        certificate_no,
        kg,
        expires_at_ms,
    ))
}

/// The holder pledges a receipt to `bank` for USD 4,500,000.00 under loan
/// `LOAN-<pledge id>`.
pub fn pledge(pledge_id: &str, receipt_id: &str, bank: &str, maturity_ms: u64) -> Operation {
    let amount = ops::money(450_000_000, "USD");
    let loan = format!("LOAN-{pledge_id}");
    ops::register_pledge(pledge_id, receipt_id, bank, amount, &loan, maturity_ms)
}
