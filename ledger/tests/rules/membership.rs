//! The registry's members: a membership entry, signed by the quorum, lists
//! the nodes whose keys may seal from the next entry on; replay accepts a
//! seal only under a key allowed at that point.

use ed25519_dalek::SigningKey;
use pledge_ledger::Rejection;
use pledge_ledger::chain::ChainError;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::ledger::{Ledger, MemoryLedger};
use pledge_ledger::ops;
use pledge_ledger::replay::{BatchReplayer, EntryFault, Replayer};
use pledge_ledger::state::StateRead;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::support::*;

fn member_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(key: &SigningKey) -> PublicKey {
    crypto::public_key(key)
}

fn member(id: u64, key: &SigningKey, voter: bool) -> pb::MemberSpec {
    let address = format!("https://10.1.0.{id}:50071");
    ops::cluster_member(id, &format!("zs-{id}"), &address, &public(key), voter)
}

fn change(members: Vec<pb::MemberSpec>) -> Operation {
    ops::change_membership(members, "ticket OPS-1")
}

/// A world whose ledger key (the node key) became member 1's, with member
/// 2 (seed 202) a second voter: the usual way a single node becomes a
/// registry of several.
fn registry() -> World {
    let mut world = World::new();
    let first = change(vec![
        member(1, &node_key(), true),
        member(2, &member_key(202), true),
    ]);
    world.ok(first, QUORUM);
    world
}

/// The world's ledger, now sealing with `key`.
fn sealing_with(world: World, key: SigningKey) -> World {
    let now_ms = world.now_ms;
    let (log, state, _) = world.ledger.into_parts();
    let (ledger, _) = Ledger::open_as(log, state, key, public(&node_key())).unwrap();
    let mut world = World::with_ledger(ledger);
    world.now_ms = now_ms;
    world
}

fn records(world: &World) -> Vec<Vec<u8>> {
    let store = world.store();
    (0..store.len()).map(|s| store.record(s).unwrap()).collect()
}

fn replay(records: &[Vec<u8>]) -> Result<Replayer, pledge_ledger::replay::ReplayError> {
    let mut replayer = Replayer::new(Some(public(&node_key())));
    for record in records {
        replayer.push_record(record)?;
    }
    Ok(replayer)
}

#[test]
fn a_membership_entry_is_signed_by_the_quorum_and_recorded() {
    let mut world = World::new();
    let refusal = world.refused(change(vec![member(1, &node_key(), true)]), &["admin"]);
    assert_eq!(refusal.reason(), "QUORUM_NOT_MET");
    let entry = world.ok(change(vec![member(1, &node_key(), true)]), QUORUM);
    let membership = world.store().membership().unwrap().unwrap();
    assert_eq!(membership.since, entry.seq);
    assert_eq!(membership.members.len(), 1);
    assert_eq!(membership.sealer_keys(), vec![public(&node_key())]);
}

#[test]
fn a_member_key_may_not_be_a_participants_key() {
    let mut world = World::new();
    let bank_key = world.keys["bank-a"].clone();
    let refusal = world.refused(change(vec![member(1, &bank_key, true)]), QUORUM);
    assert_eq!(refusal.reason(), "KEY_IN_USE");
}

#[test]
fn a_participants_new_key_may_not_be_a_members_key() {
    // The reverse of the rule above: admission, rotation and recovery
    // refuse a member's sealing key.
    let mut world = registry();
    let sealing = member_key(202);
    let since = world.store().membership().unwrap().unwrap().since;
    let admitted = world.refused(admit("bank-c", &[pb::Role::Bank], &sealing), QUORUM);
    assert_eq!(admitted.reason(), "KEY_OF_MEMBER");
    assert_eq!(
        admitted,
        Rejection::KeyOfMember {
            key: public(&sealing).to_hex(),
            member_id: 2,
            membership_since: since,
        }
    );
    let rotated = world.refused(rotate("bank-a", &node_key()), &["bank-a"]);
    assert_eq!(rotated.reason(), "KEY_OF_MEMBER");
    let recovered = world.refused(recover("bank-a", &sealing), QUORUM);
    assert_eq!(recovered.reason(), "KEY_OF_MEMBER");
    // A key no member holds is admitted as before.
    world.ok(admit("bank-c", &[pb::Role::Bank], &member_key(203)), QUORUM);
    world.assert_replays();
}

