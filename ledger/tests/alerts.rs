//! Alerts derived from the chain: each kind raised (and cleared where it
//! clears), the parties each concerns, and the same chain giving the same
//! alerts however it is fed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// One file per kind that needs several tests, in `alerts/`.
#[path = "alerts/collateral.rs"]
mod collateral;

use pledge_ledger::alerts::{
    self, Alert, AlertFeed, AlertKind, AlertPolicy, AlertState, AlertWatch, Trigger,
};
use pledge_ledger::entry::Entry;
use std::borrow::Cow;
use std::sync::Arc;

use pledge_ledger::ledger::{AttemptPolicy, MemoryLedger};
use pledge_ledger::ops;
use pledge_ledger::replay::reapply;
use pledge_ledger::state::MemoryState;
use pledge_ledger::store::{LogRead, LogStore, StateStore};
use pledge_ledger::view::LedgerRead;
use pledge_ledger::view::Snapshot;
use pledge_proto::v1 as pb;
use support::*;

fn world() -> World {
    let mut world = World::new();
    world.ledger.set_attempt_policy(AttemptPolicy {
        per_signer: 20,
        window_ms: HOUR_MS,
    });
    world
}

fn entries(world: &World) -> Vec<Entry> {
    let store = world.store();
    (0..store.len())
        .map(|seq| store.entry(seq).unwrap())
        .collect()
}

fn derive(world: &World) -> Vec<Alert> {
    alerts::derive(&entries(world), AlertPolicy::default()).unwrap()
}

/// Moves the clock to `time_ms` and writes an entry there (a tank of its
/// own, registered by wh-2): time alerts fire when an entry's time reaches
/// them. Returns the entry's seq.
fn entry_at(world: &mut World, time_ms: u64) -> u64 {
    world.now_ms = time_ms;
    let tank = format!("T-TICK-{}", world.len());
    world.tank(&tank, "wh-2");
    world.len() - 1
}

/// The price reporter of [`admit_reporter`].
const REPORTER: &str = "platts";

/// Admits the price reporter (the quorum signs), an hour before now.
fn admit_reporter(world: &mut World) {
    let reporter_key = key(40);
    world.ok(
        admit(REPORTER, &[pb::Role::PriceReporter], &reporter_key),
        QUORUM,
    );
    world.keys.insert(REPORTER.into(), reporter_key);
    world.now_ms += HOUR_MS;
}

/// The reporter assesses the receipts' grade at `price_minor` a tonne in
/// `currency`, a minute after the previous entry; returns the entry.
fn assess(world: &mut World, price_minor: u64, currency: &str) -> u64 {
    world.now_ms += 60_000;
    let price = ops::money(price_minor, currency);
    let op = ops::assess_price(REPORTER, PRODUCT, price, world.now_ms);
    world.ok(op, &[REPORTER]).seq
}

fn of_kind(alerts: &[Alert], kind: AlertKind) -> Vec<Alert> {
    alerts.iter().filter(|a| a.kind == kind).cloned().collect()
}

fn parties(alert: &Alert) -> Vec<&str> {
    alert.parties.iter().map(String::as_str).collect()
}

fn field<'a>(alert: &'a Alert, key: &str) -> &'a str {
    alert
        .fields
        .get(key)
        .unwrap_or_else(|| panic!("{} has no field {key}", alert.kind.as_str()))
}

#[test]
fn a_double_pledge_attempt_names_the_holder_and_both_banks() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let maturity = world.now_ms + 90 * DAY_MS;
    let refused = world.submit(
        pledge("P-B", "R-1", "bank-b", maturity),
        &["trader-a", "bank-b"],
    );
    assert_eq!(refused.unwrap_err().reason(), "RECEIPT_PLEDGED");
    let attempts = of_kind(&derive(&world), AlertKind::DoublePledgeAttempt);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    let alert = &attempts[0];
    assert_eq!(alert.state, AlertState::Raised);
    assert_eq!(alert.trigger, Trigger::Entry);
    assert_eq!(alert.seq, world.len() - 1, "raised by the attempt entry");
    assert_eq!(alert.subject, "R-1");
    assert_eq!(parties(alert), ["bank-a", "bank-b", "trader-a"]);
    assert_eq!(field(alert, "pledgee"), "bank-a");
    assert_eq!(field(alert, "pledge"), "P-A");
    assert_eq!(field(alert, "refused_pledgee"), "bank-b");
    assert_eq!(field(alert, "refused_pledge"), "P-B");
    assert_eq!(field(alert, "signers"), "bank-b,trader-a");
}

