//! The disk store across crashes and tampering: a torn last group, sled
//! losing its last writes or running ahead of the log, altered entries, and
//! a second node on the same directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::Path;

use pledge_ledger::chain::ChainError;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::entry::Entry;
use pledge_ledger::ledger::DiskLedger;
use pledge_ledger::merkle;
use pledge_ledger::replay::Replayer;
use pledge_ledger::state::StateRead;
use pledge_ledger::statemap::{self, Kind, VersionedMap};
use pledge_ledger::store::log::{EntryLog, LOG_FILE, LogError};
use pledge_ledger::store::{DiskStateStore, MAP_FILE, MERKLE_FILE, StoreError};
use pledge_ledger::store::{LogStore, StateStore};
use pledge_ledger::view::LedgerRead;
use pledge_ledger::view::Snapshot;
use std::borrow::Cow;
use std::sync::Arc;
use support::*;

fn node_public() -> PublicKey {
    crypto::public_key(&node_key())
}

fn open(dir: &Path) -> Result<DiskLedger, StoreError> {
    DiskLedger::open_dir(dir, node_key()).map(|(ledger, _)| ledger)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for item in fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            fs::copy(item.path(), target).unwrap();
        }
    }
}

/// Replays the store's chain from genesis and checks its state is exactly
/// what replay produces.
fn assert_store_replays(ledger: &DiskLedger) {
    let store = ledger.snapshot();
    let mut replayer = Replayer::new(Some(node_public()));
    for seq in 0..store.len() {
        replayer.push_record(&store.record(seq).unwrap()).unwrap();
    }
    assert_eq!(replayer.state(), &store.objects().unwrap());
    assert_eq!(replayer.cursor(), store.head());
}

/// Every receipt's history, as the store reads it one receipt at a time
/// (the disk store follows each receipt's chain of changes), equals the
/// histories in `expected`.
fn assert_histories_read_back(ledger: &DiskLedger, expected: &pledge_ledger::state::Objects) {
    let snapshot = ledger.snapshot();
    assert!(!expected.receipt_history.is_empty());
    for (id, history) in &expected.receipt_history {
        assert_eq!(&snapshot.receipt_history(id).unwrap(), history, "{id}");
    }
}

/// Builds a chain in `dir`; returns the log's byte length before the last
/// group, the entries before it, and a copy of the data dir taken then.
fn chain_with_last_group(dir: &Path, before_last: &Path) -> (u64, u64) {
    let mut world = World::with_ledger(open(dir).unwrap());
    world.receipt_of("R-1", 1_000_000);
    world.receipt_of("R-2", 1_000_000);
    let entries_before = world.len();
    drop(world);
    copy_dir(dir, before_last);
    let log_bytes = fs::metadata(dir.join("log").join(LOG_FILE)).unwrap().len();
    let mut world = World::with_ledger(open(dir).unwrap());
    world.ok(
        pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS),
        &["trader-a", "bank-a"],
    );
    (log_bytes, entries_before)
}

#[test]
fn a_torn_last_group_is_dropped_at_every_byte_offset() {
    let work = tempfile::tempdir().unwrap();
    let (full, before) = (work.path().join("full"), work.path().join("before"));
    let (cut_from, entries_before) = chain_with_last_group(&full, &before);
    let log_len = fs::metadata(full.join("log").join(LOG_FILE)).unwrap().len();
    assert!(log_len > cut_from);
    for cut in cut_from..log_len {
        // sled from after the last group (it ran ahead of the log) and from
        // before it: both must end at exactly the complete groups.
        for sled_from in [&full, &before] {
            let trial = tempfile::tempdir().unwrap();
            copy_dir(&full.join("log"), &trial.path().join("log"));
            copy_dir(&sled_from.join("state"), &trial.path().join("state"));
            let log_file = trial.path().join("log").join(LOG_FILE);
            fs::OpenOptions::new()
                .write(true)
                .open(&log_file)
                .unwrap()
                .set_len(cut)
                .unwrap();
            let (store, report) = DiskLedger::open_dir(trial.path(), node_key()).unwrap();
            assert_eq!(store.len(), entries_before, "cut at byte {cut}");
            assert_eq!(report.dropped_tail_bytes, cut - cut_from);
            assert_eq!(report.rebuilt, sled_from == &full);
            assert!(store.snapshot().pledge("P-1").unwrap().is_none());
            assert_store_replays(&store);
        }
    }
}

/// What [`carry_on_past_a_copy`] leaves: a copy of the state directory
/// taken after `applied` entries (the state map's root `root` then), and
/// the log carried on to `total` entries.
struct CopyBehind {
    stale: std::path::PathBuf,
    applied: u64,
    root: statemap::MapHash,
    total: u64,
}

