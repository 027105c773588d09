//! "Must not panic" properties of everything that takes bytes from outside:
//! the transaction, envelope and entry decoders, signature verification, and
//! the rules fed well-formed but wrong transactions. Mutations of valid
//! encodings must never go unnoticed: a mutated entry record must make replay
//! fail at that entry, and a mutated envelope that still verifies must carry
//! the very transaction and signatures it had.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pledge_ledger::crypto::PublicKey;
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder, MAX_SIGNATURES, MAX_TX_BYTES};
use pledge_ledger::model::{PledgeStatus, Role};
use pledge_ledger::rejection::Party;
use pledge_ledger::replay::Replayer;
use pledge_ledger::rules::required_parties;
use pledge_ledger::state::Objects;
use pledge_ledger::tx::Transaction;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{self as pb, transaction::Operation};
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;
use support::{
    DAY_MS, HOUR_MS, INSPECTOR, LEDGER_ID, PARTICIPANTS, QUORUM, T0, World, certify_stock,
    enforce_on, freeze, gauging, issue, key, node_key, physical, pledge, register_tank, split,
    transfer, unfreeze, uscc, uscc_of,
};

// ---------------------------------------------------------------------------
// A small valid chain to mutate
// ---------------------------------------------------------------------------

struct Fixture {
    /// Every committed envelope, in order (entry 0 is the genesis).
    envelopes: Vec<Envelope>,
    /// Every record, in order.
    records: Vec<Vec<u8>>,
    node_key: PublicKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut w = World::new();
        let expiry = T0 + 365 * DAY_MS;
        let maturity = T0 + 90 * DAY_MS;
        w.ok(register_tank("T1", "wh-1", 5_000_000), &["wh-1", INSPECTOR]);
        w.ok(
            certify_stock("T1", "C1", 1_000_000, "trader-a", T0),
            &["wh-1", INSPECTOR, "trader-a"],
        );
        w.ok(issue("R1", "T1", "C1", 1_000_000, expiry), &["wh-1"]);
        w.ok(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
        w.ok(
            split("R1", &[("R1a", 600_000), ("R1b", 400_000)]),
            &["trader-b", "wh-1"],
        );
        w.ok(
            pledge("P1", "R1a", "bank-a", maturity),
            &["trader-b", "bank-a"],
        );
        w.ok(freeze("R1b"), &["regulator"]);
        w.ok(unfreeze("R1b"), &["regulator"]);
        w.ok(
            enforce_on("P1", "trader-a", pb::EnforcementGrounds::HolderConsent, ""),
            &["bank-a", "trader-b"],
        );
        w.ok(
            pledge("P2", "R1b", "bank-b", maturity),
            &["trader-b", "bank-b"],
        );
        let store = w.store();
        Fixture {
            envelopes: (0..store.len())
                .map(|seq| store.entry(seq).unwrap().envelope)
                .collect(),
            records: (0..store.len())
                .map(|seq| store.record(seq).unwrap())
                .collect(),
            node_key: w.ledger.node_public_key(),
        }
    })
}

/// A world holding the fixture's first `entries` entries.
fn world_at(entries: usize) -> World {
    let mut world = World::empty(pledge_ledger::ledger::MemoryLedger::in_memory(node_key()));
    let verified: Vec<_> = fixture().envelopes[..entries]
        .iter()
        .map(|e| e.clone().verify().unwrap())
        .collect();
    let results = world.ledger.append_group(&verified, T0).unwrap();
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|c| !c.duplicate))
    );
    world
}

/// The index of the first record that does not replay, if any.
fn first_replay_failure(records: &[Vec<u8>], node_key: Option<PublicKey>) -> Option<usize> {
    let mut replayer = Replayer::new(node_key);
    for (i, record) in records.iter().enumerate() {
        if let Err(error) = replayer.push_record(record) {
            assert_eq!(error.seq, i as u64, "replay error names the wrong entry");
            return Some(i);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Byte mutations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    Overwrite(Index, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Remove(i, n)),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Overwrite(i, b)),
    ]
}

fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for m in mutations {
        let at = |i: &Index, extra: usize| i.index(out.len() + extra);
        match m {
            Mutation::Flip(i, bit) if !out.is_empty() => {
                let at = at(i, 0);
                out[at] ^= 1 << bit;
            }
            Mutation::Truncate(i) if !out.is_empty() => out.truncate(at(i, 0)),
            Mutation::Insert(i, b) => {
                let at = at(i, 1);
                out.splice(at..at, b.iter().copied());
            }
            Mutation::Remove(i, n) if !out.is_empty() => {
                let at = at(i, 0);
                let end = (at + n).min(out.len());
                out.drain(at..end);
            }
            Mutation::Overwrite(i, b) if !out.is_empty() => {
                let at = at(i, 0);
                for (k, byte) in b.iter().enumerate() {
                    if let Some(slot) = out.get_mut(at + k) {
                        *slot = *byte;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Decoders on arbitrary bytes
// ---------------------------------------------------------------------------

/// Every decoder on these bytes: an error or a value, never a panic; and a
/// decoded value re-encodes to what was decoded.
fn decode_everything(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = Transaction::decode(bytes);
    if let Ok(envelope) = Envelope::decode(bytes) {
        let again = Envelope::decode(&envelope.to_proto().encode_to_vec());
        prop_assert_eq!(again.as_ref(), Ok(&envelope));
        let _ = envelope.verify();
    }
    if let Ok(entry) = Entry::decode(bytes) {
        prop_assert_eq!(
            &entry.encode()[..],
            bytes,
            "entry encoding is not canonical"
        );
        let _ = entry.seal_verifies(&fixture().node_key);
        let _ = entry.envelope.verify();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        decode_everything(&bytes)?;
    }

    /// Arbitrary bytes after a valid entry header and length prefix, so the
    /// entry decoder gets past its first checks.
    #[test]
    fn entry_decoder_never_panics_past_the_header(
        seq in any::<u64>(),
        time in any::<u64>(),
        tx_len in prop_oneof![0u32..300, Just(u32::MAX), Just(MAX_TX_BYTES as u32 + 1)],
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut record = vec![1u8];
        record.extend_from_slice(&seq.to_be_bytes());
        record.extend_from_slice(&[7; 32]);
        record.extend_from_slice(&time.to_be_bytes());
        record.extend_from_slice(&tx_len.to_be_bytes());
        record.extend_from_slice(&tail);
        decode_everything(&record)?;
    }
}

// ---------------------------------------------------------------------------
// Envelope shapes: decode accepts exactly the well-shaped ones
// ---------------------------------------------------------------------------

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:_/-".contains(c))
}

fn is_point(bytes: &[u8]) -> bool {
    <[u8; 32]>::try_from(bytes).is_ok_and(|a| ed25519_dalek::VerifyingKey::from_bytes(&a).is_ok())
}

fn awkward_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["bank-a", "trader-b", "wh-1", "regulator"]).prop_map(String::from),
        1 => Just(String::new()),
        1 => Just("a".repeat(64)),
        1 => Just("a".repeat(65)),
        1 => Just("bank\u{202E}a".to_string()),
        1 => Just("bank a".to_string()),
        1 => Just("bank\na".to_string()),
        1 => ".{0,70}",
    ]
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (1u8..10).prop_map(|seed| pledge_ledger::crypto::public_key(&key(seed)).0.to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(any::<u8>(), 32),
    ]
}

fn signature_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 64),
        1 => prop::collection::vec(any::<u8>(), 0..70),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn envelope_decode_accepts_exactly_well_shaped_envelopes(
        tx in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            Just(vec![0u8; MAX_TX_BYTES]),
            Just(vec![0u8; MAX_TX_BYTES + 1]),
        ],
        sigs in prop::collection::vec((awkward_id(), key_bytes(), signature_bytes()), 0..10),
    ) {
        let raw = pb::SignedEnvelope {
            transaction: tx.clone(),
            signatures: sigs
                .iter()
                .map(|(signer, public_key, signature)| pb::PartySignature {
                    signer: signer.clone(),
                    public_key: public_key.clone(),
                    signature: signature.clone(),
                })
                .collect(),
        };
        let mut signers: Vec<&str> = sigs.iter().map(|(s, _, _)| s.as_str()).collect();
        signers.sort_unstable();
        let repeated = signers.windows(2).any(|w| w[0] == w[1]);
        let well_shaped = !tx.is_empty()
            && tx.len() <= MAX_TX_BYTES
            && sigs.len() <= MAX_SIGNATURES
            && !repeated
            && sigs
                .iter()
                .all(|(s, k, sig)| is_id(s) && is_point(k) && sig.len() == 64);
        let bytes = raw.encode_to_vec();
        let decoded = Envelope::decode(&bytes);
        prop_assert_eq!(decoded.is_ok(), well_shaped, "{:?}", decoded);
        if let Ok(envelope) = decoded {
            prop_assert_eq!(&envelope.tx_bytes, &tx);
            // Random signatures do not verify (and an empty list is refused).
            prop_assert!(envelope.verify().is_err());
        }
        decode_everything(&bytes)?;
    }
}

// ---------------------------------------------------------------------------
// Mutations of valid encodings
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// A mutated record is refused by replay at exactly that entry when the
    /// node key is known; without it, a mutated body is still caught by the
    /// next entry's link.
    #[test]
    fn mutated_entry_records_never_replay(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let f = fixture();
        let k = which.index(f.records.len());
        let original = &f.records[k];
        let mutated = mutate(original, &mutations);
        prop_assume!(&mutated != original);

        let decoded = Entry::decode(&mutated);
        if let Ok(entry) = &decoded {
            prop_assert_eq!(&entry.encode(), &mutated);
            prop_assert_ne!(entry, &Entry::decode(original).unwrap());
        }
        let mut records = f.records.clone();
        records[k] = mutated;
        prop_assert_eq!(first_replay_failure(&records, Some(f.node_key)), Some(k));

        let original_entry = Entry::decode(original).unwrap();
        let failure = first_replay_failure(&records, None);
        match decoded {
            Err(_) => prop_assert_eq!(failure, Some(k)),
            Ok(entry) if entry.body() != original_entry.body() => {
                if k + 1 < records.len() {
                    prop_assert!(matches!(failure, Some(i) if i == k || i == k + 1), "{:?}", failure);
                }
            }
            // Only the seal changed: nothing but the node key can tell.
            Ok(_) => prop_assert_eq!(failure, None),
        }
    }

    /// A mutated envelope either fails to decode or verify, or it is the same
    /// transaction with a subset of the same signatures (signer ids may read
    /// differently); the rules then accept it only if it carries every
    /// signature it had, under the same signer ids.
    #[test]
    fn mutated_envelopes_cannot_change_what_was_signed(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let f = fixture();
        let k = which.index(f.envelopes.len() - 1) + 1;
        let original = &f.envelopes[k];
        let bytes = original.to_proto().encode_to_vec();
        let mutated = mutate(&bytes, &mutations);
        prop_assume!(mutated != bytes);
        decode_everything(&mutated)?;
        let Ok(envelope) = Envelope::decode(&mutated) else { return Ok(()) };
        let Ok(verified) = envelope.verify() else { return Ok(()) };
        prop_assert_eq!(&verified.envelope.tx_bytes, &original.tx_bytes);
        // The signer id is a claim outside the signature (the rules check it
        // against the registered key), so only key and signature must match.
        for sig in &verified.envelope.signatures {
            prop_assert!(
                original
                    .signatures
                    .iter()
                    .any(|o| o.public_key == sig.public_key && o.signature == sig.signature),
                "signature not in the original: {:?}", sig
            );
        }
        let mut world = world_at(k);
        let head = world.len();
        let result = world.ledger.append_group(std::slice::from_ref(&verified), T0).unwrap().remove(0);
        match result {
            Ok(_) => {
                // Accepted only with exactly the original signatures, signer
                // ids included.
                prop_assert_eq!(verified.envelope.signatures.len(), original.signatures.len());
                for sig in &verified.envelope.signatures {
                    prop_assert!(original.signatures.contains(sig), "{:?}", sig);
                }
                prop_assert_eq!(world.len(), head + 1);
            }
            Err(_) => prop_assert_eq!(world.len(), head),
        }
        world.assert_replays();
    }

    /// Mutated transaction bytes, signed again by the original signers: the
    /// decoder and the rules never panic, and a refusal leaves no trace.
    #[test]
    fn mutated_transactions_signed_again_never_panic(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let f = fixture();
        let k = which.index(f.envelopes.len() - 1) + 1;
        let original = &f.envelopes[k];
        let mutated = mutate(&original.tx_bytes, &mutations);
        let _ = Transaction::decode(&mutated);
        let mut world = world_at(k);
        let envelope = original
            .signatures
            .iter()
            .fold(EnvelopeBuilder::from_bytes(mutated), |b, s| b.sign(&s.signer, &world.keys[&s.signer]))
            .build();
        submit_checked(&mut world, envelope)?;
        world.assert_replays();
    }
}

