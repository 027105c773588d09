//! The auditor's fast path: the same checks as [`Replayer::push_record`],
//! with the signatures verified in batches on several threads.
//!
//! ```text
//!  push_records ─▶ parts of PART_RECORDS ─▶ worker 1 ─┐ decode, hash, batch-verify
//!  (the caller reads on                 └─▶ worker 2 ─┤ seals + party signatures,
//!   while workers verify)                             │ decode tx; in any order
//!                                                     ▼
//!  caller's thread, part by part in order ◀── prepared parts
//!     links, seal verdict, signature verdict, rules::apply, merge
//! ```
//! The workers outlive a chunk: they go on with the parts queued while the
//! caller applies earlier ones or reads the next chunk, and the caller
//! waits only when more than a few parts are ahead of the replay.
//! A batch that fails is verified again signature by signature, so the
//! first bad entry, and the first bad signer in it, is named exactly as the
//! one-by-one replay names it.
//!
//! **What a batch accepts.** The batch ([`equation`]) checks the
//! cofactorless equation for a random linear combination of the
//! signatures, with the terms of each key merged. Before an item goes into a batch, the checks that strict
//! single verification adds are made on its own: a key of small order or
//! with a torsion component, and an `R` of small order or in a
//! non-canonical encoding, send the item to single verification. What
//! remains different is a signature whose `R` has a torsion component
//! (a large-order point plus a small-order one) for which the signing
//! equation holds only up to that small-order point: strict verification
//! refuses it, a batch may accept it. Only the holder of the key can make
//! such a signature (it is a valid signature plus a small-order point) and
//! an honest node never admits one, as it verifies each envelope strictly
//! before sequencing. [`Replayer::push_record`] remains the reference.

mod equation;
mod pool;

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use super::{EntryFault, ReplayError, Replayer, apply_verified};
use crate::chain::ChainError;
use crate::crypto::{self, Digest, PublicKey};
use crate::entry::Entry;
use crate::envelope::{Envelope, EnvelopeError, VerifiedEnvelope};
use crate::error::{DecodeError, SignatureError};
use pool::{Pool, Work};

/// Records a worker prepares in one batch, unless set otherwise
/// ([`BatchReplayer::with_parts_of`]): large enough that a batch's
/// multiplication is cheap per signature, small enough that the workers
/// share a chunk evenly.
pub const PART_RECORDS: usize = 2048;

/// A [`Replayer`] that verifies signatures in batches on `threads` worker
/// threads and applies the rules on the caller's thread, in order, as the
/// parts come back.
#[derive(Debug)]
pub struct BatchReplayer {
    replayer: Replayer,
    /// `None` once an entry is bad.
    pool: Option<Pool<Part, Vec<Prepared>>>,
    part_records: usize,
    /// Parts prepared or being prepared beyond which the caller waits
    /// (bounds the memory the records ahead of the replay take).
    max_outstanding: u64,
}

/// Records for one worker, with the seal key to batch their seals under.
struct Part {
    records: Vec<Vec<u8>>,
    seal_key: Option<PublicKey>,
}

/// One record, checked as far as it can be without the state (`Err`: it
/// does not decode).
type Prepared = Result<Checked, DecodeError>;

/// A decoded record and what its signatures say.
#[derive(Debug)]
struct Checked {
    /// The entry; its envelope is in `envelope` when that is `Ok`.
    entry: Entry,
    hash: Digest,
    seal_ok: bool,
    /// The key `seal_ok` refers to (`None`: seals unchecked).
    seal_key: Option<PublicKey>,
    envelope: Result<VerifiedEnvelope, EnvelopeError>,
}

impl BatchReplayer {
    /// A replayer checking seals against `node_key` (none when `None`),
    /// verifying on `threads` threads (at least one).
    pub fn new(node_key: Option<PublicKey>, threads: usize) -> BatchReplayer {
        let threads = threads.max(1);
        BatchReplayer {
            replayer: Replayer::new(node_key),
            pool: Some(Pool::new(threads, preparer)),
            part_records: PART_RECORDS,
            max_outstanding: 2 * threads as u64 + 2,
        }
    }

    /// The same replayer, giving each worker `records` records at a time
    /// (at least one) instead of [`PART_RECORDS`].
    pub fn with_parts_of(mut self, records: usize) -> BatchReplayer {
        self.part_records = records.max(1);
        self
    }

    /// [`BatchReplayer::push_records`] for borrowed records (copies them).
    pub fn push_chunk(&mut self, records: &[Vec<u8>]) -> Result<(), ReplayError> {
        self.push_records(records.to_vec())
    }

