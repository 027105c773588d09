//! Succession of a tank's custodian after its warehouse was revoked.
//!
//! While a tank's warehouse is revoked, its receipts are "custodian revoked":
//! nobody can confirm a transfer, split or cancellation, and they cannot be
//! newly pledged. The quorum appoints a successor warehouse; an inspector
//! re-gauges the tank at the hand-over (so the successor takes over only the
//! oil that is there). The tank and its live receipts pass to the successor.

use super::stock::apply_gauging;
use super::{
    EntryContext, RuleResult, load_active_with_role, load_participant, load_receipt, load_tank,
};
use crate::model::{CustodyChange, Gauging, Role};
use crate::rejection::Rejection;
use crate::state::ReceiptFilter;
use crate::state::{Objects, StateRead};

pub(super) fn appoint<S: StateRead + ?Sized>(
    state: &S,
    tank_id: &str,
    successor: &str,
    gauging: &Gauging,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut tank = load_tank(state, tank_id)?;
    let revoked = load_participant(state, &tank.warehouse_id)?;
    if revoked.revoked_at.is_none() {
        return Err(Rejection::CustodianNotRevoked {
            tank: tank.id,
            warehouse: tank.warehouse_id,
        }
        .into());
    }
    load_active_with_role(state, successor, &[Role::Warehouse])?;
    apply_gauging(
        state,
        &mut tank,
        gauging,
        (successor, "successor custodian"),
        ctx,
    )?;
    let mut changes = Objects::default();
    for receipt_id in state.receipt_ids(&ReceiptFilter::Tank(tank.id.clone()))? {
        let mut receipt = load_receipt(state, &receipt_id)?;
        if receipt.status.is_live() {
            receipt.warehouse_id = successor.to_owned();
            changes.put_receipt(receipt);
        }
    }
    tank.custody.push(CustodyChange {
        from: tank.warehouse_id.clone(),
        to: successor.to_owned(),
        at: ctx.seq,
    });
    tank.warehouse_id = successor.to_owned();
    changes.put_tank(tank);
    Ok(changes)
}
