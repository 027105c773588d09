//! A receipt's history in the disk store: the entries that changed it,
//! oldest first, kept in two places.
//!
//! ```text
//!  r/ id                      StoredReceipt { receipt, recent }   the receipt and its
//!                                                                 changes since its last chunk
//!  h/ id \0 chunk:u64 BE      [Seq; HISTORY_CHUNK]                 changes chunk·16 .. chunk·16 + 15,
//!                                                                 written once, never changed
//! ```
//!
//! A change is added to `recent`, which the store rewrites anyway (the
//! change rewrites the receipt). When `recent` reaches [`HISTORY_CHUNK`]
//! changes, they are written as the receipt's next `h/` chunk and `recent`
//! starts again. So a receipt with fewer than 16 changes, as most are,
//! costs no key besides its own, and a change costs the same bounded work
//! however long the history: no key per change (which is what made sled's
//! file large: its cost is per key far more than per byte), and no list
//! that grows without end in one value.
//!
//! The receipt's `history_len` (committed in its state map leaf) says how
//! many changes there are: `history_len = 16 · chunks + recent.len()`,
//! and its `updated_at` is the last of them. A reader takes exactly the
//! chunks that formula gives for the `r/` value it read ([`chunks_of`]): a
//! chunk past them is a later apply's, which a view reading sled's live
//! tree may meet. Reading checks that every one of them is there, numbered
//! from 0 without a gap and 16 long, and that the last change is
//! `updated_at`, so a store that lost a key is named
//! ([`StoreError::BrokenHistory`]), never read as a shorter history. This
//! module holds that layout and its checks; the store does the reading and
//! writing.

use serde::{Deserialize, Serialize};

use crate::model::{Receipt, Seq};
use crate::store::StoreError;

/// How many changes an `h/` chunk holds; fewer wait in the receipt's
/// `recent`.
pub(super) const HISTORY_CHUNK: usize = 16;

/// The prefix of the `h/` chunk keys.
const CHUNK_PREFIX: &[u8] = b"h/";

/// A receipt as its `r/` value holds it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(super) struct StoredReceipt {
    pub(super) receipt: Receipt,
    /// Its changes since its last `h/` chunk, oldest first.
    pub(super) recent: Vec<Seq>,
}

/// A [`StoredReceipt`] to encode, borrowed: the same bytes.
#[derive(Debug, Serialize)]
pub(super) struct StoredReceiptRef<'a> {
    pub(super) receipt: &'a Receipt,
    pub(super) recent: &'a [Seq],
}

/// What a write of one receipt stores: the changes left in its `recent`,
/// and the chunks it completes (their numbers and changes).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct HistoryWrite {
    pub(super) recent: Vec<Seq>,
    pub(super) chunks: Vec<(u64, Vec<Seq>)>,
}

/// Adds `new` changes to `stored` (none for a new receipt); `receipt` is
/// the receipt after them. Refuses a `history_len` other than the stored
/// one plus the new changes, and a stored receipt whose own `history_len`
/// is not its chunks and `recent`.
pub(super) fn extend(
    receipt: &Receipt,
    stored: Option<&StoredReceipt>,
    new: &[Seq],
) -> Result<HistoryWrite, StoreError> {
    let (stored_len, stored_recent, mut next_chunk) = match stored {
        Some(stored) => (
            stored.receipt.history_len,
            stored.recent.as_slice(),
            chunks_of(stored)?,
        ),
        None => (0, &[][..], 0),
    };
    if stored_len.checked_add(new.len() as u64) != Some(receipt.history_len) {
        return Err(broken(
            receipt,
            "not what its stored changes and the new ones add up to",
        ));
    }
    let mut recent = [stored_recent, new].concat();
    let mut chunks = Vec::new();
    while recent.len() >= HISTORY_CHUNK {
        let rest = recent.split_off(HISTORY_CHUNK);
        chunks.push((next_chunk, std::mem::replace(&mut recent, rest)));
        next_chunk += 1;
    }
    Ok(HistoryWrite { recent, chunks })
}

/// How many `h/` chunks `stored`'s history has: its `history_len` less its
/// `recent`, in chunks. A reader takes exactly chunks `0..n` (a chunk
/// past them may be a later apply's, written after this `r/` value was
/// read), so a history is read as of the receipt it belongs to.
pub(super) fn chunks_of(stored: &StoredReceipt) -> Result<u64, StoreError> {
    let receipt = &stored.receipt;
    let in_chunks = receipt
        .history_len
        .checked_sub(stored.recent.len() as u64)
        .ok_or_else(|| broken(receipt, "longer than its history_len"))?;
    match in_chunks % HISTORY_CHUNK as u64 {
        0 => Ok(in_chunks / HISTORY_CHUNK as u64),
        _ => Err(broken(receipt, "not whole chunks and its recent changes")),
    }
}