/// A ledger in `dir` written by `before`, closed, its state directory
/// copied to `work/stale-state`, then reopened, written on by `after` and
/// closed: the caller puts back what a crash would have lost.
fn carry_on_past_a_copy(
    work: &Path,
    dir: &Path,
    before: impl FnOnce(&mut World<EntryLog, DiskStateStore>),
    after: impl FnOnce(&mut World<EntryLog, DiskStateStore>),
) -> CopyBehind {
    let mut world = World::with_ledger(open(dir).unwrap());
    before(&mut world);
    let applied = world.len();
    let root = statemap::root_of_state(&world.store().objects().unwrap());
    drop(world);
    let stale = work.join("stale-state");
    copy_dir(&dir.join("state"), &stale);
    let mut world = World::with_ledger(open(dir).unwrap());
    after(&mut world);
    let total = world.len();
    drop(world);
    CopyBehind {
        stale,
        applied,
        root,
        total,
    }
}

/// A pledge of `R-1` and its release.
fn pledge_and_release(world: &mut World<EntryLog, DiskStateStore>) {
    world.ok(
        pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS),
        &["trader-a", "bank-a"],
    );
    world.ok(release("P-1"), &["bank-a"]);
}

/// A ledger in `dir` whose state store is put back to where it stood after
/// one receipt (a copy taken then) while the log goes on to a pledge and
/// its release: sled having lost its last writes. `at_end` sees the world
/// before it is dropped. Returns (entries the state store held, entries in
/// the log).
fn state_left_behind(
    work: &Path,
    dir: &Path,
    at_end: impl FnOnce(&World<EntryLog, DiskStateStore>),
) -> (u64, u64) {
    let behind = carry_on_past_a_copy(
        work,
        dir,
        |world| world.receipt_of("R-1", 1_000_000),
        |world| {
            pledge_and_release(world);
            at_end(world);
        },
    );
    fs::remove_dir_all(dir.join("state")).unwrap();
    copy_dir(&behind.stale, &dir.join("state"));
    (behind.applied, behind.total)
}

#[test]
fn sled_losing_its_last_writes_is_repaired_from_the_log() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let mut expected = None;
    let (applied_then, total) = state_left_behind(work.path(), &dir, |world| {
        let store = world.store();
        expected = Some((
            store.objects().unwrap(),
            store.tree_root(world.len()).unwrap(),
        ));
    });
    let (expected, expected_root) = expected.unwrap();
    let (store, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!(report.replayed, total - applied_then);
    assert_eq!(store.snapshot().objects().unwrap(), expected);
    assert_eq!(store.snapshot().tree_root(total).unwrap(), expected_root);
    assert_histories_read_back(&store, &expected);
    assert_store_replays(&store);
}

#[test]
fn after_a_restart_the_map_is_provable_from_the_size_the_state_reopened_at() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let mut root = None;
    // The state store comes back at `applied_then`; the ledger replays the
    // rest from the log into it.
    let (applied_then, total) = state_left_behind(work.path(), &dir, |world| {
        root = Some(statemap::root_of_state(&world.store().objects().unwrap()));
    });
    let root = root.unwrap();
    let (store, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!(report.replayed, total - applied_then);
    let snapshot = store.snapshot();
    assert_eq!(snapshot.state_view().map_floor().unwrap(), applied_then);
    assert_eq!(snapshot.state_root(total).unwrap(), root);
    let checkpoint = store.sign_checkpoint(1).unwrap();
    assert_eq!(checkpoint.checkpoint.size, total);
    assert_eq!(checkpoint.checkpoint.state_root, root);
    let key = statemap::map_key(Kind::Receipt, "R-1");
    let proof = snapshot.state_proof(Kind::Receipt, "R-1", total).unwrap();
    assert_eq!(proof.root_for(&key).unwrap(), root);
    // At the size the store reopened at the map is still provable; below
    // it the versions were only ever in memory.
    snapshot
        .state_proof(Kind::Receipt, "R-1", applied_then)
        .unwrap();
    assert!(matches!(
        snapshot.state_proof(Kind::Receipt, "R-1", applied_then - 1),
        Err(StoreError::MapPruned { floor, .. }) if floor == applied_then
    ));
}

#[test]
fn a_lost_state_database_is_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    let mut world = World::with_ledger(open(work.path()).unwrap());
    world.receipt_of("R-1", 1_000_000);
    let expected = world.store().objects().unwrap();
    drop(world);
    fs::remove_dir_all(work.path().join("state")).unwrap();
    let (store, report) = DiskLedger::open_dir(work.path(), node_key()).unwrap();
    assert_eq!(report.replayed, store.len());
    assert_eq!(store.snapshot().objects().unwrap(), expected);
}

