//! Tanks and certified stock: the physical oil that receipts draw against.
//!
//! Invariant kept here and in receipts.rs: for every tank,
//! receipted_kg ≤ certified_kg ≤ capacity_kg.

use super::{EntryContext, RuleResult, load_active_with_role, load_tank};
use crate::model::{Certificate, CertificateRef, Role, Tank};
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};

pub(super) fn register_tank<S: StateRead + ?Sized>(
    state: &S,
    tank_id: &str,
    warehouse_id: &str,
    capacity_kg: u64,
    product: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    if let Some(existing) = state.tank(tank_id)? {
        return Err(Rejection::TankExists {
            id: tank_id.to_owned(),
            registered_at: existing.registered_at,
        }
        .into());
    }
    load_active_with_role(state, warehouse_id, &[Role::Warehouse])?;
    let mut changes = Objects::default();
    changes.put_tank(Tank {
        id: tank_id.to_owned(),
        warehouse_id: warehouse_id.to_owned(),
        capacity_kg,
        product: product.to_owned(),
        certified_kg: 0,
        receipted_kg: 0,
        registered_at: ctx.seq,
        updated_at: ctx.seq,
    });
    Ok(changes)
}

pub(super) fn certify<S: StateRead + ?Sized>(
    state: &S,
    tank_id: &str,
    certificate: &CertificateRef,
    quantity_kg: u64,
    depositor_id: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut tank = load_tank(state, tank_id)?;
    if let Some(existing) = state.certificate(certificate)? {
        return Err(Rejection::CertificateExists {
            certificate: certificate.clone(),
            certified_at: existing.certified_at,
        }
        .into());
    }
    load_active_with_role(state, depositor_id, &[Role::Holder])?;
    tank.certified_kg = certified_after(&tank, quantity_kg)?;
    let mut changes = Objects::default();
    changes.put_certificate(Certificate {
        reference: certificate.clone(),
        tank_id: tank_id.to_owned(),
        quantity_kg,
        depositor_id: depositor_id.to_owned(),
        receipt_id: None,
        certified_at: ctx.seq,
    });
    changes.put_tank(tank);
    Ok(changes)
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
