use pledge_ledger::Rejection;
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_ledger::ledger::MemoryLedger;
use pledge_ledger::model::Role;
use pledge_ledger::state::StateRead;
use pledge_proto::v1 as pb;

use crate::support::*;

#[test]
fn genesis_admits_everyone_and_fixes_the_ledger_id() {
    let world = World::new();
    assert_eq!(world.len(), 1);
    assert_eq!(
        world.store().ledger_id().unwrap().as_deref(),
        Some(LEDGER_ID)
    );
    let bank = world.store().participant("bank-a").unwrap().unwrap();
    assert!(bank.has_role(Role::Bank));
    assert_eq!(bank.admitted_at, 0);
}

#[test]
fn a_second_genesis_is_refused() {
    let mut world = World::new();
    let mut tx = genesis_tx();
    tx.tx_id = "genesis-2".into();
    let envelope = EnvelopeBuilder::new(&tx).sign("admin", &key(1)).build();
    assert_eq!(
        world.submit_envelope(envelope),
        Err(Rejection::GenesisOutOfPlace { seq: 1 })
    );
}

#[test]
fn the_first_entry_must_be_a_genesis() {
    let mut world = World::empty(MemoryLedger::in_memory(node_key()));
    let rejection = world
        .submit(register_tank("T", "wh-1", 1), &["wh-1"])
        .unwrap_err();
    assert_eq!(rejection, Rejection::GenesisOutOfPlace { seq: 0 });
    assert_eq!(world.len(), 0);
}

#[test]
fn a_genesis_without_an_admin_is_refused() {
    let mut world = World::empty(MemoryLedger::in_memory(node_key()));
    let mut tx = genesis_tx();
    if let Some(pb::transaction::Operation::Genesis(g)) = &mut tx.operation {
        g.participants.retain(|p| p.id != "admin");
    }
    let envelope = EnvelopeBuilder::new(&tx).sign("wh-1", &key(2)).build();
    // wh-1 is admitted by this genesis but is not an admin, so its signature
    // is extra; the genesis itself is refused for having no admin first.
    let rejection = world.submit_envelope(envelope).unwrap_err();
    assert!(
        matches!(
            rejection,
            Rejection::UnexpectedSigner { .. } | Rejection::GenesisWithoutAdmin
        ),
        "{rejection:?}"
    );
}

#[test]
fn genesis_must_be_signed_by_its_admin() {
    let mut world = World::empty(MemoryLedger::in_memory(node_key()));
    let envelope = EnvelopeBuilder::new(&genesis_tx())
        .sign("admin", &key(55))
        .build();
    assert!(matches!(
        world.submit_envelope(envelope),
        Err(Rejection::KeyNotCurrent { ref signer, .. }) if signer == "admin"
    ));
}

#[test]
fn admin_admits_a_participant() {
    let mut world = World::new();
    world.ok(admit("bank-c", &[pb::Role::Bank], &key(20)), &["admin"]);
    let bank = world.store().participant("bank-c").unwrap().unwrap();
    assert_eq!(bank.admitted_at, 1);
    world.assert_replays();
}

#[test]
fn admitting_an_existing_id_is_refused() {
    let mut world = World::new();
    let rejection = world.refused(admit("bank-a", &[pb::Role::Bank], &key(20)), &["admin"]);
    assert_eq!(
        rejection,
        Rejection::ParticipantExists {
            id: "bank-a".into(),
            admitted_at: 0
        }
    );
}

#[test]
fn only_an_admin_admits() {
    let mut world = World::new();
    let rejection = world.refused(admit("bank-c", &[pb::Role::Bank], &key(20)), &["bank-a"]);
    assert_eq!(
        rejection,
        Rejection::MissingSignature {
            party: pledge_ledger::rejection::Party::AnyWithRole(Role::Admin)
        }
    );
}

#[test]
fn rotating_a_key_switches_which_key_signs() {
    let mut world = World::new();
    world.ok(rotate("trader-a", &key(40)), &["admin"]);
    let participant = world.store().participant("trader-a").unwrap().unwrap();
    assert_eq!(participant.key_since, 1);
    world.receipt_of("R1", 1_000);
    // The old key is refused from the rotation on.
    let rejection = world.refused(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
    assert_eq!(
        rejection,
        Rejection::KeyNotCurrent {
            signer: "trader-a".into(),
            key_since: 1
        }
    );
    world.keys.insert("trader-a".into(), key(40));
    world.ok(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
    // History signed with the old key (genesis-era entries) still verifies.
    world.assert_replays();
}

#[test]
fn rotating_to_the_same_key_or_for_an_unknown_participant_is_refused() {
    let mut world = World::new();
    assert_eq!(
        world.refused(rotate("trader-a", &key(4)), &["admin"]),
        Rejection::SameKey {
            id: "trader-a".into()
        }
    );
    assert_eq!(
        world.refused(rotate("nobody", &key(41)), &["admin"]),
        Rejection::ParticipantNotFound {
            id: "nobody".into()
        }
    );
}

#[test]
fn a_revoked_participant_can_sign_nothing() {
    let mut world = World::new();
    world.receipt_of("R1", 1_000);
    world.receipt_of("R2", 1_000);
    world.ok(transfer("R2", "trader-b"), &["trader-a", "wh-1"]);
    let revoked_at = world.ok(revoke("trader-a"), &["admin"]).seq;
    let rejection = world.refused(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
    assert_eq!(
        rejection,
        Rejection::SignerRevoked {
            signer: "trader-a".into(),
            revoked_at
        }
    );
    assert_eq!(
        world.refused(revoke("trader-a"), &["admin"]),
        Rejection::ParticipantRevoked {
            id: "trader-a".into(),
            revoked_at
        }
    );
    // Nor can it receive a receipt.
    assert_eq!(
        world.refused(transfer("R2", "trader-a"), &["trader-b", "wh-1"]),
        Rejection::ParticipantRevoked {
            id: "trader-a".into(),
            revoked_at
        }
    );
    world.assert_replays();
}
