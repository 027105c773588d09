//! Registration, release and enforcement of pledges.
//!
//! The double-pledge rule lives in [`super::receipts::require_changeable`]: a
//! receipt under an active pledge cannot be pledged again, whichever bank
//! asks, until the pledgee releases or enforces.

use super::receipts::{HOLDING_ROLES, require_changeable, require_not_frozen, require_unexpired};
use super::{
    EntryContext, RuleResult, load_active_with_role, load_pledge, load_receipt, require_future,
};
use crate::model::{Pledge, PledgeStatus, PledgeTerms, ReceiptStatus, Role};
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};

pub(super) fn register<S: StateRead + ?Sized>(
    state: &S,
    terms: &PledgeTerms,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    if let Some(existing) = state.pledge(&terms.pledge_id)? {
        return Err(Rejection::PledgeExists {
            id: terms.pledge_id.clone(),
            registered_at: existing.registered_at,
        }
        .into());
    }
    let mut receipt = load_receipt(state, &terms.receipt_id)?;
    require_changeable(state, &receipt)?;
    require_unexpired(&receipt, ctx)?;
    load_active_with_role(state, &terms.pledgee_id, &[Role::Bank])?;
    require_future("maturity_ms", terms.maturity_ms, ctx)?;

    let pledge = Pledge {
        terms: terms.clone(),
        pledgor_id: receipt.holder_id.clone(),
        started_at_ms: ctx.time_ms,
        status: PledgeStatus::Active,
        registered_at: ctx.seq,
    };
    receipt.status = ReceiptStatus::Pledged {
        pledge_id: terms.pledge_id.clone(),
    };
    receipt.updated_at = ctx.seq;
    let mut changes = Objects::default();
    changes.put_pledge(pledge);
    changes.put_receipt(receipt);
    Ok(changes)
}

pub(super) fn release<S: StateRead + ?Sized>(
    state: &S,
    pledge_id: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    end_pledge(state, pledge_id, ctx, None)
}

pub(super) fn enforce<S: StateRead + ?Sized>(
    state: &S,
    pledge_id: &str,
    transferee_id: Option<&str>,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let pledge = load_pledge(state, pledge_id)?;
    let transferee = transferee_id.unwrap_or(&pledge.terms.pledgee_id).to_owned();
    load_active_with_role(state, &transferee, HOLDING_ROLES)?;
    end_pledge(state, pledge_id, ctx, Some(transferee))
}

/// Ends an active pledge: released (`transferee` is `None`) or enforced to
/// `transferee`. The receipt becomes active again, with its new holder.
fn end_pledge<S: StateRead + ?Sized>(
    state: &S,
    pledge_id: &str,
    ctx: EntryContext,
    transferee: Option<String>,
) -> RuleResult<Objects> {
    let mut pledge = load_pledge(state, pledge_id)?;
    if pledge.status != PledgeStatus::Active {
        return Err(Rejection::PledgeNotActive {
            pledge: pledge_id.to_owned(),
            status: pledge.status.name(),
        }
        .into());
    }
    let mut receipt = load_receipt(state, &pledge.terms.receipt_id)?;
    require_not_frozen(&receipt)?;
    receipt.status = ReceiptStatus::Active;
    receipt.updated_at = ctx.seq;
    pledge.status = match transferee {
        None => PledgeStatus::Released { at: ctx.seq },
        Some(transferee_id) => {
            receipt.holder_id = transferee_id.clone();
            PledgeStatus::Enforced {
                at: ctx.seq,
                transferee_id,
            }
        }
    };
    let mut changes = Objects::default();
    changes.put_pledge(pledge);
    changes.put_receipt(receipt);
    Ok(changes)
}
