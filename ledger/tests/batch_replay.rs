//! The batch replay (signatures verified in batches on several threads)
//! reaches the same verdict as the one-by-one replay: on a good chain the
//! same state and head, on a damaged one the same first bad entry for the
//! same reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pledge_ledger::crypto::PublicKey;
use pledge_ledger::replay::{BatchReplayer, PART_RECORDS, Replayer, check_signatures_only};
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

/// Chunks of `chunk` records, split into parts of `part` records for the
/// workers (many parts in flight, finishing in any order).
fn batched(
    records: &[Vec<u8>],
    key: PublicKey,
    chunk: usize,
    part: usize,
) -> (u64, Result<Replayer, String>) {
    let mut replayer = BatchReplayer::new(Some(key), 2).with_parts_of(part);
    let mut verdict = Ok(());
    for records in records.chunks(chunk) {
        verdict = verdict.and(replayer.push_records(records.to_vec()));
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
    for (chunk, part) in [(1, 1), (3, 1), (64, 2), (64, 5), (64, PART_RECORDS)] {
        let (n_batch, v_batch) = batched(records, key, chunk, part);
        let how = format!("{what}, chunks of {chunk}, parts of {part}");
        assert_eq!(n_batch, n_strict, "{how}");
        match (&v_strict, &v_batch) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.head_hash(), b.head_hash(), "{how}");
                assert_eq!(a.state(), b.state(), "{how}");
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{how}"),
            (a, b) => panic!(
                "{how}: strict {:?}, batch {:?}",
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
    let (n, verdict) = batched(&records, key, 4, 1);
    assert_eq!(n, records.len() as u64);
    assert!(verdict.is_ok());
}

/// `finish` may come between chunks (the auditor calls it where it wants
/// the state): the replay then stands at the records pushed, and goes on.
#[test]
fn finishing_between_chunks_stands_at_the_records_pushed_and_goes_on() {
    let (records, key) = chain();
    let whole = strict(&records, key).1.unwrap();
    let mut replayer = BatchReplayer::new(Some(key), 2).with_parts_of(2);
    for (i, chunk) in records.chunks(3).enumerate() {
        replayer.push_chunk(chunk).unwrap();
        replayer.finish().unwrap();
        let pushed = records.len().min(3 * (i + 1));
        assert_eq!(replayer.replayer().entries(), pushed as u64);
        let (_, prefix) = strict(&records[..pushed], key);
        assert_eq!(replayer.replayer().state(), prefix.unwrap().state());
    }
    assert_eq!(replayer.replayer().head_hash(), whole.head_hash());
}

/// A bad entry among many parts in flight: the replay stops at the entry
/// before it, and pushing more records changes nothing.
#[test]
fn after_a_bad_entry_later_chunks_change_nothing() {
    let (mut records, key) = chain();
    let bad = records.len() / 2;
    records[bad][10] ^= 0x01;
    let mut replayer = BatchReplayer::new(Some(key), 2).with_parts_of(1);
    let verdict = replayer
        .push_chunk(&records)
        .and_then(|()| replayer.finish());
    assert_eq!(verdict.unwrap_err().seq, bad as u64);
    assert_eq!(replayer.replayer().entries(), bad as u64);
    replayer.push_chunk(&records).unwrap();
    replayer.finish().unwrap();
    assert_eq!(replayer.replayer().entries(), bad as u64);
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
