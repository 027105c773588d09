//! The development genesis: demo participants (each with a legal identity),
//! their keys written beside the data, the governance quorum (the operator
//! and the regulator, 2 of 2, windows of up to 30 days), and a tank for each
//! warehouse, calibrated by the demo inspector. Only for a node started
//! without a genesis file; production ledgers start from a genesis signed by
//! their operators.

use std::path::Path;

use ed25519_dalek::SigningKey;
use pledge_ledger::crypto;
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::identity::{lei_check_digits, uscc_check_character};
use pledge_ledger::keyfile::KeyFile;
use pledge_proto::v1::{self as pb, legal_identity::Identifier, transaction::Operation};
use prost::Message;

/// The development ledger's id.
pub const DEV_LEDGER_ID: &str = "zhoushan-dev";

/// The demo inspection agency.
pub const DEV_INSPECTOR: &str = "insp-sgs";

/// The quorum of the development ledger: both must sign governance.
const DEV_QUORUM: &[&str] = &["admin", "regulator"];

/// Longest validity window on the development ledger: 30 days.
const DEV_MAX_VALIDITY_MS: u64 = 30 * 86_400_000;

/// How long the set-up transactions are valid.
const SETUP_WINDOW_MS: u64 = 3_600_000;

/// (id, legal name, roles, legal identity: a unified social credit code's
/// first 17 characters, or an LEI's first 18 — the check characters are
/// computed)
const DEMO_PARTICIPANTS: &[(&str, &str, &[pb::Role], LegalCode)] = &[
    (
        "admin",
        "Zhoushan Receipt Registry (operator)",
        &[pb::Role::Admin],
        LegalCode::Uscc("91330900MA2A00001"),
    ),
    (
        "wh-1",
        "Zhoushan Bonded Tank Farm No.1",
        &[pb::Role::Warehouse],
        LegalCode::Uscc("91330900MA2A00002"),
    ),
    (
        "wh-2",
        "Daishan Oil Terminal",
        &[pb::Role::Warehouse],
        LegalCode::Uscc("91330921MA2A00003"),
    ),
    (
        "trader-a",
        "Eastern Sea Petroleum Trading",
        &[pb::Role::Holder],
        LegalCode::Uscc("91330900MA2A00004"),
    ),
    (
        "trader-b",
        "Ningbo Bunker Supply",
        &[pb::Role::Holder],
        LegalCode::Uscc("91330200MA2A00005"),
    ),
    (
        "bank-a",
        "Bank A Zhoushan Branch",
        &[pb::Role::Bank],
        LegalCode::Uscc("91330900MA2A00006"),
    ),
    (
        "bank-b",
        "Bank B Singapore (Ningbo Branch)",
        &[pb::Role::Bank],
        LegalCode::Lei("529900DEMOBANKB000"),
    ),
    (
        "regulator",
        "Zhoushan Intermediate Court",
        &[pb::Role::Regulator],
        LegalCode::Uscc("11330900MB0000008"),
    ),
    (
        "auditor",
        "Independent Auditor",
        &[pb::Role::Auditor],
        LegalCode::Uscc("91330900MA2A00009"),
    ),
    (
        DEV_INSPECTOR,
        "SGS-CSTC Standards Technical Services (Zhoushan)",
        &[pb::Role::Inspector],
        LegalCode::Uscc("91330900MA2A00010"),
    ),
];