#[test]
fn reopening_keeps_everything() {
    let work = tempfile::tempdir().unwrap();
    let mut world = World::with_ledger(open(work.path()).unwrap());
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let (head, objects) = (world.store().head(), world.store().objects().unwrap());
    let store = world.ledger;
    store.state().flush().unwrap();
    drop(store);
    let (store, report) = DiskLedger::open_dir(work.path(), node_key()).unwrap();
    let snapshot = store.snapshot();
    assert_eq!(
        (snapshot.head(), snapshot.objects().unwrap()),
        (head, objects.clone())
    );
    assert_histories_read_back(&store, &objects);
    assert_eq!(report.replayed, 0);
}

/// Every file under `dir` with its bytes, by path.
fn files_of(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    for item in fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_dir() {
            files.extend(files_of(&path));
        } else {
            files.insert(path.clone(), fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn a_read_only_open_rebuilds_the_state_elsewhere_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let mut world = World::with_ledger(open(&dir).unwrap());
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let total = world.len();
    let (head, objects) = (world.store().head(), world.store().objects().unwrap());
    let root = world.store().tree_root(total).unwrap();
    drop(world);
    let before = files_of(&dir);

    let state_dir = work.path().join("temporary-state");
    let (store, report) =
        DiskLedger::open_read_only(&dir, node_key(), node_public(), &state_dir).unwrap();
    assert_eq!(report.replayed, total);
    let snapshot = store.snapshot();
    assert_eq!(
        (snapshot.head(), snapshot.objects().unwrap()),
        (head, objects)
    );
    assert_eq!(snapshot.tree_root(total).unwrap(), root);
    assert_store_replays(&store);
    assert!(state_dir.exists());
    assert_eq!(files_of(&dir), before, "the data directory changed");
    drop(snapshot);
    drop(store);
    assert!(
        !state_dir.exists(),
        "the temporary state outlived the ledger"
    );
}

#[test]
fn a_second_open_of_a_directory_in_use_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let _first = World::with_ledger(open(work.path()).unwrap());
    let second = open(work.path()).unwrap_err();
    assert!(
        matches!(second, StoreError::Log(LogError::Locked { .. })),
        "{second}"
    );
}

/// Rewrites the log as `records` (re-framed with valid checksums), as an
/// attacker with write access to the disk could.
fn rewrite_log(dir: &Path, records: &[Vec<u8>]) {
    let (mut log, _) = EntryLog::open(&dir.join("log")).unwrap();
    log.truncate(0).unwrap();
    let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    log.append_group(&slices).unwrap();
}

fn tampered_chain() -> (tempfile::TempDir, Vec<Vec<u8>>) {
    let work = tempfile::tempdir().unwrap();
    let mut world = World::with_ledger(open(work.path()).unwrap());
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(release("P-1"), &["bank-a"]);
    let records = (0..world.len())
        .map(|s| world.store().record(s).unwrap())
        .collect();
    (work, records)
}

#[test]
fn an_altered_entry_is_named_at_open() {
    let (work, mut records) = tampered_chain();
    let mut entry = Entry::decode(&records[3]).unwrap();
    entry.time_ms += 1;
    records[3] = entry.encode();
    rewrite_log(work.path(), &records);
    let error = open(work.path()).unwrap_err();
    assert!(
        matches!(error, StoreError::Chain(ChainError::BadSeal { seq: 3, .. })),
        "{error}"
    );
    assert!(error.to_string().contains("entry 3"), "{error}");
}

#[test]
fn a_deleted_entry_is_named_at_open() {
    let (work, mut records) = tampered_chain();
    records.remove(4);
    rewrite_log(work.path(), &records);
    let error = open(work.path()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Chain(ChainError::WrongSeq { seq: 4, found: 5 })
        ),
        "{error}"
    );
}

#[test]
fn swapped_entries_are_named_at_open() {
    let (work, mut records) = tampered_chain();
    records.swap(2, 3);
    rewrite_log(work.path(), &records);
    let error = open(work.path()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Chain(ChainError::WrongSeq { seq: 2, found: 3 })
        ),
        "{error}"
    );
}

#[test]
fn a_flipped_byte_inside_an_acknowledged_group_is_refused() {
    let (work, records) = tampered_chain();
    drop(records);
    // Flip one byte of the first group's payload (entry 0 = genesis).
    let log_file = work.path().join("log").join(LOG_FILE);
    let mut bytes = fs::read(&log_file).unwrap();
    bytes[60] ^= 0x40;
    fs::write(&log_file, bytes).unwrap();
    let error = open(work.path()).unwrap_err();
    assert!(
        matches!(error, StoreError::Log(LogError::Corrupt { record: 0, .. })),
        "{error}"
    );
}

