//! Genesis, governance by the quorum, legal identities, keys (one owner for
//! ever; self-rotation; recovery by the quorum) and revocation (successor
//! banks, the quorum's survival).

use pledge_ledger::Rejection;
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_ledger::identity::LegalId;
use pledge_ledger::ledger::MemoryLedger;
use pledge_ledger::model::{PledgeStatus, Role, Succession};
use pledge_ledger::rejection::Party;
use pledge_ledger::state::{ReceiptFilter, StateRead};
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1 as pb;

use crate::support::*;

fn quorum_members() -> Vec<String> {
    QUORUM.iter().map(|m| (*m).into()).collect()
}

#[test]
fn genesis_admits_everyone_and_fixes_the_ledger_id_and_the_quorum() {
    let world = World::new();
    assert_eq!(world.len(), 1);
    assert_eq!(
        world.store().ledger_id().unwrap().as_deref(),
        Some(LEDGER_ID)
    );
    let governance = world.store().governance().unwrap().unwrap();
    assert_eq!(governance.quorum_members, quorum_members());
    assert_eq!(governance.quorum_threshold, 2);
    assert_eq!(governance.max_validity_ms, MAX_VALIDITY_MS);
    let bank = world.participant("bank-a");
    assert!(bank.has_role(Role::Bank));
    assert_eq!(bank.admitted_at, 0);
    assert_eq!(bank.spec.legal_id, LegalId::Uscc(uscc_of("bank-a")));
    let inspector = world.participant(INSPECTOR);
    assert!(inspector.has_role(Role::Inspector));
}

#[test]
fn a_second_genesis_is_refused() {
    let mut world = World::new();
    let mut tx = genesis_tx();
    tx.tx_id = "genesis-2".into();
    let envelope = EnvelopeBuilder::new(&tx)
        .sign("admin", &key(1))
        .sign("regulator", &key(8))
        .build();
    assert_eq!(
        world.submit_envelope(envelope),
        Err(Rejection::GenesisOutOfPlace { seq: 1 })
    );
}

#[test]
fn the_first_entry_must_be_a_genesis() {
    let mut world = World::empty(MemoryLedger::in_memory(node_key()));
    let rejection = world
        .submit(register_tank("T", "wh-1", 1), &["wh-1", INSPECTOR])
        .unwrap_err();
    assert_eq!(rejection, Rejection::GenesisOutOfPlace { seq: 0 });
    assert_eq!(world.len(), 0);
}

#[test]
fn genesis_must_be_signed_by_every_quorum_member() {
    let mut world = World::empty(MemoryLedger::in_memory(node_key()));
    let envelope = EnvelopeBuilder::new(&genesis_tx())
        .sign("admin", &key(1))
        .build();
    assert_eq!(
        world.submit_envelope(envelope).unwrap_err(),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "regulator".into(),
                capacity: "quorum member"
            }
        }
    );
    let envelope = EnvelopeBuilder::new(&genesis_tx())
        .sign("admin", &key(55))
        .sign("regulator", &key(8))
        .build();
    assert!(matches!(
        world.submit_envelope(envelope),
        Err(Rejection::KeyNeverOwned { ref signer, owner: None, .. }) if signer == "admin"
    ));
    assert_eq!(world.len(), 0);
}

