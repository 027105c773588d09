//! Fixtures for tests, benchmarks and examples (feature `testing`): the demo
//! participants ([`crate::demo`]) with fixed keys, a fixed node key, their
//! genesis, and operations with sample terms filled in.
//!
//! Keys come from fixed seeds, `SigningKey::from_bytes(&[seed; 32])`: the
//! demo participants have seeds 1 (admin) to 9 (auditor) in genesis order,
//! the node 100. A chain built from these fixtures is the same on every
//! machine; the test vectors of `docs/FORMAT.md` are made this way. Anyone
//! can derive these keys: never use them for a real ledger.
//!
//! The operations here fill [`crate::ops`]'s builders with sample terms
//! (product, agency, amounts, references); the builders themselves are in
//! [`crate::ops`] only.
//!
//! ```
//! use pledge_ledger::{ledger::MemoryLedger, testing};
//!
//! let mut ledger = MemoryLedger::in_memory(testing::node_key());
//! let genesis = testing::sign(&testing::genesis(testing::LEDGER_ID, testing::T0), &["admin"]);
//! let tank = testing::transaction(testing::LEDGER_ID, "tx-1", testing::register_tank("T-1", "wh-1", 1_000_000));
//! let tank = testing::sign(&tank, &["wh-1"]);
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
/// Capacity of the tanks the fixtures register, kg.
pub const TANK_CAPACITY_KG: u64 = 50_000_000;
/// The product of the fixtures' tanks and receipts.
pub const PRODUCT: &str = "VLSFO 0.5%S";
/// The inspection agency of the fixtures' certificates.
pub const AGENCY: &str = "SGS Zhoushan";
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
/// one (admin 1 … auditor 9).
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

/// A participant as the fixtures admit it: named `<id> Ltd` (the names the
/// format vectors were made with).
pub fn spec(id: &str, roles: &[pb::Role], key: &SigningKey) -> pb::ParticipantSpec {
    ops::participant_spec(id, &format!("{id} Ltd"), roles, &crypto::public_key(key))
}

/// The genesis operation admitting every demo participant with its fixed key.
pub fn genesis_operation() -> Operation {
    let specs = demo::PARTICIPANTS
        .iter()
        .map(|p| spec(p.id, p.roles, &key_of(p.id)))
        .collect();
    ops::genesis(specs)
}

/// The genesis transaction of a fixture chain (tx id `genesis`); the admin
/// signs it.
pub fn genesis(ledger_id: &str, time_ms: u64) -> pb::Transaction {
    ops::transaction(ledger_id, "genesis", time_ms, genesis_operation())
}

/// A transaction at [`T0`].
pub fn transaction(ledger_id: &str, tx_id: &str, operation: Operation) -> pb::Transaction {
    ops::transaction(ledger_id, tx_id, T0, operation)
}

/// `tx` signed by the demo participants `signers`, with their fixed keys.
pub fn sign(tx: &pb::Transaction, signers: &[&str]) -> Envelope {
    signers
        .iter()
        .fold(EnvelopeBuilder::new(tx), |b, id| b.sign(id, &key_of(id)))
        .build()
}

/// A warehouse registers a tank of [`PRODUCT`].
pub fn register_tank(tank_id: &str, warehouse: &str, capacity_kg: u64) -> Operation {
    ops::register_tank(tank_id, warehouse, capacity_kg, PRODUCT)
}

/// A warehouse certifies `kg` of a depositor's oil, inspected by [`AGENCY`].
pub fn certify_stock(tank_id: &str, certificate_no: &str, kg: u64, depositor: &str) -> Operation {
    ops::certify_stock(tank_id, AGENCY, certificate_no, kg, depositor)
}

/// Receipt terms for `kg` of [`PRODUCT`] against certificate `certificate_no`.
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
        inspection_agency: AGENCY.into(),
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

/// The holder endorses a receipt to `to`.
pub fn transfer(receipt_id: &str, to: &str) -> Operation {
    ops::transfer_receipt(receipt_id, to)
}

/// The warehouse splits a receipt into `(part id, kg)`.
pub fn split(receipt_id: &str, parts: &[(&str, u64)]) -> Operation {
    ops::split_receipt(receipt_id, parts)
}

/// The holder surrenders a receipt, delivered ex-tank.
pub fn cancel(receipt_id: &str) -> Operation {
    ops::cancel_receipt(receipt_id, "delivered ex-tank")
}

/// The holder pledges a receipt to `bank` for USD 4,500,000.00 under loan
/// `LOAN-<pledge id>`.
pub fn pledge(pledge_id: &str, receipt_id: &str, bank: &str, maturity_ms: u64) -> Operation {
    let amount = ops::money(450_000_000, "USD");
    let loan = format!("LOAN-{pledge_id}");
    ops::register_pledge(pledge_id, receipt_id, bank, amount, &loan, maturity_ms)
}

/// The pledgee releases its pledge.
pub fn release(pledge_id: &str) -> Operation {
    ops::release_pledge(pledge_id)
}

/// The pledgee enforces its pledge; an empty `transferee` takes the receipt
/// to the bank itself.
pub fn enforce(pledge_id: &str, transferee: &str) -> Operation {
    ops::enforce_pledge(pledge_id, Some(transferee).filter(|t| !t.is_empty()))
}

/// A regulator freezes a receipt under [`ORDER_REFERENCE`].
pub fn freeze(receipt_id: &str) -> Operation {
    ops::freeze_receipt(receipt_id, ORDER_REFERENCE)
}

/// A regulator lifts the freeze of [`ORDER_REFERENCE`].
pub fn unfreeze(receipt_id: &str) -> Operation {
    ops::unfreeze_receipt(receipt_id, ORDER_REFERENCE)
}

/// An admin admits `id` (named `<id> Ltd`) with `key`.
pub fn admit(id: &str, roles: &[pb::Role], key: &SigningKey) -> Operation {
    ops::admit_participant(spec(id, roles, key))
}

/// An admin gives `id` the public half of `new_key`.
pub fn rotate(id: &str, new_key: &SigningKey) -> Operation {
    ops::rotate_key(id, &crypto::public_key(new_key))
}

/// An admin revokes `id`: licence withdrawn.
pub fn revoke(id: &str) -> Operation {
    ops::revoke_participant(id, "licence withdrawn")
}