/// Sends an envelope through decode → verify → apply, as the node would.
/// Never panics; a refusal must leave the chain as it was.
fn submit_checked(world: &mut World, envelope: Envelope) -> Result<bool, TestCaseError> {
    let wire = envelope.to_proto().encode_to_vec();
    let decoded = Envelope::decode(&wire);
    let mut signers: Vec<&str> = envelope
        .signatures
        .iter()
        .map(|s| s.signer.as_str())
        .collect();
    signers.sort_unstable();
    signers.dedup();
    if envelope.tx_bytes.len() <= MAX_TX_BYTES
        && !envelope.tx_bytes.is_empty()
        && signers.len() == envelope.signatures.len()
    {
        prop_assert_eq!(decoded.as_ref(), Ok(&envelope));
    }
    let Ok(envelope) = decoded else {
        return Ok(false);
    };
    let tx_ok = Transaction::decode(&envelope.tx_bytes).is_ok();
    let verified = envelope.verify();
    prop_assert!(
        tx_ok || verified.is_err(),
        "an ill-formed transaction verified"
    );
    let Ok(verified) = verified else {
        return Ok(false);
    };
    let head = world.len();
    let result = world
        .ledger
        .append_group(&[verified], world.now_ms)
        .unwrap()
        .remove(0);
    match &result {
        Ok(c) if !c.duplicate => prop_assert_eq!(world.len(), head + 1),
        _ => prop_assert_eq!(world.len(), head, "refusal or retry changed the chain"),
    }
    check_state(&world.store().objects().unwrap())?;
    Ok(result.is_ok())
}

fn check_state(objects: &Objects) -> Result<(), TestCaseError> {
    for (id, t) in &objects.tanks {
        prop_assert!(t.certified_kg <= t.capacity_kg, "tank {}", id);
        prop_assert_eq!(
            t.receipted_kg > t.certified_kg,
            t.shortfall.is_some(),
            "tank {}",
            id
        );
        let live = objects
            .receipts
            .values()
            .filter(|r| r.terms.tank_id == *id && r.status.is_live())
            .try_fold(0u64, |sum, r| sum.checked_add(r.terms.quantity_kg));
        prop_assert_eq!(live, Some(t.receipted_kg), "tank {}", id);
    }
    let mut active: BTreeMap<&str, u32> = BTreeMap::new();
    for p in objects.pledges.values() {
        if p.status == PledgeStatus::Active {
            *active.entry(p.terms.receipt_id.as_str()).or_default() += 1;
        }
    }
    prop_assert!(active.values().all(|n| *n == 1), "{:?}", active);
    Ok(())
}

// ---------------------------------------------------------------------------
// Well-formed but wrong transactions
// ---------------------------------------------------------------------------

fn id_from(pool: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => prop::sample::select(pool).prop_map(String::from),
        1 => Just("a".repeat(64)),
        1 => "[A-Za-z0-9._:/-]{1,12}",
    ]
}

const RECEIPT_IDS: &[&str] = &["R1a", "R1b", "R1a", "R1", "R2"];
const WAREHOUSES: &[&str] = &["wh-1", "wh-2", "trader-a"];
const INSPECTORS: &[&str] = &["insp-1", "insp-2", "wh-2"];
const HOLDERS: &[&str] = &["trader-a", "trader-b", "bank-b", "wh-1"];
const BANKS: &[&str] = &["bank-a", "bank-b", "trader-a"];
const PLEDGE_IDS: &[&str] = &["P1", "P2", "P3"];
const TANK_IDS: &[&str] = &["T1", "T2"];
const CERT_IDS: &[&str] = &["C1", "C2", "C3"];
const PARTY_IDS: &[&str] = &[
    "admin",
    "wh-1",
    "wh-2",
    "trader-a",
    "trader-b",
    "bank-a",
    "bank-b",
    "regulator",
    "auditor",
    "insp-1",
    "regulator-2",
    "nobody",
];

