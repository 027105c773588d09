//! Issue, transfer, split and cancellation of warehouse receipts.
//!
//! A receipt can change only while it is live, not frozen and not pledged
//! ([`require_changeable`]); it can be transferred, split or pledged only
//! before it expires. Quantities are conserved exactly: an issue adds to its
//! tank's receipted stock, a split moves the same kilograms to new ids, a
//! cancellation removes them from receipted stock and (as oil delivered)
//! from certified stock. On a tank in shortfall no receipt is issued, and a
//! cancellation first writes off the missing oil: certified stock falls only
//! by what the cancelled receipt claimed beyond the shortfall.

use super::stock::{clear_shortfall_if_covered, require_tank_product};
use super::{
    EntryContext, RuleResult, load_active_with_role, load_pledge, load_receipt, load_tank,
    require_future,
};
use crate::model::{Receipt, ReceiptStatus, ReceiptTerms, Role, Shortfall, Tank};
use crate::rejection::{ReceiptState, Rejection};
use crate::state::{Objects, StateRead};

/// Roles that may hold a receipt: traders, and banks after enforcement.
pub(super) const HOLDING_ROLES: &[Role] = &[Role::Holder, Role::Bank];

pub(super) fn issue<S: StateRead + ?Sized>(
    state: &S,
    terms: &ReceiptTerms,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    require_unused_id(state, &terms.receipt_id)?;
    let mut tank = load_tank(state, &terms.tank_id)?;
    let mut certificate =
        state
            .certificate(&terms.certificate)?
            .ok_or_else(|| Rejection::CertificateNotFound {
                certificate: terms.certificate.clone(),
            })?;
    if certificate.tank_id != tank.id {
        return Err(Rejection::CertificateTankMismatch {
            certificate: terms.certificate.clone(),
            certificate_tank: certificate.tank_id,
            tank: tank.id,
        }
        .into());
    }
    if let Some(receipt) = certificate.receipt_id {
        let backed = load_receipt(state, &receipt)?;
        return Err(Rejection::CertificateInUse {
            certificate: terms.certificate.clone(),
            receipt,
            receipt_state: Box::new(receipt_state(state, &backed)?),
        }
        .into());
    }
    if terms.quantity_kg > certificate.quantity_kg {
        return Err(Rejection::QuantityExceedsCertificate {
            certificate: terms.certificate.clone(),
            certified_kg: certificate.quantity_kg,
            requested_kg: terms.quantity_kg,
        }
        .into());
    }
    require_tank_product(&tank, &terms.product_grade)?;
    require_future("expires_at_ms", terms.expires_at_ms, ctx)?;
    // The depositor held the holder role at certification, and roles never
    // change: this is the same check, and the one certification made.
    load_active_with_role(state, &certificate.depositor_id, &[Role::Holder])?;
    require_no_shortfall(&tank, None)?;
    tank.receipted_kg = receipted_after_issue(&tank, terms.quantity_kg)?;

    certificate.receipt_id = Some(terms.receipt_id.clone());
    let receipt = Receipt {
        terms: terms.clone(),
        warehouse_id: tank.warehouse_id.clone(),
        holder_id: certificate.depositor_id.clone(),
        status: ReceiptStatus::Active,
        frozen: None,
        parent_id: None,
        issued_at_ms: ctx.time_ms,
        issued_at: ctx.seq,
        updated_at: ctx.seq,
        history_len: 0,
    };
    let mut changes = Objects::default();
    changes.put_receipt(receipt);
    changes.put_certificate(certificate);
    changes.put_tank(tank);
    Ok(changes)
}

pub(super) fn transfer<S: StateRead + ?Sized>(
    state: &S,
    receipt_id: &str,
    new_holder_id: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut receipt = load_receipt(state, receipt_id)?;
    require_changeable(state, &receipt)?;
    require_unexpired(&receipt, ctx)?;
    if receipt.holder_id == new_holder_id {
        return Err(Rejection::AlreadyHolder {
            receipt: receipt_id.to_owned(),
            holder: new_holder_id.to_owned(),
        }
        .into());
    }
    load_active_with_role(state, new_holder_id, HOLDING_ROLES)?;
    receipt.holder_id = new_holder_id.to_owned();
    let mut changes = Objects::default();
    changes.put_receipt(receipt);
    Ok(changes)
}

pub(super) fn split<S: StateRead + ?Sized>(
    state: &S,
    receipt_id: &str,
    parts: &[(String, u64)],
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut parent = load_receipt(state, receipt_id)?;
    require_changeable(state, &parent)?;
    require_unexpired(&parent, ctx)?;
    let parts_kg = parts
        .iter()
        .try_fold(0u64, |sum, (_, kg)| sum.checked_add(*kg));
    if parts_kg != Some(parent.terms.quantity_kg) {
        return Err(Rejection::SplitMismatch {
            receipt: receipt_id.to_owned(),
            receipt_kg: parent.terms.quantity_kg,
            parts_kg: parts_kg.unwrap_or(u64::MAX),
        }
        .into());
    }
    let mut changes = Objects::default();
    for (part_id, quantity_kg) in parts {
        require_unused_id(state, part_id)?;
        changes.put_receipt(split_part(&parent, part_id, *quantity_kg, ctx));
    }
    parent.status = ReceiptStatus::Split {
        at: ctx.seq,
        parts: parts.iter().map(|(id, _)| id.clone()).collect(),
    };
    changes.put_receipt(parent);
    Ok(changes)
}

