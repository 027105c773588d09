//! What an attempt entry tells: who tried what, and whom it concerns.
//!
//! Every attempt entry raises one alert (an event, never cleared): a
//! second pledge of a pledged receipt is a double-pledge attempt; a
//! receipt or certification beyond the oil is an over-issue attempt; any
//! other recorded refusal is a refused attempt. The alert carries the
//! refusal's fields, the operation and its signers.

use std::collections::BTreeSet;

use crate::entry::Entry;
use crate::refusal::Refusal;
use crate::tx::{Operation, Transaction};

use super::view::WatchView;
use super::{AlertKind, AlertState, Draft};

/// The refusals that are over-issue attempts.
const OVER_ISSUE_REASONS: [&str; 4] = [
    "QUANTITY_EXCEEDS_CERTIFICATE",
    "STOCK_EXCEEDED",
    "CAPACITY_EXCEEDED",
    "CERTIFICATE_IN_USE",
];

/// The alert of the attempt entry `entry`, which records `refusal`
/// (`None` only if its transaction does not decode, which replay refuses).
pub(crate) fn alert_of(entry: &Entry, refusal: &Refusal, view: &WatchView) -> Option<Draft> {
    let tx = Transaction::decode(&entry.envelope.tx_bytes).ok()?;
    let signers: BTreeSet<String> = entry
        .envelope
        .signatures
        .iter()
        .map(|s| s.signer.clone())
        .collect();
    let kind = kind_of(refusal, &tx.operation);
    let mut draft = Draft::new(kind, AlertState::Raised, subject(refusal, &tx.operation))
        .field("reason", &refusal.reason)
        .field("operation", tx.operation.name())
        .field("tx_id", &tx.tx_id)
        .field(
            "signers",
            signers.iter().cloned().collect::<Vec<_>>().join(","),
        )
        .parties(signers);
    for (key, value) in &refusal.fields {
        draft = draft.field(key, value);
    }
    Some(match (&tx.operation, kind) {
        (Operation::RegisterPledge(terms), AlertKind::DoublePledgeAttempt) => draft
            .field("refused_pledge", &terms.pledge_id)
            .field("refused_pledgee", &terms.pledgee_id)
            .parties(refusal.field("pledgee").map(str::to_owned))
            .parties([terms.pledgee_id.clone()]),
        _ => with_concerned(draft, refusal, &tx.operation, view),
    })
}

fn kind_of(refusal: &Refusal, operation: &Operation) -> AlertKind {
    let reason = refusal.reason.as_str();
    match operation {
        Operation::RegisterPledge(_) if reason == "RECEIPT_PLEDGED" => {
            AlertKind::DoublePledgeAttempt
        }
        _ if OVER_ISSUE_REASONS.contains(&reason) => AlertKind::OverIssueAttempt,
        _ => AlertKind::RefusedAttempt,
    }
}

/// What the attempt was about: its receipt, else its tank, else its
/// certificate, else its operation.
fn subject(refusal: &Refusal, operation: &Operation) -> String {
    ["receipt", "tank", "certificate_number"]
        .iter()
        .find_map(|key| refusal.field(key))
        .map(str::to_owned)
        .or_else(|| tank_of(operation).map(str::to_owned))
        .unwrap_or_else(|| operation.name().to_owned())
}

fn tank_of(operation: &Operation) -> Option<&str> {
    match operation {
        Operation::CertifyStock(certification) => Some(&certification.tank_id),
        Operation::IssueReceipt(terms) => Some(&terms.tank_id),
        Operation::RegisterTank(registration) => Some(&registration.tank_id),
        _ => None,
    }
}

/// Adds whom the attempt concerns besides its signers: a pledged
/// receipt's pledgee, and the holders and pledgees of the tank it would
/// have drawn on.
fn with_concerned(
    draft: Draft,
    refusal: &Refusal,
    operation: &Operation,
    view: &WatchView,
) -> Draft {
    let draft = draft.parties(refusal.field("pledgee").map(str::to_owned));
    let receipt = refusal.field("receipt");
    let draft = match receipt {
        Some(receipt_id) => draft.parties(view.receipt_parties(receipt_id)),
        None => draft,
    };
    match refusal.field("tank").or_else(|| tank_of(operation)) {
        Some(tank_id) => draft.parties(view.tank_parties(tank_id)),
        None => draft,
    }
}
