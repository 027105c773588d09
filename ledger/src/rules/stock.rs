//! Tanks and certified stock: the physical oil that receipts draw against,
//! and the inspectors' word for it.
//!
//! - A tank is registered by its warehouse and the inspector that calibrated
//!   it, under a physical identity that no other registration may use.
//! - Stock is certified by the tank's warehouse, an inspector and the
//!   depositor together; it adds to certified stock (never beyond capacity).
//! - A re-gauge by an inspector lowers certified stock to the measured
//!   quantity if that is less. When live receipts then claim more than the
//!   certified stock, the tank is in shortfall (see [`Tank`]); certifying
//!   stock again, or cancelling receipts (receipts.rs), clears it once the
//!   receipts fit.
//!
//! Invariant kept here and in receipts.rs: for every tank, either
//! receipted_kg ≤ certified_kg ≤ capacity_kg and no shortfall, or
//! receipted_kg > certified_kg and a shortfall names the re-gauge.

use super::{
    EntryContext, RuleResult, load_active_with_role, load_tank, require_distinct, require_past,
};
use crate::model::{Certificate, Gauging, GaugingRecord, Role, Shortfall, Tank};
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};
use crate::tx::{StockCertification, TankRegistration};

pub(super) fn register_tank<S: StateRead + ?Sized>(
    state: &S,
    registration: &TankRegistration,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let TankRegistration {
        tank_id,
        warehouse_id,
        physical_id,
        calibration,
        ..
    } = registration;
    if let Some(existing) = state.tank(tank_id)? {
        return Err(Rejection::TankExists {
            id: tank_id.clone(),
            registered_at: existing.registered_at,
        }
        .into());
    }
    if let Some(first) = state.physical_tank(physical_id)? {
        let first = load_tank(state, &first)?;
        return Err(Rejection::PhysicalTankRegistered {
            physical_id: physical_id.clone(),
            tank: first.id,
            warehouse: first.warehouse_id,
            registered_at: first.registered_at,
        }
        .into());
    }
    load_active_with_role(state, warehouse_id, &[Role::Warehouse])?;
    load_active_with_role(state, &calibration.inspector, &[Role::Inspector])?;
    require_distinct(
        (warehouse_id, "warehouse"),
        (&calibration.inspector, "calibrating inspector"),
    )?;
    let mut changes = Objects::default();
    changes.put_physical_tank(physical_id.clone(), tank_id);
    changes.put_tank(Tank {
        id: tank_id.clone(),
        warehouse_id: warehouse_id.clone(),
        physical_id: physical_id.clone(),
        calibration: calibration.clone(),
        capacity_kg: registration.capacity_kg,
        product: registration.product.clone(),
        certified_kg: 0,
        receipted_kg: 0,
        last_gauging: None,
        shortfall: None,
        custody: Vec::new(),
        registered_at: ctx.seq,
        updated_at: ctx.seq,
    });
    Ok(changes)
}

pub(super) fn certify<S: StateRead + ?Sized>(
    state: &S,
    certification: &StockCertification,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let StockCertification {
        certificate,
        depositor_id,
        ..
    } = certification;
    let mut tank = load_tank(state, &certification.tank_id)?;
    if let Some(existing) = state.certificate(certificate)? {
        return Err(Rejection::CertificateExists {
            certificate: certificate.clone(),
            certified_at: existing.certified_at,
        }
        .into());
    }
    load_active_with_role(state, &certificate.inspector, &[Role::Inspector])?;
    load_active_with_role(state, depositor_id, &[Role::Holder])?;
    require_independent(&tank.warehouse_id, &certificate.inspector, depositor_id)?;
    require_tank_product(&tank, &certification.product_grade)?;
    require_gauging_time(&tank, certification.gauged_at_ms, ctx)?;
    tank.certified_kg = certified_after(&tank, certification.quantity_kg)?;
    clear_shortfall_if_covered(&mut tank);
    let mut changes = Objects::default();
    changes.put_certificate(Certificate {
        reference: certificate.clone(),
        tank_id: tank.id.clone(),
        quantity_kg: certification.quantity_kg,
        product_grade: certification.product_grade.clone(),
        gauged_at_ms: certification.gauged_at_ms,
        depositor_id: depositor_id.clone(),
        receipt_id: None,
        certified_at: ctx.seq,
    });
    changes.put_tank(tank);
    Ok(changes)
}