/// The node's pipeline makes a group durable in the log, answers, and only
/// then writes the state store. A crash in between leaves acknowledged
/// entries in the log that the state lacks: opening replays them.
#[test]
fn a_crash_between_the_log_fsync_and_the_state_update_loses_nothing() {
    let work = tempfile::tempdir().unwrap();
    let mut world = World::with_ledger(open(work.path()).unwrap());
    world.receipt_of("R-1", 1_000_000);
    world.receipt_of("R-2", 1_000_000);
    let applied_before = world.len();
    let mut envelopes = Vec::new();
    for (i, receipt) in ["R-1", "R-2"].iter().enumerate() {
        let maturity = world.now_ms + DAY_MS;
        let tx = world.tx(pledge(&format!("P-{i}"), receipt, "bank-a", maturity));
        envelopes.push(world.sign(&tx, &["trader-a", "bank-a"]).verify().unwrap());
    }
    let now = world.now_ms;
    let (mut log, state, mut decider) = world.ledger.into_parts();
    let base = Snapshot::new(
        decider.head(),
        log.reader(),
        state.view(),
        Arc::from(Vec::new()),
    );
    let group = decider
        .decide(&base, envelopes.iter().map(Cow::Borrowed), now)
        .unwrap();
    let acknowledged: Vec<_> = group.results.iter().map(|r| r.clone().unwrap()).collect();
    log.append(&group.records()).unwrap();
    // The process dies here: the state store never sees the group.
    assert_eq!(state.applied(), applied_before);
    drop((base, log, state));

    let (ledger, report) = DiskLedger::open_dir(work.path(), node_key()).unwrap();
    assert_eq!(report.replayed, 2);
    assert_eq!(report.dropped_tail_bytes, 0);
    let reopened = ledger.snapshot();
    for answer in &acknowledged {
        assert_eq!(
            reopened.entry(answer.seq).unwrap().hash(),
            answer.entry_hash
        );
    }
    assert!(reopened.pledge("P-0").unwrap().is_some());
    assert!(reopened.pledge("P-1").unwrap().is_some());
    assert_store_replays(&ledger);
}

/// What a ledger proves at its head: the head, every object, the Merkle
/// root, every entry's inclusion proof and every consistency proof to the
/// head, and the state root.
fn proven_at_head(ledger: &DiskLedger) -> impl PartialEq + std::fmt::Debug + use<> {
    let snapshot = ledger.snapshot();
    let size = snapshot.len();
    let inclusion: Vec<_> = (0..size)
        .map(|index| merkle::inclusion_proof(index, size, &snapshot).unwrap())
        .collect();
    let consistency: Vec<_> = (1..size)
        .map(|older| merkle::consistency_proof(older, size, &snapshot).unwrap())
        .collect();
    (
        snapshot.head(),
        snapshot.objects().unwrap(),
        snapshot.tree_root(size).unwrap(),
        snapshot.state_root(size).unwrap(),
        inclusion,
        consistency,
    )
}

/// The ledger whose log is a copy of `dir`'s and whose state is built from
/// scratch by replaying it.
fn built_from_scratch(work: &Path, dir: &Path) -> DiskLedger {
    let scratch = work.join("scratch");
    copy_dir(&dir.join("log"), &scratch.join("log"));
    let (ledger, report) = DiskLedger::open_dir(&scratch, node_key()).unwrap();
    assert_eq!(report.replayed, ledger.len());
    ledger
}

/// Whether `name` is one of the state's files beside sled.
fn is_node_file(name: &std::ffi::OsStr) -> bool {
    name == MERKLE_FILE || name == MAP_FILE
}

/// Replaces sled's own files in `dir/state` with those of `stale`, leaving
/// the node files as they are: sled lost its last batches, the files did
/// not.
fn put_back_sled_only(dir: &Path, stale: &Path) {
    let state = dir.join("state");
    for item in fs::read_dir(&state).unwrap() {
        let item = item.unwrap();
        if is_node_file(&item.file_name()) {
            continue;
        }
        match item.file_type().unwrap().is_dir() {
            true => fs::remove_dir_all(item.path()).unwrap(),
            false => fs::remove_file(item.path()).unwrap(),
        }
    }
    for item in fs::read_dir(stale).unwrap() {
        let item = item.unwrap();
        if is_node_file(&item.file_name()) {
            continue;
        }
        let target = state.join(item.file_name());
        match item.file_type().unwrap().is_dir() {
            true => copy_dir(&item.path(), &target),
            false => drop(fs::copy(item.path(), target).unwrap()),
        }
    }
}