/// The whole history of `stored` from its chunks `0..chunks_of(stored)` as
/// read (in key order, with their numbers) and its `recent`, checked: every
/// chunk there, numbered from 0 without a gap, 16 changes each, the last
/// change the receipt's `updated_at`.
pub(super) fn assemble(
    stored: &StoredReceipt,
    chunks: Vec<(u64, Vec<Seq>)>,
) -> Result<Vec<Seq>, StoreError> {
    let expected = chunks_of(stored)?;
    let receipt = &stored.receipt;
    match (chunks.len() as u64).cmp(&expected) {
        std::cmp::Ordering::Greater => return Err(broken(receipt, "longer than its history_len")),
        std::cmp::Ordering::Less => return Err(broken(receipt, "missing a chunk of changes")),
        std::cmp::Ordering::Equal => {}
    }
    let mut history = Vec::with_capacity(chunks.len() * HISTORY_CHUNK + stored.recent.len());
    for (expected, (number, changes)) in (0u64..).zip(chunks) {
        if number != expected {
            return Err(broken(receipt, "missing a chunk of changes"));
        }
        if changes.len() != HISTORY_CHUNK {
            return Err(broken(receipt, "holding a chunk of the wrong length"));
        }
        history.extend(changes);
    }
    history.extend_from_slice(&stored.recent);
    match history.last() {
        Some(last) if *last != receipt.updated_at => {
            Err(broken(receipt, "not ending at its updated_at"))
        }
        _ => Ok(history),
    }
}

/// The key of a receipt's chunk `number`: the prefix, the id, `\0` (ids
/// hold none), the number big-endian (so a receipt's chunks sort in order).
pub(super) fn chunk_key(receipt_id: &str, number: u64) -> Vec<u8> {
    [
        CHUNK_PREFIX,
        receipt_id.as_bytes(),
        b"\0",
        &number.to_be_bytes(),
    ]
    .concat()
}

/// The receipt id and chunk number of a chunk key.
pub(super) fn parse_chunk_key(key: &[u8]) -> Result<(String, u64), StoreError> {
    let bad = || StoreError::Codec {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: "not a history chunk key".into(),
    };
    let rest = key.strip_prefix(CHUNK_PREFIX).ok_or_else(bad)?;
    let split = rest.len().checked_sub(9).ok_or_else(bad)?;
    let (id, tail) = rest.split_at(split);
    let (separator, number) = tail.split_first().ok_or_else(bad)?;
    let number: [u8; 8] = number.try_into().map_err(|_| bad())?;
    match (*separator, id.is_empty()) {
        (0, false) => Ok((
            String::from_utf8_lossy(id).into_owned(),
            u64::from_be_bytes(number),
        )),
        _ => Err(bad()),
    }
}

