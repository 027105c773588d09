//! Early warning: alerts derived from the chain.
//!
//! Alerts are not entries. They are a pure function of the entries, each
//! with the objects it changed: replaying the same chain with the same
//! [`AlertPolicy`] gives the same alerts, in the same order, with the same
//! indexes (docs/ALERTS.md). Time-driven alerts (a pledge past its
//! maturity, a pledged receipt near its expiry) fire when an entry's time
//! reaches their due time, never by a wall clock, so no node can place
//! them differently from a replay.
//!
//! ```text
//!   entry ──▶ AlertFeed::push ──▶ replay::apply_verified (rules, its own MemoryState)
//!                                   │ the objects the entry changed
//!                                   ▼
//!             AlertWatch::observe ──▶ time alerts due by the entry's time,
//!                                     then the entry's own ──▶ Vec<Alert> (index 0, 1, …)
//!
//!   entry + what it changed (a sequencer's decision: ledger::EntryChanges)
//!         ──▶ AlertWatch::observe_next (no rules, no state of its own)
//! ```
//!
//! An observer that learns each entry's changes elsewhere (a node's
//! sequencer computed them) feeds the watch directly; one that starts from
//! a log catches up with an [`AlertFeed`], then keeps only its watch
//! ([`AlertFeed::into_watch`]).
//!
//! [`AlertWatch`] keeps its own small view of receipts, pledges, tanks
//! and prices ([`view`]); the conditions it watches are in `conditions.rs` (where a
//! new kind is added: docs/ALERTS.md §5); what an attempt entry says is in
//! `attempts.rs`. [`request`] is the signed request to watch alerts. No
//! I/O and no clock inside.

mod attempts;
mod conditions;
pub mod request;
pub mod same_oil;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};

use crate::entry::Entry;
use crate::model::Seq;
use crate::replay::{EntryFault, apply_verified};
use crate::state::{MemoryState, Objects};

use self::view::WatchView;

/// One day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;

/// What is watched, and how closely. Part of the derivation: two parties
/// comparing alerts must use the same policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// A pledged receipt's expiry is warned of this long before it.
    pub expiry_warning_ms: u64,
    /// One holder's pledged share of a tank's certified stock, in basis
    /// points (1/10,000), above which an alert is raised.
    pub holder_share_bp: u32,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            expiry_warning_ms: 30 * DAY_MS,
            holder_share_bp: 5_000,
        }
    }
}

/// Every kind of alert (docs/ALERTS.md lists each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// A holder signed a pledge of a receipt already pledged to a bank.
    DoublePledgeAttempt,
    /// A receipt or certification beyond what the oil allows was refused.
    OverIssueAttempt,
    /// Any other refusal recorded as an attempt entry.
    RefusedAttempt,
    /// A re-gauging found a tank short of its receipts.
    TankShortfall,
    /// An active pledge is past its maturity.
    PledgePastMaturity,
    /// A pledged receipt expires within the policy's warning period.
    PledgedReceiptExpiring,
    /// One holder has pledged more than the policy's share of a tank.
    HolderConcentration,
    /// A tank's custodian (its warehouse) was revoked.
    CustodianRevoked,
    /// A certificate or tank much like an earlier one: perhaps the same
    /// oil, or the same tank, on the ledger twice.
    PossibleSameOil,
    /// An active pledge's loan-to-value, at the latest price of its
    /// receipt's grade, is above the pledge's margin level.
    CollateralBelowMargin,
}

impl AlertKind {
    /// Every kind, in order.
    pub const ALL: [AlertKind; 10] = [
        AlertKind::DoublePledgeAttempt,
        AlertKind::OverIssueAttempt,
        AlertKind::RefusedAttempt,
        AlertKind::TankShortfall,
        AlertKind::PledgePastMaturity,
        AlertKind::PledgedReceiptExpiring,
        AlertKind::HolderConcentration,
        AlertKind::CustodianRevoked,
        AlertKind::PossibleSameOil,
        AlertKind::CollateralBelowMargin,
    ];