#[test]
fn one_voter_comes_or_goes_at_a_time() {
    let mut world = registry();
    let two_more = change(vec![
        member(1, &node_key(), true),
        member(2, &member_key(202), true),
        member(3, &member_key(203), true),
        member(4, &member_key(204), true),
    ]);
    match world.refused(two_more, QUORUM) {
        Rejection::MembershipChangeTooLarge { added, removed, .. } => {
            assert_eq!(added, vec![3, 4]);
            assert!(removed.is_empty());
        }
        other => panic!("{other}"),
    }
    let rekeyed = change(vec![
        member(1, &node_key(), true),
        member(2, &member_key(212), true),
    ]);
    assert_eq!(
        world.refused(rekeyed, QUORUM).reason(),
        "MEMBERSHIP_CHANGE_TOO_LARGE"
    );
    let learner_added = change(vec![
        member(1, &node_key(), true),
        member(2, &member_key(202), true),
        member(3, &member_key(203), false),
    ]);
    world.ok(learner_added, QUORUM);
    let promoted = change(vec![
        member(1, &node_key(), true),
        member(2, &member_key(202), true),
        member(3, &member_key(203), true),
    ]);
    world.ok(promoted, QUORUM);
}

#[test]
fn a_malformed_member_list_does_not_decode() {
    let mut world = World::new();
    let twice = change(vec![
        member(1, &member_key(201), true),
        member(1, &member_key(202), true),
    ]);
    let tx = world.tx(twice);
    let envelope = world.sign(&tx, QUORUM);
    assert!(envelope.verify().is_err(), "a member id listed twice");
    let no_voter = change(vec![member(1, &member_key(201), false)]);
    let tx = world.tx(no_voter);
    assert!(world.sign(&tx, QUORUM).verify().is_err(), "no voter");
}

#[test]
fn entries_sealed_by_any_voter_replay_and_the_stores_reopen() {
    let mut world = sealing_with(registry(), member_key(202));
    world.tank("T-1", "wh-1");
    let mut world = sealing_with(world, node_key());
    world.tank("T-2", "wh-1");
    let all = records(&world);
    let replayer = replay(&all).unwrap();
    assert_eq!(replayer.entries(), world.len());
    assert_eq!(replayer.state(), &world.store().objects().unwrap());
    let mut batch = BatchReplayer::new(Some(public(&node_key())), 2);
    for chunk in all.chunks(2) {
        batch.push_chunk(chunk).unwrap();
    }
    batch.finish().unwrap();
    assert_eq!(batch.replayer().head_hash(), replayer.head_hash());
}

#[test]
fn after_a_membership_entry_the_ledger_key_no_longer_seals_unless_listed() {
    let mut world = World::new();
    world.ok(change(vec![member(2, &member_key(202), true)]), QUORUM);
    // The node still holds the ledger key, which is no voter's: it refuses
    // to seal rather than write an entry no verifier would accept.
    let refusal = world.refused(
        register_tank("T-1", "wh-1", TANK_CAPACITY_KG),
        &["wh-1", INSPECTOR],
    );
    assert_eq!(refusal.reason(), "SEALER_NOT_A_MEMBER");
    let mut world = sealing_with(world, member_key(202));
    world.tank("T-1", "wh-1");
    replay(&records(&world)).unwrap();
}

#[test]
fn a_seal_by_a_learner_a_removed_member_or_a_stranger_is_refused() {
    let base = registry();
    let membership_at = base.len() - 1;
    for (who, key) in [
        ("a stranger", member_key(250)),
        ("a learner", member_key(203)),
    ] {
        let mut world = World::new();
        let learner = change(vec![
            member(1, &node_key(), true),
            member(2, &member_key(202), true),
            member(3, &member_key(203), false),
        ]);
        world.ok(learner, QUORUM);
        // Forge: a ledger sealing with a key the membership does not allow
        // (its own refusal is bypassed by sealing directly).
        let forged = forge_next(&world, &key);
        let mut all = records(&world);
        all.push(forged);
        let error = replay(&all).unwrap_err();
        assert_eq!(error.seq, world.len(), "{who}");
        assert!(
            matches!(error.fault, EntryFault::Chain(ChainError::BadSeal { .. })),
            "{who}: {error}"
        );
    }
    // Member 1 removed: its key seals nothing after the removal.
    let mut world = base;
    world.ok(change(vec![member(2, &member_key(202), true)]), QUORUM);
    let mut all = records(&world);
    all.push(forge_next(&world, &node_key()));
    let error = replay(&all).unwrap_err();
    assert_eq!(error.seq, world.len());
    assert!(membership_at < error.seq);
}

/// The next entry of `world`'s chain (a tank registration), sealed with
/// `key` whatever the membership says.
fn forge_next(world: &World, key: &SigningKey) -> Vec<u8> {
    let store = world.store();
    let head = store.head();
    let mut scratch = World::new();
    let tx = scratch.tx(register_tank("T-9", "wh-1", TANK_CAPACITY_KG));
    let envelope = scratch.sign(&tx, &["wh-1", INSPECTOR]);
    let entry = pledge_ledger::entry::Entry::seal_new(
        head.next_seq,
        head.head_hash,
        head.head_time_ms,
        envelope,
        key,
    );
    entry.encode()
}

#[test]
fn an_in_memory_ledger_is_unchanged_without_membership_entries() {
    let world: World = World::with_ledger(MemoryLedger::in_memory(node_key()));
    assert_eq!(world.store().membership().unwrap(), None);
    world.assert_replays();
}
