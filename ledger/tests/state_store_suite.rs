//! One suite for both state stores: [`MemoryStateStore`] and
//! [`DiskStateStore`] keep the same contract (see `pledge_ledger::store`'s
//! `StateStore`). The updates come from a real chain: the scenario of the
//! ledger suite, replayed entry by entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pledge_ledger::entry::Entry;
use pledge_ledger::merkle::{self, Frontier, NodeSource};
use pledge_ledger::model::Tank;
use pledge_ledger::replay::reapply;
use pledge_ledger::state::{MemoryState, Objects, Overlay, StateRead};
use pledge_ledger::statemap::{
    self, Kind, MapHash, MapNodeId, MapProof, MemoryMap, VersionedMap, map_key, versioned,
};
use pledge_ledger::store::{
    DiskStateStore, DiskStateView, MemoryStateStore, StateStore, StateUpdate, StateView,
    StoreError, Upkeep,
};
use pledge_ledger::view::LedgerRead;
use support::*;

/// The updates of a chain touching every kind of object, one per entry,
/// and the state and Merkle root they add up to.
fn chain_updates() -> (Vec<StateUpdate>, MemoryState, merkle::Hash) {
    let mut world = World::new();
    world.receipt_of("R-1", 2_000_000);
    world.ok(
        split("R-1", &[("R-1a", 1_500_000), ("R-1b", 500_000)]),
        &["wh-1", "trader-a"],
    );
    world.ok(
        pledge("P-1", "R-1a", "bank-a", world.now_ms + 30 * DAY_MS),
        &["trader-a", "bank-a"],
    );
    world.ok(transfer("R-1b", "trader-b"), &["trader-a", "wh-1"]);
    world.ok(freeze("R-1b"), &["regulator"]);
    world.receipt_of("R-2", 1_000);
    world.ok(
        pledge("P-2", "R-2", "bank-b", world.now_ms + DAY_MS),
        &["trader-a", "bank-b"],
    );
    world.ok(release("P-1"), &["bank-a"]);
    world.ok(cancel("R-1a"), &["trader-a", "wh-1"]);
    updates_of(&world)
}

/// The updates merged into runs of `run` entries.
fn merged(updates: &[StateUpdate], run: usize) -> Vec<StateUpdate> {
    updates
        .chunks(run)
        .map(|chunk| {
            let mut all = StateUpdate::starting_at(chunk[0].first);
            for update in chunk {
                all.merge(update.clone());
            }
            all
        })
        .collect()
}

fn apply_all<S: StateStore>(store: &mut S, updates: &[StateUpdate]) {
    for update in updates {
        store.apply(update).unwrap();
    }
}

fn applies_updates_and_reads_them_back<S: StateStore>(mut store: S) {
    let (updates, expected, root) = chain_updates();
    assert_eq!(store.applied(), 0);
    apply_all(&mut store, &updates);
    let view = store.view();
    assert_eq!(store.applied(), updates.len() as u64);
    assert_eq!(view.applied(), updates.len() as u64);
    assert_eq!(view.objects().unwrap(), expected);
    assert_eq!(
        merkle::root(updates.len() as u64, &WithLeaves::of(&view, &updates)).unwrap(),
        root
    );
    assert_eq!(
        view.receipt("R-1a").unwrap().unwrap().status.name(),
        "cancelled"
    );
    assert_eq!(view.transaction("nope").unwrap(), None);
}

fn updates_merged_across_groups_give_the_same_state<S: StateStore>(mut store: S) {
    let (updates, expected, root) = chain_updates();
    apply_all(&mut store, &merged(&updates, 4));
    let view = store.view();
    assert_eq!(view.objects().unwrap(), expected);
    assert_eq!(
        merkle::root(updates.len() as u64, &WithLeaves::of(&view, &updates)).unwrap(),
        root
    );
    assert_eq!(store.applied(), updates.len() as u64);
}

fn refuses_an_update_that_does_not_follow_on<S: StateStore>(mut store: S) {
    let (updates, _, _) = chain_updates();
    apply_all(&mut store, &updates[..3]);
    let before = store.view().objects().unwrap();
    for stray in [&updates[2], &updates[4]] {
        assert!(matches!(
            store.apply(stray),
            Err(StoreError::StateBehind { applied: 3, .. })
        ));
    }
    assert_eq!(store.applied(), 3);
    assert_eq!(store.view().objects().unwrap(), before);
}

