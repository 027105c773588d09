//! Attempt entries: an authenticated envelope refused for a fraud-relevant
//! reason is recorded with its refusal, changes nothing else, is recorded
//! once, within each signer's bound; replay re-derives the refusal and
//! refuses a forged one.

use pledge_ledger::Rejection;
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::Envelope;
use pledge_ledger::ledger::AttemptPolicy;
use pledge_ledger::model::ReceiptStatus;
use pledge_ledger::refusal::Refusal;
use pledge_ledger::replay::{BatchReplayer, EntryFault, Replayer};
use pledge_ledger::rules::AttemptFault;
use pledge_ledger::state::StateRead;
use pledge_ledger::view::LedgerRead;

use crate::support::*;

const ON: AttemptPolicy = AttemptPolicy {
    per_signer: 20,
    window_ms: HOUR_MS,
};

fn world() -> World {
    let mut world = World::new();
    world.ledger.set_attempt_policy(ON);
    world
}

fn maturity(world: &World) -> u64 {
    world.now_ms + 90 * DAY_MS
}

/// Submits and returns the refusal and the attempt entry recording it.
fn attempt(world: &mut World, envelope: Envelope) -> (Rejection, Option<u64>) {
    let verified = envelope.verify().expect("signatures verify");
    let (mut results, mut attempts) = world
        .ledger
        .append_group_attempts(&[verified], world.now_ms)
        .expect("store");
    (results.remove(0).expect_err("refused"), attempts.remove(0))
}

/// Signs `tx` by `signers`, submits it, as [`attempt`].
fn signed_attempt(
    world: &mut World,
    tx: &pledge_proto::v1::Transaction,
    signers: &[&str],
) -> (Rejection, Option<u64>) {
    let envelope = world.sign(tx, signers);
    attempt(world, envelope)
}

fn entry(world: &World, seq: u64) -> Entry {
    world.store().entry(seq).unwrap()
}

fn double_pledge(world: &mut World) -> Envelope {
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let tx = world.tx(pledge("P-B", "R-1", "bank-b", maturity(world)));
    world.sign(&tx, &["trader-a", "bank-b"])
}

#[test]
fn a_refused_double_pledge_is_recorded_and_changes_nothing() {
    let mut world = world();
    let envelope = double_pledge(&mut world);
    let before = world.store().objects().unwrap();
    let head = world.len();
    let (rejection, recorded) = attempt(&mut world, envelope.clone());
    assert_eq!(rejection.reason(), "RECEIPT_PLEDGED");
    assert_eq!(recorded, Some(head));
    let entry = entry(&world, head);
    assert_eq!(entry.envelope, envelope);
    assert_eq!(entry.refusal, Some(Refusal::of(&rejection)));
    assert_eq!(
        entry.refusal.as_ref().unwrap().field("pledgee"),
        Some("bank-a")
    );
    // Nothing but the attempt's record changed: no pledge P-B, no tx id.
    let after = world.store().objects().unwrap();
    assert_eq!(after.attempts.len(), 1);
    assert_eq!(
        (after.receipts, after.pledges, after.transactions),
        (before.receipts, before.pledges, before.transactions)
    );
    assert!(world.store().pledge("P-B").unwrap().is_none());
    world.assert_replays();
}

#[test]
fn the_same_envelope_twice_is_one_attempt() {
    let mut world = world();
    let envelope = double_pledge(&mut world);
    let (_, first) = attempt(&mut world, envelope.clone());
    let head = world.len();
    world.now_ms += 1_000;
    let (rejection, again) = attempt(&mut world, envelope);
    assert_eq!(rejection.reason(), "RECEIPT_PLEDGED");
    assert_eq!(again, first);
    assert_eq!(world.len(), head, "the resend wrote an entry");
    world.assert_replays();
}

