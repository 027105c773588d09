//! One tank's rows, and its active pledges added to their banks' totals.

use std::collections::BTreeMap;

use super::{BankRow, HolderRow, ReportError, ReportRow, TankRow};
use crate::model::{Pledge, PledgeStatus, Receipt, Seq, Tank};
use crate::rules::valuation::{BASIS_POINTS, PledgeValuation, price_key, value_pledge};
use crate::state::{ReceiptFilter, StateRead};

/// The banks' running totals, by (bank id, currency).
pub(super) type Banks = BTreeMap<(String, String), BankRow>;

/// A holder's kilograms on a tank: (held, pledged).
type Holdings = BTreeMap<String, (u64, u64)>;

/// `pledged_kg` as a share of `certified_kg`, basis points, rounded down;
/// with nothing certified, 10,000 per kilogram pledged. The same share as
/// the `HOLDER_CONCENTRATION` alert's `share_bp` (docs/ALERTS.md).
pub fn pledged_share_bp(pledged_kg: u64, certified_kg: u64) -> u128 {
    let pledged = u128::from(pledged_kg) * BASIS_POINTS;
    match certified_kg {
        0 => pledged,
        certified => pledged / u128::from(certified),
    }
}

/// The tank's row and its holders' rows; its active pledges join `banks`.
pub(super) fn rows_of<S: StateRead + ?Sized>(
    state: &S,
    size: u64,
    tank: &Tank,
    banks: &mut Banks,
) -> Result<Vec<ReportRow>, ReportError> {
    let mut holdings = Holdings::new();
    for id in state.receipt_ids(&ReceiptFilter::Tank(tank.id.clone()))? {
        let Some(receipt) = state.receipt(&id)? else {
            continue;
        };
        check_before(size, format!("receipt {id}"), receipt.updated_at)?;
        if receipt.status.is_live() {
            count_receipt(state, size, &receipt, &mut holdings, banks)?;
        }
    }
    let mut rows = vec![ReportRow::Tank(tank_row(tank, &holdings))];
    rows.extend(holdings.into_iter().map(|(holder_id, (held, pledged))| {
        ReportRow::Holder(HolderRow {
            holder_id,
            tank_id: tank.id.clone(),
            held_kg: held,
            pledged_kg: pledged,
            pledged_share_bp: pledged_share_bp(pledged, tank.certified_kg),
        })
    }));
    Ok(rows)
}

fn tank_row(tank: &Tank, holdings: &Holdings) -> TankRow {
    let pledged_kg = holdings
        .values()
        .fold(0u64, |sum, (_, pledged)| sum.saturating_add(*pledged));
    TankRow {
        tank_id: tank.id.clone(),
        warehouse_id: tank.warehouse_id.clone(),
        product: tank.product.clone(),
        capacity_kg: tank.capacity_kg,
        certified_kg: tank.certified_kg,
        measured_kg: tank.last_gauging.as_ref().map(|g| g.gauging.measured_kg),
        receipted_kg: tank.receipted_kg,
        pledged_kg,
        shortfall_kg: tank.missing_kg(),
    }
}

/// Adds a live receipt to its holder's kilograms and, if pledged, its
/// pledge to its bank's totals.
fn count_receipt<S: StateRead + ?Sized>(
    state: &S,
    size: u64,
    receipt: &Receipt,
    holdings: &mut Holdings,
    banks: &mut Banks,
) -> Result<(), ReportError> {
    let quantity = receipt.terms.quantity_kg;
    let (held, pledged) = holdings.entry(receipt.holder_id.clone()).or_default();
    *held = held.saturating_add(quantity);
    let Some(pledge_id) = receipt.active_pledge() else {
        return Ok(());
    };
    *pledged = pledged.saturating_add(quantity);
    let pledge = active_pledge(state, size, receipt, pledge_id)?;
    let latest = state.price(&price_key(&pledge, receipt))?;
    if let Some(assessment) = &latest {
        let object = format!("price of {}", assessment.key);
        check_before(size, object, assessment.at)?;
    }
    let valuation = value_pledge(&pledge, receipt, latest.as_ref());
    add_to_bank(banks, &pledge, &valuation);
    Ok(())
}

fn active_pledge<S: StateRead + ?Sized>(
    state: &S,
    size: u64,
    receipt: &Receipt,
    pledge_id: &str,
) -> Result<Pledge, ReportError> {
    let missing = || ReportError::MissingPledge {
        receipt_id: receipt.id().to_owned(),
        pledge_id: pledge_id.to_owned(),
    };
    let pledge = state.pledge(pledge_id)?.ok_or_else(missing)?;
    check_before(size, format!("pledge {pledge_id}"), last_change(&pledge))?;
    match pledge.status {
        PledgeStatus::Active => Ok(pledge),
        _ => Err(missing()),
    }
}

fn add_to_bank(banks: &mut Banks, pledge: &Pledge, valuation: &PledgeValuation) {
    let secured = &pledge.terms.secured_amount;
    let key = (pledge.pledgee().to_owned(), secured.currency.clone());
    let row = banks.entry(key).or_insert_with(|| BankRow {
        bank_id: pledge.pledgee().to_owned(),
        currency: secured.currency.clone(),
        active_pledges: 0,
        exposure_minor: 0,
        collateral_value_minor: 0,
        unpriced_pledges: 0,
        unpriced_exposure_minor: 0,
    });
    let amount = u128::from(secured.minor_units);
    row.active_pledges += 1;
    row.exposure_minor = row.exposure_minor.saturating_add(amount);
    match valuation {
        PledgeValuation::Valued(v) => {
            row.collateral_value_minor = row
                .collateral_value_minor
                .saturating_add(v.collateral_value_minor);
        }
        PledgeValuation::NoPrice { .. } => {
            row.unpriced_pledges += 1;
            row.unpriced_exposure_minor = row.unpriced_exposure_minor.saturating_add(amount);
        }
    }
}

/// The last entry that changed a pledge: its registration, a succession
/// or its end.
fn last_change(pledge: &Pledge) -> Seq {
    let ended = match &pledge.status {
        PledgeStatus::Active => 0,
        PledgeStatus::Released { at } | PledgeStatus::Enforced { at, .. } => *at,
    };
    let succeeded = pledge.successions.last().map_or(0, |s| s.at);
    pledge.registered_at.max(ended).max(succeeded)
}

/// Refuses an object changed at or after `size`: the state moved on.
pub(super) fn check_before(size: u64, object: String, changed_at: Seq) -> Result<(), ReportError> {
    match changed_at < size {
        true => Ok(()),
        false => Err(ReportError::StateMoved {
            object,
            changed_at,
            size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_rounds_down_and_counts_an_empty_tank_per_kilogram() {
        assert_eq!(pledged_share_bp(1, 3), 3_333);
        assert_eq!(pledged_share_bp(2, 3), 6_666);
        assert_eq!(pledged_share_bp(3, 3), 10_000);
        assert_eq!(pledged_share_bp(0, 0), 0);
        assert_eq!(pledged_share_bp(7, 0), 70_000);
        assert_eq!(pledged_share_bp(u64::MAX, 1), u128::from(u64::MAX) * 10_000);
    }
}