    /// Hands the next `records` to the workers and applies, in order, the
    /// records before them that are verified, waiting only when too many
    /// are still ahead of the replay. Returns the first bad entry applied,
    /// if any; after an `Err` the replayer stays at the last good entry and
    /// later calls do nothing.
    pub fn push_records(&mut self, mut records: Vec<Vec<u8>>) -> Result<(), ReplayError> {
        let Some(pool) = &mut self.pool else {
            return Ok(());
        };
        // The seals are batch-verified under the key most likely to have
        // sealed them (the allowed one that sealed the last entry applied);
        // one that does not verify is checked against every allowed key, in
        // order, when it is applied.
        let seal_key = self.replayer.sealers().map(|s| s.likely());
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(self.part_records));
            pool.submit(Part { records, seal_key });
            records = rest;
        }
        let applied = apply_ready(&mut self.replayer, pool, self.max_outstanding);
        self.fail_on(applied)
    }

    /// Applies every record pushed so far, waiting for its verification.
    /// Call after the last chunk; more chunks may follow it.
    pub fn finish(&mut self) -> Result<(), ReplayError> {
        let Some(pool) = &mut self.pool else {
            return Ok(());
        };
        let applied = apply_ready(&mut self.replayer, pool, 0);
        self.fail_on(applied)
    }

    fn fail_on(&mut self, result: Result<(), ReplayError>) -> Result<(), ReplayError> {
        if result.is_err() {
            self.pool = None;
        }
        result
    }

    /// The replay so far: entries applied, head hash, state.
    pub fn replayer(&self) -> &Replayer {
        &self.replayer
    }

    /// The replay, once finished.
    pub fn into_replayer(self) -> Replayer {
        self.replayer
    }
}

/// A worker's job: prepare a part, keys decompressed once per worker.
fn preparer() -> Work<Part, Vec<Prepared>> {
    let mut keys = KeyCache::new();
    Box::new(move |part: Part| prepare(&part.records, part.seal_key.as_ref(), &mut keys))
}

/// Applies the prepared parts that are ready, in order, then waits for
/// and applies parts until at most `max_outstanding` are left.
fn apply_ready(
    replayer: &mut Replayer,
    pool: &mut Pool<Part, Vec<Prepared>>,
    max_outstanding: u64,
) -> Result<(), ReplayError> {
    while let Some(part) = pool.ready() {
        apply_all(replayer, part)?;
    }
    while pool.outstanding() > max_outstanding {
        let Some(part) = pool.next() else { break };
        apply_all(replayer, part)?;
    }
    Ok(())
}

/// Applies prepared records in order, as [`Replayer::push`] would.
fn apply_all(replayer: &mut Replayer, prepared: Vec<Prepared>) -> Result<(), ReplayError> {
    for item in prepared {
        apply_one(replayer, item)?;
    }
    Ok(())
}

fn apply_one(replayer: &mut Replayer, item: Prepared) -> Result<(), ReplayError> {
    let seq = replayer.cursor.next_seq;
    let fail = |fault: EntryFault| ReplayError { seq, fault };
    let Checked {
        mut entry,
        hash,
        seal_ok,
        seal_key,
        envelope,
    } = item.map_err(|source| fail(ChainError::Malformed { seq, source }.into()))?;
    replayer
        .cursor
        .check_links(&entry)
        .map_err(|e| fail(e.into()))?;
    if let Some(sealers) = &mut replayer.sealers {
        match seal_key {
            // Verified in the batch under a key still allowed here (a
            // membership entry earlier in the chunk may have changed them).
            Some(key) if seal_ok && sealers.allows(&key) => sealers.sealed_by(key),
            _ => {
                sealers.check(&entry, &hash).map_err(|e| fail(e.into()))?;
            }
        }
    }
    let verified = envelope.map_err(|e| fail(e.into()))?;
    let changes = apply_verified(&replayer.state, &entry, &verified).map_err(fail)?;
    replayer.state.merge(changes);
    // Whole again: following the sealers reads a membership's keys from it.
    entry.envelope = verified.envelope;
    replayer.advance(&entry, hash);
    Ok(())
}

/// Keys decompressed, and whether signatures under them may be batched.
type KeyCache = HashMap<PublicKey, Option<VerifyingKey>>;

/// One signature to check, borrowed from its entry: which entry, which
/// (seal or party index).
struct Item<'a> {
    entry: usize,
    party: Option<usize>,
    message: Message<'a>,
    signature: &'a [u8; 64],
    key: PublicKey,
}