/// A legal identity without its check characters.
#[derive(Debug, Clone, Copy)]
enum LegalCode {
    Uscc(&'static str),
    Lei(&'static str),
}

impl LegalCode {
    fn identity(self) -> Option<pb::LegalIdentity> {
        let identifier = match self {
            LegalCode::Uscc(first17) => Identifier::UnifiedSocialCreditCode(format!(
                "{first17}{}",
                uscc_check_character(first17)?
            )),
            LegalCode::Lei(first18) => {
                Identifier::Lei(format!("{first18}{}", lei_check_digits(first18)?))
            }
        };
        Some(pb::LegalIdentity {
            identifier: Some(identifier),
        })
    }
}

/// (tank id, warehouse, capacity kg, product, bonded facility code, tank number)
pub const DEMO_TANKS: &[(&str, &str, u64, &str, &str, &str)] = &[
    ("T-101", "wh-1", 100_000_000, "VLSFO 0.5%S", "ZS-BONDED-01", "T-101"),
    ("T-201", "wh-2", 80_000_000, "HSFO 380cSt", "DS-BONDED-03", "TK-201"),
];

/// What the development set-up wrote.
#[derive(Debug)]
pub struct DevSetup {
    /// Envelopes registering the demo tanks, to submit after genesis.
    pub tanks: Vec<Envelope>,
}

/// Creates demo keys in `<data_dir>/dev-keys/`, and the genesis file.
pub fn create(data_dir: &Path, genesis_path: &Path, now_ms: u64) -> anyhow::Result<DevSetup> {
    let keys_dir = data_dir.join("dev-keys");
    std::fs::create_dir_all(&keys_dir)?;
    let mut keys = Vec::new();
    for (id, _, _, _) in DEMO_PARTICIPANTS {
        let key =
            crypto::generate_signing_key().map_err(|e| anyhow::anyhow!("random source: {e}"))?;
        KeyFile::new(id, &key).write(&keys_dir.join(format!("{id}.json")))?;
        keys.push((*id, key));
    }
    let genesis = genesis_envelope(&keys, now_ms);
    std::fs::write(genesis_path, genesis.to_proto().encode_to_vec())?;
    let tanks = DEMO_TANKS
        .iter()
        .map(|tank| tank_envelope(&keys, tank, now_ms))
        .collect();
    Ok(DevSetup { tanks })
}

fn key_of<'a>(keys: &'a [(&str, SigningKey)], id: &str) -> &'a SigningKey {
    let found = keys.iter().find(|(k, _)| *k == id);
    found.map_or(&keys[0].1, |(_, key)| key)
}

fn genesis_envelope(keys: &[(&str, SigningKey)], now_ms: u64) -> Envelope {
    let participants = DEMO_PARTICIPANTS
        .iter()
        .map(|(id, name, roles, legal)| pb::ParticipantSpec {
            id: (*id).into(),
            name: (*name).into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
            public_key: crypto::public_key(key_of(keys, id)).0.to_vec(),
            legal_identity: legal.identity(),
        })
        .collect();
    let governance = pb::Governance {
        quorum_members: DEV_QUORUM.iter().map(|m| (*m).into()).collect(),
        quorum_threshold: 2,
        max_validity_ms: DEV_MAX_VALIDITY_MS,
    };
    let tx = setup_transaction(
        "genesis",
        now_ms,
        Operation::Genesis(pb::Genesis {
            participants,
            governance: Some(governance),
        }),
    );
    DEV_QUORUM
        .iter()
        .fold(EnvelopeBuilder::new(&tx), |b, member| {
            b.sign(member, key_of(keys, member))
        })
        .build()
}

fn tank_envelope(
    keys: &[(&str, SigningKey)],
    &(tank, warehouse, capacity_kg, product, facility_code, tank_number): &(
        &str,
        &str,
        u64,
        &str,
        &str,
        &str,
    ),
    now_ms: u64,
) -> Envelope {
    let tx = setup_transaction(
        &format!("dev-register-{tank}"),
        now_ms,
        Operation::RegisterTank(pb::RegisterTank {
            tank_id: tank.into(),
            capacity_kg,
            product: product.into(),
            warehouse_id: warehouse.into(),
            physical_id: Some(pb::PhysicalTankId {
                facility_code: facility_code.into(),
                tank_number: tank_number.into(),
            }),
            inspector_id: DEV_INSPECTOR.into(),
            calibration_certificate_no: format!("CAL-{tank_number}"),
        }),
    );
    EnvelopeBuilder::new(&tx)
        .sign(warehouse, key_of(keys, warehouse))
        .sign(DEV_INSPECTOR, key_of(keys, DEV_INSPECTOR))
        .build()
}

/// A set-up transaction, valid from a minute ago for an hour.
fn setup_transaction(tx_id: &str, now_ms: u64, operation: Operation) -> pb::Transaction {
    pb::Transaction {
        ledger_id: DEV_LEDGER_ID.into(),
        tx_id: tx_id.into(),
        not_before_ms: now_ms.saturating_sub(60_000),
        not_after_ms: now_ms + SETUP_WINDOW_MS,
        operation: Some(operation),
    }
}