    /// The stable name (docs/ALERTS.md).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::DoublePledgeAttempt => "DOUBLE_PLEDGE_ATTEMPT",
            AlertKind::OverIssueAttempt => "OVER_ISSUE_ATTEMPT",
            AlertKind::RefusedAttempt => "REFUSED_ATTEMPT",
            AlertKind::TankShortfall => "TANK_SHORTFALL",
            AlertKind::PledgePastMaturity => "PLEDGE_PAST_MATURITY",
            AlertKind::PledgedReceiptExpiring => "PLEDGED_RECEIPT_EXPIRING",
            AlertKind::HolderConcentration => "HOLDER_CONCENTRATION",
            AlertKind::CustodianRevoked => "CUSTODIAN_REVOKED",
            AlertKind::PossibleSameOil => "POSSIBLE_SAME_OIL",
            AlertKind::CollateralBelowMargin => "COLLATERAL_BELOW_MARGIN",
        }
    }

    /// Whether it is one event (an attempt), never cleared.
    pub fn is_event(self) -> bool {
        matches!(
            self,
            AlertKind::DoublePledgeAttempt
                | AlertKind::OverIssueAttempt
                | AlertKind::RefusedAttempt
                | AlertKind::PossibleSameOil
        )
    }
}

/// Raised, or cleared (a condition no longer holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// The condition began, or the event happened.
    Raised,
    /// The condition ended.
    Cleared,
}

impl AlertState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Raised => "RAISED",
            AlertState::Cleared => "CLEARED",
        }
    }
}

/// What raised or cleared an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// What the entry did.
    Entry,
    /// The entry's time reaching the alert's due time.
    Clock,
}

impl Trigger {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Entry => "ENTRY",
            Trigger::Clock => "CLOCK",
        }
    }
}

/// One alert event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its place in the whole stream, from 0.
    pub index: u64,
    /// What kind.
    pub kind: AlertKind,
    /// Raised or cleared.
    pub state: AlertState,
    /// The entry that raised or cleared it; clock-triggered: the first
    /// entry whose time reached its due time.
    pub seq: Seq,
    /// Entry-triggered: the entry's time. Clock-triggered: its due time (a
    /// maturity, an expiry less the warning period).
    pub time_ms: u64,
    /// An entry or the clock.
    pub trigger: Trigger,
    /// What it is about: a receipt, pledge or tank id, or `tank/holder`.
    pub subject: String,
    /// The participants it concerns (who may see it besides regulators and
    /// auditors), sorted.
    pub parties: BTreeSet<String>,
    /// Its fields, sorted by key.
    pub fields: BTreeMap<String, String>,
}

/// An alert before it has its place in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    pub kind: AlertKind,
    pub state: AlertState,
    pub subject: String,
    pub parties: BTreeSet<String>,
    pub fields: BTreeMap<String, String>,
}

impl Draft {
    pub(crate) fn new(kind: AlertKind, state: AlertState, subject: impl Into<String>) -> Draft {
        Draft {
            kind,
            state,
            subject: subject.into(),
            parties: BTreeSet::new(),
            fields: BTreeMap::new(),
        }
    }

    pub(crate) fn field(mut self, key: &str, value: impl ToString) -> Draft {
        self.fields.insert(key.to_owned(), value.to_string());
        self
    }

    pub(crate) fn parties<I: IntoIterator<Item = String>>(mut self, parties: I) -> Draft {
        self.parties
            .extend(parties.into_iter().filter(|p| !p.is_empty()));
        self
    }
}

/// Derives the alerts of a chain, entry by entry.
#[derive(Debug, Clone)]
pub struct AlertWatch {
    policy: AlertPolicy,
    view: WatchView,
    conditions: conditions::Conditions,
    same_oil: same_oil::SameOil,
    next_index: u64,
    next_seq: Seq,
}

impl AlertWatch {
    /// A watch of an empty chain.
    pub fn new(policy: AlertPolicy) -> AlertWatch {
        AlertWatch {
            policy,
            view: WatchView::default(),
            conditions: conditions::Conditions::default(),
            same_oil: same_oil::SameOil::default(),
            next_index: 0,
            next_seq: 0,
        }
    }

    /// The policy watched with.
    pub fn policy(&self) -> AlertPolicy {
        self.policy
    }

    /// Alerts given so far (the next alert's index).
    pub fn alerts_so_far(&self) -> u64 {
        self.next_index
    }

