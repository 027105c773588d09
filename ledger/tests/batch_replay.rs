//! The batch replay (signatures verified in batches on several threads)
//! reaches the same verdict as the one-by-one replay: on a good chain the
//! same state and head, on a damaged one the same first bad entry for the
//! same reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pledge_ledger::crypto::PublicKey;
use pledge_ledger::replay::{BatchReplayer, Replayer, check_signatures_only};
use pledge_ledger::view::LedgerRead;
use support::*;

fn chain() -> (Vec<Vec<u8>>, PublicKey) {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.receipt_of("R-2", 500_000);
    world.ok(transfer("R-2", "trader-b"), &["trader-a", "wh-1"]);
    world.pledged_receipt("R-3", "P-3", "bank-b");
    let store = world.store();
    let records = (0..store.len()).map(|s| store.record(s).unwrap()).collect();
    (records, world.ledger.node_public_key())
}

/// (entries replayed, verdict) of the one-by-one replay.
fn strict(records: &[Vec<u8>], key: PublicKey) -> (u64, Result<Replayer, String>) {
    let mut replayer = Replayer::new(Some(key));
    for record in records {
        if let Err(e) = replayer.push_record(record) {
            return (replayer.entries(), Err(e.to_string()));
        }
    }
    (replayer.entries(), Ok(replayer))
}

fn batched(records: &[Vec<u8>], key: PublicKey, chunk: usize) -> (u64, Result<Replayer, String>) {
    let mut replayer = BatchReplayer::new(Some(key), 2);
    let mut verdict = Ok(());
    for part in records.chunks(chunk) {
        verdict = verdict.and(replayer.push_chunk(part));
    }
    verdict = verdict.and(replayer.finish());
    let entries = replayer.replayer().entries();
    match verdict {
        Ok(()) => (entries, Ok(replayer.into_replayer())),
        Err(e) => (entries, Err(e.to_string())),
    }
}

fn same_verdict(records: &[Vec<u8>], key: PublicKey, what: &str) {
    let (n_strict, v_strict) = strict(records, key);
    for chunk in [1, 3, 64] {
        let (n_batch, v_batch) = batched(records, key, chunk);
        assert_eq!(n_batch, n_strict, "{what}, chunks of {chunk}");
        match (&v_strict, &v_batch) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.head_hash(), b.head_hash(), "{what}");
                assert_eq!(a.state(), b.state(), "{what}");
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{what}, chunks of {chunk}"),
            (a, b) => panic!(
                "{what}, chunks of {chunk}: strict {:?}, batch {:?}",
                a.as_ref().err(),
                b.as_ref().err()
            ),
        }
    }
}

#[test]
fn a_good_chain_replays_to_the_same_state() {
    let (records, key) = chain();
    same_verdict(&records, key, "good chain");
    let (n, verdict) = batched(&records, key, 4);
    assert_eq!(n, records.len() as u64);
    assert!(verdict.is_ok());
}

#[test]
fn flipped_bits_are_named_as_the_one_by_one_replay_names_them() {
    let (records, key) = chain();
    for seq in 0..records.len() {
        for at in (0..records[seq].len()).step_by(5) {
            let mut damaged = records.clone();
            damaged[seq][at] ^= 0x10;
            same_verdict(&damaged, key, &format!("entry {seq} byte {at}"));
        }
    }
}

#[test]
fn dropped_swapped_and_resigned_entries_are_named_alike() {
    let (records, key) = chain();
    let mut dropped = records.clone();
    dropped.remove(5);
    same_verdict(&dropped, key, "dropped");
    let mut swapped = records.clone();
    swapped.swap(3, 4);
    same_verdict(&swapped, key, "swapped");
    let other = pledge_ledger::crypto::public_key(&key_of_seed(101));
    same_verdict(&records, other, "another node key");
}

fn key_of_seed(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// Seals and party signatures of `records`, counted from the decoded entries.
fn signatures_in(records: &[Vec<u8>]) -> (usize, usize) {
    let entries: Vec<_> = records
        .iter()
        .map(|r| pledge_ledger::entry::Entry::decode(r).unwrap())
        .collect();
    let party = entries.iter().map(|e| e.envelope.signatures.len()).sum();
    (entries.len(), party)
}

#[test]
fn checking_signatures_alone_counts_every_seal_and_party_signature() {
    let (records, key) = chain();
    let (seals, party) = signatures_in(&records);
    assert!(party > seals, "the chain has entries signed by two parties");
    let checked = check_signatures_only(&records, Some(&key));
    assert_eq!(checked.signatures, seals + party);
    assert_eq!(checked.undecodable, 0);
    assert!(checked.all_hold);
    let unsealed = check_signatures_only(&records, None);
    assert_eq!(unsealed.signatures, party);
    assert!(unsealed.all_hold);
}

#[test]
fn checking_signatures_alone_finds_a_bad_seal_a_bad_party_signature_and_garbage() {
    let (records, key) = chain();
    let other = pledge_ledger::crypto::public_key(&key_of_seed(101));
    assert!(!check_signatures_only(&records, Some(&other)).all_hold);

    let entry = pledge_ledger::entry::Entry::decode(&records[4]).unwrap();
    let signature = entry.envelope.signatures[0].signature;
    let at = records[4].windows(64).position(|w| w == signature).unwrap();
    let mut forged = records.clone();
    forged[4][at + 40] ^= 0x01;
    let checked = check_signatures_only(&forged, None);
    assert!(!checked.all_hold);
    assert_eq!(checked.undecodable, 0);

    let mut garbage = records.clone();
    garbage[2] = vec![0xff; 7];
    let checked = check_signatures_only(&garbage, Some(&key));
    assert_eq!(checked.undecodable, 1);
    assert!(checked.all_hold, "the records that decode still hold");
    assert_eq!(
        checked.signatures,
        check_signatures_only(&records, Some(&key)).signatures
            - 1
            - signatures_in(&records[2..3]).1
    );
}
