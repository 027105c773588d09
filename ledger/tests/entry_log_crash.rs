//! Crash-recovery tests of the entry log: torn final groups at every byte
//! offset, junk after the last group, and damage in acknowledged groups.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use pledge_ledger::store::log::{EntryLog, INDEX_FILE, LOG_FILE, LogError};
use proptest::prelude::*;

/// Content of record `i`: varied lengths (some empty), position-dependent bytes.
fn rec(i: u64) -> Vec<u8> {
    let len = (i * 13 % 29) as usize;
    (0..len).map(|j| (i as usize * 7 + j * 3) as u8).collect()
}

/// A log in a temp dir, and what it holds.
struct Built {
    dir: tempfile::TempDir,
    /// Byte offset where each group starts, plus the final length at the end.
    group_starts: Vec<u64>,
    /// Record count before each group, plus the total at the end.
    record_starts: Vec<u64>,
}

fn build(sizes: &[usize]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    let mut group_starts = vec![];
    let mut record_starts = vec![];
    for &n in sizes {
        group_starts.push(log.byte_len());
        record_starts.push(log.len());
        let owned: Vec<Vec<u8>> = (log.len()..log.len() + n as u64).map(rec).collect();
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        log.append_group(&refs).unwrap();
    }
    group_starts.push(log.byte_len());
    record_starts.push(log.len());
    Built {
        dir,
        group_starts,
        record_starts,
    }
}

/// Copies the log and index files (not the lock) into a fresh temp dir.
fn copy_of(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for f in [LOG_FILE, INDEX_FILE] {
        fs::copy(src.join(f), dst.path().join(f)).unwrap();
    }
    dst
}

fn set_log_len(dir: &Path, len: u64) {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    f.set_len(len).unwrap();
}

fn edit_log(dir: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let path = dir.join(LOG_FILE);
    let mut bytes = fs::read(&path).unwrap();
    edit(&mut bytes);
    fs::write(&path, &bytes).unwrap();
    bytes
}

/// Asserts the log holds exactly records `0..n`, via `read` and `iter_from`.
fn assert_holds(log: &EntryLog, n: u64) {
    assert_eq!(log.len(), n);
    for i in 0..n {
        assert_eq!(log.read(i).unwrap(), rec(i), "read({i})");
    }
    let all: Vec<(u64, Vec<u8>)> = log.iter_from(0).map(Result::unwrap).collect();
    let want: Vec<(u64, Vec<u8>)> = (0..n).map(|i| (i, rec(i))).collect();
    assert_eq!(all, want);
}

/// After recovery, appending works and a further reopen is clean.
fn assert_appendable(dir: &Path, n: u64) {
    {
        let (mut log, _) = EntryLog::open(dir).unwrap();
        assert_holds(&log, n);
        let (a, b) = (rec(n), rec(n + 1));
        log.append_group(&[&a, &b]).unwrap();
        assert_holds(&log, n + 2);
    }
    let (log, r) = EntryLog::open(dir).unwrap();
    assert_eq!(r.records, n + 2);
    assert_eq!(r.dropped_tail_bytes, 0);
    assert_eq!(r.dropped_tail_reason, None);
    assert_eq!(r.index_rebuilt_from, None);
    assert_holds(&log, n + 2);
}

const SIZES: [usize; 5] = [2, 1, 4, 3, 5];

#[test]
fn every_cut_inside_the_last_group_drops_exactly_that_group() {
    let b = build(&SIZES);
    let last = SIZES.len() - 1;
    let (start, end) = (b.group_starts[last], b.group_starts[last + 1]);
    let kept = b.record_starts[last];
    assert!(
        end - start > 44 + 5 * 4,
        "last group is {} bytes",
        end - start
    );
    for cut in start..end {
        let d = copy_of(b.dir.path());
        set_log_len(d.path(), cut);
        {
            let (log, r) = EntryLog::open(d.path()).unwrap();
            assert_eq!(r.records, kept, "cut at {cut}");
            assert_eq!(r.groups, last as u64);
            assert_eq!(r.dropped_tail_bytes, cut - start, "cut at {cut}");
            assert_eq!(r.dropped_tail_reason.is_some(), cut > start);
            assert_eq!(r.log_bytes, start);
            assert_eq!(fs::metadata(d.path().join(LOG_FILE)).unwrap().len(), start);
            // The index copied from the full log was longer; it was trimmed.
            assert_eq!(r.index_rebuilt_from, Some(kept));
            assert_holds(&log, kept);
        }
        assert_appendable(d.path(), kept);
    }
    // And without a cut, everything is there.
    let d = copy_of(b.dir.path());
    let (log, r) = EntryLog::open(d.path()).unwrap();
    assert_eq!(r.dropped_tail_bytes, 0);
    assert_holds(&log, b.record_starts[SIZES.len()]);
}

