//! Micro-benchmarks of the ledger's hot paths (criterion; `cargo bench -p
//! pledge-ledger`). Not tests: nothing here asserts a time.
//!
//! - apply: one pledge registration against a MemoryLedger holding 10,000
//!   receipts (rules only, no commit), and the copy of its changes a
//!   decider keeping entry changes makes;
//! - decide: a group of 64 pledges decided (rules, seal, Merkle nodes)
//!   against that ledger, with and without keeping each entry's changes
//!   (what a node with alerts on pays on its decide thread);
//! - entry: body encoding, entry hash, record encoding, sealing;
//! - ed25519: sign, strict verification of one (key decompressed each time
//!   and cached), verify_batch of 64 and 1,024 alone and with the check a
//!   batch would need to refuse what strict verification refuses (every
//!   signature's `R` free of a small-order component; docs/PERFORMANCE.md);
//! - proofs: inclusion and consistency proof generation over a MemoryLedger
//!   of 65,536 entries;
//! - statemap: the state store's side of a group of 64 pledges on a
//!   DiskStateStore of 6,400 receipts: the whole apply (objects, indexes,
//!   Merkle nodes and the state map in one sled batch), the same followed by
//!   pruning the map to the new size, and the state map's update alone.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use pledge_ledger::crypto::{self, Digest, KeyCache};
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::{EnvelopeBuilder, VerifiedEnvelope};
use pledge_ledger::identity::uscc_check_character;
use pledge_ledger::ledger::{Decider, MemoryLedger};
use pledge_ledger::merkle::{self, Frontier};
use pledge_ledger::replay::reapply;
use pledge_ledger::rules::{self, EntryContext};
use pledge_ledger::state::{MemoryState, Overlay};
use pledge_ledger::statemap::versioned;
use pledge_ledger::store::{DiskStateStore, StateStore, StateUpdate};
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{self as pb, transaction::Operation};
use prost::Message;

const T0: u64 = 1_800_000_000_000;
const DAY_MS: u64 = 86_400_000;
const LEDGER: &str = "bench";

struct Keys {
    admin: SigningKey,
    wh: SigningKey,
    trader: SigningKey,
    bank: SigningKey,
    regulator: SigningKey,
    inspector: SigningKey,
}

fn keys() -> Keys {
    Keys {
        admin: SigningKey::from_bytes(&[1; 32]),
        wh: SigningKey::from_bytes(&[2; 32]),
        trader: SigningKey::from_bytes(&[3; 32]),
        bank: SigningKey::from_bytes(&[4; 32]),
        regulator: SigningKey::from_bytes(&[5; 32]),
        inspector: SigningKey::from_bytes(&[6; 32]),
    }
}

fn tx(tx_id: &str, operation: Operation) -> pb::Transaction {
    pb::Transaction {
        ledger_id: LEDGER.into(),
        tx_id: tx_id.into(),
        not_before_ms: T0 - DAY_MS,
        not_after_ms: T0 + DAY_MS,
        operation: Some(operation),
    }
}

fn signed(tx: &pb::Transaction, signers: &[(&str, &SigningKey)]) -> VerifiedEnvelope {
    signers
        .iter()
        .fold(EnvelopeBuilder::new(tx), |b, (id, key)| b.sign(id, key))
        .build()
        .verify()
        .unwrap()
}

fn spec(id: &str, role: pb::Role, key: &SigningKey, n: u32) -> pb::ParticipantSpec {
    let first17 = format!("913309000000{n:05}");
    let check = uscc_check_character(&first17).unwrap();
    pb::ParticipantSpec {
        id: id.into(),
        name: id.into(),
        roles: vec![role as i32],
        public_key: crypto::public_key(key).0.to_vec(),
        legal_identity: Some(pb::LegalIdentity {
            identifier: Some(pb::legal_identity::Identifier::UnifiedSocialCreditCode(
                format!("{first17}{check}"),
            )),
        }),
    }
}

fn pledge_tx(n: usize, receipt: usize) -> pb::Transaction {
    tx(
        &format!("pledge-{n}"),
        Operation::RegisterPledge(pb::RegisterPledge {
            pledge_id: format!("PL-{n}"),
            receipt_id: format!("R-{receipt}"),
            pledgee_id: "bank-a".into(),
            secured_amount: Some(pb::Money {
                minor_units: 300_000_000,
                currency: "USD".into(),
            }),
            loan_reference: format!("LOAN-{n}"),
            maturity_ms: T0 + 90 * DAY_MS,
            margin_level_bp: 0,
        }),
    )
}