fn lists_receipts_by_every_filter_and_page<S: StateStore>(mut store: S) {
    let (updates, all, _) = chain_updates();
    apply_all(&mut store, &merged(&updates, 3));
    let view = store.view();
    assert_lists_every_filter(&all, |filter, after, limit| {
        view.receipts(filter, after, limit).unwrap()
    });
    for (id, history) in &all.receipt_history {
        assert_eq!(&view.receipt_history(id).unwrap(), history, "{id}");
    }
    assert!(view.receipt_history("R-404").unwrap().is_empty());
}

/// `list(after, limit)` against the tanks of `all`: every tank in id order
/// in one page, then a page of one at a time, then after an id that is not
/// a tank's, and nothing past the last.
fn assert_lists_tanks(all: &Objects, list: impl Fn(Option<&str>, usize) -> Vec<Tank>) {
    let expected: Vec<Tank> = all.tanks.values().cloned().collect();
    assert!(expected.len() >= 2, "the chain registers several tanks");
    assert_eq!(list(None, usize::MAX), expected);
    assert!(list(None, 0).is_empty());
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(after.as_deref(), 1);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        paged.extend(page);
    }
    assert_eq!(paged, expected);
    let first = &expected[0].id;
    // An id right after the first tank's (a suffix sorts after it).
    assert_eq!(list(Some(&format!("{first}~")), usize::MAX), expected[1..]);
    assert_eq!(list(Some(""), 1), expected[..1]);
}

fn lists_tanks_in_id_order_a_page_at_a_time<S: StateStore>(mut store: S) {
    let (updates, all, _) = chain_updates();
    apply_all(&mut store, &merged(&updates, 3));
    let view = store.view();
    assert_lists_tanks(&all, |after, limit| view.tanks(after, limit).unwrap());
}

/// Pending changes over a store (how a snapshot and a commit group read)
/// list the tanks registered or changed in them too, newest version.
fn lists_tanks_through_pending_changes<S: StateStore>(mut store: S) {
    let (updates, all, _) = chain_updates();
    let (applied, pending) = updates.split_at(6);
    apply_all(&mut store, applied);
    let view = store.view();
    let mut changes = Objects::default();
    for update in pending {
        changes.merge(update.changes.clone());
    }
    assert!(
        !changes.tanks.is_empty(),
        "the pending entries change tanks"
    );
    let layered = Overlay::with_pending(&view, changes);
    assert_lists_tanks(&all, |after, limit| layered.tanks(after, limit).unwrap());
}

fn clearing_forgets_everything<S: StateStore>(mut store: S) {
    let (updates, expected, _) = chain_updates();
    apply_all(&mut store, &updates);
    store.clear().unwrap();
    assert_eq!(store.applied(), 0);
    let view = store.view();
    assert_eq!(view.objects().unwrap(), MemoryState::default());
    assert!(view.node(merkle::NodeId::new(1, 0)).is_err());
    apply_all(&mut store, &updates);
    assert_eq!(store.view().objects().unwrap(), expected);
}

fn a_view_keeps_answering_for_its_entries<S: StateStore>(mut store: S) {
    let (updates, _, _) = chain_updates();
    apply_all(&mut store, &updates[..4]);
    let early = store.view();
    let early_root = merkle::root(4, &early).unwrap();
    apply_all(&mut store, &updates[4..]);
    assert_eq!(early.applied(), 4);
    assert_eq!(merkle::root(4, &early).unwrap(), early_root);
    assert_eq!(merkle::root(4, &store.view()).unwrap(), early_root);
    assert!(early.participant("bank-a").unwrap().is_some());
    let on_another_thread = early.clone();
    let found = std::thread::spawn(move || on_another_thread.receipt("R-1").unwrap())
        .join()
        .unwrap();
    assert!(found.is_some());
}

/// Keeps every Merkle node above the leaves the updates complete, and no
/// leaf (readers hash those from the log).
fn keeps_the_nodes_above_the_leaves_only<S: StateStore>(mut store: S) {
    let (updates, _, _) = chain_updates();
    apply_all(&mut store, &updates);
    let view = store.view();
    let mut above = 0;
    for (id, hash) in updates.iter().flat_map(|u| &u.nodes) {
        match id.level {
            0 => assert!(view.node(*id).is_err(), "leaf {id:?} kept"),
            _ => {
                assert_eq!(view.node(*id).unwrap(), *hash, "{id:?}");
                above += 1;
            }
        }
    }
    let n = updates.len() as u32;
    assert_eq!(
        above,
        n - n.count_ones(),
        "n leaves complete n - popcount(n) perfect subtrees above them"
    );
}

/// A state view's Merkle nodes with the leaves the updates carry: what
/// `TreeNodes` gives with the log beside the view.
struct WithLeaves<'a, V> {
    view: &'a V,
    leaves: std::collections::BTreeMap<merkle::NodeId, merkle::Hash>,
}