/// Quantities a tank may hold (decode bounds them at 1 Mt).
fn tank_kg() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        3 => prop::sample::select(vec![1u64, 1_000, 400_000, 600_000, 1_000_000]),
        1 => Just(pledge_ledger::tx::MAX_TANK_CAPACITY_KG),
        1 => 1u64..=pledge_ledger::tx::MAX_TANK_CAPACITY_KG,
    ]
}

fn kg() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        3 => prop::sample::select(vec![1u64, 1_000, 400_000, 600_000, 1_000_000]),
        1 => Just(u64::MAX),
        1 => Just(u64::MAX / 2 + 1),
        1 => any::<u64>().prop_map(|n| n.max(1)),
    ]
}

fn time() -> impl Strategy<Value = u64> + Clone {
    prop::sample::select(vec![
        1,
        T0 - 1,
        T0,
        T0 + 1,
        T0 + DAY_MS,
        T0 + 400 * DAY_MS,
        u64::MAX,
    ])
}

fn text() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec![
        "SGS Zhoushan".to_string(),
        "仓单 VLSFO 0.5%S".into(),
        " a ".into(),
        "ordre n°7".into(),
        "x".repeat(256),
    ])
}

fn spec() -> impl Strategy<Value = pb::ParticipantSpec> {
    (
        id_from(PARTY_IDS),
        text(),
        prop::sample::subsequence(vec![1, 2, 3, 4, 5, 6], 1..3),
        1u8..30,
    )
        .prop_map(|(id, name, roles, seed)| pb::ParticipantSpec {
            legal_identity: uscc(&uscc_of(&id)),
            id,
            name,
            roles,
            public_key: pledge_ledger::crypto::public_key(&key(seed)).0.to_vec(),
        })
}

fn gauging_of() -> impl Strategy<Value = pb::Gauging> + Clone {
    (id_from(INSPECTORS), tank_kg(), time())
        .prop_map(|(inspector, measured, at)| gauging(&inspector, "RG-1", measured, at))
}

fn grounds() -> impl Strategy<Value = (i32, String)> + Clone {
    prop_oneof![
        Just((pb::EnforcementGrounds::Maturity as i32, String::new())),
        Just((pb::EnforcementGrounds::HolderConsent as i32, String::new())),
        text().prop_map(|order| (pb::EnforcementGrounds::Order as i32, order)),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    let receipt = id_from(RECEIPT_IDS);
    let pledge_id = id_from(PLEDGE_IDS);
    let tank = id_from(TANK_IDS);
    let cert = id_from(CERT_IDS);
    let party = id_from(PARTY_IDS);
    prop_oneof![
        prop::collection::vec(spec(), 2..4)
            .prop_filter("ids and keys must not repeat", |participants| {
                let ids: std::collections::BTreeSet<_> =
                    participants.iter().map(|p| &p.id).collect();
                let keys: std::collections::BTreeSet<_> =
                    participants.iter().map(|p| &p.public_key).collect();
                ids.len() == participants.len() && keys.len() == participants.len()
            })
            .prop_map(|participants| {
                let governance = Some(pb::Governance {
                    quorum_members: participants[..2].iter().map(|p| p.id.clone()).collect(),
                    quorum_threshold: 2,
                    max_validity_ms: 30 * DAY_MS,
                });
                Operation::Genesis(pb::Genesis {
                    participants,
                    governance,
                })
            }),
        spec().prop_map(|p| Operation::AdmitParticipant(pb::AdmitParticipant {
            participant: Some(p)
        })),
        (party.clone(), 1u8..30).prop_map(|(id, seed)| Operation::RotateKey(pb::RotateKey {
            participant_id: id,
            new_public_key: pledge_ledger::crypto::public_key(&key(seed)).0.to_vec(),
        })),
        (party.clone(), 1u8..30, text()).prop_map(|(id, seed, reason)| {
            Operation::RecoverKey(pb::RecoverKey {
                participant_id: id,
                new_public_key: pledge_ledger::crypto::public_key(&key(seed)).0.to_vec(),
                reason,
            })
        }),
        (
            party.clone(),
            text(),
            prop_oneof![Just(String::new()), id_from(BANKS)]
        )
            .prop_map(|(id, reason, successor_id)| Operation::RevokeParticipant(
                pb::RevokeParticipant {
                    participant_id: id,
                    reason,
                    successor_id,
                }
            )),
        (
            tank.clone(),
            tank_kg(),
            text(),
            id_from(WAREHOUSES),
            id_from(INSPECTORS),
            prop::sample::select(vec!["T1", "T2", "T-7"]),
        )
            .prop_map(
                |(tank_id, capacity_kg, product, warehouse_id, inspector_id, number)| {
                    Operation::RegisterTank(pb::RegisterTank {
                        tank_id,
                        capacity_kg,
                        product,
                        warehouse_id,
                        physical_id: Some(physical("ZS-BONDED-01", number)),
                        inspector_id,
                        calibration_certificate_no: "CAL-1".into(),
                    })
                }
            ),
        (
            tank.clone(),
            id_from(INSPECTORS),
            cert.clone(),
            tank_kg(),
            id_from(HOLDERS),
            prop_oneof![Just("VLSFO 0.5%S".to_string()), text()],
            time(),
        )
            .prop_map(
                |(
                    tank_id,
                    inspector_id,
                    certificate_no,
                    quantity_kg,
                    depositor_id,
                    product_grade,
                    gauged_at_ms,
                )| {
                    Operation::CertifyStock(pb::CertifyStock {
                        tank_id,
                        inspector_id,
                        certificate_no,
                        quantity_kg,
                        depositor_id,
                        product_grade,
                        gauged_at_ms,
                    })
                }
            ),
        (tank.clone(), gauging_of()).prop_map(|(tank_id, gauging)| {
            Operation::RegaugeTank(pb::RegaugeTank {
                tank_id,
                gauging: Some(gauging),
            })
        }),
        (tank.clone(), id_from(WAREHOUSES), gauging_of()).prop_map(
            |(tank_id, warehouse_id, gauging)| {
                Operation::AppointCustodian(pb::AppointCustodian {
                    tank_id,
                    warehouse_id,
                    gauging: Some(gauging),
                })
            }
        ),
        (
            receipt.clone(),
            tank.clone(),
            cert,
            kg(),
            time(),
            1i32..3,
            0u32..=1_000_000
        )
            .prop_map(
                |(
                    receipt_id,
                    tank_id,
                    certificate_no,
                    quantity_kg,
                    expires_at_ms,
                    customs,
                    ppm,
                )| {
                    let mut terms = support::issue_terms(
                        &receipt_id,
                        &tank_id,
                        &certificate_no,
                        quantity_kg,
                        expires_at_ms,
                    );
                    terms.customs_status = customs;
                    terms.loss_allowance_ppm = ppm;
                    Operation::IssueReceipt(terms)
                }
            ),
        (receipt.clone(), id_from(HOLDERS)).prop_map(|(r, to)| transfer(&r, &to)),
        (
            receipt.clone(),
            prop::sample::subsequence(vec!["R1", "R1a", "R1b", "R2", "R3", "R4", "R5"], 2..4),
            prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![1u64, 1_000, 200_000, 400_000, 600_000]),
                    any::<u32>().prop_map(|n| u64::from(n) + 1),
                ],
                4,
            ),
        )
            .prop_map(|(r, ids, kgs)| {
                Operation::SplitReceipt(pb::SplitReceipt {
                    receipt_id: r,
                    parts: ids
                        .into_iter()
                        .zip(kgs)
                        .map(|(id, quantity_kg)| pb::SplitPart {
                            receipt_id: id.into(),
                            quantity_kg,
                        })
                        .collect(),
                })
            }),
        (receipt.clone(), text()).prop_map(|(receipt_id, reason)| Operation::CancelReceipt(
            pb::CancelReceipt { receipt_id, reason }
        )),
        (
            pledge_id.clone(),
            receipt.clone(),
            id_from(BANKS),
            kg(),
            prop::sample::select(vec!["USD", "CNY", "EUR"]),
            time()
        )
            .prop_map(|(p, r, bank, amount, currency, maturity)| {
                let mut op = pledge(&p, &r, &bank, maturity);
                if let Operation::RegisterPledge(terms) = &mut op {
                    terms.secured_amount = Some(pb::Money {
                        minor_units: amount,
                        currency: currency.into(),
                    });
                }
                op
            }),
        pledge_id.clone().prop_map(|p| support::release(&p)),
        (
            pledge_id,
            prop_oneof![Just(String::new()), party],
            grounds()
        )
            .prop_map(|(p, to, (grounds, order_reference))| {
                Operation::EnforcePledge(pb::EnforcePledge {
                    pledge_id: p,
                    transferee_id: to,
                    grounds,
                    order_reference,
                })
            }),
        receipt.clone().prop_map(|r| freeze(&r)),
        receipt.prop_map(|r| unfreeze(&r)),
    ]
}