#[test]
fn a_recorded_attempt_may_be_applied_once_the_state_allows_it() {
    let mut world = world();
    let envelope = double_pledge(&mut world);
    attempt(&mut world, envelope.clone());
    world.ok(release("P-A"), &["bank-a"]);
    let committed = world.submit_envelope(envelope).expect("applied now");
    assert!(!committed.duplicate);
    assert_eq!(
        world.receipt("R-1").status,
        ReceiptStatus::Pledged {
            pledge_id: "P-B".into()
        }
    );
    world.assert_replays();
}

#[test]
fn refusals_that_are_not_fraud_relevant_or_not_authenticated_are_not_recorded() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    // A pledge id already used: a mistake, not a fraud.
    let tx = world.tx(pledge("P-A", "R-1", "bank-b", maturity(&world)));
    let (rejection, recorded) = signed_attempt(&mut world, &tx, &["trader-a", "bank-b"]);
    assert_eq!((rejection.reason(), recorded), ("PLEDGE_EXISTS", None));
    // bank-b's signature is missing: the parties are not all there.
    let tx = world.tx(pledge("P-B", "R-1", "bank-b", maturity(&world)));
    let (rejection, recorded) = signed_attempt(&mut world, &tx, &["trader-a"]);
    assert_eq!((rejection.reason(), recorded), ("MISSING_SIGNATURE", None));
    // bank-b signs with another participant's key: not authenticated, even
    // though the receipt is pledged.
    let tx = world.tx(pledge("P-C", "R-1", "bank-b", maturity(&world)));
    let mut impostor = world.keys.clone();
    impostor.insert("bank-b".into(), key(6));
    let envelope = ["trader-a", "bank-b"]
        .iter()
        .fold(
            pledge_ledger::envelope::EnvelopeBuilder::new(&tx),
            |b, s| b.sign(s, &impostor[*s]),
        )
        .build();
    let (rejection, recorded) = attempt(&mut world, envelope);
    assert_eq!((rejection.reason(), recorded), ("KEY_NEVER_OWNED", None));
    assert_eq!(world.store().objects().unwrap().attempts.len(), 0);
}

#[test]
fn a_ledger_without_an_attempt_policy_records_nothing() {
    let mut world = World::new();
    let envelope = double_pledge(&mut world);
    let (rejection, recorded) = attempt(&mut world, envelope);
    assert_eq!((rejection.reason(), recorded), ("RECEIPT_PLEDGED", None));
}

#[test]
fn over_issue_shortfall_and_frozen_receipts_are_recorded() {
    let mut world = world();
    world.receipt_of("R-1", 1_000_000);
    world.certify("T-R-1", "C-2", 500_000, "trader-a");
    // A receipt for more than its certificate gauged.
    let tx = world.tx(issue(
        "R-2",
        "T-R-1",
        "C-2",
        900_000,
        world.now_ms + 30 * DAY_MS,
    ));
    let (rejection, recorded) = signed_attempt(&mut world, &tx, &["wh-1"]);
    assert_eq!(rejection.reason(), "QUANTITY_EXCEEDS_CERTIFICATE");
    assert!(recorded.is_some());
    // A re-gauge finds 1,200 t: a receipt for the second certificate's
    // 500 t would put 1,500 t of receipts on 1,200 t of oil (Qingdao).
    world.now_ms += 1_000;
    world.regauge("T-R-1", 1_200_000);
    let tx = world.tx(issue(
        "R-2",
        "T-R-1",
        "C-2",
        500_000,
        world.now_ms + 30 * DAY_MS,
    ));
    let (rejection, recorded) = signed_attempt(&mut world, &tx, &["wh-1"]);
    assert_eq!(rejection.reason(), "STOCK_EXCEEDED");
    assert!(recorded.is_some());
    // The holder tries to move a frozen receipt.
    world.ok(freeze("R-1"), &["regulator"]);
    let tx = world.tx(transfer("R-1", "trader-b"));
    let (rejection, recorded) = signed_attempt(&mut world, &tx, &["trader-a", "wh-1"]);
    assert_eq!(rejection.reason(), "RECEIPT_FROZEN");
    assert!(recorded.is_some());
    world.ok(unfreeze("R-1"), &["regulator"]);
    // Oil left: a pledge on the tank in shortfall.
    world.now_ms += 1_000;
    world.regauge("T-R-1", 100_000);
    let tx = world.tx(pledge("P-1", "R-1", "bank-a", maturity(&world)));
    let (rejection, recorded) = signed_attempt(&mut world, &tx, &["trader-a", "bank-a"]);
    assert_eq!(rejection.reason(), "TANK_SHORTFALL");
    assert!(recorded.is_some());
    assert_eq!(world.store().objects().unwrap().attempts.len(), 4);
    world.assert_replays();
}

