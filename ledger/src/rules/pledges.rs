//! Registration, release and enforcement of pledges.
//!
//! The double-pledge rule lives in [`super::receipts::require_changeable`]: a
//! receipt under an active pledge cannot be pledged again, whichever bank
//! asks, until the pledgee releases or enforces. A receipt is not pledgeable
//! either while its tank is in shortfall or its custodian is revoked.
//!
//! Enforcement (the bank takes the receipt) needs grounds: the loan's
//! maturity has passed, or a regulator co-signs an order, or the holder
//! co-signs its consent (authority.rs says who signs; the time is checked
//! here).

use super::authority::require_custodian_active;
use super::receipts::{
    HOLDING_ROLES, require_changeable, require_no_shortfall, require_not_frozen, require_unexpired,
};
use super::{
    EntryContext, RuleResult, load_active_with_role, load_pledge, load_receipt, load_tank,
    require_distinct, require_future,
};
use crate::model::{EnforcementGrounds, Pledge, PledgeStatus, PledgeTerms, ReceiptStatus, Role};
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
    let tank = load_tank(state, &receipt.terms.tank_id)?;
    require_custodian_active(state, &tank, Some(receipt.id()))?;
    require_no_shortfall(&tank, Some(receipt.id()))?;
    load_active_with_role(state, &terms.pledgee_id, &[Role::Bank])?;
    // A pledge to oneself secures nothing: the holder already has every
    // right the pledge would give, and the receipt would only look encumbered.
    require_distinct(
        (&receipt.holder_id, "pledgor"),
        (&terms.pledgee_id, "pledgee"),
    )?;
    require_future("maturity_ms", terms.maturity_ms, ctx)?;

    let pledge = Pledge {
        terms: terms.clone(),
        pledgor_id: receipt.holder_id.clone(),
        started_at_ms: ctx.time_ms,
        status: PledgeStatus::Active,
        registered_at: ctx.seq,
        successions: Vec::new(),
    };
    receipt.status = ReceiptStatus::Pledged {
        pledge_id: terms.pledge_id.clone(),
    };
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
    let pledge = load_pledge(state, pledge_id)?;
    end_pledge(state, pledge, ctx, None)
}

pub(super) fn enforce<S: StateRead + ?Sized>(
    state: &S,
    pledge_id: &str,
    transferee_id: Option<&str>,
    grounds: &EnforcementGrounds,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let pledge = load_pledge(state, pledge_id)?;
    // Whether the pledge is still in force comes first: a caller enforcing
    // a released or enforced pledge learns that, whatever else it got wrong.
    require_active(&pledge)?;
    let transferee = transferee_id.unwrap_or(pledge.pledgee()).to_owned();
    load_active_with_role(state, &transferee, HOLDING_ROLES)?;
    if *grounds == EnforcementGrounds::Maturity && ctx.time_ms < pledge.terms.maturity_ms {
        return Err(Rejection::EnforcementBeforeMaturity {
            pledge: pledge_id.to_owned(),
            maturity_ms: pledge.terms.maturity_ms,
            now_ms: ctx.time_ms,
        }
        .into());
    }
    end_pledge(state, pledge, ctx, Some((transferee, grounds.clone())))
}

/// Ends an active pledge: released (`enforced` is `None`) or enforced to a
/// transferee on some grounds. The receipt becomes active again, with its
/// new holder.
fn end_pledge<S: StateRead + ?Sized>(
    state: &S,
    mut pledge: Pledge,
    ctx: EntryContext,
    enforced: Option<(String, EnforcementGrounds)>,
) -> RuleResult<Objects> {
    require_active(&pledge)?;
    let mut receipt = load_receipt(state, &pledge.terms.receipt_id)?;
    require_not_frozen(state, &receipt)?;
    receipt.status = ReceiptStatus::Active;
    pledge.status = match enforced {
        None => PledgeStatus::Released { at: ctx.seq },
        Some((transferee_id, grounds)) => {
            receipt.holder_id = transferee_id.clone();
            PledgeStatus::Enforced {
                at: ctx.seq,
                transferee_id,
                grounds,
            }
        }
    };
    let mut changes = Objects::default();
    changes.put_pledge(pledge);
    changes.put_receipt(receipt);
    Ok(changes)
}

fn require_active(pledge: &Pledge) -> RuleResult<()> {
    if pledge.status != PledgeStatus::Active {
        return Err(Rejection::PledgeNotActive {
            pledge: pledge.id().to_owned(),
            status: pledge.status.name(),
        }
        .into());
    }
    Ok(())
}