/// Mostly a window around `T0` (where the fixture's ledger stands), sometimes
/// any ordered pair of times.
fn window() -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![
        8 => Just((T0 - HOUR_MS, T0 + DAY_MS)),
        1 => (time(), time()).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ]
}

fn transaction() -> impl Strategy<Value = pb::Transaction> {
    (
        prop_oneof![9 => Just(LEDGER_ID.to_string()), 1 => Just("other-ledger".to_string())],
        "[a-z0-9-]{1,10}",
        window(),
        operation(),
    )
        .prop_map(
            |(ledger_id, tx_id, (not_before_ms, not_after_ms), op)| pb::Transaction {
                ledger_id,
                tx_id,
                not_before_ms,
                not_after_ms,
                operation: Some(op),
            },
        )
}

/// One field a corruption can make invalid.
enum Slot<'a> {
    Window(&'a mut u64, &'a mut u64),
    LegalId(&'a mut Option<pb::LegalIdentity>),
    Governance(&'a mut Option<pb::Governance>),
    Physical(&'a mut Option<pb::PhysicalTankId>),
    Kilograms(&'a mut u64),
    Gauging(&'a mut Option<pb::Gauging>),
    Grounds(&'a mut i32, &'a mut String),
    Id(&'a mut String),
    OptionalId(&'a mut String),
    RequiredText(&'a mut String),
    Text(&'a mut String),
    Positive(&'a mut u64),
    Currency(&'a mut String),
    Customs(&'a mut i32),
    Roles(&'a mut Vec<i32>),
    Key(&'a mut Vec<u8>),
    Ppm(&'a mut u32),
    MarginLevel(&'a mut u32),
    Price(&'a mut u64),
    Parts(&'a mut Vec<pb::SplitPart>),
    Participants(&'a mut pb::Genesis),
    Amount(&'a mut Option<pb::Money>),
    Participant(&'a mut Option<pb::ParticipantSpec>),
}

fn spec_slots<'a>(slots: &mut Vec<Slot<'a>>, p: &'a mut pb::ParticipantSpec) {
    slots.push(Slot::Id(&mut p.id));
    slots.push(Slot::RequiredText(&mut p.name));
    slots.push(Slot::Roles(&mut p.roles));
    slots.push(Slot::Key(&mut p.public_key));
    slots.push(Slot::LegalId(&mut p.legal_identity));
}

fn slots(tx: &mut pb::Transaction) -> Vec<Slot<'_>> {
    // Chooses, for optional messages, between corrupting a field inside or
    // removing the message.
    let inside = tx.tx_id.len().is_multiple_of(2);
    let mut s = vec![
        Slot::Id(&mut tx.ledger_id),
        Slot::Id(&mut tx.tx_id),
        Slot::Window(&mut tx.not_before_ms, &mut tx.not_after_ms),
    ];
    let Some(op) = tx.operation.as_mut() else {
        return s;
    };
    match op {
        Operation::Genesis(g) => match inside {
            true => s.push(Slot::Governance(&mut g.governance)),
            false => s.push(Slot::Participants(g)),
        },
        Operation::AdmitParticipant(a) => match a.participant.is_some() {
            true if inside => spec_slots(&mut s, a.participant.as_mut().unwrap()),
            _ => s.push(Slot::Participant(&mut a.participant)),
        },
        Operation::RotateKey(r) => {
            s.push(Slot::Id(&mut r.participant_id));
            s.push(Slot::Key(&mut r.new_public_key));
        }
        Operation::RecoverKey(r) => {
            s.push(Slot::Id(&mut r.participant_id));
            s.push(Slot::Key(&mut r.new_public_key));
            s.push(Slot::RequiredText(&mut r.reason));
        }
        Operation::RevokeParticipant(r) => {
            s.push(Slot::Id(&mut r.participant_id));
            s.push(Slot::RequiredText(&mut r.reason));
            s.push(Slot::OptionalId(&mut r.successor_id));
        }
        Operation::RegisterTank(t) => {
            s.push(Slot::Id(&mut t.tank_id));
            s.push(Slot::Kilograms(&mut t.capacity_kg));
            s.push(Slot::RequiredText(&mut t.product));
            s.push(Slot::Id(&mut t.warehouse_id));
            s.push(Slot::Physical(&mut t.physical_id));
            s.push(Slot::Id(&mut t.inspector_id));
            s.push(Slot::Id(&mut t.calibration_certificate_no));
        }
        Operation::CertifyStock(c) => {
            s.push(Slot::Id(&mut c.tank_id));
            s.push(Slot::Id(&mut c.inspector_id));
            s.push(Slot::Id(&mut c.certificate_no));
            s.push(Slot::Kilograms(&mut c.quantity_kg));
            s.push(Slot::Id(&mut c.depositor_id));
            s.push(Slot::RequiredText(&mut c.product_grade));
            s.push(Slot::Positive(&mut c.gauged_at_ms));
        }
        Operation::RegaugeTank(r) => {
            s.push(Slot::Id(&mut r.tank_id));
            s.push(Slot::Gauging(&mut r.gauging));
        }
        Operation::AppointCustodian(a) => {
            s.push(Slot::Id(&mut a.tank_id));
            s.push(Slot::Id(&mut a.warehouse_id));
            s.push(Slot::Gauging(&mut a.gauging));
        }
        Operation::IssueReceipt(i) => {
            s.push(Slot::Id(&mut i.receipt_id));
            s.push(Slot::Id(&mut i.tank_id));
            s.push(Slot::Id(&mut i.inspector_id));
            s.push(Slot::Id(&mut i.certificate_no));
            s.push(Slot::RequiredText(&mut i.product_grade));
            s.push(Slot::Text(&mut i.specification));
            s.push(Slot::Positive(&mut i.quantity_kg));
            s.push(Slot::Customs(&mut i.customs_status));
            s.push(Slot::RequiredText(&mut i.customs_reference));
            s.push(Slot::Positive(&mut i.expires_at_ms));
            s.push(Slot::Ppm(&mut i.loss_allowance_ppm));
            s.push(Slot::Text(&mut i.insurance_reference));
        }
        Operation::TransferReceipt(t) => {
            s.push(Slot::Id(&mut t.receipt_id));
            s.push(Slot::Id(&mut t.new_holder_id));
        }
        Operation::SplitReceipt(sp) => {
            s.push(Slot::Id(&mut sp.receipt_id));
            s.push(Slot::Parts(&mut sp.parts));
        }
        Operation::CancelReceipt(c) => {
            s.push(Slot::Id(&mut c.receipt_id));
            s.push(Slot::Text(&mut c.reason));
        }
        Operation::RegisterPledge(p) => {
            s.push(Slot::Id(&mut p.pledge_id));
            s.push(Slot::Id(&mut p.receipt_id));
            s.push(Slot::Id(&mut p.pledgee_id));
            s.push(Slot::RequiredText(&mut p.loan_reference));
            s.push(Slot::Positive(&mut p.maturity_ms));
            s.push(Slot::MarginLevel(&mut p.margin_level_bp));
            match p.secured_amount.is_some() && inside {
                true => {
                    let m = p.secured_amount.as_mut().unwrap();
                    s.push(Slot::Positive(&mut m.minor_units));
                    s.push(Slot::Currency(&mut m.currency));
                }
                false => s.push(Slot::Amount(&mut p.secured_amount)),
            }
        }
        Operation::ReleasePledge(r) => s.push(Slot::Id(&mut r.pledge_id)),
        Operation::EnforcePledge(e) => {
            s.push(Slot::Id(&mut e.pledge_id));
            s.push(Slot::OptionalId(&mut e.transferee_id));
            s.push(Slot::Grounds(&mut e.grounds, &mut e.order_reference));
        }
        Operation::FreezeReceipt(f) => {
            s.push(Slot::Id(&mut f.receipt_id));
            s.push(Slot::RequiredText(&mut f.order_reference));
        }
        Operation::UnfreezeReceipt(u) => {
            s.push(Slot::Id(&mut u.receipt_id));
            s.push(Slot::RequiredText(&mut u.order_reference));
        }
        Operation::ChangeMembership(c) => {
            s.push(Slot::RequiredText(&mut c.reason));
            for member in &mut c.members {
                s.push(Slot::Id(&mut member.name));
                s.push(Slot::RequiredText(&mut member.address));
                s.push(Slot::Key(&mut member.public_key));
            }
        }
        Operation::AssessPrice(a) => {
            s.push(Slot::Id(&mut a.reporter_id));
            s.push(Slot::RequiredText(&mut a.product_grade));
            s.push(Slot::Positive(&mut a.assessed_at_ms));
            match a.price_per_tonne.is_some() && inside {
                true => {
                    let m = a.price_per_tonne.as_mut().unwrap();
                    s.push(Slot::Price(&mut m.minor_units));
                    s.push(Slot::Currency(&mut m.currency));
                }
                false => s.push(Slot::Amount(&mut a.price_per_tonne)),
            }
        }
    }
    s
}

/// 32 bytes that are not a curve point.
fn non_point() -> Vec<u8> {
    (0u8..=255)
        .map(|b| vec![b; 32])
        .find(|bytes| !is_point(bytes))
        .expect("some 32-byte string is not a point")
}

fn pick<T: Clone>(choices: &[T], n: usize) -> T {
    choices[n % choices.len()].clone()
}

/// Makes one field of `tx` invalid; `n` chooses how.
fn corrupt(tx: &mut pb::Transaction, slot: Index, n: usize) {
    let bad_ids = [
        String::new(),
        " R1".into(),
        "R 1".into(),
        "R1\u{202E}".into(),
        "R\n1".into(),
        "a".repeat(65),
        "R\u{0}1".into(),
        "仓单".into(),
        "R1\u{200F}".into(),
        "R1 ".into(),
    ];
    let bad_texts = [
        "a\u{202E}b".to_string(),
        "x\ny".into(),
        "x".repeat(257),
        "\u{2066}x".into(),
        "tab\there".into(),
        "del\u{7f}".into(),
        "nul\u{0}".into(),
    ];
    // The last choice is to remove the operation altogether.
    let count = slots(tx).len() + 1;
    let slot_index = slot.index(count);
    if slot_index == count - 1 {
        tx.operation = None;
        return;
    }
    let mut slots = slots(tx);
    match &mut slots[slot_index] {
        Slot::Window(not_before, not_after) => match n % 3 {
            0 => **not_before = 0,
            1 => **not_after = 0,
            _ => **not_after = **not_before - 1,
        },
        Slot::LegalId(l) => {
            let bad = |code: &str| {
                Some(pb::LegalIdentity {
                    identifier: Some(pb::legal_identity::Identifier::UnifiedSocialCreditCode(
                        code.into(),
                    )),
                })
            };
            **l = match n % 5 {
                0 => None,
                1 => Some(pb::LegalIdentity { identifier: None }),
                2 => bad("91350100M000100Y44"),
                3 => bad("91350100m000100Y43"),
                _ => Some(pb::LegalIdentity {
                    identifier: Some(pb::legal_identity::Identifier::Lei(
                        "5493001KJTIIGC8Y1R21".into(),
                    )),
                }),
            }
        }
        Slot::Governance(g) => match (n % 5, g.as_mut()) {
            (0, _) | (_, None) => **g = None,
            (1, Some(g)) => g.quorum_threshold = 1,
            (2, Some(g)) => g.quorum_members.truncate(1),
            (3, Some(g)) => g.quorum_members[1] = "stranger".into(),
            (_, Some(g)) => g.max_validity_ms = 0,
        },
        Slot::Physical(p) => match (n % 4, p.as_mut()) {
            (0, _) | (_, None) => **p = None,
            (1, Some(p)) => p.facility_code = "zs-bonded-01".into(),
            (2, Some(p)) => p.tank_number = String::new(),
            (_, Some(p)) => p.tank_number = "T 7".into(),
        },
        Slot::Kilograms(v) => {
            **v = pick(
                &[0, pledge_ledger::tx::MAX_TANK_CAPACITY_KG + 1, u64::MAX],
                n,
            )
        }
        Slot::Gauging(g) => match (n % 3, g.as_mut()) {
            (0, _) | (_, None) => **g = None,
            (1, Some(g)) => g.gauged_at_ms = 0,
            (_, Some(g)) => g.measured_kg = u64::MAX,
        },
        Slot::Grounds(grounds, order) => match n % 3 {
            0 => **grounds = pick(&[0, 4, -1], n),
            _ if **grounds == pb::EnforcementGrounds::Order as i32 => order.clear(),
            _ => **order = "(2026) Zhe 09 Zhi 77".into(),
        },
        Slot::Id(s) => **s = pick(&bad_ids, n),
        Slot::OptionalId(s) => **s = pick(&bad_ids[1..], n),
        Slot::RequiredText(s) => {
            let mut choices = bad_texts.to_vec();
            choices.extend([String::new(), "   ".into()]);
            **s = pick(&choices, n);
        }
        Slot::Text(s) => **s = pick(&bad_texts, n),
        Slot::Positive(v) => **v = 0,
        Slot::Currency(c) => **c = pick(&["usd", "US", "USDX", "", "ÜSD", "U$D", " USD"], n).into(),
        Slot::Customs(c) => **c = pick(&[0, 3, -1, i32::MAX, i32::MIN], n),
        Slot::Roles(r) => {
            **r = pick(
                &[
                    vec![],
                    vec![0],
                    vec![9],
                    vec![1, 1],
                    vec![1, 2, 3, 4, 5, 6, 7, 8, 1],
                    vec![-1],
                ],
                n,
            )
        }
        Slot::Key(k) => {
            **k = pick(
                &[vec![], vec![1; 31], vec![1; 33], vec![0; 64], non_point()],
                n,
            )
        }
        Slot::Ppm(p) => **p = pick(&[1_000_001, u32::MAX], n),
        Slot::MarginLevel(m) => **m = pick(&[10_001, u32::MAX], n),
        Slot::Price(p) => **p = pick(&[0, 1_000_000_000_001, u64::MAX], n),
        Slot::Parts(parts) => match n % 5 {
            0 => parts.truncate(1),
            1 => parts[1].receipt_id = parts[0].receipt_id.clone(),
            2 => {
                parts[0].quantity_kg = u64::MAX;
                parts[1].quantity_kg = parts[1].quantity_kg.max(1);
            }
            3 => parts[1].quantity_kg = 0,
            _ => {
                **parts = (0..101)
                    .map(|i| pb::SplitPart {
                        receipt_id: format!("S{i}"),
                        quantity_kg: 1,
                    })
                    .collect()
            }
        },
        Slot::Participants(g) => match n % 2 {
            0 => g.participants.clear(),
            _ => g.participants[1].id = g.participants[0].id.clone(),
        },
        Slot::Amount(a) => **a = None,
        Slot::Participant(p) => **p = None,
    }
}

fn signer_for_role(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Warehouse => "wh-1",
        Role::Holder => "trader-a",
        Role::Bank => "bank-a",
        Role::Regulator => "regulator",
        Role::Auditor => "auditor",
        Role::Inspector => INSPECTOR,
        Role::PriceReporter => "reporter",
    }
}

/// Participants who satisfy `party`.
fn signers_for(party: &Party) -> Vec<String> {
    match party {
        Party::Participant { id, .. } => vec![id.clone()],
        Party::AnyWithRole(role) => vec![signer_for_role(*role).into()],
        Party::Quorum { .. } => QUORUM.iter().map(|m| (*m).to_string()).collect(),
        Party::OneOf(alternatives) => alternatives.first().map(signers_for).unwrap_or_default(),
    }
}

/// Signs `tx` as the rules would require in `world`'s state (when `right`
/// and the transaction decodes), or by the listed participants.
fn sign(world: &World, tx: &pb::Transaction, right: bool, others: &[usize]) -> Envelope {
    let bytes = tx.encode_to_vec();
    let mut signers: Vec<String> = others
        .iter()
        .map(|i| PARTICIPANTS[i % PARTICIPANTS.len()].0.to_string())
        .collect();
    if right
        && let Ok(decoded) = Transaction::decode(&bytes)
        && let Ok(parties) = required_parties(&world.store(), &decoded.operation)
    {
        signers = parties.iter().flat_map(signers_for).collect();
    }
    signers
        .iter()
        .fold(EnvelopeBuilder::from_bytes(bytes), |b, id| {
            let k = world.keys.get(id).cloned().unwrap_or_else(|| key(222));
            b.sign(id, &k)
        })
        .build()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A valid transaction decodes; the same with any one field made invalid
    /// does not, and an envelope carrying it does not verify.
    #[test]
    fn decode_refuses_every_invalid_field(
        tx in transaction(),
        slot in any::<Index>(),
        how in any::<usize>(),
    ) {
        let bytes = tx.encode_to_vec();
        let decoded = Transaction::decode(&bytes);
        prop_assert!(decoded.is_ok(), "valid transaction refused: {:?}", decoded);
        let mut bad = tx.clone();
        corrupt(&mut bad, slot, how);
        let bad_bytes = bad.encode_to_vec();
        let refused = Transaction::decode(&bad_bytes);
        prop_assert!(refused.is_err(), "{:?} decoded as {:?}", bad, refused);
        let envelope = EnvelopeBuilder::from_bytes(bad_bytes).sign("admin", &key(1)).build();
        prop_assert!(envelope.verify().is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Well-formed but wrong transactions (and some ill-formed ones), signed
    /// by the right parties or by anyone, against a ledger with receipts and
    /// pledges in it: nothing panics, refusals leave no trace, the state stays
    /// consistent and replays.
    #[test]
    fn wrong_transactions_never_panic_and_refusals_leave_no_trace(
        batch in prop::collection::vec(
            (
                transaction(),
                prop::option::weighted(0.2, (any::<Index>(), any::<usize>())),
                prop::bool::weighted(0.7),
                prop::collection::vec(0usize..16, 0..3),
            ),
            1..8,
        ),
    ) {
        let mut world = world_at(fixture().envelopes.len());
        for (tx, corruption, right, others) in &batch {
            let mut tx = tx.clone();
            if let Some((slot, how)) = corruption {
                corrupt(&mut tx, *slot, *how);
            }
            let envelope = sign(&world, &tx, *right, others);
            submit_checked(&mut world, envelope)?;
        }
        world.assert_replays();
    }
}

/// The fixture itself replays, and its ledger is sealed with the fixture key.
#[test]
fn fixture_chain_replays() {
    let f = fixture();
    assert_eq!(first_replay_failure(&f.records, Some(f.node_key)), None);
    let ledger = pledge_ledger::ledger::MemoryLedger::in_memory(node_key());
    assert_eq!(ledger.node_public_key(), f.node_key);
    assert_eq!(world_at(f.envelopes.len()).len(), f.records.len() as u64);
}
