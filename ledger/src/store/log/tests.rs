use super::*;
use std::fs;

/// Deterministic record content for record `i` (lengths vary, some empty).
fn rec(i: u64) -> Vec<u8> {
    let len = (i * 37 % 200) as usize;
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

/// Appends `sizes.len()` groups of consecutive `rec(i)` records.
fn fill(log: &mut EntryLog, sizes: &[usize]) {
    for &n in sizes {
        let start = log.len();
        let owned: Vec<Vec<u8>> = (start..start + n as u64).map(rec).collect();
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        log.append_group(&refs).unwrap();
        assert_eq!(log.len(), start + n as u64);
    }
}

fn check_all(log: &EntryLog) {
    for i in 0..log.len() {
        assert_eq!(log.read(i).unwrap(), rec(i), "read({i})");
    }
    let mut n = 0;
    for item in log.iter_from(0) {
        let (i, r) = item.unwrap();
        assert_eq!(i, n);
        assert_eq!(r, rec(i), "iter record {i}");
        n += 1;
    }
    assert_eq!(n, log.len());
}

#[test]
fn roundtrip_read_and_iter() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, rec0) = EntryLog::open(dir.path()).unwrap();
    assert!(rec0.created);
    assert_eq!(rec0.records, 0);
    assert!(log.is_empty());
    fill(&mut log, &[1, 3, 2, 5, 1]);
    assert_eq!(log.len(), 12);
    check_all(&log);

    // iter_from the middle of a group and of a later one.
    for start in 0..=log.len() {
        let got: Vec<_> = log.iter_from(start).map(|r| r.unwrap()).collect();
        let want: Vec<_> = (start..log.len()).map(|i| (i, rec(i))).collect();
        assert_eq!(got, want, "iter_from({start})");
    }
    let mut past = log.iter_from(13);
    assert!(matches!(
        past.next(),
        Some(Err(LogError::OutOfRange { index: 13, len: 12 }))
    ));
    assert!(past.next().is_none());
    assert!(matches!(
        log.read(12),
        Err(LogError::OutOfRange { index: 12, len: 12 })
    ));

    // The layout is what the docs say: 5 groups, 44 bytes of framing each.
    let payload: u64 = (0..12).map(|i| 4 + rec(i).len() as u64).sum();
    assert_eq!(log.byte_len(), payload + 5 * 44);
    let on_disk = fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
    assert_eq!(on_disk, log.byte_len());
    assert_eq!(
        fs::metadata(dir.path().join(INDEX_FILE)).unwrap().len(),
        12 * 8
    );
    let bytes = fs::read(dir.path().join(LOG_FILE)).unwrap();
    assert_eq!(&bytes[0..4], b"PLGL");
    assert_eq!(&bytes[4..6], &1u16.to_be_bytes());
    assert_eq!(&bytes[8..12], &1u32.to_be_bytes());
}

#[test]
fn empty_group_is_a_noop() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    log.append_group(&[]).unwrap();
    assert_eq!(log.len(), 0);
    assert_eq!(log.byte_len(), 0);
    fill(&mut log, &[2]);
    let before = log.byte_len();
    log.append_group(&[]).unwrap();
    assert_eq!((log.len(), log.byte_len()), (2, before));
    drop(log);
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!((r.records, r.groups, r.dropped_tail_bytes), (2, 1, 0));
    check_all(&log);
}

#[test]
fn empty_records_are_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    log.append_group(&[b"", b"", b"x", b""]).unwrap();
    drop(log);
    let (log, _) = EntryLog::open(dir.path()).unwrap();
    let got: Vec<_> = log.iter_from(0).map(|r| r.unwrap().1).collect();
    assert_eq!(got, vec![b"".to_vec(), vec![], b"x".to_vec(), vec![]]);
}

#[test]
fn reopen_after_many_groups() {
    let dir = tempfile::tempdir().unwrap();
    let sizes: Vec<usize> = (0..400).map(|g| 1 + g % 4).collect();
    let total: usize = sizes.iter().sum();
    {
        let (mut log, _) = EntryLog::open(dir.path()).unwrap();
        fill(&mut log, &sizes[..200]);
    }
    {
        let (mut log, r) = EntryLog::open(dir.path()).unwrap();
        assert!(!r.created);
        assert_eq!(r.groups, 200);
        fill(&mut log, &sizes[200..]);
    }
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.records, total as u64);
    assert_eq!(r.groups, 400);
    assert_eq!(r.dropped_tail_bytes, 0);
    assert_eq!(r.dropped_tail_reason, None);
    assert_eq!(r.index_rebuilt_from, None);
    assert_eq!(r.log_bytes, log.byte_len());
    assert_eq!(log.len(), total as u64);
    check_all(&log);
}