#[test]
fn an_over_issue_attempt_concerns_the_tank_and_its_banks() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    // A second certificate on the same tank, and a receipt beyond it.
    world.certify("T-R-1", "C-EXTRA", 1_000, "trader-b");
    let expiry = world.now_ms + 365 * DAY_MS;
    let refused = world.submit(issue("R-2", "T-R-1", "C-EXTRA", 5_000, expiry), &["wh-1"]);
    let reason = refused.unwrap_err().reason();
    assert!(
        ["QUANTITY_EXCEEDS_CERTIFICATE", "STOCK_EXCEEDED"].contains(&reason),
        "{reason}"
    );
    let attempts = of_kind(&derive(&world), AlertKind::OverIssueAttempt);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(field(&attempts[0], "reason"), reason);
    assert_eq!(field(&attempts[0], "operation"), "issue_receipt");
    // The warehouse that tried, and the holder and bank of the tank's oil.
    assert_eq!(parties(&attempts[0]), ["bank-a", "trader-a", "wh-1"]);
}

#[test]
fn any_other_recorded_refusal_is_a_refused_attempt() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let refused = world.submit(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]);
    assert_eq!(refused.unwrap_err().reason(), "RECEIPT_PLEDGED");
    let attempts = of_kind(&derive(&world), AlertKind::RefusedAttempt);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(field(&attempts[0], "operation"), "transfer_receipt");
    assert!(attempts[0].parties.contains("bank-a"));
}

#[test]
fn a_tank_shortfall_is_raised_and_cleared() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    world.now_ms += HOUR_MS;
    let short = world.regauge("T-R-1", 900_000).seq;
    let raised = of_kind(&derive(&world), AlertKind::TankShortfall);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].state, AlertState::Raised);
    assert_eq!(raised[0].seq, short);
    assert_eq!(field(&raised[0], "measured_kg"), "900000");
    assert_eq!(field(&raised[0], "missing_kg"), "100000");
    assert_eq!(parties(&raised[0]), ["bank-a", "trader-a", "wh-1"]);
    // New stock certified covers the receipts again.
    world.now_ms += HOUR_MS;
    world.certify("T-R-1", "C-TOPUP", 200_000, "trader-a");
    let alerts = of_kind(&derive(&world), AlertKind::TankShortfall);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[1].state, AlertState::Cleared);
    assert_eq!(alerts[1].seq, world.len() - 1);
    assert_eq!(alerts[1].parties, alerts[0].parties);
}

#[test]
fn a_pledge_past_maturity_is_raised_by_the_first_entry_past_it_and_cleared_by_its_release() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let maturity = world.pledge("P-A").terms.maturity_ms;
    entry_at(&mut world, maturity - 1);
    let past_maturity = |world: &World| of_kind(&derive(world), AlertKind::PledgePastMaturity);
    assert!(past_maturity(&world).is_empty(), "an entry just before it");
    let seq = entry_at(&mut world, maturity + HOUR_MS);
    let raised = past_maturity(&world);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].trigger, Trigger::Clock);
    assert_eq!(raised[0].time_ms, maturity, "its time is the maturity");
    assert_eq!(raised[0].seq, seq, "placed at the first entry past it");
    assert_eq!(parties(&raised[0]), ["bank-a", "trader-a"]);
    let all = derive(&world);
    let position = all.iter().position(|a| a == &raised[0]).unwrap();
    assert!(
        all[position + 1..].iter().all(|a| a.seq == seq),
        "before that entry's own alerts, after everything earlier"
    );
    world.ok(release("P-A"), &["bank-a"]);
    let alerts = past_maturity(&world);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[1].state, AlertState::Cleared);
    assert_eq!(alerts[1].seq, world.len() - 1);
    assert_eq!(alerts[1].parties, alerts[0].parties);
}