impl<'a, V: StateView> WithLeaves<'a, V> {
    fn of(view: &'a V, updates: &[StateUpdate]) -> Self {
        let leaves = updates.iter().flat_map(|u| &u.nodes);
        WithLeaves {
            view,
            leaves: leaves
                .filter(|(id, _)| id.level == 0)
                .map(|(id, h)| (*id, *h))
                .collect(),
        }
    }
}

impl<V: StateView> NodeSource for WithLeaves<'_, V> {
    type Error = StoreError;

    fn node(&self, id: merkle::NodeId) -> Result<merkle::Hash, StoreError> {
        match self.leaves.get(&id) {
            Some(hash) => Ok(*hash),
            None => self.view.node(id),
        }
    }
}

/// One update per entry of `world`'s chain, and the state and Merkle root
/// they add up to.
fn updates_of(world: &World) -> (Vec<StateUpdate>, MemoryState, merkle::Hash) {
    let snapshot = world.store();
    let mut state = MemoryState::default();
    let mut frontier = Frontier::default();
    let mut updates = Vec::new();
    for seq in 0..snapshot.len() {
        let entry = Entry::decode(&snapshot.record(seq).unwrap()).unwrap();
        let changes = reapply(&Overlay::new(&state), &entry, None).unwrap();
        state.merge(changes.clone());
        updates.push(StateUpdate {
            first: seq,
            end: seq + 1,
            changes,
            nodes: frontier
                .append(merkle::leaf_hash(&entry.body()))
                .into_iter()
                .collect(),
        });
    }
    (updates, state, frontier.root())
}

/// A chain of a few receipts passed back and forth `rounds` times: many
/// entries, few map keys.
fn churn_updates(rounds: usize) -> Vec<StateUpdate> {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.receipt_of("R-2", 2_000);
    let created = world.len();
    for round in 0..rounds {
        let (holder, to) = match round % 2 {
            0 => ("trader-a", "trader-b"),
            _ => ("trader-b", "trader-a"),
        };
        let receipt = ["R-1", "R-2"][round % 4 / 2];
        world.ok(transfer(receipt, to), &[holder, "wh-1"]);
    }
    let (updates, _, _) = updates_of(&world);
    assert!(updates.len() as u64 > created + rounds as u64 / 2);
    updates
}

/// The map's root and each receipt's proof at `size`, read from `view`.
fn map_at<V: StateView>(view: &V, size: u64) -> (MapHash, Vec<MapProof>) {
    let root = view
        .state_root_at(size)
        .unwrap()
        .expect("a root at the size");
    let proofs = ["R-1", "R-2"]
        .iter()
        .map(|id| versioned::prove_at(view, Kind::Receipt, id, size).unwrap())
        .collect();
    (root, proofs)
}

fn pruning_keeps_the_map_bounded_and_the_floor_provable<S: StateStore>(mut store: S) {
    let updates = churn_updates(120);
    let mut unpruned = MemoryStateStore::new();
    apply_all(&mut unpruned, &updates);
    let all_versions = unpruned.view().map_node_versions().unwrap();
    // Pruned to the applied size after each update, as a node serving a
    // checkpoint at every size would: the map holds one version per node.
    let mut kept = Vec::new();
    for update in &updates {
        store.apply(update).unwrap();
        store.prune_map(update.end).unwrap();
        kept.push(store.view().map_node_versions().unwrap());
    }
    let nodes_now = nodes_of_current_map(&unpruned);
    assert_eq!(*kept.last().unwrap(), nodes_now);
    assert!(kept.iter().all(|n| *n <= nodes_now), "{kept:?}");
    assert!(
        all_versions > 10 * nodes_now,
        "without pruning {all_versions} versions, with {nodes_now}"
    );
    // The map at the floor and the head reads as the unpruned one's.
    let head = updates.len() as u64;
    assert_eq!(map_at(&store.view(), head), map_at(&unpruned.view(), head));
    assert_eq!(store.view().map_floor().unwrap(), head);
    assert_pruned_below(&store.view(), head);
}

fn a_pinned_size_stays_provable_while_later_ones_are_pruned<S: StateStore>(mut store: S) {
    let updates = churn_updates(40);
    let mut unpruned = MemoryStateStore::new();
    apply_all(&mut unpruned, &updates);
    let pinned = 10;
    apply_all(&mut store, &updates[..20]);
    store.prune_map(pinned).unwrap();
    apply_all(&mut store, &updates[20..]);
    store.prune_map(pinned).unwrap();
    for size in pinned..=updates.len() as u64 {
        assert_eq!(
            map_at(&store.view(), size),
            map_at(&unpruned.view(), size),
            "size {size}"
        );
    }
    assert_pruned_below(&store.view(), pinned);
    // A lower floor changes nothing; a floor past the applied size stops there.
    assert_eq!(store.prune_map(5).unwrap(), 0);
    store.prune_map(u64::MAX).unwrap();
    assert_eq!(store.view().map_floor().unwrap(), updates.len() as u64);
}

