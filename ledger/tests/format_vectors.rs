//! docs/vectors/chain-v1.json: a small chain with fixed keys, every byte that
//! is hashed or signed, regenerated here and compared byte for byte. A second,
//! independent reading of the vectors follows docs/FORMAT.md with nothing
//! but SHA-256 and Ed25519, so the document and the code cannot drift apart.
//!
//! Regenerate after an intended format change with
//! `UPDATE_VECTORS=1 cargo test -p pledge-ledger --test format_vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use ed25519_dalek::{Signature, VerifyingKey};
use pledge_ledger::entry::Entry;
use pledge_ledger::ledger::AttemptPolicy;
use pledge_ledger::merkle::MemoryNodes;
use pledge_ledger::refusal::Refusal;
use pledge_ledger::view::LedgerRead;
use pledge_ledger::{crypto, merkle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/chain-v1.json")
}

fn build_chain() -> World {
    let mut world = World::new();
    world.ledger.set_attempt_policy(AttemptPolicy {
        per_signer: 20,
        window_ms: HOUR_MS,
    });
    world.tank("ZS-TF1/T-101", "wh-1");
    world.certify("ZS-TF1/T-101", "SGS-2026-0001", 5_000_000, "trader-a");
    world.now_ms += 60_000;
    world.ok(
        issue(
            "WR-0001",
            "ZS-TF1/T-101",
            "SGS-2026-0001",
            5_000_000,
            T0 + 180 * DAY_MS,
        ),
        &["wh-1"],
    );
    world.ok(
        pledge("PL-0001", "WR-0001", "bank-a", T0 + 90 * DAY_MS),
        &["trader-a", "bank-a"],
    );
    // The same receipt pledged to a second bank: refused, recorded as an
    // attempt entry (kind 0x02, §3.2).
    world.now_ms += 60_000;
    let refused = world.submit(
        pledge("PL-0002", "WR-0001", "bank-b", T0 + 90 * DAY_MS),
        &["trader-a", "bank-b"],
    );
    assert_eq!(refused.unwrap_err().reason(), "RECEIPT_PLEDGED");
    world.now_ms += 60_000;
    world.ok(release("PL-0001"), &["bank-a"]);
    world.now_ms += 60_000;
    world.regauge("ZS-TF1/T-101", 5_000_000);
    world.ok(
        admit("bank-c", &[pledge_proto::v1::Role::Bank], &key(20)),
        QUORUM,
    );
    world
}

fn generate() -> Value {
    let world = build_chain();
    let store = world.store();
    let mut nodes = MemoryNodes::new();
    let mut entries = Vec::new();
    for seq in 0..store.len() {
        let entry = store.entry(seq).unwrap();
        let body = entry.body();
        nodes.append(merkle::leaf_hash(&body)).unwrap();
        entries.push(json!({
            "seq": seq,
            "record": hex::encode(entry.encode()),
            "body": hex::encode(&body),
            "tx_bytes": hex::encode(&entry.envelope.tx_bytes),
            "signers": entry.envelope.signatures.iter().map(|s| json!({
                "signer": s.signer,
                "public_key": s.public_key.to_hex(),
                "signature": hex::encode(s.signature),
            })).collect::<Vec<_>>(),
            "entry_hash": entry.hash().to_hex(),
            "seal": hex::encode(entry.seal),
            "leaf_hash": hex::encode(merkle::leaf_hash(&body)),
            "tree_root_after": hex::encode(nodes.root().unwrap()),
        }));
        if let Some(refusal) = &entry.refusal {
            entries.last_mut().unwrap()["refusal"] = refusal_json(refusal);
        }
    }
    json!({
        "description": "pledge-ledger format v1 test vectors: see docs/FORMAT.md (entries: genesis, tank, certify stock, issue, pledge, an attempt entry recording a refused second pledge of the same receipt, release, re-gauge, admission by the quorum)",
        "node_key_seed": hex::encode([100u8; 32]),
        "node_public_key": crypto::public_key(&node_key()).to_hex(),
        "participant_key_seeds": PARTICIPANTS.iter().map(|(id, _, seed)| json!({
            "id": id, "seed": hex::encode([*seed; 32]),
            "public_key": crypto::public_key(&key(*seed)).to_hex(),
        })).collect::<Vec<_>>(),
        "entries": entries,
    })
}

fn refusal_json(refusal: &Refusal) -> Value {
    json!({
        "reason": refusal.reason,
        "fields": refusal.fields.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
    })
}