#[test]
fn a_pledged_receipt_close_to_expiry_is_warned_of_and_cleared_by_the_release() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let expiry = world.receipt("R-1").terms.expires_at_ms;
    let warn_at = expiry - AlertPolicy::default().expiry_warning_ms;
    let expiring = |world: &World| of_kind(&derive(world), AlertKind::PledgedReceiptExpiring);
    entry_at(&mut world, warn_at - 1);
    assert!(expiring(&world).is_empty());
    let seq = entry_at(&mut world, warn_at);
    let raised = expiring(&world);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!((raised[0].time_ms, raised[0].seq), (warn_at, seq));
    assert_eq!(field(&raised[0], "expires_at_ms"), expiry.to_string());
    world.ok(release("P-A"), &["bank-a"]);
    let alerts = expiring(&world);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[1].state, AlertState::Cleared);
}

#[test]
fn a_pledge_already_within_the_warning_is_warned_of_at_its_entry() {
    let mut world = world();
    world.receipt_of("R-1", 1_000_000);
    let expiry = world.receipt("R-1").terms.expires_at_ms;
    world.now_ms = expiry - 10 * DAY_MS;
    let seq = world
        .ok(
            pledge("P-A", "R-1", "bank-a", world.now_ms + 5 * DAY_MS),
            &["trader-a", "bank-a"],
        )
        .seq;
    let raised = of_kind(&derive(&world), AlertKind::PledgedReceiptExpiring);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!((raised[0].seq, raised[0].trigger), (seq, Trigger::Entry));
}

#[test]
fn one_holders_pledged_share_above_the_threshold_is_raised_and_cleared() {
    let mut world = world();
    world.tank("T-1", "wh-1");
    world.certify("T-1", "C-1", 600_000, "trader-a");
    world.certify("T-1", "C-2", 400_000, "trader-b");
    let expiry = world.now_ms + 365 * DAY_MS;
    world.ok(issue("R-A", "T-1", "C-1", 600_000, expiry), &["wh-1"]);
    world.ok(issue("R-B", "T-1", "C-2", 400_000, expiry), &["wh-1"]);
    let maturity = world.now_ms + 90 * DAY_MS;
    world.ok(
        pledge("P-B", "R-B", "bank-b", maturity),
        &["trader-b", "bank-b"],
    );
    assert!(
        of_kind(&derive(&world), AlertKind::HolderConcentration).is_empty(),
        "40 % is within the threshold"
    );
    world.ok(
        pledge("P-A", "R-A", "bank-a", maturity),
        &["trader-a", "bank-a"],
    );
    let raised = of_kind(&derive(&world), AlertKind::HolderConcentration);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].subject, "T-1/trader-a");
    assert_eq!(field(&raised[0], "share_bp"), "6000");
    assert_eq!(field(&raised[0], "threshold_bp"), "5000");
    assert_eq!(parties(&raised[0]), ["bank-a", "trader-a", "wh-1"]);
    world.ok(release("P-A"), &["bank-a"]);
    let alerts = of_kind(&derive(&world), AlertKind::HolderConcentration);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[1].state, AlertState::Cleared);
    assert!(
        !alerts[1].parties.contains("bank-b"),
        "not the other bank's"
    );
}