/// The largest quorum the format allows (16 members, 14 of them to act)
/// signs its genesis: every member's signature fits in one envelope.
#[test]
fn the_largest_quorum_signs_its_genesis() {
    let members: Vec<(String, u8)> = (0..16).map(|i| (format!("founder-{i}"), 30 + i)).collect();
    let mut tx = genesis_tx();
    let Some(pb::transaction::Operation::Genesis(genesis)) = tx.operation.as_mut() else {
        unreachable!("genesis_tx is a genesis");
    };
    for (id, seed) in &members {
        genesis
            .participants
            .push(spec(id, &[pb::Role::Admin], &key(*seed)));
    }
    genesis.governance = Some(pb::Governance {
        quorum_members: members.iter().map(|(id, _)| id.clone()).collect(),
        quorum_threshold: 14,
        max_validity_ms: MAX_VALIDITY_MS,
    });
    let envelope = members
        .iter()
        .fold(EnvelopeBuilder::new(&tx), |b, (id, seed)| {
            b.sign(id, &key(*seed))
        })
        .build();
    let mut world = World::empty(MemoryLedger::in_memory(node_key()));
    world
        .submit_envelope(envelope)
        .expect("a 16-member genesis");
    let governance = world.store().governance().unwrap().unwrap();
    assert_eq!(governance.quorum_members.len(), 16);
}

#[test]
fn the_quorum_admits_a_participant() {
    let mut world = World::new();
    world.ok(admit("bank-c", &[pb::Role::Bank], &key(20)), QUORUM);
    let bank = world.participant("bank-c");
    assert_eq!(bank.admitted_at, 1);
    world.assert_replays();
}

#[test]
fn one_admin_alone_cannot_admit() {
    let mut world = World::new();
    let rejection = world.refused(admit("bank-c", &[pb::Role::Bank], &key(20)), &["admin"]);
    assert_eq!(
        rejection,
        Rejection::QuorumNotMet {
            threshold: 2,
            members: quorum_members(),
            signed: vec!["admin".into()]
        }
    );
    assert_eq!(
        rejection.to_string(),
        "2 of the quorum members {admin, regulator} must sign; signed: {admin}"
    );
    // A participant outside the quorum does not count, whatever its role.
    assert!(matches!(
        world.refused(
            admit("bank-c", &[pb::Role::Bank], &key(20)),
            &["admin", "regulator-2"]
        ),
        Rejection::QuorumNotMet { .. }
    ));
}

#[test]
fn admitting_an_existing_id_is_refused() {
    let mut world = World::new();
    let rejection = world.refused(admit("bank-a", &[pb::Role::Bank], &key(20)), QUORUM);
    assert_eq!(
        rejection,
        Rejection::ParticipantExists {
            id: "bank-a".into(),
            admitted_at: 0
        }
    );
}

#[test]
fn a_look_alike_name_with_a_taken_legal_identity_is_refused() {
    let mut world = World::new();
    let mut look_alike = spec("bank-a-zhoushan", &[pb::Role::Bank], &key(21));
    look_alike.name = "Bank A (Zhoushan) Co., Ltd.".into();
    look_alike.legal_identity = uscc(&uscc_of("bank-a"));
    let op = pb::transaction::Operation::AdmitParticipant(pb::AdmitParticipant {
        participant: Some(look_alike),
    });
    assert_eq!(
        world.refused(op, QUORUM),
        Rejection::LegalIdInUse {
            legal_id: LegalId::Uscc(uscc_of("bank-a")),
            participant: "bank-a".into()
        }
    );
}

#[test]
fn a_warehouses_key_cannot_be_admitted_again_as_a_trader() {
    let mut world = World::new();
    let rejection = world.refused(admit("trader-x", &[pb::Role::Holder], &key(2)), QUORUM);
    assert_eq!(
        rejection,
        Rejection::KeyInUse {
            key: pledge_ledger::crypto::public_key(&key(2)).to_hex(),
            participant: "wh-1".into(),
            since: 0
        }
    );
}

