//! Freezing and unfreezing receipts by a regulator or court. The freeze
//! records who froze and under which order; only that regulator, or the
//! quorum, lifts it (authority.rs).

use super::receipts::require_not_frozen;
use super::{EntryContext, RuleResult, load_receipt};
use crate::model::Freeze;
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};

pub(super) fn freeze<S: StateRead + ?Sized>(
    state: &S,
    receipt_id: &str,
    regulator_id: &str,
    order_reference: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut receipt = load_receipt(state, receipt_id)?;
    require_not_frozen(state, &receipt)?;
    if !receipt.status.is_live() {
        return Err(Rejection::ReceiptNotLive {
            receipt: receipt_id.to_owned(),
            status: receipt.status.name(),
        }
        .into());
    }
    receipt.frozen = Some(Freeze {
        regulator_id: regulator_id.to_owned(),
        order_reference: order_reference.to_owned(),
        since: ctx.seq,
    });
    let mut changes = Objects::default();
    changes.put_receipt(receipt);
    Ok(changes)
}

pub(super) fn unfreeze<S: StateRead + ?Sized>(state: &S, receipt_id: &str) -> RuleResult<Objects> {
    let mut receipt = load_receipt(state, receipt_id)?;
    if receipt.frozen.is_none() {
        return Err(Rejection::ReceiptNotFrozen {
            receipt: receipt_id.to_owned(),
        }
        .into());
    }
    receipt.frozen = None;
    let mut changes = Objects::default();
    changes.put_receipt(receipt);
    Ok(changes)
}