#[test]
fn every_cut_anywhere_keeps_exactly_the_complete_groups() {
    let b = build(&SIZES);
    let total = *b.group_starts.last().unwrap();
    for cut in 0..=total {
        let d = copy_of(b.dir.path());
        set_log_len(d.path(), cut);
        // Also lose the index now and then: it must not matter.
        if cut % 3 == 0 {
            fs::remove_file(d.path().join(INDEX_FILE)).unwrap();
        }
        let complete = b.group_starts.iter().rposition(|&s| s <= cut).unwrap();
        let (log, r) = EntryLog::open(d.path()).unwrap();
        assert_eq!(r.records, b.record_starts[complete], "cut at {cut}");
        assert_eq!(r.dropped_tail_bytes, cut - b.group_starts[complete]);
        assert_holds(&log, b.record_starts[complete]);
    }
}

#[test]
fn junk_after_the_last_group_is_dropped() {
    let b = build(&SIZES);
    let n = b.record_starts[SIZES.len()];
    let end = b.group_starts[SIZES.len()];
    let full = fs::read(b.dir.path().join(LOG_FILE)).unwrap();
    let first_group = full[..b.group_starts[1] as usize].to_vec();
    let last_group = full[b.group_starts[SIZES.len() - 1] as usize..].to_vec();
    let mut pseudo = vec![];
    let mut x = 0x1234_5678u32;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pseudo.push(x as u8);
    }
    let mut magic_junk = b"PLGL".to_vec();
    magic_junk.extend_from_slice(&pseudo[..60]);
    let junks: Vec<(&str, Vec<u8>)> = vec![
        ("1 byte", vec![0x42]),
        ("3 bytes", pseudo[..3].to_vec()),
        ("39 bytes", pseudo[..39].to_vec()),
        ("40 bytes", pseudo[..40].to_vec()),
        ("44 bytes", pseudo[..44].to_vec()),
        ("5000 bytes", pseudo.clone()),
        ("magic then junk", magic_junk),
        ("copy of the first group", first_group),
        ("replay of the last group", last_group),
    ];
    for (what, junk) in junks {
        let d = copy_of(b.dir.path());
        edit_log(d.path(), |bytes| bytes.extend_from_slice(&junk));
        {
            let (log, r) = EntryLog::open(d.path()).unwrap();
            assert_eq!(r.records, n, "{what}");
            assert_eq!(r.dropped_tail_bytes, junk.len() as u64, "{what}");
            let reason = r.dropped_tail_reason.unwrap();
            assert!(
                reason.contains(&format!("offset {end}")),
                "{what}: {reason}"
            );
            assert_holds(&log, n);
        }
        assert_appendable(d.path(), n);
    }
}

/// Zeros after the last group are space written ahead (preallocated, or an
/// extent a crash left unwritten): not data, nothing to drop or report, and
/// the next group goes where the groups end.
#[test]
fn zeros_after_the_last_group_are_not_data() {
    let b = build(&SIZES);
    let n = b.record_starts[SIZES.len()];
    for zeros in [1, 44, 4096, 1 << 20] {
        let d = copy_of(b.dir.path());
        edit_log(d.path(), |bytes| bytes.resize(bytes.len() + zeros, 0));
        {
            let (log, r) = EntryLog::open(d.path()).unwrap();
            assert_eq!((r.records, r.dropped_tail_bytes), (n, 0), "{zeros} zeros");
            assert_eq!(r.dropped_tail_reason, None, "{zeros} zeros");
            assert_holds(&log, n);
        }
        assert_appendable(d.path(), n);
    }
}