#[test]
fn vectors_are_what_the_code_produces() {
    let generated = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(vectors_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(vectors_path()).expect("docs/vectors/chain-v1.json");
    assert_eq!(
        committed, generated,
        "the format changed: regenerate the vectors and update FORMAT.md"
    );
}

/// Reads the committed vectors as an independent verifier would, from
/// docs/FORMAT.md alone.
#[test]
fn vectors_verify_by_the_document_alone() {
    let text = std::fs::read_to_string(vectors_path()).unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let node_key = verifying_key(vectors["node_public_key"].as_str().unwrap());
    let mut prev_hash = [0u8; 32];
    let mut leaves = Vec::new();
    for (seq, item) in vectors["entries"].as_array().unwrap().iter().enumerate() {
        let record = hex::decode(item["record"].as_str().unwrap()).unwrap();
        let (body, seal) = record.split_at(record.len() - 64);
        assert_eq!(hex::encode(body), item["body"].as_str().unwrap());
        // kind ‖ seq ‖ prev_hash ‖ time_ms ‖ tx_len ‖ tx ‖ sig_count ‖ sigs
        // [‖ refusal, for an attempt entry]
        assert!(body[0] == 1 || body[0] == 2, "entry kind {}", body[0]);
        assert_eq!(
            u64::from_be_bytes(body[1..9].try_into().unwrap()),
            seq as u64
        );
        assert_eq!(&body[9..41], &prev_hash);
        let tx_len = u32::from_be_bytes(body[49..53].try_into().unwrap()) as usize;
        let tx = &body[53..53 + tx_len];
        let mut at = 53 + tx_len;
        let count = body[at] as usize;
        at += 1;
        for _ in 0..count {
            let signer_len = body[at] as usize;
            at += 1 + signer_len;
            let key = VerifyingKey::from_bytes(body[at..at + 32].try_into().unwrap()).unwrap();
            let sig = Signature::from_bytes(body[at + 32..at + 96].try_into().unwrap());
            let preimage = [b"pledge-ledger/v1/transaction\0".as_slice(), tx].concat();
            key.verify_strict(&preimage, &sig).unwrap();
            at += 96;
        }
        if body[0] == 2 {
            at = read_refusal(body, at, item);
        }
        assert_eq!(at, body.len());
        let hash: [u8; 32] = Sha256::new()
            .chain_update(b"pledge-ledger/v1/entry\0")
            .chain_update(body)
            .finalize()
            .into();
        assert_eq!(hex::encode(hash), item["entry_hash"].as_str().unwrap());
        let seal_preimage = [b"pledge-ledger/v1/seal\0".as_slice(), &hash].concat();
        node_key
            .verify_strict(
                &seal_preimage,
                &Signature::from_bytes(seal.try_into().unwrap()),
            )
            .unwrap();
        let leaf: [u8; 32] = Sha256::new()
            .chain_update([0u8])
            .chain_update(body)
            .finalize()
            .into();
        assert_eq!(hex::encode(leaf), item["leaf_hash"].as_str().unwrap());
        leaves.push(leaf);
        assert_eq!(
            hex::encode(naive_root(&leaves)),
            item["tree_root_after"].as_str().unwrap()
        );
        prev_hash = hash;
        assert_eq!(Entry::decode(&record).unwrap().encode(), record);
    }
}

/// §3.2: reason_len ‖ reason ‖ field_count ‖ (key_len ‖ key ‖ value_len ‖
/// value)*, keys strictly ascending; returns the offset after it and puts
/// the refusal in the vector's `refusal` for comparison.
fn read_refusal(body: &[u8], mut at: usize, item: &Value) -> usize {
    let reason_len = body[at] as usize;
    let reason = std::str::from_utf8(&body[at + 1..at + 1 + reason_len]).unwrap();
    assert_eq!(reason, item["refusal"]["reason"].as_str().unwrap());
    at += 1 + reason_len;
    let count = body[at] as usize;
    at += 1;
    let mut last_key: Option<&[u8]> = None;
    for _ in 0..count {
        let key_len = body[at] as usize;
        let key = &body[at + 1..at + 1 + key_len];
        assert!(last_key.is_none_or(|last| last < key), "keys ascending");
        last_key = Some(key);
        at += 1 + key_len;
        let value_len = u16::from_be_bytes(body[at..at + 2].try_into().unwrap()) as usize;
        let value = std::str::from_utf8(&body[at + 2..at + 2 + value_len]).unwrap();
        let key = std::str::from_utf8(key).unwrap();
        assert_eq!(value, item["refusal"]["fields"][key].as_str().unwrap());
        at += 2 + value_len;
    }
    assert_eq!(item["refusal"]["fields"].as_object().unwrap().len(), count);
    at
}

fn verifying_key(hex_key: &str) -> VerifyingKey {
    VerifyingKey::from_bytes(&hex::decode(hex_key).unwrap().try_into().unwrap()).unwrap()
}

/// RFC 9162 §2.1.1 MTH, straight from its definition.
fn naive_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            let (l, r) = (naive_root(&leaves[..k]), naive_root(&leaves[k..]));
            Sha256::new()
                .chain_update([1u8])
                .chain_update(l)
                .chain_update(r)
                .finalize()
                .into()
        }
    }
}