#[test]
fn a_revoked_custodian_is_raised_and_cleared_by_a_successor() {
    let mut world = world();
    world.pledged_receipt("R-1", "P-1", "bank-a");
    world.receipt_of("R-2", 2_000);
    world.now_ms += HOUR_MS;
    let revoked = world.ok(revoke("wh-1"), QUORUM).seq;
    let raised = of_kind(&derive(&world), AlertKind::CustodianRevoked);
    assert_eq!(raised.len(), 2, "both tanks of wh-1: {raised:#?}");
    assert!(raised.iter().all(|a| a.seq == revoked));
    let r1 = raised.iter().find(|a| a.subject == "T-R-1").unwrap();
    assert_eq!(parties(r1), ["bank-a", "trader-a", "wh-1"]);
    let now = world.now_ms;
    world.ok(
        appoint_custodian("T-R-2", "wh-2", 2_000, now),
        &["wh-2", INSPECTOR, "admin", "regulator"],
    );
    let alerts = of_kind(&derive(&world), AlertKind::CustodianRevoked);
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    assert_eq!(
        (alerts[2].subject.as_str(), alerts[2].state),
        ("T-R-2", AlertState::Cleared)
    );
}

#[test]
fn the_race_gives_every_refused_bank_a_double_pledge_alert() {
    let mut world = world();
    world.receipt_of("R-1", 1_000_000);
    let maturity = world.now_ms + 90 * DAY_MS;
    let banks = ["bank-a", "bank-b"];
    let envelopes: Vec<_> = banks
        .iter()
        .map(|bank| {
            let tx = world.tx(pledge(&format!("P-{bank}"), "R-1", bank, maturity));
            world.sign(&tx, &["trader-a", bank]).verify().unwrap()
        })
        .collect();
    let results = world.ledger.append_group(&envelopes, world.now_ms).unwrap();
    assert!(results[0].is_ok() && results[1].is_err());
    let attempts = of_kind(&derive(&world), AlertKind::DoublePledgeAttempt);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(field(&attempts[0], "refused_pledgee"), "bank-b");
    assert_eq!(field(&attempts[0], "pledgee"), "bank-a");
}

/// Every kind in one chain, for the replay checks below.
fn busy_world() -> World {
    let mut world = world();
    admit_reporter(&mut world);
    world.pledged_receipt("R-1", "P-A", "bank-a");
    let maturity = world.now_ms + 90 * DAY_MS;
    let _ = world.submit(
        pledge("P-B", "R-1", "bank-b", maturity),
        &["trader-a", "bank-b"],
    );
    world.now_ms += 100 * DAY_MS;
    world.regauge("T-R-1", 900_000);
    world.ok(release("P-A"), &["bank-a"]);
    world.receipt_of("R-2", 2_000);
    let maturity = world.now_ms + 300 * DAY_MS;
    world.ok(
        ops::with_margin_level(pledge("P-2", "R-2", "bank-b", maturity), 8_000),
        &["trader-a", "bank-b"],
    );
    // USD 4,500,000.00 on 2 t: far below its margin level at USD 600.00 a tonne.
    assess(&mut world, 60_000, "USD");
    // Past P-2's maturity, and within 30 days of R-2's expiry.
    world.now_ms += 340 * DAY_MS;
    world.ok(revoke("wh-1"), QUORUM);
    world
}

#[test]
fn the_same_chain_gives_the_same_alerts_however_it_is_fed() {
    let world = busy_world();
    let whole = derive(&world);
    assert_eq!(whole, derive(&world), "twice the same");
    let kinds: std::collections::BTreeSet<_> = whole.iter().map(|a| a.kind).collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    // Entry by entry, the state coming from an auditor's replay (every
    // signature checked) rather than the feed's own.
    let mut watch = AlertWatch::new(AlertPolicy::default());
    let mut state = MemoryState::default();
    let mut fed = Vec::new();
    for entry in entries(&world) {
        let changes = reapply(&state, &entry, None).unwrap();
        fed.extend(watch.observe(&entry, &changes));
        state.merge(changes);
    }
    assert_eq!(fed, whole);
    let indexes: Vec<u64> = whole.iter().map(|a| a.index).collect();
    assert_eq!(indexes, (0..whole.len() as u64).collect::<Vec<_>>());
}