/// A ledger with the demo parties, one tank and `receipts` issued receipts.
fn populated(receipts: usize) -> MemoryLedger {
    let k = keys();
    let mut ledger = MemoryLedger::in_memory(SigningKey::from_bytes(&[9; 32]));
    let genesis = tx(
        "genesis",
        Operation::Genesis(pb::Genesis {
            participants: vec![
                spec("admin", pb::Role::Admin, &k.admin, 1),
                spec("wh-1", pb::Role::Warehouse, &k.wh, 2),
                spec("trader-a", pb::Role::Holder, &k.trader, 3),
                spec("bank-a", pb::Role::Bank, &k.bank, 4),
                spec("regulator", pb::Role::Regulator, &k.regulator, 5),
                spec("insp", pb::Role::Inspector, &k.inspector, 6),
            ],
            governance: Some(pb::Governance {
                quorum_members: vec!["admin".into(), "regulator".into()],
                quorum_threshold: 2,
                max_validity_ms: 30 * DAY_MS,
            }),
        }),
    );
    let tank = tx(
        "tank",
        Operation::RegisterTank(pb::RegisterTank {
            tank_id: "T-1".into(),
            capacity_kg: 1_000_000_000,
            product: "VLSFO".into(),
            warehouse_id: "wh-1".into(),
            physical_id: Some(pb::PhysicalTankId {
                facility_code: "ZS-BENCH".into(),
                tank_number: "T-1".into(),
            }),
            inspector_id: "insp".into(),
            calibration_certificate_no: "CAL-1".into(),
        }),
    );
    let mut group = vec![
        signed(
            &genesis,
            &[("admin", &k.admin), ("regulator", &k.regulator)],
        ),
        signed(&tank, &[("wh-1", &k.wh), ("insp", &k.inspector)]),
    ];
    for i in 0..receipts {
        let cert = format!("C-{i}");
        let certify = tx(
            &format!("certify-{i}"),
            Operation::CertifyStock(pb::CertifyStock {
                tank_id: "T-1".into(),
                inspector_id: "insp".into(),
                certificate_no: cert.clone(),
                quantity_kg: 1_000,
                depositor_id: "trader-a".into(),
                product_grade: "VLSFO".into(),
                gauged_at_ms: T0,
            }),
        );
        let issue = tx(
            &format!("issue-{i}"),
            Operation::IssueReceipt(pb::IssueReceipt {
                receipt_id: format!("R-{i}"),
                tank_id: "T-1".into(),
                inspector_id: "insp".into(),
                certificate_no: cert,
                product_grade: "VLSFO".into(),
                specification: "ISO 8217 RMG 380".into(),
                quantity_kg: 1_000,
                customs_status: pb::CustomsStatus::Bonded as i32,
                customs_reference: "ZS-1".into(),
                expires_at_ms: T0 + 365 * DAY_MS,
                loss_allowance_ppm: 2_000,
                insurance_reference: "PICC-1".into(),
            }),
        );
        group.push(signed(
            &certify,
            &[
                ("wh-1", &k.wh),
                ("insp", &k.inspector),
                ("trader-a", &k.trader),
            ],
        ));
        group.push(signed(&issue, &[("wh-1", &k.wh)]));
        if group.len() >= 1024 {
            ledger.append_owned(std::mem::take(&mut group), T0).unwrap();
        }
    }
    ledger.append_owned(group, T0).unwrap();
    ledger
}

fn bench_apply(c: &mut Criterion) {
    let ledger = populated(10_000);
    let k = keys();
    let envelope = signed(
        &pledge_tx(0, 5_000),
        &[("trader-a", &k.trader), ("bank-a", &k.bank)],
    );
    let ctx = EntryContext {
        seq: ledger.len(),
        time_ms: T0 + 1,
    };
    c.bench_function("apply/pledge (10k receipts, MemoryLedger)", |b| {
        let snapshot = ledger.snapshot();
        b.iter(|| rules::apply(&snapshot, black_box(&envelope), ctx).unwrap())
    });
    let rules::Outcome::Applied(changes) =
        rules::apply(&ledger.snapshot(), &envelope, ctx).unwrap()
    else {
        panic!("the pledge applies");
    };
    c.bench_function("apply/copy of a pledge's changes", |b| {
        b.iter(|| black_box(&changes).clone())
    });
}