/// Every read of the map at the size just below `floor` is
/// [`StoreError::MapPruned`], never an older or a newer node.
fn assert_pruned_below<V: StateView>(view: &V, floor: u64) {
    let size = floor - 1;
    let pruned = |result: Result<(), StoreError>| {
        assert!(
            matches!(result, Err(StoreError::MapPruned { size: s, floor: f }) if s == size && f == floor),
            "{result:?} at {size}, floor {floor}"
        );
    };
    pruned(view.state_root_at(size).map(drop));
    pruned(view.map_node_at(&MapNodeId::ROOT, size).map(drop));
    pruned(versioned::prove_at(view, Kind::Receipt, "R-1", size).map(drop));
}

/// The map's root after each number of entries of `updates` (index 0: the
/// empty map), computed from scratch from the state at that size: the
/// truth the stores' versions are checked against.
fn roots_from_scratch(updates: &[StateUpdate]) -> Vec<MapHash> {
    let mut state = MemoryState::default();
    let mut roots = vec![statemap::EMPTY];
    for update in updates {
        state.merge(update.changes.clone());
        roots.push(statemap::root_of_state(&state));
    }
    roots
}

/// `view`'s root at `size` is `root`, and the proofs of both receipts
/// (present or not yet) lead to it.
fn assert_map_at<V: StateView>(view: &V, size: u64, root: MapHash) {
    assert_eq!(view.state_root_at(size).unwrap(), Some(root), "size {size}");
    for id in ["R-1", "R-2"] {
        let proof = versioned::prove_at(view, Kind::Receipt, id, size).unwrap();
        let led_to = proof.root_for(&map_key(Kind::Receipt, id)).unwrap();
        assert_eq!(led_to, root, "proof of {id} at size {size}");
    }
}

fn a_proof_at_an_old_size_reads_the_map_as_it_was<S: StateStore>(mut store: S) {
    let updates = churn_updates(40);
    let roots = roots_from_scratch(&updates);
    apply_all(&mut store, &updates);
    // Never pruned: every size is provable, though the later entries
    // rewrote both receipts' paths many times since.
    let view = store.view();
    assert_eq!(view.map_floor().unwrap(), 0);
    for (size, root) in roots.iter().enumerate() {
        assert_map_at(&view, size as u64, *root);
    }
}

fn a_view_taken_before_an_apply_reads_its_own_size<S: StateStore>(mut store: S) {
    let updates = churn_updates(20);
    let roots = roots_from_scratch(&updates);
    let (early, late) = updates.split_at(10);
    apply_all(&mut store, early);
    let view = store.view();
    apply_all(&mut store, late);
    // As a node serving a checkpoint at 10 prunes.
    store.prune_map(10).unwrap();
    assert_eq!(view.applied(), 10);
    assert_ne!(
        roots[10],
        *roots.last().unwrap(),
        "the later entries moved the map"
    );
    assert_map_at(&view, 10, roots[10]);
    assert_map_at(&store.view(), updates.len() as u64, *roots.last().unwrap());
}

/// How many nodes the map of `store`'s current state has, built from
/// scratch (one version each).
fn nodes_of_current_map(store: &MemoryStateStore) -> u64 {
    let leaves = statemap::leaves_of_state(&store.view().objects().unwrap());
    let mut map = MemoryMap::new();
    map.apply(&leaves);
    map.len() as u64
}

fn disk_store() -> (tempfile::TempDir, DiskStateStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStateStore::open(dir.path()).unwrap();
    (dir, store)
}

/// A disk store that compacts its database after every apply (a copy
/// started, stepped to its end and switched to), so that every case runs
/// with views taken before a switch reading the database it replaced.
struct CompactingAlways(DiskStateStore);

impl StateStore for CompactingAlways {
    type View = DiskStateView;

    fn applied(&self) -> u64 {
        self.0.applied()
    }
    fn view(&self) -> DiskStateView {
        self.0.view()
    }
    fn apply(&mut self, update: &StateUpdate) -> Result<(), StoreError> {
        self.0.apply(update)?;
        assert!(self.0.begin_compaction()?);
        let mut steps = 0;
        while self.0.upkeep()? == Upkeep::Working {
            steps += 1;
        }
        assert!(steps < 10, "a small store is copied in a step or two");
        Ok(())
    }
    fn prune_map(&mut self, floor: u64) -> Result<u64, StoreError> {
        self.0.prune_map(floor)
    }
    fn clear(&mut self) -> Result<(), StoreError> {
        self.0.clear()
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.0.flush()
    }
}