/// The busy world's entries decided again, several to a group (those of one
/// time), by a decider keeping what each entry changed: each entry's kept
/// changes are what replaying it gives, and a watch fed them (no rules run)
/// gives the alerts `derive` gives over the new chain.
#[test]
fn a_watch_fed_the_deciders_changes_gives_derives_alerts() {
    let original = entries(&busy_world());
    let (mut log, mut state, decider) = MemoryLedger::in_memory(node_key()).into_parts();
    let mut decider = decider
        .keeping_entry_changes()
        .with_attempts(AttemptPolicy {
            per_signer: 20,
            window_ms: HOUR_MS,
        });
    let mut watch = AlertWatch::new(AlertPolicy::default());
    let mut replayed = MemoryState::default();
    let (mut fed, mut groups) = (Vec::new(), 0);
    for same_time in original.chunk_by(|a, b| a.time_ms == b.time_ms) {
        let envelopes = same_time
            .iter()
            .map(|entry| Cow::Owned(entry.envelope.clone().verify().unwrap()));
        let snapshot = Snapshot::new(decider.head(), log.reader(), state.view(), Arc::from([]));
        let group = decider
            .decide(&snapshot, envelopes, same_time[0].time_ms)
            .unwrap();
        drop(snapshot);
        assert_eq!(group.entries.len(), same_time.len(), "each decided again");
        log.append(&group.records()).unwrap();
        let each = group.entry_changes.of(&group.entries, &group.update);
        for (entry, changes) in each.expect("kept") {
            let by_replay = reapply(&replayed, entry, None).unwrap();
            assert_eq!(changes, &by_replay, "entry {}", entry.seq);
            replayed.merge(by_replay);
            fed.extend(watch.observe_next(entry, changes).unwrap());
        }
        state.apply(&group.update).unwrap();
        groups += 1;
    }
    assert!(groups < original.len(), "some groups held several entries");
    let decided: Vec<Entry> = (0..log.len())
        .map(|seq| Entry::decode(&log.reader().read(seq).unwrap()).unwrap())
        .collect();
    assert_eq!(
        fed,
        alerts::derive(&decided, AlertPolicy::default()).unwrap()
    );
    assert!(fed.len() >= 10, "{fed:#?}");
}

#[test]
fn a_longer_chain_only_adds_alerts_after_those_of_its_prefix() {
    let world = busy_world();
    let entries = entries(&world);
    let whole = alerts::derive(&entries, AlertPolicy::default()).unwrap();
    for cut in [1, entries.len() / 2, entries.len() - 1] {
        let prefix = alerts::derive(&entries[..cut], AlertPolicy::default()).unwrap();
        assert_eq!(&whole[..prefix.len()], &prefix[..], "cut at {cut}");
        assert!(whole[prefix.len()..].iter().all(|a| a.seq >= cut as u64));
    }
}

#[test]
fn entries_out_of_order_are_refused() {
    let world = busy_world();
    let entries = entries(&world);
    let mut feed = AlertFeed::new(AlertPolicy::default());
    feed.push(&entries[0]).unwrap();
    assert!(feed.push(&entries[2]).is_err());
}

/// Tanks T-A at wh-1 and T-B at wh-2 (their physical ids as the fixtures
/// give them), and trader-a's parcel certified in T-A, gauged 30 hours ago.
fn one_parcel_at_wh_1() -> World {
    let mut world = world();
    world.tank("T-A", "wh-1");
    world.tank("T-B", "wh-2");
    let gauged = world.now_ms - 30 * HOUR_MS;
    world.ok(
        certify_stock("T-A", "SGS-1001", 10_000_000, "trader-a", gauged),
        &["wh-1", INSPECTOR, "trader-a"],
    );
    world
}

fn certify_at_wh_2(world: &mut World, cert: &str, kg: u64, gauged_at_ms: u64) {
    world.ok(
        certify_stock("T-B", cert, kg, "trader-a", gauged_at_ms),
        &["wh-2", INSPECTOR, "trader-a"],
    );
}