fn bench_decide(c: &mut Criterion) {
    let ledger = populated(10_000);
    let k = keys();
    let group: Vec<VerifiedEnvelope> = (0..64)
        .map(|n| {
            let tx = pledge_tx(n, n * 100);
            signed(&tx, &[("trader-a", &k.trader), ("bank-a", &k.bank)])
        })
        .collect();
    let frontier = Frontier::load(ledger.len(), &ledger.snapshot()).unwrap();
    let decider = Decider::new(
        SigningKey::from_bytes(&[9; 32]),
        ledger.snapshot().head(),
        frontier,
    );
    for (name, decider) in [
        ("decide/group of 64 pledges", decider.clone()),
        (
            "decide/group of 64 pledges, keeping entry changes",
            decider.keeping_entry_changes(),
        ),
    ] {
        c.bench_function(name, |b| {
            let snapshot = ledger.snapshot();
            b.iter_batched(
                || (decider.clone(), group.clone()),
                |(mut decider, group)| {
                    let envelopes = group.into_iter().map(std::borrow::Cow::Owned);
                    decider.decide(&snapshot, envelopes, T0 + 1).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
}

/// Entries in a group of the statemap benchmark, and groups applied before
/// the store is rebuilt.
const MAP_GROUP: usize = 64;
const MAP_GROUPS: usize = 100;

/// One state update per entry of `ledger`, as the replay derives them.
fn state_updates(ledger: &MemoryLedger) -> Vec<StateUpdate> {
    let snapshot = ledger.snapshot();
    let mut state = MemoryState::default();
    let mut frontier = Frontier::default();
    (0..snapshot.len())
        .map(|seq| {
            let entry = Entry::decode(&snapshot.record(seq).unwrap()).unwrap();
            let changes = reapply(&Overlay::new(&state), &entry, None).unwrap();
            state.merge(changes.clone());
            StateUpdate {
                first: seq,
                end: seq + 1,
                changes,
                nodes: frontier
                    .append(merkle::leaf_hash(&entry.body()))
                    .into_iter()
                    .collect(),
            }
        })
        .collect()
}

fn merged_updates(updates: &[StateUpdate]) -> StateUpdate {
    let mut all = StateUpdate::starting_at(updates[0].first);
    for update in updates {
        all.merge(update.clone());
    }
    all
}

/// A disk state store fed groups of pledges in order, rebuilt from the
/// populated ledger's state when they run out (untimed).
struct GroupFeed {
    store: DiskStateStore,
    base: StateUpdate,
    groups: Vec<StateUpdate>,
    next: usize,
}

impl GroupFeed {
    fn new(dir: &std::path::Path) -> GroupFeed {
        let mut ledger = populated(MAP_GROUP * MAP_GROUPS);
        let base_len = ledger.len() as usize;
        let k = keys();
        for g in 0..MAP_GROUPS {
            let group = (g * MAP_GROUP..(g + 1) * MAP_GROUP)
                .map(|n| {
                    signed(
                        &pledge_tx(n, n),
                        &[("trader-a", &k.trader), ("bank-a", &k.bank)],
                    )
                })
                .collect();
            ledger.append_owned(group, T0 + 1).unwrap();
        }
        let updates = state_updates(&ledger);
        let (prefix, pledges) = updates.split_at(base_len);
        let groups: Vec<StateUpdate> = pledges.chunks(MAP_GROUP).map(merged_updates).collect();
        GroupFeed {
            store: DiskStateStore::open(dir).unwrap(),
            base: merged_updates(prefix),
            next: groups.len(),
            groups,
        }
    }

    /// Applies `iters` groups (pruning the map to each new size if asked)
    /// and returns the time spent applying and pruning.
    fn apply(&mut self, iters: u64, prune: bool) -> Duration {
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            if self.next == self.groups.len() {
                self.store.clear().unwrap();
                self.store.apply(&self.base).unwrap();
                self.next = 0;
            }
            let group = &self.groups[self.next];
            let start = Instant::now();
            self.store.apply(group).unwrap();
            if prune {
                self.store.prune_map(group.end).unwrap();
            }
            spent += start.elapsed();
            self.next += 1;
        }
        spent
    }
}

fn bench_statemap(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut feed = GroupFeed::new(dir.path());
    let mut group = c.benchmark_group("statemap");
    group.throughput(Throughput::Elements(MAP_GROUP as u64));
    group.sample_size(20);
    group.bench_function("apply a group of 64 pledges (6,400 receipts, disk)", |b| {
        b.iter_custom(|iters| feed.apply(iters, false))
    });
    group.bench_function("apply a group of 64 pledges, then prune the map", |b| {
        b.iter_custom(|iters| feed.apply(iters, true))
    });
    feed.apply((feed.groups.len() - feed.next) as u64, false);
    let last = feed.groups.last().unwrap().changes.clone();
    group.bench_function("state map update alone for a group of 64 pledges", |b| {
        let view = feed.store.view();
        b.iter(|| versioned::update_for(&view, black_box(&last)).unwrap())
    });
    group.finish();
}

fn sample_entry() -> Entry {
    let k = keys();
    let envelope = signed(
        &pledge_tx(1, 1),
        &[("trader-a", &k.trader), ("bank-a", &k.bank)],
    );
    Entry::seal_new(
        1_000,
        Digest([7; 32]),
        T0,
        envelope.envelope,
        &SigningKey::from_bytes(&[9; 32]),
    )
}

fn bench_entry(c: &mut Criterion) {
    let entry = sample_entry();
    let node = SigningKey::from_bytes(&[9; 32]);
    let record = entry.encode();
    c.bench_function("entry/body", |b| b.iter(|| black_box(&entry).body()));
    c.bench_function("entry/hash", |b| b.iter(|| black_box(&entry).hash()));
    c.bench_function("entry/encode", |b| b.iter(|| black_box(&entry).encode()));
    c.bench_function("entry/decode", |b| {
        b.iter(|| Entry::decode(black_box(&record)).unwrap())
    });
    c.bench_function("entry/seal_new_sealed (body once, hash, seal)", |b| {
        b.iter_batched(
            || entry.envelope.clone(),
            |envelope| Entry::seal_new_sealed(1_000, Digest([7; 32]), T0, envelope, &node),
            BatchSize::SmallInput,
        )
    });
}

fn batch_inputs(n: usize) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
    let keys: Vec<SigningKey> = (0..16u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let messages: Vec<Vec<u8>> = (0..n)
        .map(|i| crypto::tx_signing_preimage(format!("transaction {i} of a batch").as_bytes()))
        .collect();
    let signatures = messages
        .iter()
        .enumerate()
        .map(|(i, m)| keys[i % 16].sign(m))
        .collect();
    let verifying = (0..n).map(|i| keys[i % 16].verifying_key()).collect();
    (messages, signatures, verifying)
}

fn bench_ed25519(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[5; 32]);
    let tx_bytes = pledge_tx(2, 2).encode_to_vec();
    let signature = crypto::sign_transaction(&key, &tx_bytes);
    let public = crypto::public_key(&key);
    c.bench_function("ed25519/sign", |b| {
        b.iter(|| crypto::sign_transaction(&key, black_box(&tx_bytes)))
    });
    c.bench_function("ed25519/verify_strict one", |b| {
        b.iter(|| crypto::verify_transaction_signature(&public, black_box(&tx_bytes), &signature))
    });
    let keys = KeyCache::new();
    c.bench_function("ed25519/verify_strict one, key cached", |b| {
        b.iter(|| keys.verify_transaction_signature(&public, black_box(&tx_bytes), &signature))
    });
    let parsed = Signature::from_bytes(&signature);
    c.bench_function("ed25519/torsion check of one R, variable time", |b| {
        b.iter(|| r_is_torsion_free_vartime(black_box(&parsed)))
    });
    c.bench_function("ed25519/torsion check of one R, constant time", |b| {
        b.iter(|| r_is_torsion_free(black_box(&parsed)))
    });
    for n in [64, 1024] {
        let (messages, signatures, verifying) = batch_inputs(n);
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        c.bench_function(&format!("ed25519/verify_batch {n}"), |b| {
            b.iter(|| ed25519_dalek::verify_batch(&refs, &signatures, &verifying).unwrap())
        });
        c.bench_function(
            &format!("ed25519/verify_batch {n} + torsion check of every R"),
            |b| {
                b.iter(|| {
                    ed25519_dalek::verify_batch(&refs, &signatures, &verifying).unwrap();
                    assert!(signatures.iter().all(r_is_torsion_free_vartime));
                })
            },
        );
    }
}

/// The point `R` (a signature's first half), if it decodes.
fn signature_r(signature: &Signature) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*signature.r_bytes()).decompress()
}

/// Whether `R` has no small-order component, the check a batch would need
/// to refuse what strict verification refuses: `[ℓ]R` is the identity,
/// computed as `[ℓ - 1]R + R` in variable time (a `Scalar` is reduced
/// modulo ℓ, so ℓ itself is not one).
fn r_is_torsion_free_vartime(signature: &Signature) -> bool {
    signature_r(signature).is_some_and(|r| {
        (EdwardsPoint::vartime_multiscalar_mul([-Scalar::ONE], [r]) + r).is_identity()
    })
}

/// The same check through curve25519-dalek's constant-time `is_torsion_free`.
fn r_is_torsion_free(signature: &Signature) -> bool {
    signature_r(signature).is_some_and(|r| r.is_torsion_free())
}

fn bench_proofs(c: &mut Criterion) {
    let ledger = populated(32_767);
    let store = &ledger.snapshot();
    let size = store.len();
    let mut i = 0u64;
    c.bench_function(&format!("proofs/inclusion ({size} entries)"), |b| {
        b.iter(|| {
            i = (i + 7_919) % size;
            merkle::inclusion_proof(i, size, store).unwrap()
        })
    });
    c.bench_function(&format!("proofs/consistency ({size} entries)"), |b| {
        b.iter(|| {
            i = (i + 7_919) % (size - 1);
            merkle::consistency_proof(i + 1, size, store).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_apply, bench_decide, bench_entry, bench_ed25519, bench_proofs, bench_statemap
}
criterion_main!(benches);