#[test]
fn second_open_is_locked_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = EntryLog::open(dir.path()).unwrap();
    match EntryLog::open(dir.path()) {
        Err(LogError::Locked { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = EntryLog::open(dir.path()).unwrap_err().to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    drop(log);
    EntryLog::open(dir.path()).unwrap();
}

fn log_with(sizes: &[usize]) -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    fill(&mut log, sizes);
    let n = log.len();
    (dir, n)
}

#[test]
fn index_rebuilt_when_deleted() {
    let (dir, n) = log_with(&[3, 1, 4, 1, 5]);
    fs::remove_file(dir.path().join(INDEX_FILE)).unwrap();
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.index_rebuilt_from, Some(0));
    assert_eq!(r.records, n);
    check_all(&log);
    drop(log);
    let (_, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.index_rebuilt_from, None);
}

#[test]
fn index_rebuilt_when_truncated_mid_entry() {
    let (dir, n) = log_with(&[3, 1, 4, 1, 5]);
    let idx = dir.path().join(INDEX_FILE);
    let f = fs::OpenOptions::new().write(true).open(&idx).unwrap();
    f.set_len(6 * 8 + 3).unwrap();
    drop(f);
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.index_rebuilt_from, Some(6));
    assert_eq!(fs::metadata(&idx).unwrap().len(), n * 8);
    check_all(&log);
}

#[test]
fn index_repaired_when_an_entry_is_wrong() {
    let (dir, n) = log_with(&[3, 1, 4, 1, 5]);
    let idx = dir.path().join(INDEX_FILE);
    let mut bytes = fs::read(&idx).unwrap();
    bytes[9 * 8 + 7] ^= 0x10;
    fs::write(&idx, &bytes).unwrap();
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.index_rebuilt_from, Some(9));
    assert_eq!(r.records, n);
    check_all(&log);
}

#[test]
fn index_trimmed_when_too_long() {
    let (dir, n) = log_with(&[3, 1, 4]);
    let idx = dir.path().join(INDEX_FILE);
    let mut bytes = fs::read(&idx).unwrap();
    bytes.extend_from_slice(&[0xAB; 21]);
    fs::write(&idx, &bytes).unwrap();
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.index_rebuilt_from, Some(n));
    assert_eq!(fs::metadata(&idx).unwrap().len(), n * 8);
    check_all(&log);
}

#[test]
fn record_size_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    let big = vec![0x5Au8; MAX_RECORD_LEN + 1];
    match log.append_group(&[b"ok", &big]) {
        Err(LogError::RecordTooLarge { position, len, max }) => {
            assert_eq!(
                (position, len, max),
                (1, MAX_RECORD_LEN + 1, MAX_RECORD_LEN)
            );
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!((log.len(), log.byte_len()), (0, 0));
    let max = &big[..MAX_RECORD_LEN];
    log.append_group(&[max]).unwrap();
    drop(log);
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.records, 1);
    assert_eq!(log.read(0).unwrap().len(), MAX_RECORD_LEN);
    assert!(log.read(0).unwrap() == max);
}

#[test]
fn group_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    let many: Vec<&[u8]> = vec![b""; MAX_GROUP_RECORDS + 1];
    assert!(matches!(
        log.append_group(&many),
        Err(LogError::GroupTooLarge { records, .. }) if records == MAX_GROUP_RECORDS + 1
    ));
    assert_eq!((log.len(), log.byte_len()), (0, 0));
    log.append_group(&many[..MAX_GROUP_RECORDS]).unwrap();
    assert_eq!(log.len(), MAX_GROUP_RECORDS as u64);
}

#[test]
fn truncate_at_boundaries_and_inside_groups() {
    let sizes = [3, 1, 4, 2];
    // Every possible length, each on a fresh copy.
    for keep in 0..=10u64 {
        let (dir, n) = log_with(&sizes);
        assert_eq!(n, 10);
        let (mut log, _) = EntryLog::open(dir.path()).unwrap();
        log.truncate(keep).unwrap();
        assert_eq!(log.len(), keep, "keep {keep}");
        check_all(&log);
        fill(&mut log, &[2]);
        drop(log);
        let (log, r) = EntryLog::open(dir.path()).unwrap();
        assert_eq!(r.records, keep + 2);
        assert_eq!(r.dropped_tail_bytes, 0);
        assert_eq!(r.index_rebuilt_from, None);
        check_all(&log);
    }
    let (dir, _) = log_with(&sizes);
    let (mut log, _) = EntryLog::open(dir.path()).unwrap();
    assert!(matches!(
        log.truncate(11),
        Err(LogError::OutOfRange { index: 11, len: 10 })
    ));
    log.truncate(10).unwrap();
    assert_eq!(log.len(), 10);
}

