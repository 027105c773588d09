//! Possible same oil at two warehouses: a fuzzy fingerprint of every
//! certificate and tank, compared with those certified or registered
//! before (docs/ALERTS.md, `POSSIBLE_SAME_OIL`).
//!
//! The rules refuse exact duplicates (a certificate of the same inspector
//! and number, a physical tank registered twice). What they cannot refuse
//! is the near copy: the same paper with its number written another way,
//! the same tank under a spelling of its number, or one parcel of oil
//! certified at two terminals. Three signals, each enough for an alert:
//!
//! - `certificate_number`: the same inspector, numbers equal once
//!   normalised ([`normalise`]), on two tanks;
//! - `physical_tank`: two tanks whose physical identities (facility code,
//!   tank number) are equal once normalised;
//! - `parcel`: the same depositor, the same grade once normalised,
//!   quantities within [`QUANTITY_TOLERANCE_BP`] of the larger, gauged
//!   within [`GAUGING_WINDOW_MS`] of each other, at two warehouses.

use std::collections::BTreeMap;

use crate::identity::PhysicalTankId;
use crate::model::{Certificate, CertificateRef, Seq, Tank};
use crate::state::Objects;

use super::view::WatchView;
use super::{AlertKind, AlertState, Draft};

/// Quantities closer than this, in basis points of the larger, match.
pub const QUANTITY_TOLERANCE_BP: u64 = 50;
/// Gaugings closer in time than this match.
pub const GAUGING_WINDOW_MS: u64 = 48 * 3_600_000;

/// The text a number is compared by: ASCII letters upper-cased, digits with
/// leading zeros dropped, everything else (spaces, dashes, slashes, dots)
/// left out. `SGS-0001`, `sgs 1` and `SGS/001` are all `SGS1`.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Within a run of digits (after its first non-zero one); zeros seen
    // at the start of the current run.
    let (mut in_digits, mut zeros) = (false, false);
    for c in text.chars() {
        if c.is_ascii_digit() && (in_digits || c != '0') {
            (in_digits, zeros) = (true, false);
            out.push(c);
        } else if c == '0' {
            zeros = true;
        } else {
            if zeros {
                out.push('0');
            }
            (in_digits, zeros) = (false, false);
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_uppercase());
            }
        }
    }
    if zeros {
        out.push('0');
    }
    out
}

/// What a certificate is compared by.
#[derive(Debug, Clone)]
struct Fingerprint {
    reference: CertificateRef,
    tank_id: String,
    warehouse_id: String,
    depositor_id: String,
    grade: String,
    quantity_kg: u64,
    gauged_at_ms: u64,
}

/// Every certificate and tank seen, fingerprinted.
#[derive(Debug, Clone, Default)]
pub(crate) struct SameOil {
    /// Certificates by (inspector, normalised number).
    by_number: BTreeMap<(String, String), Vec<Fingerprint>>,
    /// Certificates by (depositor, normalised grade).
    by_parcel: BTreeMap<(String, String), Vec<Fingerprint>>,
    /// Tanks by normalised physical identity: (tank, warehouse, identity).
    by_physical: BTreeMap<String, Vec<(String, String, PhysicalTankId)>>,
    /// The receipt issued on each certificate that has one.
    receipts: BTreeMap<CertificateRef, String>,
}

impl SameOil {
    /// The matches of the certificates and tanks `changes` adds at entry
    /// `seq` with those seen before; then remembers them. `view` is the
    /// watch's view before the entry.
    pub(crate) fn observe(&mut self, changes: &Objects, seq: Seq, view: &WatchView) -> Vec<Draft> {
        let mut drafts = Vec::new();
        for tank in changes.tanks.values().filter(|t| t.registered_at == seq) {
            drafts.extend(self.tank_registered(tank));
        }
        for certificate in changes
            .certificates
            .values()
            .filter(|c| c.certified_at == seq)
        {
            let warehouse = changes
                .tanks
                .get(&certificate.tank_id)
                .map(|t| t.warehouse_id.clone())
                .or_else(|| {
                    view.tanks
                        .get(&certificate.tank_id)
                        .map(|t| t.warehouse_id.clone())
                })
                .unwrap_or_default();
            drafts.extend(self.certified(fingerprint(certificate, warehouse), view));
        }
        for (reference, certificate) in &changes.certificates {
            if let Some(receipt_id) = &certificate.receipt_id {
                self.receipts.insert(reference.clone(), receipt_id.clone());
            }
        }
        drafts
    }

    fn tank_registered(&mut self, tank: &Tank) -> Vec<Draft> {
        let key = physical_key(&tank.physical_id);
        let earlier = self.by_physical.entry(key).or_default();
        let drafts = earlier
            .iter()
            .filter(|(tank_id, _, _)| *tank_id != tank.id)
            .map(|(other, other_warehouse, other_physical)| {
                Draft::new(AlertKind::PossibleSameOil, AlertState::Raised, &tank.id)
                    .field("matched", "physical_tank")
                    .field("tank", &tank.id)
                    .field("warehouse", &tank.warehouse_id)
                    .field("physical_tank", physical_text(&tank.physical_id))
                    .field("other_tank", other)
                    .field("other_warehouse", other_warehouse)
                    .field("other_physical_tank", physical_text(other_physical))
                    .parties([tank.warehouse_id.clone(), other_warehouse.clone()])
            })
            .collect();
        earlier.push((
            tank.id.clone(),
            tank.warehouse_id.clone(),
            tank.physical_id.clone(),
        ));
        drafts
    }