#[test]
fn a_node_file_ahead_of_sled_is_cut_back_and_the_rest_replayed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let behind = carry_on_past_a_copy(
        work.path(),
        &dir,
        |world| world.receipt_of("R-1", 1_000_000),
        pledge_and_release,
    );
    let (stale, applied_then, root_then, total) =
        (&behind.stale, behind.applied, behind.root, behind.total);
    put_back_sled_only(&dir, stale);
    let nodes = |state: &Path| fs::metadata(state.join(MERKLE_FILE)).unwrap().len();
    assert!(nodes(&dir.join("state")) > nodes(stale), "the file went on");

    let (ledger, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!(report.replayed, total - applied_then);
    assert!(
        !report.rebuilt,
        "the file is cut back, not the state rebuilt"
    );
    let at_then = ledger.snapshot().state_root(applied_then).unwrap();
    assert_eq!(
        at_then, root_then,
        "the map as sled had it, not as the file went on"
    );
    assert_eq!(
        proven_at_head(&ledger),
        proven_at_head(&built_from_scratch(work.path(), &dir))
    );
    assert_store_replays(&ledger);
}

/// A ledger of a few groups in `work/data`, closed; returns its directory
/// and its number of entries.
fn closed_ledger(work: &Path) -> (std::path::PathBuf, u64) {
    let dir = work.join("data");
    let mut world = World::with_ledger(open(&dir).unwrap());
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.ok(release("P-1"), &["bank-a"]);
    world.receipt_of("R-2", 1_000_000);
    world.ledger.state().flush().unwrap();
    let entries = world.ledger.len();
    drop(world);
    (dir, entries)
}

/// Damages the Merkle node file of a closed ledger (given its path and the
/// ledger's entries), then checks that opening rebuilds the state.
fn reopened_after(work: &Path, damage: impl FnOnce(&Path, u64)) {
    let (dir, entries) = closed_ledger(work);
    let nodes = dir.join("state").join(MERKLE_FILE);
    damage(&nodes, entries);
    let (ledger, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert!(report.rebuilt);
    assert_eq!(report.replayed, ledger.len());
    assert_eq!(
        proven_at_head(&ledger),
        proven_at_head(&built_from_scratch(work, &dir))
    );
    assert_store_replays(&ledger);
}

#[test]
fn a_node_file_cut_short_makes_the_state_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    reopened_after(work.path(), |nodes, _| {
        let len = fs::metadata(nodes).unwrap().len();
        let file = fs::OpenOptions::new().write(true).open(nodes).unwrap();
        file.set_len(len - 32).unwrap();
    });
}

#[test]
fn a_node_file_with_a_lost_edge_node_makes_the_state_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    reopened_after(work.path(), |nodes, entries| {
        // The largest perfect subtree of the right edge (the file holds no
        // leaves: node at flat position p is in slot p / 2).
        let edge = merkle::proof::root_nodes(entries)[0];
        assert!(edge.level > 0, "{entries} entries");
        let slot = usize::try_from(edge.flat_position().unwrap() / 2).unwrap();
        let mut bytes = fs::read(nodes).unwrap();
        bytes[slot * 32..slot * 32 + 32].fill(0);
        fs::write(nodes, bytes).unwrap();
    });
}

#[test]
fn a_lost_node_file_makes_the_state_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    reopened_after(work.path(), |nodes, _| fs::remove_file(nodes).unwrap());
}