macro_rules! both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $case() { super::$case(super::MemoryStateStore::new()); })*
        }
        mod disk {
            $(#[test] fn $case() {
                let (_dir, store) = super::disk_store();
                super::$case(store);
            })*
        }
        mod disk_compacting_always {
            $(#[test] fn $case() {
                let (_dir, store) = super::disk_store();
                super::$case(super::CompactingAlways(store));
            })*
        }
    };
}

both_stores!(
    applies_updates_and_reads_them_back,
    updates_merged_across_groups_give_the_same_state,
    refuses_an_update_that_does_not_follow_on,
    lists_receipts_by_every_filter_and_page,
    lists_tanks_in_id_order_a_page_at_a_time,
    lists_tanks_through_pending_changes,
    clearing_forgets_everything,
    a_view_keeps_answering_for_its_entries,
    pruning_keeps_the_map_bounded_and_the_floor_provable,
    a_pinned_size_stays_provable_while_later_ones_are_pruned,
    a_proof_at_an_old_size_reads_the_map_as_it_was,
    a_view_taken_before_an_apply_reads_its_own_size,
    keeps_the_nodes_above_the_leaves_only,
);

#[test]
fn a_memory_view_is_an_immutable_snapshot() {
    let (updates, _, _) = chain_updates();
    let mut store = MemoryStateStore::new();
    apply_all(&mut store, &updates[..4]);
    let early = store.view();
    let objects = early.objects().unwrap();
    apply_all(&mut store, &updates[4..]);
    assert_eq!(early.objects().unwrap(), objects);
}

#[test]
fn the_disk_store_keeps_its_applied_count_across_reopen() {
    let (updates, expected, _) = chain_updates();
    let dir = tempfile::tempdir().unwrap();
    let mut store = DiskStateStore::open(dir.path()).unwrap();
    apply_all(&mut store, &updates);
    store.flush().unwrap();
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(store.applied(), updates.len() as u64);
    assert_eq!(store.view().objects().unwrap(), expected);
}

#[test]
fn the_disk_map_is_provable_from_the_size_it_reopened_at() {
    let updates = churn_updates(30);
    let roots = roots_from_scratch(&updates);
    let (before, after) = updates.split_at(20);
    let dir = tempfile::tempdir().unwrap();
    let mut store = DiskStateStore::open(dir.path()).unwrap();
    apply_all(&mut store, before);
    store.flush().unwrap();
    drop(store);

    // The versions superseded before the restart were in memory only.
    let mut store = reopen(dir.path());
    let view = store.view();
    assert_eq!(view.map_floor().unwrap(), 20);
    assert_map_at(&view, 20, roots[20]);
    assert_pruned_below(&view, 20);
    assert!(matches!(
        view.state_root_at(0),
        Err(StoreError::MapPruned { size: 0, floor: 20 })
    ));

    // Catching up from the log adds versions from there on.
    apply_all(&mut store, after);
    let view = store.view();
    for (size, root) in roots.iter().enumerate().skip(20) {
        assert_map_at(&view, size as u64, *root);
    }
    assert_pruned_below(&view, 20);
}

/// Opens a sled database just dropped in this process (the store waits
/// for the lock sled's background threads may still hold a moment).
fn reopen(dir: &std::path::Path) -> DiskStateStore {
    DiskStateStore::open(dir).unwrap_or_else(|error| panic!("reopen {}: {error}", dir.display()))
}

/// The disk store overwrites the map's upper levels in place: a view
/// proving at its own size on another thread, while applies overwrite the
/// very slots it reads (the root's among them), still reads the map of its
/// size each time, never a torn or a newer node.
#[test]
fn a_disk_view_proves_its_size_while_applies_overwrite_its_slots() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let updates = churn_updates(80);
    let roots = roots_from_scratch(&updates);
    let (early, late) = updates.split_at(10);
    let (_dir, mut store) = disk_store();
    apply_all(&mut store, early);
    let view = store.view();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        let root = roots[10];
        std::thread::spawn(move || {
            let mut proofs = 0u64;
            while proofs == 0 || !done.load(Ordering::SeqCst) {
                assert_map_at(&view, 10, root);
                proofs += 1;
            }
            proofs
        })
    };
    apply_all(&mut store, late);
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    assert_map_at(&store.view(), updates.len() as u64, *roots.last().unwrap());
}
