//! Signatures: wrong keys, missing and extra signers, roles, revocation,
//! rotation, retries and reused transaction ids.

use pledge_ledger::Rejection;
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_ledger::envelope::EnvelopeError;
use pledge_ledger::error::SignatureError;
use pledge_ledger::rejection::Party;

use crate::support::*;

#[test]
fn a_signature_by_the_wrong_key_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let tx = world.tx(transfer("R-1", "trader-b"));
    let envelope = EnvelopeBuilder::new(&tx)
        .sign("trader-a", &key(77))
        .sign("wh-1", &key(2))
        .build();
    let rejection = world.submit_envelope(envelope).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::KeyNeverOwned {
            signer: "trader-a".into(),
            key: pledge_ledger::crypto::public_key(&key(77)).to_hex(),
            owner: None
        }
    );
    assert!(
        rejection
            .to_string()
            .contains("was never `trader-a`'s key (no participant holds it)"),
        "{rejection}"
    );
}

#[test]
fn another_participants_key_is_named_as_theirs() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let tx = world.tx(transfer("R-1", "trader-b"));
    let envelope = EnvelopeBuilder::new(&tx)
        .sign("trader-a", &key(5)) // trader-b's key
        .sign("wh-1", &key(2))
        .build();
    let rejection = world.submit_envelope(envelope).unwrap_err();
    assert!(
        matches!(rejection, Rejection::KeyNeverOwned { owner: Some(ref o), .. } if o == "trader-b"),
        "{rejection:?}"
    );
    assert!(
        rejection.to_string().ends_with("(it is `trader-b`'s)"),
        "{rejection}"
    );
}

#[test]
fn a_signature_over_other_bytes_does_not_verify() {
    let world = World::new();
    let mut world = world;
    world.receipt_of("R-1", 1_000);
    let tx = world.tx(transfer("R-1", "trader-b"));
    let mut envelope = world.sign(&tx, &["trader-a", "wh-1"]);
    envelope.tx_bytes.push(0); // a trailing byte: other bytes than were signed
    assert_eq!(
        envelope.verify().unwrap_err(),
        EnvelopeError::Signature(SignatureError::Invalid {
            signer: "trader-a".into()
        })
    );
}

#[test]
fn a_missing_co_signature_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(
            pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS),
            &["trader-a"]
        ),
        Rejection::MissingSignature {
            party: Party::Participant {
                id: "bank-a".into(),
                capacity: "pledgee"
            }
        }
    );
}

#[test]
fn the_right_key_in_the_wrong_role_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    // bank-b's own, valid key, but bank-b is not the pledgee named.
    assert!(matches!(
        world.refused(
            pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS),
            &["trader-a", "bank-b"]
        ),
        Rejection::MissingSignature { .. }
    ));
    // The warehouse cannot stand in for the holder.
    assert!(matches!(
        world.refused(transfer("R-1", "trader-b"), &["wh-1", "wh-2"]),
        Rejection::MissingSignature { .. }
    ));
}

#[test]
fn an_extra_signer_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    assert_eq!(
        world.refused(transfer("R-1", "trader-b"), &["trader-a", "wh-1", "bank-a"]),
        Rejection::UnexpectedSigner {
            signer: "bank-a".into(),
            operation: "transfer_receipt"
        }
    );
}

#[test]
fn an_unknown_signer_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.keys.insert("mallory".into(), key(66));
    assert_eq!(
        world.refused(freeze("R-1"), &["mallory"]),
        Rejection::UnknownSigner {
            signer: "mallory".into()
        }
    );
}

#[test]
fn a_revoked_key_is_refused_from_the_revocation_on() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.ok(revoke("bank-a"), QUORUM);
    assert!(matches!(
        world.refused(
            pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS),
            &["trader-a", "bank-a"]
        ),
        Rejection::SignerRevoked { .. }
    ));
    world.assert_replays();
}

