//! The development genesis: demo participants, their keys written beside the
//! data, and a tank for each warehouse. Only for a node started without a
//! genesis file; production ledgers start from a genesis signed by their
//! operators.

use std::path::Path;

use ed25519_dalek::SigningKey;
use pledge_ledger::crypto;
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::keyfile::KeyFile;
use pledge_proto::v1::{self as pb, transaction::Operation};
use prost::Message;

/// The development ledger's id.
pub const DEV_LEDGER_ID: &str = "zhoushan-dev";

/// (id, legal name, roles)
const DEMO_PARTICIPANTS: &[(&str, &str, &[pb::Role])] = &[
    (
        "admin",
        "Zhoushan Receipt Registry (operator)",
        &[pb::Role::Admin],
    ),
    (
        "wh-1",
        "Zhoushan Bonded Tank Farm No.1",
        &[pb::Role::Warehouse],
    ),
    ("wh-2", "Daishan Oil Terminal", &[pb::Role::Warehouse]),
    (
        "trader-a",
        "Eastern Sea Petroleum Trading",
        &[pb::Role::Holder],
    ),
    ("trader-b", "Ningbo Bunker Supply", &[pb::Role::Holder]),
    ("bank-a", "Bank A Zhoushan Branch", &[pb::Role::Bank]),
    ("bank-b", "Bank B Ningbo Branch", &[pb::Role::Bank]),
    (
        "regulator",
        "Zhoushan Intermediate Court",
        &[pb::Role::Regulator],
    ),
    ("auditor", "Independent Auditor", &[pb::Role::Auditor]),
];

/// (tank id, warehouse, capacity kg, product)
pub const DEMO_TANKS: &[(&str, &str, u64, &str)] = &[
    ("T-101", "wh-1", 100_000_000, "VLSFO 0.5%S"),
    ("T-201", "wh-2", 80_000_000, "HSFO 380cSt"),
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
    for (id, _, _) in DEMO_PARTICIPANTS {
        let key =
            crypto::generate_signing_key().map_err(|e| anyhow::anyhow!("random source: {e}"))?;
        KeyFile::new(id, &key).write(&keys_dir.join(format!("{id}.json")))?;
        keys.push((*id, key));
    }
    let genesis = genesis_envelope(&keys, now_ms);
    std::fs::write(genesis_path, genesis.to_proto().encode_to_vec())?;
    let tanks = DEMO_TANKS
        .iter()
        .map(|(tank, warehouse, capacity, product)| {
            let key = key_of(&keys, warehouse);
            tank_envelope(tank, warehouse, *capacity, product, key, now_ms)
        })
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
        .map(|(id, name, roles)| pb::ParticipantSpec {
            id: (*id).into(),
            name: (*name).into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
            public_key: crypto::public_key(key_of(keys, id)).0.to_vec(),
        })
        .collect();
    let tx = pb::Transaction {
        ledger_id: DEV_LEDGER_ID.into(),
        tx_id: "genesis".into(),
        client_time_ms: now_ms,
        operation: Some(Operation::Genesis(pb::Genesis { participants })),
    };
    EnvelopeBuilder::new(&tx)
        .sign("admin", key_of(keys, "admin"))
        .build()
}

fn tank_envelope(
    tank: &str,
    warehouse: &str,
    capacity_kg: u64,
    product: &str,
    key: &SigningKey,
    now_ms: u64,
) -> Envelope {
    let tx = pb::Transaction {
        ledger_id: DEV_LEDGER_ID.into(),
        tx_id: format!("dev-register-{tank}"),
        client_time_ms: now_ms,
        operation: Some(Operation::RegisterTank(pb::RegisterTank {
            tank_id: tank.into(),
            capacity_kg,
            product: product.into(),
            warehouse_id: warehouse.into(),
        })),
    };
    EnvelopeBuilder::new(&tx).sign(warehouse, key).build()
}