/// What a signature signs: a seal the entry hash, a party the transaction
/// bytes (each behind its tag, [`crypto::SEAL_TAG`],
/// [`crypto::TX_SIGNATURE_TAG`]).
#[derive(Clone, Copy)]
enum Message<'a> {
    Seal(&'a Digest),
    Transaction(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The signed bytes, in two pieces: the tag and what it tags.
    fn pieces(self) -> [&'a [u8]; 2] {
        match self {
            Message::Seal(hash) => [crypto::SEAL_TAG, &hash.0],
            Message::Transaction(tx_bytes) => [crypto::TX_SIGNATURE_TAG, tx_bytes],
        }
    }
}

/// Decodes and hashes `records`, verifies every seal and party signature
/// (in one batch, or one by one where needed), decodes the transactions.
fn prepare(
    records: &[Vec<u8>],
    node_key: Option<&PublicKey>,
    keys: &mut KeyCache,
) -> Vec<Prepared> {
    let decoded = decode_all(records);
    let verdicts = SignatureVerdicts::of(&decoded, node_key, keys);
    decoded
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            entry.map(|(mut entry, hash)| Checked {
                envelope: envelope_verdict(&mut entry, verdicts.first_bad_party[i]),
                entry,
                hash,
                seal_ok: verdicts.seal_ok[i],
                seal_key: node_key.copied(),
            })
        })
        .collect()
}

/// What the signatures of a part's entries say, entry by entry.
struct SignatureVerdicts {
    /// Whether the seal verifies (`true` when seals are unchecked).
    seal_ok: Vec<bool>,
    /// The first party whose signature does not verify.
    first_bad_party: Vec<Option<usize>>,
}

impl SignatureVerdicts {
    fn of(
        decoded: &[Result<(Entry, Digest), DecodeError>],
        node_key: Option<&PublicKey>,
        keys: &mut KeyCache,
    ) -> SignatureVerdicts {
        let items = signature_items(decoded, node_key);
        let valid = verify_items(&items, keys);
        let mut verdicts = SignatureVerdicts {
            seal_ok: vec![node_key.is_none(); decoded.len()],
            first_bad_party: vec![None; decoded.len()],
        };
        for (item, ok) in items.iter().zip(valid) {
            match item.party {
                None => verdicts.seal_ok[item.entry] = ok,
                Some(party) if !ok => {
                    let slot = &mut verdicts.first_bad_party[item.entry];
                    *slot = Some(slot.map_or(party, |p| p.min(party)));
                }
                Some(_) => {}
            }
        }
        verdicts
    }
}

fn decode_all(records: &[Vec<u8>]) -> Vec<Result<(Entry, Digest), DecodeError>> {
    records
        .iter()
        .map(|record| {
            Entry::decode(record).map(|entry| {
                let hash = entry.hash();
                (entry, hash)
            })
        })
        .collect()
}

/// What [`check_signatures_only`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignaturesChecked {
    /// Seals and party signatures checked.
    pub signatures: usize,
    /// Records that did not decode (their signatures are not counted).
    pub undecodable: usize,
    /// Whether every one of them holds.
    pub all_hold: bool,
}

/// The part of a batch replay that needs no state: decodes and hashes
/// `records` and checks every seal (against `node_key`, if given) and
/// party signature exactly as [`BatchReplayer::push_records`] does, then
/// stops; no links, no rules. It is what an audit of these records cannot
/// do without: `pledge-bench replay --signatures-only` times it.
pub fn check_signatures_only(
    records: &[Vec<u8>],
    node_key: Option<&PublicKey>,
) -> SignaturesChecked {
    let decoded = decode_all(records);
    let items = signature_items(&decoded, node_key);
    SignaturesChecked {
        signatures: items.len(),
        undecodable: decoded.iter().filter(|d| d.is_err()).count(),
        all_hold: verify_items(&items, &mut KeyCache::new())
            .into_iter()
            .all(|ok| ok),
    }
}

/// What `Envelope::verify` says, given which signature (if any) fails
/// first. A good envelope is moved out of `entry` into the verdict.
fn envelope_verdict(
    entry: &mut Entry,
    first_bad: Option<usize>,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    let envelope = &entry.envelope;
    if envelope.signatures.is_empty() {
        return Err(SignatureError::Unsigned.into());
    }
    if let Some(bad) = first_bad {
        return Err(SignatureError::Invalid {
            signer: envelope.signatures[bad].signer.clone(),
        }
        .into());
    }
    let moved = Envelope {
        tx_bytes: Vec::new(),
        signatures: Vec::new(),
    };
    std::mem::replace(&mut entry.envelope, moved).into_verified_unchecked()
}

fn signature_items<'a>(
    decoded: &'a [Result<(Entry, Digest), DecodeError>],
    node_key: Option<&PublicKey>,
) -> Vec<Item<'a>> {
    let mut items = Vec::with_capacity(decoded.len() * 3);
    for (i, (entry, hash)) in decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.as_ref().ok().map(|d| (i, d)))
    {
        if let Some(key) = node_key {
            items.push(Item {
                entry: i,
                party: None,
                message: Message::Seal(hash),
                signature: &entry.seal,
                key: *key,
            });
        }
        let signed = Message::Transaction(&entry.envelope.tx_bytes);
        for (p, sig) in entry.envelope.signatures.iter().enumerate() {
            items.push(Item {
                entry: i,
                party: Some(p),
                message: signed,
                signature: &sig.signature,
                key: sig.public_key,
            });
        }
    }
    items
}