#[test]
fn unknown_version_is_an_error_even_at_the_tail() {
    let (dir, _) = log_with(&[2, 2]);
    let path = dir.path().join(LOG_FILE);
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() as u64;
    let mut h = frame::encode_header(&frame::Header {
        count: 1,
        payload_len: 4,
        first_record: 4,
        group_offset: at,
    });
    h[4..6].copy_from_slice(&2u16.to_be_bytes());
    let crc = crc32fast::hash(&h[..36]);
    h[36..40].copy_from_slice(&crc.to_be_bytes());
    bytes.extend_from_slice(&h);
    fs::write(&path, &bytes).unwrap();
    match EntryLog::open(dir.path()) {
        Err(LogError::UnsupportedVersion {
            offset, version, ..
        }) => assert_eq!((offset, version), (at, 2)),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    // Nothing was modified.
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn unusable_paths_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    // The "directory" is a regular file.
    let file = dir.path().join("plain");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(EntryLog::open(&file), Err(LogError::Io { .. })));
    assert!(matches!(
        EntryLog::open(&file.join("sub")),
        Err(LogError::Io { .. })
    ));
    // entries.log is a directory.
    let d2 = dir.path().join("d2");
    fs::create_dir_all(d2.join(LOG_FILE)).unwrap();
    match EntryLog::open(&d2) {
        Err(LogError::Io { path, .. }) => assert_eq!(path, d2.join(LOG_FILE)),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn read_only_directory_gives_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    if fs::write(ro.join("probe"), b"").is_ok() {
        // Running with CAP_DAC_OVERRIDE (root): permissions are not enforced.
        eprintln!("skipping: permissions are not enforced for this user");
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    assert!(matches!(EntryLog::open(&ro), Err(LogError::Io { .. })));
    assert!(matches!(
        EntryLog::open(&ro.join("sub")),
        Err(LogError::Io { .. })
    ));
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn garbage_index_never_panics_reads() {
    let (dir, _) = log_with(&[3, 2]);
    let (log, _) = EntryLog::open(dir.path()).unwrap();
    // Overwrite the index behind the open handle's back.
    fs::write(dir.path().join(INDEX_FILE), vec![0xFF; 5 * 8]).unwrap();
    for i in 0..5 {
        assert!(matches!(log.read(i), Err(LogError::Corrupt { .. })));
    }
    let items: Vec<_> = log.iter_from(0).collect();
    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], Err(LogError::Corrupt { record: 0, .. })));
}

#[test]
fn frame_with_wrong_first_record_is_not_accepted() {
    let (dir, n) = log_with(&[2, 3]);
    let path = dir.path().join(LOG_FILE);
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() as u64;
    let (mut frame, mut offs) = (Vec::new(), Vec::new());
    // Checksums and group_offset are right; first_record skips ahead.
    frame::encode_group(&[b"abc"], n + 5, at, 7, &mut frame, &mut offs);
    bytes.extend_from_slice(&frame);
    fs::write(&path, &bytes).unwrap();
    let (log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!(r.records, n);
    assert_eq!(r.dropped_tail_bytes, frame.len() as u64);
    let reason = r.dropped_tail_reason.unwrap();
    assert!(reason.contains("first record"), "{reason}");
    check_all(&log);
}

const AHEAD: u64 = 64 * 1024;

#[test]
fn space_written_ahead_is_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    fill(&mut log, &[3, 1, 4]);
    let data = log.byte_len();
    let on_disk = fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
    assert!(
        on_disk >= data + AHEAD / 4,
        "{on_disk} bytes for {data} of groups"
    );
    let bytes = fs::read(dir.path().join(LOG_FILE)).unwrap();
    assert!(bytes[data as usize..].iter().all(|b| *b == 0));
    drop(log);
    // A plain open finds the same log and appends where the groups end,
    // inside the zeros; a preallocating open then finds that too.
    let (mut log, r) = EntryLog::open(dir.path()).unwrap();
    assert_eq!((r.records, r.dropped_tail_bytes, r.log_bytes), (8, 0, data));
    check_all(&log);
    fill(&mut log, &[2]);
    let data = log.byte_len();
    drop(log);
    let (log, r) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    assert_eq!(
        (r.records, r.dropped_tail_bytes, r.log_bytes),
        (10, 0, data)
    );
    check_all(&log);
}

#[test]
fn appends_keep_writing_ahead_as_the_log_grows() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    for _ in 0..40 {
        fill(&mut log, &[20]);
        let on_disk = fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
        assert!(on_disk >= log.byte_len() + AHEAD / 4);
    }
    drop(log);
    let (log, r) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    assert_eq!((r.records, r.dropped_tail_bytes), (800, 0));
    check_all(&log);
}

#[test]
fn a_torn_group_in_space_written_ahead_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    fill(&mut log, &[3, 2]);
    let data = log.byte_len();
    drop(log);
    // Half a group's header over the zeros, as a crash mid-write leaves it.
    let file = fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"PLGL\x00\x01", data).unwrap();
    drop(file);
    let (log, r) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    assert_eq!(r.records, 5);
    assert!(r.dropped_tail_bytes > 0);
    assert_eq!(log.byte_len(), data);
    check_all(&log);
}

#[test]
fn truncating_a_log_written_ahead_keeps_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    fill(&mut log, &[3, 4, 2]);
    log.truncate(5).unwrap();
    assert_eq!(log.len(), 5);
    fill(&mut log, &[6]);
    check_all(&log);
    drop(log);
    let (log, r) = EntryLog::open_preallocating(dir.path(), AHEAD).unwrap();
    assert_eq!((r.records, r.dropped_tail_bytes), (11, 0));
    check_all(&log);
}