#[test]
fn a_map_file_cut_short_is_rebuilt_from_the_objects() {
    let work = tempfile::tempdir().unwrap();
    let (dir, _) = closed_ledger(work.path());
    let map = dir.join("state").join(MAP_FILE);
    let len = fs::metadata(&map).unwrap().len();
    let file = fs::OpenOptions::new().write(true).open(&map).unwrap();
    file.set_len(len - 1).unwrap();
    drop(file);
    let (ledger, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!((report.replayed, report.rebuilt), (0, false));
    assert_eq!(fs::metadata(&map).unwrap().len(), len);
    assert_eq!(
        proven_at_head(&ledger),
        proven_at_head(&built_from_scratch(work.path(), &dir))
    );
    assert_store_replays(&ledger);
}

#[test]
fn a_torn_map_slot_is_rebuilt_from_the_objects() {
    let work = tempfile::tempdir().unwrap();
    let (dir, _) = closed_ledger(work.path());
    let map = dir.join("state").join(MAP_FILE);
    let mut bytes = fs::read(&map).unwrap();
    bytes[20] ^= 0x01; // inside the root's slot
    fs::write(&map, bytes).unwrap();
    let (ledger, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!((report.replayed, report.rebuilt), (0, false));
    assert_eq!(
        proven_at_head(&ledger),
        proven_at_head(&built_from_scratch(work.path(), &dir))
    );
}

/// Receipts `R-<first>`..`R-<end>` (a tank and a receipt each: two map
/// leaves).
fn receipts(world: &mut World<EntryLog, DiskStateStore>, ids: std::ops::Range<u32>) {
    for i in ids {
        world.receipt_of(&format!("R-{i}"), 1_000_000);
    }
}

#[test]
fn the_map_file_grows_deeper_across_reopens_and_proves_the_same() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let map_len = || {
        fs::metadata(dir.join("state").join(MAP_FILE))
            .unwrap()
            .len()
    };
    let mut world = World::with_ledger(open(&dir).unwrap());
    receipts(&mut world, 0..1);
    drop(world);
    let shallow = map_len();
    let mut world = World::with_ledger(open(&dir).unwrap());
    receipts(&mut world, 1..12);
    world.ok(
        pledge("P-1", "R-3", "bank-a", world.now_ms + DAY_MS),
        &["trader-a", "bank-a"],
    );
    drop(world);
    assert!(map_len() > shallow, "{} bytes, then {}", shallow, map_len());
    let (ledger, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!((report.replayed, report.rebuilt), (0, false));
    assert_eq!(
        proven_at_head(&ledger),
        proven_at_head(&built_from_scratch(work.path(), &dir))
    );
}

#[test]
fn a_map_file_grown_deeper_than_sled_knows_is_cut_back_and_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let map_len = |state: &Path| fs::metadata(state.join(MAP_FILE)).unwrap().len();
    let behind = carry_on_past_a_copy(
        work.path(),
        &dir,
        |world| receipts(world, 0..3),
        |world| {
            receipts(world, 3..12);
            world.ok(
                pledge("P-1", "R-3", "bank-a", world.now_ms + DAY_MS),
                &["trader-a", "bank-a"],
            );
        },
    );
    let (stale, applied_then, root_then, total) =
        (&behind.stale, behind.applied, behind.root, behind.total);
    put_back_sled_only(&dir, stale);
    assert!(map_len(&dir.join("state")) > map_len(stale));

    let (ledger, report) = DiskLedger::open_dir(&dir, node_key()).unwrap();
    assert_eq!(report.replayed, total - applied_then);
    assert!(!report.rebuilt);
    // The map at the size sled reopened at is the one it had then, not the
    // one the file went on to.
    let snapshot = ledger.snapshot();
    assert_eq!(snapshot.state_root(applied_then).unwrap(), root_then);
    let proof = snapshot
        .state_proof(Kind::Receipt, "R-0", applied_then)
        .unwrap();
    assert_eq!(
        proof
            .root_for(&statemap::map_key(Kind::Receipt, "R-0"))
            .unwrap(),
        root_then
    );
    assert_eq!(
        proven_at_head(&ledger),
        proven_at_head(&built_from_scratch(work.path(), &dir))
    );
    assert_store_replays(&ledger);
}

/// Enough receipts for sled's file to outgrow its first 512 KiB segment.
const CHURNED_RECEIPTS: u32 = 100;

/// A closed ledger whose state sled has rewritten many times: receipts
/// issued, pledged, released and transferred.
fn churned_ledger(work: &Path) -> std::path::PathBuf {
    let dir = work.join("data");
    let mut world = World::with_ledger(open(&dir).unwrap());
    for i in 0..CHURNED_RECEIPTS {
        let (receipt, pledge_id) = (format!("R-{i}"), format!("P-{i}"));
        world.pledged_receipt(&receipt, &pledge_id, "bank-a");
        world.ok(release(&pledge_id), &["bank-a"]);
        world.ok(transfer(&receipt, "trader-b"), &["trader-a", "wh-1"]);
    }
    drop(world);
    dir
}

/// The state directory's siblings a compaction works in.
fn compaction_leftovers(dir: &Path) -> Vec<String> {
    ["state.compacting", "state.compacted", "state.old"]
        .into_iter()
        .filter(|name| dir.join(name).exists())
        .map(String::from)
        .collect()
}

/// Opens `dir`, which must come back with nothing replayed or rebuilt and
/// no compaction's directory left.
fn reopened_as_it_was(dir: &Path) -> DiskLedger {
    let (ledger, report) = DiskLedger::open_dir(dir, node_key()).unwrap();
    assert_eq!((report.replayed, report.rebuilt), (0, false));
    assert_eq!(compaction_leftovers(dir), Vec::<String>::new());
    ledger
}

#[test]
fn compacting_the_state_keeps_every_object_and_proof_and_shrinks_it() {
    let work = tempfile::tempdir().unwrap();
    let dir = churned_ledger(work.path());
    let before = proven_at_head(&open(&dir).unwrap());
    let sled_before = fs::metadata(dir.join("state").join("db")).unwrap().len();

    let compacted = DiskLedger::compact_state(&dir).unwrap();

    let sled_after = fs::metadata(dir.join("state").join("db")).unwrap().len();
    assert!(compacted.keys > 400, "{compacted:?}");
    assert!(compacted.live_bytes > 0);
    assert!(
        sled_after < sled_before,
        "sled's file {sled_before} bytes before, {sled_after} after"
    );
    assert!(
        compacted.bytes_after < compacted.bytes_before,
        "{compacted:?}"
    );
    let ledger = reopened_as_it_was(&dir);
    assert_eq!(proven_at_head(&ledger), before);
    assert_store_replays(&ledger);
    assert_eq!(
        before,
        proven_at_head(&built_from_scratch(work.path(), &dir))
    );
}

/// The state compacted while in use (as a node's apply thread does it,
/// through the store's upkeep) keeps every object and proof, opens with
/// nothing replayed, and is smaller; compacting it offline afterwards
/// takes it back to generation 0 with the same proofs.
#[test]
fn the_state_compacted_while_in_use_keeps_every_proof_and_compacts_offline_after() {
    use pledge_ledger::store::Upkeep;
    let work = tempfile::tempdir().unwrap();
    let dir = churned_ledger(work.path());
    let before = proven_at_head(&open(&dir).unwrap());
    let state = dir.join("state");
    let sled_before = fs::metadata(state.join("db")).unwrap().len();
    {
        let mut store = DiskStateStore::open(&state).unwrap();
        assert!(store.begin_compaction().unwrap());
        while store.upkeep().unwrap() != Upkeep::Switched {}
        assert_eq!(store.live_generation().0, 1);
        store.flush().unwrap();
    }
    let ledger = reopened_as_it_was(&dir);
    assert_eq!(proven_at_head(&ledger), before);
    assert_store_replays(&ledger);
    drop(ledger);
    assert!(!state.join("db").exists(), "generation 0 removed at open");
    let sled_after = fs::metadata(state.join("sled.1").join("db")).unwrap().len();
    assert!(
        sled_after < sled_before,
        "sled's file {sled_before} bytes before, {sled_after} after"
    );

    DiskLedger::compact_state(&dir).unwrap();
    let ledger = reopened_as_it_was(&dir);
    assert_eq!(proven_at_head(&ledger), before);
    assert!(state.join("db").exists());
    assert!(!state.join("sled.1").exists());
    let current = fs::read_to_string(state.join("CURRENT")).unwrap();
    let db_bytes = fs::metadata(state.join("db")).unwrap().len();
    assert!(current.starts_with("sled.0 "), "{current:?}");
    assert!(
        current.trim_end()[7..].parse::<u64>().unwrap() <= db_bytes,
        "{current:?} for a db of {db_bytes} bytes"
    );
}

#[test]
fn compacting_a_directory_in_use_is_refused_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let dir = churned_ledger(work.path());
    let running = open(&dir).unwrap();
    let state_files = files_of(&dir.join("state"));

    let refused = DiskLedger::compact_state(&dir).unwrap_err();

    assert!(
        matches!(refused, StoreError::Log(LogError::Locked { .. })),
        "{refused}"
    );
    assert_eq!(compaction_leftovers(&dir), Vec::<String>::new());
    drop(running);
    assert_eq!(files_of(&dir.join("state")), state_files);
}

