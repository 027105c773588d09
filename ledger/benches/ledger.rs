//! Micro-benchmarks of the ledger's hot paths (criterion; `cargo bench -p
//! pledge-ledger`). Not tests: nothing here asserts a time.
//!
//! - apply: one pledge registration against a MemoryLedger holding 10,000
//!   receipts (rules only, no commit);
//! - entry: body encoding, entry hash, record encoding, sealing;
//! - ed25519: sign, strict verification of one (key decompressed each time
//!   and cached), verify_batch of 64 and 1,024 alone and with the check a
//!   batch would need to refuse what strict verification refuses (every
//!   signature's `R` free of a small-order component; docs/PERFORMANCE.md);
//! - proofs: inclusion and consistency proof generation over a MemoryLedger
//!   of 65,536 entries.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use pledge_ledger::crypto::{self, Digest, KeyCache};
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::MemoryLedger;
use pledge_ledger::merkle;
use pledge_ledger::rules::{self, EntryContext};
use pledge_ledger::testing::{self, DAY_MS, LEDGER_ID, T0};
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{self as pb, transaction::Operation};
use prost::Message;

/// A transaction of the benchmark ledger at T0.
fn tx(tx_id: &str, operation: Operation) -> pb::Transaction {
    testing::transaction(LEDGER_ID, tx_id, operation)
}

/// `tx` signed by the demo participants `signers`, verified.
fn signed(tx: &pb::Transaction, signers: &[&str]) -> VerifiedEnvelope {
    testing::sign(tx, signers).verify().unwrap()
}

/// Pledge `n` of receipt `R-<receipt>` to bank-a.
fn pledge_tx(n: usize, receipt: usize) -> pb::Transaction {
    let operation = testing::pledge(
        &format!("PL-{n}"),
        &format!("R-{receipt}"),
        "bank-a",
        T0 + 90 * DAY_MS,
    );
    tx(&format!("pledge-{n}"), operation)
}

/// A ledger with the demo participants, one tank and `receipts` issued receipts.
fn populated(receipts: usize) -> MemoryLedger {
    let mut ledger = MemoryLedger::in_memory(testing::node_key());
    let genesis = testing::genesis(LEDGER_ID, T0);
    let tank = tx("tank", testing::register_tank("T-1", "wh-1", 1 << 50));
    let mut group = vec![signed(&genesis, &["admin"]), signed(&tank, &["wh-1"])];
    for i in 0..receipts {
        let cert = format!("C-{i}");
        let certify = tx(
            &format!("certify-{i}"),
            testing::certify_stock("T-1", &cert, 1_000, "trader-a"),
        );
        let issue = tx(
            &format!("issue-{i}"),
            testing::issue(&format!("R-{i}"), "T-1", &cert, 1_000, T0 + 365 * DAY_MS),
        );
        group.push(signed(&certify, &["wh-1"]));
        group.push(signed(&issue, &["wh-1"]));
        if group.len() >= 1024 {
            ledger.append_owned(std::mem::take(&mut group), T0).unwrap();
        }
    }
    ledger.append_owned(group, T0).unwrap();
    ledger
}

fn bench_apply(c: &mut Criterion) {
    let ledger = populated(10_000);
    let envelope = signed(&pledge_tx(0, 5_000), &["trader-a", "bank-a"]);
    let ctx = EntryContext {
        seq: ledger.len(),
        time_ms: T0 + 1,
    };
    c.bench_function("apply/pledge (10k receipts, MemoryLedger)", |b| {
        let snapshot = ledger.snapshot();
        b.iter(|| rules::apply(&snapshot, black_box(&envelope), ctx).unwrap())
    });
}

fn sample_entry() -> Entry {
    let envelope = signed(&pledge_tx(1, 1), &["trader-a", "bank-a"]);
    Entry::seal_new(
        1_000,
        Digest([7; 32]),
        T0,
        envelope.envelope,
        &testing::node_key(),
    )
}

fn bench_entry(c: &mut Criterion) {
    let entry = sample_entry();
    let node = testing::node_key();
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
    targets = bench_apply, bench_entry, bench_ed25519, bench_proofs
}
criterion_main!(benches);
