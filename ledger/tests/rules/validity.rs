//! The signed validity window: co-signing may take days, and an envelope
//! past its window can no longer be applied.

use pledge_ledger::Rejection;
use pledge_ledger::tx::Transaction;
use prost::Message;

use crate::support::*;

#[test]
fn a_day_old_co_signature_is_accepted_within_the_window() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    // trader-a drafts on Monday, valid for a week; bank-a's credit committee
    // signs on Tuesday.
    let drafted = world.now_ms;
    let op = pledge("P-1", "R-1", "bank-a", drafted + 90 * DAY_MS);
    let tx = world.tx_valid(op, drafted, drafted + 7 * DAY_MS);
    let envelope = world.sign(&tx, &["trader-a", "bank-a"]);
    world.now_ms = drafted + DAY_MS;
    let committed = world.submit_envelope(envelope).unwrap();
    assert!(!committed.duplicate);
    assert_eq!(world.pledge("P-1").started_at_ms, drafted + DAY_MS);
    world.assert_replays();
}

#[test]
fn an_expired_envelope_is_refused() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let drafted = world.now_ms;
    let op = pledge("P-1", "R-1", "bank-a", drafted + 90 * DAY_MS);
    let tx = world.tx_valid(op, drafted, drafted + DAY_MS);
    let envelope = world.sign(&tx, &["trader-a", "bank-a"]);
    world.now_ms = drafted + DAY_MS + 1;
    let head = world.len();
    let rejection = world.submit_envelope(envelope).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::TxExpired {
            not_after_ms: drafted + DAY_MS,
            entry_time_ms: drafted + DAY_MS + 1
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the transaction expired at 2027-01-16T08:00:00Z (entry time 2027-01-16T08:00:00.001Z): draft and sign it again"
    );
    assert_eq!(world.len(), head);
}

#[test]
fn an_envelope_is_not_valid_before_its_window() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let now = world.now_ms;
    let tx = world.tx_valid(freeze("R-1"), now + HOUR_MS, now + DAY_MS);
    assert_eq!(
        world.submit_envelope(world.sign(&tx, &["regulator"])),
        Err(Rejection::TxNotYetValid {
            not_before_ms: now + HOUR_MS,
            entry_time_ms: now
        })
    );
}

#[test]
fn the_window_may_not_exceed_the_genesis_maximum() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let now = world.now_ms;
    let tx = world.tx_valid(freeze("R-1"), now, now + MAX_VALIDITY_MS + 1);
    assert_eq!(
        world.submit_envelope(world.sign(&tx, &["regulator"])),
        Err(Rejection::ValidityTooLong {
            not_before_ms: now,
            not_after_ms: now + MAX_VALIDITY_MS + 1,
            max_ms: MAX_VALIDITY_MS
        })
    );
    let tx = world.tx_valid(freeze("R-1"), now, now + MAX_VALIDITY_MS);
    world
        .submit_envelope(world.sign(&tx, &["regulator"]))
        .unwrap();
}

#[test]
fn an_applied_envelope_resubmitted_after_its_window_gets_its_answer() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let now = world.now_ms;
    let tx = world.tx_valid(
        pledge("P-1", "R-1", "bank-a", now + 90 * DAY_MS),
        now,
        now + HOUR_MS,
    );
    let envelope = world.sign(&tx, &["trader-a", "bank-a"]);
    let first = world.submit_envelope(envelope.clone()).unwrap();
    world.now_ms = now + 30 * DAY_MS;
    let released = world.ok(release("P-1"), &["bank-a"]).seq;
    let head = world.len();
    let retry = world.submit_envelope(envelope).unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.seq, retry.entry_hash), (first.seq, first.entry_hash));
    assert_eq!(
        retry.since,
        Some(format!("pledge `P-1` was released at entry {released}"))
    );
    assert_eq!(world.len(), head);
}

#[test]
fn a_window_must_be_stated_and_not_inverted() {
    let mut world = World::new();
    let mut tx = world.tx(freeze("R-1"));
    tx.not_after_ms = 0;
    assert!(matches!(
        Transaction::decode(&tx.encode_to_vec()),
        Err(pledge_ledger::error::DecodeError::Zero {
            field: "not_after_ms"
        })
    ));
    tx.not_after_ms = tx.not_before_ms - 1;
    assert!(matches!(
        Transaction::decode(&tx.encode_to_vec()),
        Err(pledge_ledger::error::DecodeError::InvertedWindow { .. })
    ));
}
