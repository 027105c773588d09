//! Sentences a bank officer can act on: what an entry did, and what has
//! become of the objects it concerned since. Used where the ledger answers
//! about an earlier entry (a reused transaction id, a retried envelope);
//! pure functions of the operation and the state.

use crate::model::{PledgeStatus, PriceKey, ReceiptStatus};
use crate::rejection::ReceiptState;
use crate::state::StateError;
use crate::state::StateRead;
use crate::tx::Operation;

/// What an entry with this operation did, in the past tense, e.g.
/// "registered pledge `PL-A` of receipt `WR-7` to `bank-b`".
pub fn what_it_did(operation: &Operation) -> String {
    match operation {
        Operation::Genesis { participants, .. } => {
            format!(
                "created the ledger with {} participants",
                participants.len()
            )
        }
        Operation::AdmitParticipant(spec) => format!("admitted participant `{}`", spec.id),
        Operation::RotateKey { participant_id, .. } => format!("rotated `{participant_id}`'s key"),
        Operation::RecoverKey { participant_id, .. } => {
            format!("recovered `{participant_id}`'s key")
        }
        Operation::RevokeParticipant { participant_id, .. } => {
            format!("revoked participant `{participant_id}`")
        }
        Operation::RegisterTank(t) => format!(
            "registered tank `{}` ({}) of `{}`",
            t.tank_id, t.physical_id, t.warehouse_id
        ),
        Operation::CertifyStock(c) => format!(
            "certified {} kg in tank `{}` for `{}` ({})",
            c.quantity_kg, c.tank_id, c.depositor_id, c.certificate
        ),
        Operation::RegaugeTank { tank_id, gauging } => {
            format!("re-gauged tank `{tank_id}` at {} kg", gauging.measured_kg)
        }
        Operation::AppointCustodian {
            tank_id,
            warehouse_id,
            ..
        } => format!("appointed `{warehouse_id}` custodian of tank `{tank_id}`"),
        Operation::IssueReceipt(terms) => format!(
            "issued receipt `{}` for {} kg",
            terms.receipt_id, terms.quantity_kg
        ),
        Operation::TransferReceipt {
            receipt_id,
            new_holder_id,
        } => format!("transferred receipt `{receipt_id}` to `{new_holder_id}`"),
        Operation::SplitReceipt { receipt_id, parts } => {
            let ids: Vec<&str> = parts.iter().map(|(id, _)| id.as_str()).collect();
            format!("split receipt `{receipt_id}` into {}", ids.join(", "))
        }
        Operation::CancelReceipt { receipt_id, .. } => format!("cancelled receipt `{receipt_id}`"),
        Operation::RegisterPledge(terms) => format!(
            "registered pledge `{}` of receipt `{}` to `{}`",
            terms.pledge_id, terms.receipt_id, terms.pledgee_id
        ),
        Operation::ReleasePledge { pledge_id } => format!("released pledge `{pledge_id}`"),
        Operation::EnforcePledge { pledge_id, .. } => format!("enforced pledge `{pledge_id}`"),
        Operation::FreezeReceipt { receipt_id, .. } => format!("froze receipt `{receipt_id}`"),
        Operation::UnfreezeReceipt { receipt_id, .. } => {
            format!("lifted the freeze on receipt `{receipt_id}`")
        }
        Operation::ChangeMembership { members, .. } => {
            let ids: Vec<String> = members.iter().map(|m| m.id.to_string()).collect();
            format!("set the registry's members to {}", ids.join(", "))
        }
        Operation::AssessPrice(report) => format!(
            "assessed {} at {} minor units per tonne",
            report.key, report.price_per_tonne_minor
        ),
    }
}