#[test]
fn damage_in_an_acknowledged_group_is_a_corrupt_error() {
    let b = build(&SIZES);
    // Every non-last group, every byte, two kinds of flip.
    for g in 0..SIZES.len() - 1 {
        let (start, end) = (b.group_starts[g], b.group_starts[g + 1]);
        for at in start..end {
            for mask in [0x01u8, 0xFF] {
                let d = copy_of(b.dir.path());
                let damaged = edit_log(d.path(), |bytes| bytes[at as usize] ^= mask);
                match EntryLog::open(d.path()) {
                    Err(LogError::Corrupt {
                        record,
                        offset,
                        reason,
                        path,
                    }) => {
                        assert_eq!(record, b.record_starts[g], "byte {at}");
                        assert_eq!(offset, start, "byte {at}");
                        assert_eq!(path, d.path().join(LOG_FILE));
                        assert!(!reason.is_empty());
                    }
                    other => panic!("group {g}, byte {at}, mask {mask:#x}: got {other:?}"),
                }
                // Nothing was cut or rewritten.
                assert_eq!(fs::read(d.path().join(LOG_FILE)).unwrap(), damaged);
            }
        }
    }
}

#[test]
fn corrupt_error_message_names_record_and_offset() {
    let b = build(&SIZES);
    let d = copy_of(b.dir.path());
    let at = b.group_starts[2] + 50;
    edit_log(d.path(), |bytes| bytes[at as usize] ^= 0x20);
    let msg = EntryLog::open(d.path()).unwrap_err().to_string();
    assert!(
        msg.contains(&format!("record {}", b.record_starts[2])),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("offset {}", b.group_starts[2])),
        "{msg}"
    );
}

#[test]
fn damage_in_the_last_group_is_dropped_as_torn() {
    let b = build(&SIZES);
    let last = SIZES.len() - 1;
    let (start, end) = (b.group_starts[last], b.group_starts[last + 1]);
    let kept = b.record_starts[last];
    for at in start..end {
        let d = copy_of(b.dir.path());
        edit_log(d.path(), |bytes| bytes[at as usize] ^= 0x80);
        {
            let (log, r) = EntryLog::open(d.path()).unwrap();
            assert_eq!(r.records, kept, "byte {at}");
            assert_eq!(r.dropped_tail_bytes, end - start, "byte {at}");
            assert!(r.dropped_tail_reason.is_some());
            assert_holds(&log, kept);
        }
        if at % 7 == 0 {
            assert_appendable(d.path(), kept);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random groups (including empty ones, which are no-ops) of random
    /// records, with reopens in between, read back identically; and cutting
    /// the file anywhere keeps exactly the groups that end before the cut.
    #[test]
    fn random_groups_roundtrip_across_reopen(
        groups in prop::collection::vec(
            (prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..6), any::<bool>()),
            1..10,
        ),
        cut_frac in 0.0f64..=1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut want: Vec<Vec<u8>> = vec![];
        let mut ends = vec![(0u64, 0u64)]; // (byte end, records) after each non-empty group
        let mut log = Some(EntryLog::open(dir.path()).unwrap().0);
        for (records, reopen) in &groups {
            let l = log.as_mut().unwrap();
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            l.append_group(&refs).unwrap();
            want.extend(records.iter().cloned());
            if !records.is_empty() {
                ends.push((l.byte_len(), l.len()));
            }
            prop_assert_eq!(l.len(), want.len() as u64);
            if *reopen {
                drop(log.take());
                let (l, r) = EntryLog::open(dir.path()).unwrap();
                prop_assert_eq!(r.records, want.len() as u64);
                prop_assert_eq!(r.dropped_tail_bytes, 0);
                prop_assert_eq!(r.index_rebuilt_from, None);
                log = Some(l);
            }
        }
        drop(log);
        let (l, r) = EntryLog::open(dir.path()).unwrap();
        prop_assert_eq!(r.groups, ends.len() as u64 - 1);
        prop_assert_eq!(l.len(), want.len() as u64);
        for (i, w) in want.iter().enumerate() {
            prop_assert_eq!(&l.read(i as u64).unwrap(), w);
        }
        let got: Vec<Vec<u8>> = l.iter_from(0).map(|x| x.unwrap().1).collect();
        prop_assert_eq!(&got, &want);
        drop(l);

        // Simulated crash: cut the file at a random point.
        let total = ends.last().unwrap().0;
        let cut = ((total as f64) * cut_frac) as u64;
        set_log_len(dir.path(), cut);
        let &(end, n) = ends.iter().rev().find(|(e, _)| *e <= cut).unwrap();
        let (l, r) = EntryLog::open(dir.path()).unwrap();
        prop_assert_eq!(r.records, n);
        prop_assert_eq!(r.dropped_tail_bytes, cut - end);
        let got: Vec<Vec<u8>> = l.iter_from(0).map(|x| x.unwrap().1).collect();
        prop_assert_eq!(&got[..], &want[..n as usize]);
    }
}