/// The race: N banks sign pledges of one receipt with its holder, all in
/// one group. One pledge entry; an attempt entry for each authenticated
/// loser, until the holder (a signer of every one) reaches its bound.
#[test]
fn n_banks_race_one_receipt_within_the_signers_bound() {
    let mut world = World::new();
    world.ledger.set_attempt_policy(AttemptPolicy {
        per_signer: 3,
        window_ms: HOUR_MS,
    });
    world.receipt_of("R-1", 1_000_000);
    let banks = ["bank-a", "bank-b", "bank-a", "bank-b", "bank-a", "bank-b"];
    let envelopes: Vec<_> = banks
        .iter()
        .enumerate()
        .map(|(i, bank)| {
            let tx = world.tx(pledge(&format!("P-{i}"), "R-1", bank, maturity(&world)));
            world.sign(&tx, &["trader-a", bank]).verify().unwrap()
        })
        .collect();
    let head = world.len();
    let (results, attempts) = world
        .ledger
        .append_group_attempts(&envelopes, world.now_ms)
        .unwrap();
    assert!(results[0].is_ok());
    assert!(
        results[1..]
            .iter()
            .all(|r| r.as_ref().unwrap_err().reason() == "RECEIPT_PLEDGED")
    );
    // The holder signed every loser: three attempts, then its bound.
    let recorded: Vec<_> = attempts.iter().flatten().copied().collect();
    assert_eq!(recorded, [head + 1, head + 2, head + 3]);
    assert_eq!(attempts[4..], [None, None]);
    assert_eq!(world.len(), head + 4);
    let attempt_entries = (head..world.len())
        .filter(|seq| entry(&world, *seq).is_attempt())
        .count();
    assert_eq!(attempt_entries, 3);
    // A new window of entry time: the holder may cause attempts again.
    world.now_ms += HOUR_MS;
    let tx = world.tx(pledge("P-9", "R-1", "bank-b", maturity(&world)));
    let (_, recorded) = signed_attempt(&mut world, &tx, &["trader-a", "bank-b"]);
    assert_eq!(recorded, Some(head + 4));
    world.assert_replays();
}

// ----- forged attempts: the audit refuses them -----

/// The chain's records with the last one replaced by `forged`, re-sealed.
fn with_last(world: &World, mut forged: Entry) -> Vec<Vec<u8>> {
    let store = world.store();
    let last = store.len() - 1;
    let mut records: Vec<Vec<u8>> = (0..last).map(|seq| store.record(seq).unwrap()).collect();
    forged.seq = last;
    forged.prev_hash = entry(world, last - 1).hash();
    records.push(Entry::seal_sealed(forged, &node_key()).record);
    records
}

/// Replays `records` one by one and in batches; both must name the last
/// entry, for the same fault.
fn audit_fault(world: &World, records: &[Vec<u8>]) -> EntryFault {
    let key = world.ledger.node_public_key();
    let mut batch = BatchReplayer::new(Some(key), 2);
    let batched = batch.push_chunk(records).and_then(|()| batch.finish());
    let batched = batched.expect_err("the batch audit must fail");
    assert_eq!(batched.seq, records.len() as u64 - 1);
    let mut replayer = Replayer::new(Some(key));
    for (seq, record) in records.iter().enumerate() {
        if let Err(error) = replayer.push_record(record) {
            assert_eq!(error.seq, seq as u64);
            assert_eq!(error.seq, records.len() as u64 - 1);
            assert_eq!(error.fault.to_string(), batched.fault.to_string());
            return error.fault;
        }
    }
    panic!("the audit accepted a forged attempt");
}