/// A file put in a compacted copy to tell it from the state it came from
/// (sled ignores files it did not write).
const COPY_MARK: &str = "compacted-copy";

/// A copy of `dir`'s ledger, compacted; returns its state directory.
fn compacted_copy(work: &Path, dir: &Path) -> std::path::PathBuf {
    let copy = work.join("compacted-copy");
    copy_dir(dir, &copy);
    DiskLedger::compact_state(&copy).unwrap();
    copy.join("state")
}

/// A churned ledger in `work/data`, and the state directory of a
/// compacted copy of it.
fn churned_and_a_compacted_copy(work: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = churned_ledger(work);
    let compacted = compacted_copy(work, &dir);
    (dir, compacted)
}

#[test]
fn a_compaction_cut_short_at_any_step_is_undone_or_finished_at_open() {
    let work = tempfile::tempdir().unwrap();
    let (dir, compacted) = churned_and_a_compacted_copy(work.path());
    let expected = proven_at_head(&open(&dir).unwrap());
    fs::write(compacted.join(COPY_MARK), b"").unwrap();
    let is_the_copy = || dir.join("state").join(COPY_MARK).exists();

    // Step 1 unfinished: a partial copy is dropped, the state kept.
    copy_dir(&compacted, &dir.join("state.compacting"));
    fs::write(dir.join("state.compacting").join("db"), b"half a database").unwrap();
    assert_eq!(proven_at_head(&reopened_as_it_was(&dir)), expected);
    assert!(!is_the_copy());

    // Step 2 done, step 3 not begun: the whole copy is swapped in.
    copy_dir(&compacted, &dir.join("state.compacted"));
    assert_eq!(proven_at_head(&reopened_as_it_was(&dir)), expected);
    assert!(is_the_copy());

    // Between step 3's two renames: no `state`, the old one and the copy.
    fs::remove_file(dir.join("state").join(COPY_MARK)).unwrap();
    fs::rename(dir.join("state"), dir.join("state.old")).unwrap();
    copy_dir(&compacted, &dir.join("state.compacted"));
    assert_eq!(proven_at_head(&reopened_as_it_was(&dir)), expected);
    assert!(is_the_copy());

    // Step 4 unfinished: the old state is still there beside the new one.
    copy_dir(&dir.join("state"), &dir.join("state.old"));
    fs::write(dir.join("state.old").join("db"), b"an old database").unwrap();
    let ledger = reopened_as_it_was(&dir);
    assert_eq!(proven_at_head(&ledger), expected);
    assert_store_replays(&ledger);
}