#[test]
fn the_same_parcel_certified_at_a_second_warehouse_is_possible_same_oil() {
    let mut world = one_parcel_at_wh_1();
    // 0.25 % less, gauged a day later, another certificate number.
    let gauged = world.now_ms - 6 * HOUR_MS;
    certify_at_wh_2(&mut world, "SGS-2002", 9_975_000, gauged);
    let alerts = of_kind(&derive(&world), AlertKind::PossibleSameOil);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(
        (alert.state, alert.seq),
        (AlertState::Raised, world.len() - 1)
    );
    assert_eq!(field(alert, "matched"), "parcel");
    assert_eq!(field(alert, "certificate"), "insp-1/SGS-2002");
    assert_eq!(field(alert, "other_certificate"), "insp-1/SGS-1001");
    assert_eq!(
        (field(alert, "warehouse"), field(alert, "other_warehouse")),
        ("wh-2", "wh-1")
    );
    assert_eq!(parties(alert), ["trader-a", "wh-1", "wh-2"]);
}

#[test]
fn a_certificate_number_written_another_way_is_possible_same_oil() {
    let mut world = one_parcel_at_wh_1();
    // Nothing like the parcel (a tenth of it, weeks later), but the
    // inspector's certificate number is the first one's, spelt otherwise.
    world.now_ms += 20 * DAY_MS;
    let gauged = world.now_ms - HOUR_MS;
    certify_at_wh_2(&mut world, "sgs_001001", 1_000_000, gauged);
    let alerts = of_kind(&derive(&world), AlertKind::PossibleSameOil);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(field(&alerts[0], "matched"), "certificate_number");
}

#[test]
fn a_tank_registered_again_under_another_spelling_is_possible_same_oil() {
    let mut world = world();
    world.ok(
        register_tank_at(
            "T-A",
            "wh-1",
            TANK_CAPACITY_KG,
            physical("ZS-BONDED-01", "T-101"),
            INSPECTOR,
        ),
        &["wh-1", INSPECTOR],
    );
    world.ok(
        register_tank_at(
            "T-B",
            "wh-2",
            TANK_CAPACITY_KG,
            physical("ZS-BONDED-1", "T101"),
            INSPECTOR,
        ),
        &["wh-2", INSPECTOR],
    );
    let alerts = of_kind(&derive(&world), AlertKind::PossibleSameOil);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(field(&alerts[0], "matched"), "physical_tank");
    assert_eq!(
        field(&alerts[0], "other_physical_tank"),
        "ZS-BONDED-01/T-101"
    );
    assert_eq!(parties(&alerts[0]), ["wh-1", "wh-2"]);
}

#[test]
fn near_misses_are_not_possible_same_oil() {
    let mut world = one_parcel_at_wh_1();
    let first_gauged = world.now_ms - 30 * HOUR_MS;
    // The same parcel at the same warehouse (another of its tanks).
    world.tank("T-C", "wh-1");
    world.ok(
        certify_stock(
            "T-C",
            "SGS-3001",
            10_000_000,
            "trader-a",
            first_gauged + HOUR_MS,
        ),
        &["wh-1", INSPECTOR, "trader-a"],
    );
    // At wh-2, 0.6 % less: beyond the 0.5 % tolerance.
    let gauged = world.now_ms - 6 * HOUR_MS;
    certify_at_wh_2(&mut world, "SGS-2002", 9_940_000, gauged);
    // The same quantity, gauged 50 hours after the first (49 after T-C's):
    // beyond 48 hours.
    world.now_ms += 30 * HOUR_MS;
    certify_at_wh_2(
        &mut world,
        "SGS-2003",
        10_000_000,
        first_gauged + 50 * HOUR_MS,
    );
    // A certificate number of the same inspector that only looks close.
    let gauged = world.now_ms - HOUR_MS;
    certify_at_wh_2(&mut world, "SGS-10010", 1_000, gauged);
    // The same parcel, by another depositor.
    world.ok(
        certify_stock(
            "T-B",
            "SGS-2004",
            10_000_000,
            "trader-b",
            world.now_ms - 1_000,
        ),
        &["wh-2", INSPECTOR, "trader-b"],
    );
    let alerts = of_kind(&derive(&world), AlertKind::PossibleSameOil);
    assert!(alerts.is_empty(), "{alerts:#?}");
}