/// Whether each item verifies, exactly as the single verification would
/// say (see the module documentation for the one difference).
fn verify_items(items: &[Item<'_>], keys: &mut KeyCache) -> Vec<bool> {
    let mut batch = Vec::with_capacity(items.len());
    let mut single = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let key = *keys
            .entry(item.key)
            .or_insert_with(|| batchable_key(&item.key));
        match key {
            Some(key) if batchable_r(item.signature) => batch.push((index, key)),
            _ => single.push(index),
        }
    }
    let mut valid = vec![true; items.len()];
    let terms: Vec<equation::Term<'_>> = batch
        .iter()
        .map(|(i, key)| equation::Term {
            message: items[*i].message.pieces(),
            signature: items[*i].signature,
            key: &items[*i].key.0,
            key_point: key.to_edwards(),
        })
        .collect();
    if !equation::holds(&terms) {
        single.extend(batch.iter().map(|(i, _)| *i));
    }
    for index in single {
        valid[index] = verify_single(&items[index]);
    }
    valid
}

fn verify_single(item: &Item<'_>) -> bool {
    match item.message {
        Message::Seal(hash) => crypto::verify_seal(&item.key, hash, item.signature),
        Message::Transaction(tx_bytes) => {
            crypto::verify_transaction_signature(&item.key, tx_bytes, item.signature)
        }
    }
}

/// The key, if signatures under it may go into a batch: a valid point,
/// neither of small order nor with a torsion component.
fn batchable_key(key: &PublicKey) -> Option<VerifyingKey> {
    let verifying = key.verifying_key()?;
    let point = verifying.to_edwards();
    (!verifying.is_weak() && point.is_torsion_free()).then_some(verifying)
}

/// Whether a signature's `R` may go into a batch: canonically encoded and
/// not one of the eight points of small order.
fn batchable_r(signature: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    canonical_encoding(&r) && !SMALL_ORDER_ENCODINGS.contains(&r)
}

/// Whether 32 bytes are the canonical encoding of a field element y < p and
/// a sign bit that is not set for x = 0 (y = ±1).
fn canonical_encoding(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    let sign = bytes[31] & 0x80 != 0;
    let middle_all = |b: u8| bytes[1..31].iter().all(|x| *x == b);
    let y_at_least_p = top == 0x7f && middle_all(0xff) && bytes[0] >= 0xed;
    let y_is_one = top == 0 && middle_all(0) && bytes[0] == 1;
    let y_is_minus_one = top == 0x7f && middle_all(0xff) && bytes[0] == 0xec;
    !y_at_least_p && !(sign && (y_is_one || y_is_minus_one))
}

/// The canonical encodings of the eight points of small order (the
/// identity, the point of order 2, two of order 4, four of order 8).
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 8] = {
    const fn with_last(mut bytes: [u8; 32], last: u8) -> [u8; 32] {
        bytes[31] = last;
        bytes
    }
    const ORDER_8_A: [u8; 32] = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    const ORDER_8_B: [u8; 32] = [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ];
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    [
        identity,
        minus_one,
        [0u8; 32],
        with_last([0u8; 32], 0x80),
        ORDER_8_A,
        with_last(ORDER_8_A, 0xfa),
        ORDER_8_B,
        with_last(ORDER_8_B, 0x85),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_order_list_is_the_eight_small_order_points() {
        let mut points = Vec::new();
        for bytes in SMALL_ORDER_ENCODINGS {
            let key = VerifyingKey::from_bytes(&bytes).expect("decodes");
            assert!(key.is_weak(), "{}", hex::encode(bytes));
            assert_eq!(key.to_edwards().compress().0, bytes, "canonical");
            points.push(key.to_edwards());
        }
        for (i, a) in points.iter().enumerate() {
            for b in &points[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn non_canonical_encodings_are_recognised() {
        let mut p_plus_one = [0xffu8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        assert!(!canonical_encoding(&p_plus_one));
        let mut negative_identity = [0u8; 32];
        negative_identity[0] = 1;
        negative_identity[31] = 0x80;
        assert!(!canonical_encoding(&negative_identity));
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let r: [u8; 32] = crypto::sign_transaction(&key, b"x")[..32]
            .try_into()
            .unwrap();
        assert!(canonical_encoding(&r));
        assert!(batchable_r(&crypto::sign_transaction(&key, b"x")));
    }
}