    /// The next entry to observe (entries observed so far).
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// Observes `entry`, which changed `changes` (for an attempt entry,
    /// nothing): first the time alerts due at or before its time, then
    /// what the entry itself raises or clears.
    pub fn observe(&mut self, entry: &Entry, changes: &Objects) -> Vec<Alert> {
        let (seq, time_ms) = (entry.seq, entry.time_ms);
        let due = self.conditions.due(&self.view, &self.policy, time_ms);
        let mut out: Vec<Alert> = due
            .into_iter()
            .flat_map(|(due_ms, drafts)| self.place(drafts, seq, due_ms, Trigger::Clock))
            .collect();
        let mut drafts = Vec::new();
        if let Some(refusal) = &entry.refusal {
            drafts.extend(attempts::alert_of(entry, refusal, &self.view));
        }
        drafts.extend(self.same_oil.observe(changes, seq, &self.view));
        let touched = self.view.merge(changes);
        drafts.extend(
            self.conditions
                .after_entry(&self.view, &touched, &self.policy, time_ms),
        );
        self.next_seq = seq + 1;
        out.extend(self.place(drafts, seq, time_ms, Trigger::Entry));
        out
    }

    /// [`AlertWatch::observe`] for the next entry only: refuses an entry
    /// out of order, so that none is observed twice or skipped.
    pub fn observe_next(
        &mut self,
        entry: &Entry,
        changes: &Objects,
    ) -> Result<Vec<Alert>, AlertError> {
        let expected = self.next_seq;
        if entry.seq != expected {
            return Err(AlertError::OutOfOrder {
                expected,
                found: entry.seq,
            });
        }
        Ok(self.observe(entry, changes))
    }

    fn place(
        &mut self,
        drafts: Vec<Draft>,
        seq: Seq,
        time_ms: u64,
        trigger: Trigger,
    ) -> Vec<Alert> {
        drafts
            .into_iter()
            .map(|draft| {
                let index = self.next_index;
                self.next_index += 1;
                Alert {
                    index,
                    kind: draft.kind,
                    state: draft.state,
                    seq,
                    time_ms,
                    trigger,
                    subject: draft.subject,
                    parties: draft.parties,
                    fields: draft.fields,
                }
            })
            .collect()
    }
}

/// Every alert of `entries` (a verified chain, from genesis, in order).
pub fn derive<'a, I>(entries: I, policy: AlertPolicy) -> Result<Vec<Alert>, AlertError>
where
    I: IntoIterator<Item = &'a Entry>,
{
    let mut feed = AlertFeed::new(policy);
    let mut alerts = Vec::new();
    for entry in entries {
        alerts.extend(feed.push(entry)?);
    }
    Ok(alerts)
}

/// A watch fed by entries alone: it applies each to its own in-memory
/// state, with the rules, to learn what the entry changed.
///
/// Signatures and seals are not checked: feed it a chain already verified
/// (a node's own log, or one an auditor's replay passed). Its memory is
/// the ledger's live state (docs/ALERTS.md §6 gives the figure).
#[derive(Debug)]
pub struct AlertFeed {
    state: MemoryState,
    watch: AlertWatch,
}

impl AlertFeed {
    /// A feed of an empty chain.
    pub fn new(policy: AlertPolicy) -> AlertFeed {
        AlertFeed {
            state: MemoryState::default(),
            watch: AlertWatch::new(policy),
        }
    }

    /// Applies the next entry and returns what it raised or cleared.
    pub fn push(&mut self, entry: &Entry) -> Result<Vec<Alert>, AlertError> {
        let expected = self.watch.next_seq();
        if entry.seq != expected {
            return Err(AlertError::OutOfOrder {
                expected,
                found: entry.seq,
            });
        }
        let fault = |fault: EntryFault| AlertError::Replay {
            seq: entry.seq,
            fault: Box::new(fault),
        };
        let verified = entry
            .envelope
            .clone()
            .into_verified_unchecked()
            .map_err(|e| fault(e.into()))?;
        let changes = apply_verified(&self.state, entry, &verified).map_err(fault)?;
        let alerts = self.watch.observe(entry, &changes);
        self.state.merge(changes);
        Ok(alerts)
    }

    /// The watch.
    pub fn watch(&self) -> &AlertWatch {
        &self.watch
    }

    /// The watch alone, its state dropped: for an observer that learns
    /// what each later entry changed elsewhere
    /// ([`AlertWatch::observe_next`]).
    pub fn into_watch(self) -> AlertWatch {
        self.watch
    }
}

/// Why alerts cannot be derived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// Entries must come in order, from genesis.
    #[error("entry {found} given where entry {expected} was expected")]
    OutOfOrder {
        /// The entry expected.
        expected: Seq,
        /// The entry given.
        found: Seq,
    },
    /// An entry does not apply: the chain is not valid.
    #[error("entry {seq} does not apply: {fault}")]
    Replay {
        /// The entry.
        seq: Seq,
        /// Why.
        fault: Box<EntryFault>,
    },
}
