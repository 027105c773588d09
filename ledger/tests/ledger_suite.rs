//! One suite for the ledger over both pairs of stores: in memory and on disk
//! it must behave the same. Each store's own contract is checked by
//! log_store_suite.rs and state_store_suite.rs; disk-only behaviour
//! (reopen, crashes) is in store_crash.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pledge_ledger::chain::ChainCursor;
use pledge_ledger::entry::Entry;
use pledge_ledger::ledger::{DiskLedger, MemoryLedger};
use pledge_ledger::merkle;
use pledge_ledger::merkle::MemoryNodes;
use pledge_ledger::state::StateRead;
use pledge_ledger::store::{LogStore, ReceiptFilter, StateStore, StoreError};
use pledge_ledger::view::LedgerRead;
use support::*;

/// A short history touching every kind of object.
pub fn scenario<L: LogStore, S: StateStore>(world: &mut World<L, S>) {
    world.receipt_of("R-1", 2_000_000);
    world.ok(
        split("R-1", &[("R-1a", 1_500_000), ("R-1b", 500_000)]),
        &["wh-1", "trader-a"],
    );
    world.ok(
        pledge("P-1", "R-1a", "bank-a", world.now_ms + 30 * DAY_MS),
        &["trader-a", "bank-a"],
    );
    world.now_ms += 1_000;
    world.ok(transfer("R-1b", "trader-b"), &["trader-a", "wh-1"]);
    world.ok(freeze("R-1b"), &["regulator"]);
    world.ok(release("P-1"), &["bank-a"]);
}

fn commits_and_reads<L: LogStore, S: StateStore>(mut world: World<L, S>) {
    scenario(&mut world);
    let store = world.store();
    let mut cursor = ChainCursor::default();
    let mut nodes = MemoryNodes::new();
    for seq in 0..store.len() {
        let record = store.record(seq).unwrap();
        let entry = cursor
            .check_record(&record, Some(&world.ledger.node_public_key()))
            .unwrap();
        assert_eq!(store.entry(seq).unwrap(), entry);
        assert_eq!(Entry::decode(&record).unwrap().encode(), record);
        nodes.append(merkle::leaf_hash(&entry.body())).unwrap();
    }
    assert_eq!(store.head(), cursor);
    assert_eq!(store.tree_root(store.len()).unwrap(), nodes.root().unwrap());
    assert_eq!(store.tree_root(0).unwrap(), merkle::EMPTY_ROOT);
    assert!(matches!(
        store.entry(store.len()),
        Err(StoreError::OutOfRange { seq, len }) if seq == len
    ));
    assert_eq!(
        store.receipt("R-1a").unwrap().unwrap().holder_id,
        "trader-a"
    );
    assert!(store.receipt("R-404").unwrap().is_none());
    world.assert_replays();
}

fn commits_a_group_with_one_call<L: LogStore, S: StateStore>(mut world: World<L, S>) {
    world.receipt_of("R-1", 1_000);
    world.receipt_of("R-2", 1_000);
    let envelopes: Vec<_> = (0..10)
        .map(|i| {
            let receipt = if i % 2 == 0 { "R-1" } else { "R-2" };
            let tx = world.tx(pledge(
                &format!("P-{i}"),
                receipt,
                "bank-a",
                world.now_ms + DAY_MS,
            ));
            world.sign(&tx, &["trader-a", "bank-a"]).verify().unwrap()
        })
        .collect();
    let before = world.len();
    let results = world.ledger.append_group(&envelopes, world.now_ms).unwrap();
    // Exactly one pledge per receipt wins; the rest name the winner.
    let accepted: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(accepted.len(), 2);
    assert_eq!(world.len(), before + 2);
    assert_eq!(accepted[0].seq, before);
    assert_eq!(accepted[1].seq, before + 1);
    world.assert_replays();
}

fn lists_receipts_by_every_filter_and_page<L: LogStore, S: StateStore>(mut world: World<L, S>) {
    scenario(&mut world);
    world.receipt_of("R-2", 1_000);
    world.ok(
        pledge("P-2", "R-2", "bank-b", world.now_ms + DAY_MS),
        &["trader-a", "bank-b"],
    );
    world.ok(cancel("R-1a"), &["trader-a", "wh-1"]);
    let store = world.store();
    let all = store.objects().unwrap();
    assert_lists_every_filter(&all, |filter, after, limit| {
        store.receipts(filter, after, limit).unwrap()
    });
    assert_eq!(
        store
            .receipts(&ReceiptFilter::Pledgee("bank-a".into()), "", 10)
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .receipts(&ReceiptFilter::Pledgee("bank-b".into()), "", 10)
            .unwrap()
            .len(),
        1
    );
    let history = store.receipt_history("R-1a").unwrap();
    assert_eq!(
        history.len(),
        4,
        "split, pledge, release, cancel: {history:?}"
    );
    assert!(history.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(history, all.receipt_history["R-1a"]);
    world.assert_replays();
}

fn disk_world(
    dir: &tempfile::TempDir,
) -> World<pledge_ledger::store::log::EntryLog, pledge_ledger::store::DiskStateStore> {
    let (ledger, _) = DiskLedger::open_dir(dir.path(), node_key()).unwrap();
    World::with_ledger(ledger)
}

macro_rules! both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $case() { super::$case(super::World::with_ledger(super::MemoryLedger::in_memory(super::node_key()))); })*
        }
        mod disk {
            $(#[test] fn $case() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(super::disk_world(&dir));
            })*
        }
    };
}

both_stores!(
    commits_and_reads,
    commits_a_group_with_one_call,
    lists_receipts_by_every_filter_and_page,
);