/// What has become since of the object the operation was about, e.g.
/// "pledge `PL-A` was released at entry 20", or `None` if nothing can be
/// said (the object is gone from the state, which does not happen).
pub fn since<S: StateRead + ?Sized>(
    state: &S,
    operation: &Operation,
) -> Result<Option<String>, StateError> {
    Ok(match operation {
        Operation::RegisterPledge(terms) => pledge_now(state, &terms.pledge_id)?,
        Operation::ReleasePledge { pledge_id } | Operation::EnforcePledge { pledge_id, .. } => {
            pledge_now(state, pledge_id)?
        }
        Operation::IssueReceipt(terms) => receipt_now(state, &terms.receipt_id)?,
        Operation::TransferReceipt { receipt_id, .. }
        | Operation::SplitReceipt { receipt_id, .. }
        | Operation::CancelReceipt { receipt_id, .. }
        | Operation::FreezeReceipt { receipt_id, .. }
        | Operation::UnfreezeReceipt { receipt_id, .. } => receipt_now(state, receipt_id)?,
        Operation::RegisterTank(t) => tank_now(state, &t.tank_id)?,
        Operation::CertifyStock(c) => tank_now(state, &c.tank_id)?,
        Operation::RegaugeTank { tank_id, .. } | Operation::AppointCustodian { tank_id, .. } => {
            tank_now(state, tank_id)?
        }
        Operation::AdmitParticipant(spec) => participant_now(state, &spec.id)?,
        Operation::RotateKey { participant_id, .. }
        | Operation::RecoverKey { participant_id, .. }
        | Operation::RevokeParticipant { participant_id, .. } => {
            participant_now(state, participant_id)?
        }
        Operation::AssessPrice(report) => price_now(state, &report.key)?,
        Operation::Genesis { .. } | Operation::ChangeMembership { .. } => None,
    })
}

fn price_now<S: StateRead + ?Sized>(
    state: &S,
    key: &PriceKey,
) -> Result<Option<String>, StateError> {
    Ok(state.price(key)?.map(|latest| {
        format!(
            "the latest price of {key} is {} minor units per tonne, assessed by `{}` at entry {}",
            latest.price_per_tonne_minor, latest.reporter_id, latest.at
        )
    }))
}

fn pledge_now<S: StateRead + ?Sized>(state: &S, id: &str) -> Result<Option<String>, StateError> {
    let Some(pledge) = state.pledge(id)? else {
        return Ok(None);
    };
    Ok(Some(match &pledge.status {
        PledgeStatus::Active => format!("pledge `{id}` is active, to `{}`", pledge.pledgee()),
        PledgeStatus::Released { at } => format!("pledge `{id}` was released at entry {at}"),
        PledgeStatus::Enforced {
            at, transferee_id, ..
        } => format!(
            "pledge `{id}` was enforced at entry {at}; the receipt went to `{transferee_id}`"
        ),
    }))
}

fn receipt_now<S: StateRead + ?Sized>(state: &S, id: &str) -> Result<Option<String>, StateError> {
    let Some(receipt) = state.receipt(id)? else {
        return Ok(None);
    };
    let pledgee = match receipt.active_pledge() {
        Some(pledge_id) => state.pledge(pledge_id)?.map(|p| p.pledgee().to_owned()),
        None => None,
    };
    let frozen = match &receipt.frozen {
        Some(freeze) => format!(
            ", frozen by `{}` since entry {}",
            freeze.regulator_id, freeze.since
        ),
        None => String::new(),
    };
    let split = match &receipt.status {
        ReceiptStatus::Split { parts, .. } => format!(" into {}", parts.join(", ")),
        _ => String::new(),
    };
    Ok(Some(format!(
        "receipt `{id}` is {}{split}{frozen}",
        ReceiptState::of(&receipt, pledgee)
    )))
}

fn tank_now<S: StateRead + ?Sized>(state: &S, id: &str) -> Result<Option<String>, StateError> {
    Ok(state.tank(id)?.map(|tank| {
        let shortfall = match &tank.shortfall {
            Some(s) => format!(", in shortfall since entry {}", s.since),
            None => String::new(),
        };
        format!(
            "tank `{id}` of `{}` has {} kg certified and {} kg under live receipts{shortfall}",
            tank.warehouse_id, tank.certified_kg, tank.receipted_kg
        )
    }))
}

fn participant_now<S: StateRead + ?Sized>(
    state: &S,
    id: &str,
) -> Result<Option<String>, StateError> {
    Ok(state.participant(id)?.map(|p| match p.revoked_at {
        Some(at) => format!("participant `{id}` was revoked at entry {at}"),
        None => format!(
            "participant `{id}` is active, its key valid since entry {}",
            p.key_since
        ),
    }))
}
