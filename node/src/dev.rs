//! The development genesis: the demo participants of `pledge_ledger::demo`
//! (each with its legal identity) with fresh keys written beside the data,
//! the demo governance quorum (the operator and the regulator, 2 of 2,
//! windows of up to 30 days), and the demo tanks, calibrated by the demo
//! inspector. Only for a node started without a genesis file; production
//! ledgers start from a genesis signed by their operators.

use std::path::Path;

use ed25519_dalek::SigningKey;
use pledge_ledger::crypto;
use pledge_ledger::demo::{self, DemoTank};
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::ops;
use prost::Message;

/// The development ledger's id.
pub const DEV_LEDGER_ID: &str = "zhoushan-dev";

/// How long the set-up transactions are valid.
const SETUP_WINDOW_MS: u64 = 3_600_000;

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
    for participant in demo::PARTICIPANTS {
        let id = participant.id;
        let key =
            crypto::generate_signing_key().map_err(|e| anyhow::anyhow!("random source: {e}"))?;
        KeyFile::new(id, &key).write(&keys_dir.join(format!("{id}.json")))?;
        keys.push((id, key));
    }
    let genesis = genesis_envelope(&keys, now_ms);
    std::fs::write(genesis_path, genesis.to_proto().encode_to_vec())?;
    let tanks = demo::TANKS
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
    let participants = demo::PARTICIPANTS
        .iter()
        .map(|p| {
            let key = crypto::public_key(key_of(keys, p.id));
            ops::participant_spec(p.id, p.name, p.roles, &key, p.legal.identity())
        })
        .collect();
    let operation = ops::genesis(participants, demo::governance());
    let tx = ops::transaction(DEV_LEDGER_ID, "genesis", setup_window(now_ms), operation);
    demo::QUORUM
        .iter()
        .fold(EnvelopeBuilder::new(&tx), |b, member| {
            b.sign(member, key_of(keys, member))
        })
        .build()
}

fn tank_envelope(keys: &[(&str, SigningKey)], tank: &DemoTank, now_ms: u64) -> Envelope {
    let tx_id = format!("dev-register-{}", tank.id);
    let tx = ops::transaction(
        DEV_LEDGER_ID,
        &tx_id,
        setup_window(now_ms),
        demo::register_tank(tank),
    );
    EnvelopeBuilder::new(&tx)
        .sign(tank.warehouse, key_of(keys, tank.warehouse))
        .sign(demo::INSPECTOR, key_of(keys, demo::INSPECTOR))
        .build()
}

/// A set-up transaction's window: from a minute ago for an hour.
fn setup_window(now_ms: u64) -> (u64, u64) {
    (now_ms.saturating_sub(60_000), now_ms + SETUP_WINDOW_MS)
}