#[test]
fn a_participant_rotates_its_own_key() {
    let mut world = World::new();
    world.receipt_of("R1", 1_000);
    let rotated = world.ok(rotate("trader-a", &key(40)), &["trader-a"]).seq;
    let participant = world.participant("trader-a");
    assert_eq!(participant.key_since, rotated);
    // The old key is refused from the rotation on, and the refusal says so.
    let rejection = world.refused(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
    assert_eq!(
        rejection,
        Rejection::KeyNotCurrent {
            signer: "trader-a".into(),
            key_since: rotated,
            retired_at: rotated
        }
    );
    world.keys.insert("trader-a".into(), key(40));
    world.ok(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
    // History signed with the old key (genesis-era entries) still verifies.
    world.assert_replays();
}

#[test]
fn an_admin_alone_cannot_rotate_a_banks_key() {
    // The admin rotates bank-a's key to one it holds, then releases bank-a's pledge.
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    let rejection = world.refused(rotate("bank-a", &key(60)), &["admin"]);
    assert_eq!(
        rejection,
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "bank-a".into(),
                capacity: "key owner"
            }
        }
    );
    // Not even the whole quorum rotates a key: recovery is its own operation.
    assert!(matches!(
        world.refused(rotate("bank-a", &key(60)), QUORUM),
        Rejection::MissingSignature { .. }
    ));
    assert_eq!(world.pledge("P-1").status, PledgeStatus::Active);
}

#[test]
fn the_quorum_recovers_a_lost_key() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    assert!(matches!(
        world.refused(recover("bank-a", &key(60)), &["admin"]),
        Rejection::QuorumNotMet { .. }
    ));
    let recovered = world.ok(recover("bank-a", &key(60)), QUORUM).seq;
    assert_eq!(world.participant("bank-a").key_since, recovered);
    world.keys.insert("bank-a".into(), key(60));
    world.ok(release("P-1"), &["bank-a"]);
    world.assert_replays();
}