    fn certified(&mut self, new: Fingerprint, view: &WatchView) -> Vec<Draft> {
        let mut matched: BTreeMap<CertificateRef, (Fingerprint, Vec<&'static str>)> =
            BTreeMap::new();
        let number_key = (
            new.reference.inspector.clone(),
            normalise(&new.reference.number),
        );
        for old in self.by_number.get(&number_key).into_iter().flatten() {
            if old.tank_id != new.tank_id {
                matched
                    .entry(old.reference.clone())
                    .or_insert_with(|| (old.clone(), Vec::new()))
                    .1
                    .push("certificate_number");
            }
        }
        let parcel_key = (new.depositor_id.clone(), normalise(&new.grade));
        for old in self.by_parcel.get(&parcel_key).into_iter().flatten() {
            if old.warehouse_id != new.warehouse_id && same_parcel(old, &new) {
                matched
                    .entry(old.reference.clone())
                    .or_insert_with(|| (old.clone(), Vec::new()))
                    .1
                    .push("parcel");
            }
        }
        let drafts = matched
            .into_values()
            .map(|(old, signals)| {
                // Whoever holds or finances the oil of the earlier certificate.
                let receipt = self.receipts.get(&old.reference);
                let concerned = receipt
                    .map(|id| view.receipt_parties(id))
                    .unwrap_or_default();
                same_oil(&new, &old, &signals).parties(concerned)
            })
            .collect();
        self.by_number
            .entry(number_key)
            .or_default()
            .push(new.clone());
        self.by_parcel.entry(parcel_key).or_default().push(new);
        drafts
    }
}

/// Quantities within the tolerance of the larger, gauged within the window.
fn same_parcel(a: &Fingerprint, b: &Fingerprint) -> bool {
    let larger = u128::from(a.quantity_kg.max(b.quantity_kg));
    let difference = u128::from(a.quantity_kg.abs_diff(b.quantity_kg));
    difference * 10_000 <= larger * u128::from(QUANTITY_TOLERANCE_BP)
        && a.gauged_at_ms.abs_diff(b.gauged_at_ms) <= GAUGING_WINDOW_MS
}

fn same_oil(new: &Fingerprint, old: &Fingerprint, signals: &[&str]) -> Draft {
    Draft::new(
        AlertKind::PossibleSameOil,
        AlertState::Raised,
        certificate_text(&new.reference),
    )
    .field("matched", signals.join(","))
    .field("certificate", certificate_text(&new.reference))
    .field("tank", &new.tank_id)
    .field("warehouse", &new.warehouse_id)
    .field("depositor", &new.depositor_id)
    .field("quantity_kg", new.quantity_kg)
    .field("gauged_at_ms", new.gauged_at_ms)
    .field("other_certificate", certificate_text(&old.reference))
    .field("other_tank", &old.tank_id)
    .field("other_warehouse", &old.warehouse_id)
    .field("other_depositor", &old.depositor_id)
    .field("other_quantity_kg", old.quantity_kg)
    .field("other_gauged_at_ms", old.gauged_at_ms)
    .parties([
        new.warehouse_id.clone(),
        old.warehouse_id.clone(),
        new.depositor_id.clone(),
        old.depositor_id.clone(),
    ])
}

fn fingerprint(certificate: &Certificate, warehouse_id: String) -> Fingerprint {
    Fingerprint {
        reference: certificate.reference.clone(),
        tank_id: certificate.tank_id.clone(),
        warehouse_id,
        depositor_id: certificate.depositor_id.clone(),
        grade: certificate.product_grade.clone(),
        quantity_kg: certificate.quantity_kg,
        gauged_at_ms: certificate.gauged_at_ms,
    }
}

fn physical_key(physical: &PhysicalTankId) -> String {
    format!(
        "{}/{}",
        normalise(&physical.facility_code),
        normalise(&physical.tank_number)
    )
}

fn physical_text(physical: &PhysicalTankId) -> String {
    format!("{}/{}", physical.facility_code, physical.tank_number)
}

fn certificate_text(reference: &CertificateRef) -> String {
    format!("{}/{}", reference.inspector, reference.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compared_without_case_separators_or_leading_zeros() {
        for same in ["SGS-0001", "sgs 1", "SGS/001", "S.G.S.0001"] {
            assert_eq!(normalise(same), "SGS1", "{same}");
        }
        assert_eq!(normalise("T-101"), normalise("t101"));
        assert_ne!(normalise("SGS-0010"), normalise("SGS-0001"));
        assert_ne!(normalise("T-101"), normalise("T-1010"));
        assert_eq!(normalise("000"), "0");
        assert_eq!(normalise("A0B"), "A0B", "a zero inside a word stays");
        assert_eq!(normalise("R10-05"), "R105", "a separator ends a number");
        assert_ne!(normalise("R10-05"), normalise("R1005"));
    }
}
