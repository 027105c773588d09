//! One suite for both entry logs: [`MemoryLog`] and the disk log
//! ([`EntryLog`]) keep the same contract (see `pledge_ledger::store`'s
//! `LogStore`). The disk log's file format, torn tails and damage are
//! tested in entry_log_crash.rs and in the log module itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pledge_ledger::store::log::EntryLog;
use pledge_ledger::store::{LogRead, LogStore, MemoryLog, StoreError};

fn record(seq: u64) -> Vec<u8> {
    format!("record {seq} ")
        .repeat(1 + (seq % 7) as usize)
        .into_bytes()
}

/// Appends groups of the given sizes, numbering records on from `len()`.
fn append_groups<L: LogStore>(log: &mut L, sizes: &[u64]) {
    for &size in sizes {
        let start = log.len();
        let owned: Vec<Vec<u8>> = (start..start + size).map(record).collect();
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        log.append(&refs).unwrap();
        assert_eq!(log.len(), start + size);
    }
}

fn assert_holds<R: LogRead>(reader: &R, len: u64) {
    assert_eq!(reader.len(), len);
    for seq in 0..len {
        assert_eq!(reader.read(seq).unwrap(), record(seq), "read({seq})");
    }
    let all: Vec<(u64, Vec<u8>)> = reader.read_range(0, len).map(Result::unwrap).collect();
    assert_eq!(all, (0..len).map(|s| (s, record(s))).collect::<Vec<_>>());
}

fn appends_and_reads_in_order<L: LogStore>(mut log: L) {
    assert!(log.is_empty());
    append_groups(&mut log, &[1, 5, 2, 9]);
    assert_holds(&log.reader(), 17);
    let middle: Vec<u64> = log
        .reader()
        .read_range(4, 9)
        .map(|item| item.unwrap().0)
        .collect();
    assert_eq!(middle, vec![4, 5, 6, 7, 8]);
}

fn refuses_reads_past_the_end<L: LogStore>(mut log: L) {
    append_groups(&mut log, &[3]);
    let reader = log.reader();
    assert!(matches!(
        reader.read(3),
        Err(StoreError::OutOfRange { seq: 3, len: 3 })
    ));
    let past: Vec<_> = reader.read_range(2, 4).collect();
    assert!(matches!(
        past.as_slice(),
        [Err(StoreError::OutOfRange { .. })]
    ));
}

fn an_empty_group_changes_nothing<L: LogStore>(mut log: L) {
    append_groups(&mut log, &[2]);
    log.append(&[]).unwrap();
    assert_holds(&log.reader(), 2);
}

fn a_reader_sees_later_appends<L: LogStore>(mut log: L) {
    let reader = log.reader();
    append_groups(&mut log, &[2]);
    let on_another_thread = reader.clone();
    let len = std::thread::spawn(move || on_another_thread.len())
        .join()
        .unwrap();
    assert_eq!(len, 2);
    append_groups(&mut log, &[3]);
    assert_holds(&reader, 5);
}

fn truncation_drops_a_suffix<L: LogStore>(mut log: L) {
    append_groups(&mut log, &[4, 4, 4]);
    let reader = log.reader();
    // Inside a group, at a group boundary, and a no-op.
    log.truncate(10).unwrap();
    assert_holds(&reader, 10);
    log.truncate(8).unwrap();
    assert_holds(&reader, 8);
    log.truncate(8).unwrap();
    assert_holds(&reader, 8);
    assert!(matches!(reader.read(8), Err(StoreError::OutOfRange { .. })));
    // The log goes on from the cut.
    append_groups(&mut log, &[3]);
    assert_holds(&reader, 11);
    assert!(matches!(
        log.truncate(12),
        Err(StoreError::OutOfRange { seq: 12, len: 11 })
    ));
    log.truncate(0).unwrap();
    assert_holds(&reader, 0);
}

fn disk_log() -> (tempfile::TempDir, EntryLog) {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = EntryLog::open(dir.path()).unwrap();
    (dir, log)
}

macro_rules! both_logs {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $case() { super::$case(super::MemoryLog::new()); })*
        }
        mod disk {
            $(#[test] fn $case() {
                let (_dir, log) = super::disk_log();
                super::$case(log);
            })*
        }
    };
}

both_logs!(
    appends_and_reads_in_order,
    refuses_reads_past_the_end,
    an_empty_group_changes_nothing,
    a_reader_sees_later_appends,
    truncation_drops_a_suffix,
);

#[test]
fn the_disk_log_keeps_appends_and_truncations_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    append_groups(&mut log, &[3, 3, 3]);
    log.truncate(7).unwrap();
    drop(log);
    let (log, recovery) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(recovery.dropped_tail_bytes, 0);
    assert_holds(&log.reader(), 7);
}