#[test]
fn a_key_belongs_to_one_participant_for_ever() {
    let mut world = World::new();
    world.ok(rotate("trader-a", &key(40)), &["trader-a"]);
    world.keys.insert("trader-a".into(), key(40));
    // Back to its own retired key: refused.
    assert!(matches!(
        world.refused(rotate("trader-a", &key(4)), &["trader-a"]),
        Rejection::KeyInUse { ref participant, since: 0, .. } if participant == "trader-a"
    ));
    // Nor may another participant take the retired key.
    assert!(matches!(
        world.refused(recover("trader-b", &key(4)), QUORUM),
        Rejection::KeyInUse { ref participant, .. } if participant == "trader-a"
    ));
    assert_eq!(
        world.refused(rotate("trader-a", &key(40)), &["trader-a"]),
        Rejection::SameKey {
            id: "trader-a".into()
        }
    );
    assert_eq!(
        world.refused(recover("nobody", &key(41)), QUORUM),
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
    let revoked_at = world.ok(revoke("trader-a"), QUORUM).seq;
    let rejection = world.refused(transfer("R1", "trader-b"), &["trader-a", "wh-1"]);
    assert_eq!(
        rejection,
        Rejection::SignerRevoked {
            signer: "trader-a".into(),
            revoked_at
        }
    );
    assert_eq!(
        world.refused(revoke("trader-a"), QUORUM),
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

#[test]
fn a_revoked_holders_receipts_stay_put_but_its_pledgee_can_still_enforce() {
    // The registry does not move a revoked holder's receipts on its own
    // authority (no successor for a holder); a pledge on one still ends
    // by its bank's act.
    let mut world = World::new();
    world.receipt_of("R1", 1_000);
    world.pledged_receipt("R2", "P-2", "bank-a");
    world.ok(revoke("trader-a"), QUORUM);
    assert_eq!(
        world.refused(revoke_for("trader-a", "trader-b"), QUORUM),
        Rejection::ParticipantRevoked {
            id: "trader-a".into(),
            revoked_at: world.participant("trader-a").revoked_at.unwrap(),
        }
    );
    assert!(matches!(
        world.refused(cancel("R1"), &["trader-a", "wh-1"]),
        Rejection::SignerRevoked { .. }
    ));
    assert_eq!(world.receipt("R1").holder_id, "trader-a");
    world.now_ms = world.pledge("P-2").terms.maturity_ms;
    world.ok(enforce("P-2", ""), &["bank-a"]);
    assert_eq!(world.receipt("R2").holder_id, "bank-a");
    world.assert_replays();
}

#[test]
fn revocation_needs_the_quorum() {
    let mut world = World::new();
    assert!(matches!(
        world.refused(revoke("bank-a"), &["admin"]),
        Rejection::QuorumNotMet { .. }
    ));
}

#[test]
fn revoking_a_bank_with_pledges_needs_a_successor_that_takes_them_over() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.pledged_receipt("R-2", "P-2", "bank-a");
    world.ok(release("P-2"), &["bank-a"]);
    world.pledged_receipt("R-3", "P-3", "bank-a");
    assert_eq!(
        world.refused(revoke("bank-a"), QUORUM),
        Rejection::SuccessorRequired {
            participant: "bank-a".into(),
            active_pledges: 2,
            first_pledge: "P-1".into()
        }
    );
    let revoked = world.ok(revoke_for("bank-a", "bank-b"), QUORUM).seq;
    for id in ["P-1", "P-3"] {
        let pledge = world.pledge(id);
        assert_eq!(pledge.pledgee(), "bank-b");
        assert_eq!(
            pledge.terms.pledgee_id, "bank-a",
            "the terms stay as signed"
        );
        assert_eq!(
            pledge.successions,
            vec![Succession {
                from: "bank-a".into(),
                to: "bank-b".into(),
                at: revoked
            }]
        );
        assert_eq!(world.receipt(&pledge.terms.receipt_id).updated_at, revoked);
    }
    assert!(
        world.pledge("P-2").successions.is_empty(),
        "a released pledge stays"
    );
    let by_bank = |bank: &str| {
        world
            .store()
            .receipt_ids(&ReceiptFilter::Pledgee(bank.into()))
            .unwrap()
    };
    assert_eq!(
        by_bank("bank-b"),
        vec!["R-1".to_string(), "R-3".to_string()]
    );
    assert!(by_bank("bank-a").is_empty());
    assert_eq!(
        world.participant("bank-a").successor_id.as_deref(),
        Some("bank-b")
    );
    // The successor releases; a double pledge names the successor.
    assert!(matches!(
        world.refused(
            pledge("P-9", "R-3", "bank-a", world.now_ms + DAY_MS),
            &["trader-a", "bank-a"]
        ),
        Rejection::SignerRevoked { .. }
    ));
    world.ok(release("P-1"), &["bank-b"]);
    assert!(matches!(
        world.refused(pledge("P-9", "R-3", "bank-b", world.now_ms + DAY_MS), &["trader-a", "bank-b"]),
        Rejection::ReceiptPledged { ref pledgee, .. } if pledgee == "bank-b"
    ));
    world.assert_replays();
    assert_eq!(
        world.store().receipt_history("R-3").unwrap().last(),
        Some(&revoked)
    );
}

#[test]
fn a_successor_is_a_live_bank_and_only_a_bank_has_one() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    assert_eq!(
        world.refused(revoke_for("bank-a", "trader-b"), QUORUM),
        Rejection::MissingRole {
            participant: "trader-b".into(),
            role: Role::Bank
        }
    );
    assert_eq!(
        world.refused(revoke_for("bank-a", "bank-a"), QUORUM),
        Rejection::SuccessorNotApplicable {
            participant: "bank-a".into(),
            successor: "bank-a".into()
        }
    );
    assert_eq!(
        world.refused(revoke_for("wh-2", "bank-b"), QUORUM),
        Rejection::SuccessorNotApplicable {
            participant: "wh-2".into(),
            successor: "bank-b".into()
        }
    );
    // A bank without pledges needs none.
    world.ok(revoke("bank-b"), QUORUM);
}

#[test]
fn the_quorum_cannot_revoke_itself_out_of_existence() {
    let mut world = World::new();
    assert_eq!(
        world.refused(revoke("admin"), QUORUM),
        Rejection::QuorumWouldBreak {
            member: "admin".into(),
            live_members_after: 1,
            threshold: 2
        }
    );
}