#[test]
fn the_audit_fails_on_an_attempt_whose_reason_was_altered() {
    let mut world = world();
    let envelope = double_pledge(&mut world);
    let (_, recorded) = attempt(&mut world, envelope);
    let mut forged = entry(&world, recorded.unwrap());
    let refusal = forged.refusal.as_mut().unwrap();
    refusal.reason = "TANK_SHORTFALL".into();
    let fault = audit_fault(&world, &with_last(&world, forged));
    assert!(
        matches!(
            fault,
            EntryFault::Attempt(AttemptFault::RefusalDiffers { .. })
        ),
        "{fault}"
    );
}

#[test]
fn the_audit_fails_on_an_attempt_whose_fields_were_altered() {
    let mut world = world();
    let envelope = double_pledge(&mut world);
    let (_, recorded) = attempt(&mut world, envelope);
    let mut forged = entry(&world, recorded.unwrap());
    let refusal = forged.refusal.as_mut().unwrap();
    for (key, value) in &mut refusal.fields {
        if key == "pledgee" {
            *value = "bank-b".into();
        }
    }
    let fault = audit_fault(&world, &with_last(&world, forged));
    assert!(
        matches!(
            fault,
            EntryFault::Attempt(AttemptFault::RefusalDiffers { .. })
        ),
        "{fault}"
    );
}

#[test]
fn the_audit_fails_on_an_attempt_the_rules_would_have_accepted() {
    let mut world = world();
    world.receipt_of("R-1", 1_000_000);
    // A pledge that was in fact applied, passed off as a refused attempt.
    world.ok(
        pledge("P-A", "R-1", "bank-a", maturity(&world)),
        &["trader-a", "bank-a"],
    );
    let mut forged = entry(&world, world.len() - 1);
    forged.refusal = Some(Refusal::of(&Rejection::ReceiptPledged {
        receipt: "R-1".into(),
        pledge: "P-0".into(),
        pledgee: "bank-b".into(),
        since: 1,
    }));
    let fault = audit_fault(&world, &with_last(&world, forged));
    assert!(
        matches!(fault, EntryFault::Attempt(AttemptFault::Accepted)),
        "{fault}"
    );
}

#[test]
fn the_audit_fails_on_an_attempt_refused_for_a_reason_that_is_no_fraud() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    world.ok(release("P-A"), &["bank-a"]);
    // A second release of a released pledge is refused (PLEDGE_NOT_ACTIVE):
    // a mistake, which a node must not record as an attempt.
    let tx = world.tx(release("P-A"));
    let refused = world.sign(&tx, &["bank-a"]);
    world.regauge("T-R-1", 1_000_000);
    let last = entry(&world, world.len() - 1);
    let forged = Entry {
        envelope: refused,
        refusal: Some(Refusal {
            reason: "PLEDGE_NOT_ACTIVE".into(),
            fields: vec![
                ("pledge".into(), "P-A".into()),
                ("status".into(), "released".into()),
            ],
        }),
        ..last
    };
    let fault = audit_fault(&world, &with_last(&world, forged));
    assert!(
        matches!(
            fault,
            EntryFault::Attempt(AttemptFault::NotFraudRelevant { .. })
        ),
        "{fault}"
    );
}

#[test]
fn the_audit_fails_on_the_same_attempt_twice() {
    let mut world = world();
    let envelope = double_pledge(&mut world);
    let (_, recorded) = attempt(&mut world, envelope);
    let first = entry(&world, recorded.unwrap());
    // Any entry after it, replaced by a second copy of the attempt.
    world.regauge("T-R-1", 1_000_000);
    let fault = audit_fault(&world, &with_last(&world, first));
    assert!(
        matches!(fault, EntryFault::Attempt(AttemptFault::Repeated { .. })),
        "{fault}"
    );
}
