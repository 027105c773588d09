//! The generated chain's participants, keys (fixed seeds, so that a chain
//! can be regenerated and replayed anywhere) and transactions.

use ed25519_dalek::SigningKey;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::identity::uscc_check_character;
use pledge_proto::v1::{self as pb, transaction::Operation};

use pledge_client::ops;

/// The generated ledger's id.
pub const LEDGER_ID: &str = "zhoushan-bench";
/// The time of the first entry, ms since the Unix epoch.
pub const T0: u64 = 1_800_000_000_000;
/// A day in ms.
pub const DAY_MS: u64 = 86_400_000;

/// Seed of the node key that seals generated chains.
const NODE_SEED: u8 = 100;

/// (id, role, key seed)
pub const PARTIES: &[(&str, pb::Role, u8)] = &[
    ("admin", pb::Role::Admin, 1),
    ("wh-1", pb::Role::Warehouse, 2),
    ("wh-2", pb::Role::Warehouse, 3),
    ("trader-a", pb::Role::Holder, 4),
    ("trader-b", pb::Role::Holder, 5),
    ("bank-a", pb::Role::Bank, 6),
    ("bank-b", pb::Role::Bank, 7),
    ("regulator", pb::Role::Regulator, 8),
    ("insp-1", pb::Role::Inspector, 9),
];

/// The quorum of the generated ledger (both sign the genesis).
pub const QUORUM: &[&str] = &["admin", "regulator"];

/// The inspector of the generated ledger.
pub const INSPECTOR: &str = "insp-1";

/// The key of a party of [`PARTIES`] (the admin's for an unknown id).
pub fn key(id: &str) -> SigningKey {
    let seed = PARTIES
        .iter()
        .find(|(p, _, _)| *p == id)
        .map_or(1, |(_, _, seed)| *seed);
    SigningKey::from_bytes(&[seed; 32])
}

/// The node key of generated chains.
pub fn node_key() -> SigningKey {
    SigningKey::from_bytes(&[NODE_SEED; 32])
}

/// Its public half: what `replay` and `proofs` check seals against by default.
pub fn node_public_key() -> PublicKey {
    crypto::public_key(&node_key())
}

/// The genesis operation admitting [`PARTIES`], each with a made-up
/// unified social credit code, governed by [`QUORUM`].
pub fn genesis() -> Operation {
    let specs = PARTIES
        .iter()
        .map(|(id, role, seed)| {
            let first17 = format!("913309000000{seed:05}");
            let check = uscc_check_character(&first17).unwrap_or('0');
            let legal = ops::uscc(&format!("{first17}{check}"));
            ops::participant_spec(id, id, &[*role], &crypto::public_key(&key(id)), legal)
        })
        .collect();
    ops::genesis(specs, ops::governance(QUORUM, 2, 30 * DAY_MS))
}

/// A transaction of the generated ledger, signed by `signers`. The
/// signatures are made here, so they are not verified again.
pub fn signed(tx_id: String, operation: Operation, signers: &[&str]) -> VerifiedEnvelope {
    let tx = pb::Transaction {
        ledger_id: LEDGER_ID.into(),
        tx_id,
        not_before_ms: T0,
        not_after_ms: T0 + 30 * DAY_MS,
        operation: Some(operation),
    };
    let builder = signers
        .iter()
        .fold(EnvelopeBuilder::new(&tx), |b, id| b.sign(id, &key(id)));
    match builder.build().into_verified_unchecked() {
        Ok(verified) => verified,
        Err(error) => panic!(
            "generated transaction {} does not decode: {error}",
            tx.tx_id
        ),
    }
}

/// The terms of a receipt issued on `tank` against certificate `cert`.
pub fn issue_terms(receipt_id: &str, tank: &str, cert: &str, kg: u64) -> pb::IssueReceipt {
    pb::IssueReceipt {
        receipt_id: receipt_id.into(),
        tank_id: tank.into(),
        inspector_id: INSPECTOR.into(),
        certificate_no: cert.into(),
        product_grade: "VLSFO 0.5%S".into(),
        specification: "ISO 8217:2017 RMG 380".into(),
        quantity_kg: kg,
        customs_status: pb::CustomsStatus::Bonded as i32,
        customs_reference: format!("ZS-2026-{receipt_id}"),
        expires_at_ms: T0 + 3_650 * DAY_MS,
        loss_allowance_ppm: 3_000,
        insurance_reference: "PICC-OIL-77".into(),
    }
}