#[test]
fn compacting_again_after_a_swap_cut_short_finishes_it_first() {
    let work = tempfile::tempdir().unwrap();
    let (dir, compacted) = churned_and_a_compacted_copy(work.path());
    let expected = proven_at_head(&open(&dir).unwrap());
    fs::rename(dir.join("state"), dir.join("state.old")).unwrap();
    copy_dir(&compacted, &dir.join("state.compacted"));

    let done = DiskLedger::compact_state(&dir).unwrap();

    assert!(done.keys > 400, "{done:?}");
    let ledger = reopened_as_it_was(&dir);
    assert_eq!(proven_at_head(&ledger), expected);
}

#[cfg(unix)]
#[test]
fn a_state_directory_that_is_a_link_is_not_compacted() {
    let work = tempfile::tempdir().unwrap();
    let dir = churned_ledger(work.path());
    let elsewhere = work.path().join("state-elsewhere");
    fs::rename(dir.join("state"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("state")).unwrap();
    let state_files = files_of(&elsewhere);

    let refused = DiskLedger::compact_state(&dir).unwrap_err();

    assert!(refused.to_string().contains("symbolic link"), "{refused}");
    assert_eq!(files_of(&elsewhere), state_files);
    assert_eq!(compaction_leftovers(&dir), Vec::<String>::new());
    assert!(open(&dir).is_ok());
}

/// The records of a chain of `pledged` receipts pledged to bank-a, made in
/// memory (four entries each, after the genesis).
fn chain_of_pledges(pledged: usize) -> (Vec<Vec<u8>>, pledge_ledger::state::Objects) {
    let mut world = World::new();
    for n in 0..pledged {
        world.pledged_receipt(&format!("R-{n}"), &format!("P-{n}"), "bank-a");
    }
    let store = world.store();
    let records = (0..store.len()).map(|s| store.record(s).unwrap()).collect();
    (records, store.objects().unwrap())
}

/// `records` with a bit of entry `at`'s first party signature flipped, and
/// every entry from `at` on linked and sealed again with the node key: a
/// chain whose links and seals all hold, with one signature that does not
/// (what only a node admitting an envelope unchecked could write).
fn with_a_forged_signature(records: &[Vec<u8>], at: usize) -> Vec<Vec<u8>> {
    let mut forged = records[..at].to_vec();
    let mut prev_hash = Entry::decode(&records[at - 1]).unwrap().hash();
    for (n, record) in records.iter().enumerate().skip(at) {
        let mut entry = Entry::decode(record).unwrap();
        if n == at {
            entry.envelope.signatures[0].signature[40] ^= 0x01;
        }
        entry.prev_hash = prev_hash;
        let sealed = Entry::seal_sealed(entry, &node_key());
        prev_hash = sealed.hash;
        forged.push(sealed.record);
    }
    forged
}

/// A state rebuilt from the log checks every party signature, whether the
/// rebuild is short (checked in line, under 512 entries) or long (checked
/// on a second thread ahead of the rules; 4,401 entries: more chunks of 256
/// than the hand-over holds, and past the state's first write at 4,096): a
/// chain sealed around a forged signature is refused naming that entry,
/// early or late, and the untouched chain rebuilds to the state it was
/// made with.
#[test]
fn a_rebuild_checks_every_signature_and_names_the_entry_that_fails() {
    for (pledged, entries, forged_at) in [(20, 81, vec![45]), (1_100, 4_401, vec![600, 4_200])] {
        let (records, objects) = chain_of_pledges(pledged);
        assert_eq!(records.len(), entries);

        let work = tempfile::tempdir().unwrap();
        rewrite_log(work.path(), &records);
        let (store, report) = DiskLedger::open_dir(work.path(), node_key()).unwrap();
        assert_eq!(report.replayed, records.len() as u64);
        assert_eq!(store.snapshot().objects().unwrap(), objects);
        assert_store_replays(&store);

        for at in forged_at {
            let work = tempfile::tempdir().unwrap();
            rewrite_log(work.path(), &with_a_forged_signature(&records, at));
            match DiskLedger::open_dir(work.path(), node_key()) {
                Err(StoreError::InvalidEntry { seq, reason }) => {
                    assert_eq!(seq, at as u64, "{reason}");
                    assert!(reason.contains("signature"), "{reason}");
                }
                other => panic!("{entries} entries, forged at {at}: {other:?}"),
            }
        }
    }
}