#[test]
fn a_rotated_key_is_refused_after_the_rotation_and_history_still_verifies() {
    let mut world = World::new();
    world.pledged_receipt("R-1", "P-1", "bank-a"); // signed with bank-a's first key
    let rotated = world.ok(rotate("bank-a", &key(60)), &["bank-a"]).seq;
    assert_eq!(
        world.refused(release("P-1"), &["bank-a"]),
        Rejection::KeyNotCurrent {
            signer: "bank-a".into(),
            key_since: rotated,
            retired_at: rotated
        }
    );
    world.keys.insert("bank-a".into(), key(60));
    world.ok(release("P-1"), &["bank-a"]);
    world.assert_replays();
}

#[test]
fn the_same_envelope_twice_gives_the_same_result_and_no_second_entry() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let tx = world.tx(pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS));
    let envelope = world.sign(&tx, &["trader-a", "bank-a"]);
    let first = world.submit_envelope(envelope.clone()).unwrap();
    let len = world.len();
    world.now_ms += 1_000;
    let second = world.submit_envelope(envelope).unwrap();
    assert_eq!(world.len(), len);
    assert!(second.duplicate && !first.duplicate);
    assert_eq!(
        (second.seq, second.entry_hash, second.seal),
        (first.seq, first.entry_hash, first.seal)
    );
}

#[test]
fn a_retry_within_one_group_is_answered_from_the_group() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let tx = world.tx(pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS));
    let envelope = world.sign(&tx, &["trader-a", "bank-a"]).verify().unwrap();
    let results = world
        .ledger
        .append_group(&[envelope.clone(), envelope], world.now_ms)
        .unwrap();
    let (first, second) = (results[0].clone().unwrap(), results[1].clone().unwrap());
    assert_eq!(first.seq, second.seq);
    assert!(second.duplicate);
    assert_eq!(world.len(), first.seq + 1);
    world.assert_replays();
}

#[test]
fn a_new_transaction_reusing_a_tx_id_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    world.receipt_of("R-2", 1_000);
    let mut tx = world.tx(pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS));
    let first = world
        .submit_envelope(world.sign(&tx, &["trader-a", "bank-a"]))
        .unwrap();
    tx.operation = pledge("P-2", "R-2", "bank-a", world.now_ms + DAY_MS).into();
    let rejection = world
        .submit_envelope(world.sign(&tx, &["trader-a", "bank-a"]))
        .unwrap_err();
    assert_eq!(
        rejection,
        Rejection::TxIdReused {
            tx_id: tx.tx_id.clone(),
            seq: first.seq,
            earlier: Some("registered pledge `P-1` of receipt `R-1` to `bank-a`".into())
        }
    );
    assert_eq!(
        rejection.to_string(),
        format!(
            "transaction id `{}` was already used by entry {}, which registered pledge `P-1` of receipt `R-1` to `bank-a`",
            tx.tx_id, first.seq
        )
    );
}

#[test]
fn a_retry_says_what_became_of_the_transaction_since() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let tx = world.tx(pledge("P-1", "R-1", "bank-a", world.now_ms + DAY_MS));
    let envelope = world.sign(&tx, &["trader-a", "bank-a"]);
    let first = world.submit_envelope(envelope.clone()).unwrap();
    assert_eq!(first.since, None);
    let released = world.ok(release("P-1"), &["bank-a"]).seq;
    let retry = world.submit_envelope(envelope).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.seq, first.seq);
    assert_eq!(
        retry.since.as_deref(),
        Some(format!("pledge `P-1` was released at entry {released}").as_str())
    );
}

#[test]
fn a_transaction_for_another_ledger_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let mut tx = world.tx(freeze("R-1"));
    tx.ledger_id = "zhoushan-prod".into();
    assert_eq!(
        world.submit_envelope(world.sign(&tx, &["regulator"])),
        Err(Rejection::WrongLedger {
            expected: LEDGER_ID.into(),
            found: "zhoushan-prod".into()
        })
    );
}