pub(super) fn cancel<S: StateRead + ?Sized>(
    state: &S,
    receipt_id: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut receipt = load_receipt(state, receipt_id)?;
    require_changeable(state, &receipt)?;
    let mut tank = load_tank(state, &receipt.terms.tank_id)?;
    let kg = receipt.terms.quantity_kg;
    let overflow = || Rejection::QuantityOverflow {
        tank: tank.id.clone(),
    };
    let receipted_kg = tank.receipted_kg.checked_sub(kg).ok_or_else(overflow)?;
    let certified_kg = match tank.shortfall {
        // Write off the missing oil first; what remains was delivered.
        Some(_) => tank.certified_kg.min(receipted_kg),
        None => tank.certified_kg.checked_sub(kg).ok_or_else(overflow)?,
    };
    tank.receipted_kg = receipted_kg;
    tank.certified_kg = certified_kg;
    clear_shortfall_if_covered(&mut tank);
    receipt.status = ReceiptStatus::Cancelled { at: ctx.seq };
    let mut changes = Objects::default();
    changes.put_receipt(receipt);
    changes.put_tank(tank);
    Ok(changes)
}

/// A receipt may change only if it is not frozen, is live, and is not pledged.
pub(super) fn require_changeable<S: StateRead + ?Sized>(
    state: &S,
    receipt: &Receipt,
) -> RuleResult<()> {
    require_not_frozen(state, receipt)?;
    match &receipt.status {
        ReceiptStatus::Active => Ok(()),
        ReceiptStatus::Pledged { pledge_id } => {
            let pledge = load_pledge(state, pledge_id)?;
            Err(Rejection::ReceiptPledged {
                receipt: receipt.id().to_owned(),
                pledge: pledge_id.clone(),
                pledgee: pledge.pledgee().to_owned(),
                since: pledge.registered_at,
            }
            .into())
        }
        status => Err(Rejection::ReceiptNotLive {
            receipt: receipt.id().to_owned(),
            status: status.name(),
        }
        .into()),
    }
}

/// A frozen receipt cannot change at all, except by unfreezing. The refusal
/// names the pledge on it, if any: the bank holding it needs to know.
pub(super) fn require_not_frozen<S: StateRead + ?Sized>(
    state: &S,
    receipt: &Receipt,
) -> RuleResult<()> {
    let Some(freeze) = &receipt.frozen else {
        return Ok(());
    };
    let pledge = match receipt.active_pledge() {
        Some(id) => Some(load_pledge(state, id)?),
        None => None,
    };
    Err(Rejection::ReceiptFrozen {
        receipt: receipt.id().to_owned(),
        regulator: freeze.regulator_id.clone(),
        order_reference: freeze.order_reference.clone(),
        since: freeze.since,
        pledge: pledge.as_ref().map(|p| p.id().into()),
        pledgee: pledge.as_ref().map(|p| p.pledgee().into()),
    }
    .into())
}

/// No new receipt or pledge on a tank in shortfall.
pub(super) fn require_no_shortfall(tank: &Tank, receipt: Option<&str>) -> RuleResult<()> {
    let Some(Shortfall { gauging, since }) = &tank.shortfall else {
        return Ok(());
    };
    Err(Rejection::TankShortfall {
        receipt: receipt.map(Box::from),
        tank: tank.id.clone(),
        measured_kg: gauging.measured_kg,
        receipted_kg: tank.receipted_kg,
        missing_kg: tank.missing_kg(),
        inspector: gauging.inspector_id.clone(),
        report_no: gauging.report_no.clone(),
        since: *since,
    }
    .into())
}

/// What became of a receipt, for messages about it.
fn receipt_state<S: StateRead + ?Sized>(state: &S, receipt: &Receipt) -> RuleResult<ReceiptState> {
    let pledgee = match receipt.active_pledge() {
        Some(id) => Some(load_pledge(state, id)?.pledgee().to_owned()),
        None => None,
    };
    Ok(ReceiptState::of(receipt, pledgee))
}

pub(super) fn require_unexpired(receipt: &Receipt, ctx: EntryContext) -> RuleResult<()> {
    if ctx.time_ms >= receipt.terms.expires_at_ms {
        return Err(Rejection::ReceiptExpired {
            receipt: receipt.id().to_owned(),
            expires_at_ms: receipt.terms.expires_at_ms,
            now_ms: ctx.time_ms,
        }
        .into());
    }
    Ok(())
}

/// Receipt ids are never reused, whatever became of the first receipt.
fn require_unused_id<S: StateRead + ?Sized>(state: &S, receipt_id: &str) -> RuleResult<()> {
    match state.receipt(receipt_id)? {
        Some(existing) => Err(Rejection::ReceiptExists {
            id: receipt_id.to_owned(),
            issued_at: existing.issued_at,
        }
        .into()),
        None => Ok(()),
    }
}

fn receipted_after_issue(tank: &Tank, added_kg: u64) -> RuleResult<u64> {
    let total =
        tank.receipted_kg
            .checked_add(added_kg)
            .ok_or_else(|| Rejection::QuantityOverflow {
                tank: tank.id.clone(),
            })?;
    if total > tank.certified_kg {
        return Err(Rejection::StockExceeded {
            tank: tank.id.clone(),
            certified_kg: tank.certified_kg,
            receipted_kg: tank.receipted_kg,
            requested_kg: added_kg,
        }
        .into());
    }
    Ok(total)
}

fn split_part(parent: &Receipt, part_id: &str, quantity_kg: u64, ctx: EntryContext) -> Receipt {
    let mut terms = parent.terms.clone();
    terms.receipt_id = part_id.to_owned();
    terms.quantity_kg = quantity_kg;
    Receipt {
        terms,
        warehouse_id: parent.warehouse_id.clone(),
        holder_id: parent.holder_id.clone(),
        status: ReceiptStatus::Active,
        frozen: None,
        parent_id: Some(parent.id().to_owned()),
        issued_at_ms: ctx.time_ms,
        issued_at: ctx.seq,
        updated_at: ctx.seq,
        history_len: 0,
    }
}