fn broken(receipt: &Receipt, problem: &'static str) -> StoreError {
    StoreError::BrokenHistory {
        receipt: receipt.id().to_owned(),
        problem,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::CertificateRef;

    /// A receipt with one change, entry 1.
    pub(in crate::store::state) fn sample_receipt(id: &str) -> Receipt {
        Receipt {
            terms: crate::model::ReceiptTerms {
                receipt_id: id.into(),
                tank_id: "T-1".into(),
                certificate: CertificateRef {
                    inspector: "inspector-a".into(),
                    number: "C-1".into(),
                },
                product_grade: "crude".into(),
                specification: String::new(),
                quantity_kg: 1_000,
                customs_status: crate::model::CustomsStatus::Bonded,
                customs_reference: String::new(),
                expires_at_ms: 0,
                loss_allowance_ppm: 0,
                insurance_reference: String::new(),
            },
            warehouse_id: "warehouse-a".into(),
            holder_id: "trader-a".into(),
            status: crate::model::ReceiptStatus::Active,
            frozen: None,
            parent_id: None,
            issued_at_ms: 0,
            issued_at: 1,
            updated_at: 1,
            history_len: 1,
        }
    }

    fn receipt_with(history: &[Seq]) -> Receipt {
        let mut receipt = sample_receipt("R-1");
        receipt.history_len = history.len() as u64;
        receipt.updated_at = history.last().copied().unwrap_or(0);
        receipt
    }

    /// Writes `changes` one update at a time (each a slice of them), as the
    /// store would, and returns what ends up stored.
    fn write_in_updates(changes: &[Seq], update_sizes: &[usize]) -> StoredAndChunks {
        let (mut stored, mut chunks, mut done) = (None::<StoredReceipt>, Vec::new(), 0);
        for size in update_sizes {
            let new = &changes[done..done + size];
            done += size;
            let receipt = receipt_with(&changes[..done]);
            let write = extend(&receipt, stored.as_ref(), new).expect("extend");
            chunks.extend(write.chunks);
            stored = Some(StoredReceipt {
                receipt,
                recent: write.recent,
            });
        }
        (stored.expect("at least one update"), chunks)
    }

    type StoredAndChunks = (StoredReceipt, Vec<(u64, Vec<Seq>)>);

    #[test]
    fn a_history_reads_back_whatever_the_updates_that_wrote_it() {
        let changes: Vec<Seq> = (1..=50).map(|n| n * 3).collect();
        for sizes in [
            vec![1; 50],
            vec![50],
            vec![15, 1, 1, 33],
            vec![16, 16, 16, 2],
            vec![40, 10],
        ] {
            let (stored, chunks) = write_in_updates(&changes, &sizes);
            assert_eq!(stored.recent.len(), 50 % HISTORY_CHUNK, "{sizes:?}");
            let numbers: Vec<u64> = chunks.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, vec![0, 1, 2], "{sizes:?}");
            assert_eq!(
                assemble(&stored, chunks).expect("assemble"),
                changes,
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn a_short_history_stays_in_the_receipt() {
        let (stored, chunks) = write_in_updates(&[4, 9, 11], &[1, 2]);
        assert!(chunks.is_empty());
        assert_eq!(stored.recent, vec![4, 9, 11]);
    }

    #[test]
    fn a_history_len_that_does_not_add_up_is_refused() {
        let (stored, _) = write_in_updates(&[1], &[1]);
        // Off by one, and off by a whole chunk (which would shift the
        // chunks' numbers if only whole chunks were checked).
        for wrong in [5, 3 + HISTORY_CHUNK as u64] {
            let mut receipt = receipt_with(&[1, 2, 3]);
            receipt.history_len = wrong;
            let error = extend(&receipt, Some(&stored), &[2, 3]).expect_err("refused");
            assert!(
                matches!(&error, StoreError::BrokenHistory { receipt, problem }
                    if receipt == "R-1" && problem.contains("add up")),
                "{wrong}: {error}"
            );
        }
        let new_receipt = receipt_with(&[1, 2]);
        assert!(
            extend(&new_receipt, None, &[2]).is_err(),
            "a new receipt's history_len is its changes"
        );
    }

    fn problem_of(result: Result<Vec<Seq>, StoreError>) -> &'static str {
        match result {
            Err(StoreError::BrokenHistory { problem, .. }) => problem,
            other => panic!("expected a broken history, got {other:?}"),
        }
    }

    #[test]
    fn a_lost_gained_or_torn_chunk_is_named() {
        let changes: Vec<Seq> = (1..=40).collect();
        let (stored, chunks) = write_in_updates(&changes, &[40]);
        let mut lost_first = chunks.clone();
        lost_first.remove(0);
        assert!(problem_of(assemble(&stored, lost_first)).contains("missing a chunk"));
        let mut lost_last = chunks.clone();
        lost_last.pop();
        assert!(problem_of(assemble(&stored, lost_last)).contains("missing a chunk"));
        let mut gained = chunks.clone();
        gained.push((2, (100..116).collect()));
        assert!(problem_of(assemble(&stored, gained)).contains("longer"));
        let mut torn = chunks;
        torn[1].1.pop();
        assert!(problem_of(assemble(&stored, torn)).contains("wrong length"));
    }

    #[test]
    fn a_recent_list_that_does_not_fit_history_len_is_named() {
        let (mut stored, chunks) = write_in_updates(&(1..=20).collect::<Vec<_>>(), &[20]);
        stored.receipt.history_len = 3;
        assert!(problem_of(assemble(&stored, chunks.clone())).contains("longer"));
        stored.receipt.history_len = 21;
        assert!(problem_of(assemble(&stored, chunks)).contains("not whole chunks"));
    }

    #[test]
    fn a_history_not_ending_at_updated_at_is_named() {
        let (mut stored, chunks) = write_in_updates(&[1, 2, 3], &[3]);
        stored.receipt.updated_at = 7;
        assert!(problem_of(assemble(&stored, chunks)).contains("updated_at"));
    }

    #[test]
    fn the_borrowed_form_encodes_as_the_stored_one() {
        let receipt = receipt_with(&[5, 8]);
        let bytes = postcard::to_stdvec(&StoredReceiptRef {
            receipt: &receipt,
            recent: &[5, 8],
        })
        .expect("encode");
        let stored: StoredReceipt = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(stored.receipt, receipt);
        assert_eq!(stored.recent, vec![5, 8]);
    }

    #[test]
    fn chunk_keys_parse_back_and_others_are_refused() {
        let key = chunk_key("R-1", 7);
        assert_eq!(key, b"h/R-1\0\0\0\0\0\0\0\0\x07");
        assert_eq!(parse_chunk_key(&key).expect("parse"), ("R-1".into(), 7));
        for bad in [
            b"h/".to_vec(),
            b"h/R-1".to_vec(),
            [b"h/".as_slice(), &[0; 9]].concat(),
        ] {
            assert!(parse_chunk_key(&bad).is_err(), "{bad:?}");
        }
        let mut no_separator = key.clone();
        let at = no_separator.len() - 9;
        no_separator[at] = b'x';
        assert!(parse_chunk_key(&no_separator).is_err());
    }
}