pub(super) fn regauge<S: StateRead + ?Sized>(
    state: &S,
    tank_id: &str,
    gauging: &Gauging,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut tank = load_tank(state, tank_id)?;
    let custodian = tank.warehouse_id.clone();
    apply_gauging(state, &mut tank, gauging, (&custodian, "warehouse"), ctx)?;
    let mut changes = Objects::default();
    changes.put_tank(tank);
    Ok(changes)
}

/// Records an inspector's measurement of the whole tank: certified stock
/// falls to it if it is less, and the shortfall is set or cleared by whether
/// the live receipts still fit. The inspector is not the `custodian`.
pub(super) fn apply_gauging<S: StateRead + ?Sized>(
    state: &S,
    tank: &mut Tank,
    gauging: &Gauging,
    custodian: (&str, &'static str),
    ctx: EntryContext,
) -> RuleResult<()> {
    load_active_with_role(state, &gauging.inspector_id, &[Role::Inspector])?;
    require_distinct(custodian, (&gauging.inspector_id, "inspector"))?;
    require_gauging_time(tank, gauging.gauged_at_ms, ctx)?;
    if gauging.measured_kg > tank.capacity_kg {
        return Err(Rejection::MeasuredAboveCapacity {
            tank: tank.id.clone(),
            measured_kg: gauging.measured_kg,
            capacity_kg: tank.capacity_kg,
        }
        .into());
    }
    tank.certified_kg = tank.certified_kg.min(gauging.measured_kg);
    tank.shortfall = (tank.receipted_kg > tank.certified_kg).then(|| Shortfall {
        gauging: gauging.clone(),
        since: ctx.seq,
    });
    tank.last_gauging = Some(GaugingRecord {
        gauging: gauging.clone(),
        at: ctx.seq,
    });
    Ok(())
}

/// Ends a shortfall once the live receipts fit in the certified stock.
/// Certificates and receipts are for the product the tank holds.
pub(super) fn require_tank_product(tank: &Tank, product_grade: &str) -> RuleResult<()> {
    if product_grade != tank.product {
        return Err(Rejection::ProductMismatch {
            tank: tank.id.clone(),
            tank_product: tank.product.clone(),
            requested: product_grade.to_owned(),
        }
        .into());
    }
    Ok(())
}

pub(super) fn clear_shortfall_if_covered(tank: &mut Tank) {
    if tank.receipted_kg <= tank.certified_kg {
        tank.shortfall = None;
    }
}

/// Warehouse, inspector and depositor are three different participants: the
/// certification is three parties' word, not one party's word three times.
fn require_independent(warehouse: &str, inspector: &str, depositor: &str) -> RuleResult<()> {
    require_distinct((warehouse, "warehouse"), (inspector, "inspector"))?;
    require_distinct((warehouse, "warehouse"), (depositor, "depositor"))?;
    require_distinct((inspector, "inspector"), (depositor, "depositor"))
}

/// A gauging is not after its entry, and is newer than the tank's last
/// re-gauge (an older measurement cannot speak for the tank after it).
fn require_gauging_time(tank: &Tank, gauged_at_ms: u64, ctx: EntryContext) -> RuleResult<()> {
    require_past("gauged_at_ms", gauged_at_ms, ctx)?;
    match &tank.last_gauging {
        Some(last) if gauged_at_ms <= last.gauging.gauged_at_ms => {
            Err(Rejection::GaugingSuperseded {
                tank: tank.id.clone(),
                gauged_at_ms,
                last_gauged_at_ms: last.gauging.gauged_at_ms,
                last_gauged_at: last.at,
            }
            .into())
        }
        _ => Ok(()),
    }
}

fn certified_after(tank: &Tank, added_kg: u64) -> RuleResult<u64> {
    let total =
        tank.certified_kg
            .checked_add(added_kg)
            .ok_or_else(|| Rejection::QuantityOverflow {
                tank: tank.id.clone(),
            })?;
    if total > tank.capacity_kg {
        return Err(Rejection::CapacityExceeded {
            tank: tank.id.clone(),
            capacity_kg: tank.capacity_kg,
            certified_kg: tank.certified_kg,
            requested_kg: added_kg,
        }
        .into());
    }
    Ok(total)
}
