//! The value a map leaf holds for a receipt or a tank: the SHA-256 of its
//! current state, written field by field (numbered below) so that a
//! verifier in any language can compute it; never a Rust serialisation.
//!
//! ```text
//!  value = SHA-256(tag ‖ field*)      field = number:u8 ‖ length:u32 ‖ bytes
//! ```
//! Fields come in increasing number (a repeated field repeats its number, in
//! order); text is UTF-8, integers are 8 bytes big-endian. A field that is
//! absent (no freeze, no pledge, no parent…) is left out, so a field added
//! later changes no existing value until an object has it.

use sha2::{Digest as _, Sha256};

use super::hash::MapHash;
use crate::model::{CustomsStatus, Pledge, Receipt, ReceiptStatus, Tank};

/// Prefix of a receipt's value.
pub const RECEIPT_STATE_TAG: &[u8] = b"pledge-ledger/v1/receipt-state\0";
/// Prefix of a tank's value.
pub const TANK_STATE_TAG: &[u8] = b"pledge-ledger/v1/tank-state\0";

/// Writes fields in order.
struct Fields {
    hasher: Sha256,
    last: u8,
}

impl Fields {
    fn new(tag: &[u8]) -> Fields {
        let mut hasher = Sha256::new();
        hasher.update(tag);
        Fields { hasher, last: 0 }
    }

    fn bytes(&mut self, number: u8, value: &[u8]) -> &mut Fields {
        debug_assert!(number >= self.last, "fields out of order");
        self.last = number;
        self.hasher.update([number]);
        self.hasher.update((value.len() as u32).to_be_bytes());
        self.hasher.update(value);
        self
    }

    fn text(&mut self, number: u8, value: &str) -> &mut Fields {
        self.bytes(number, value.as_bytes())
    }

    fn int(&mut self, number: u8, value: u64) -> &mut Fields {
        self.bytes(number, &value.to_be_bytes())
    }

    fn finish(self) -> MapHash {
        self.hasher.finalize().into()
    }
}

/// The receipt's status as a number: 1 active, 2 pledged, 3 cancelled,
/// 4 split.
pub fn status_number(status: &ReceiptStatus) -> u64 {
    match status {
        ReceiptStatus::Active => 1,
        ReceiptStatus::Pledged { .. } => 2,
        ReceiptStatus::Cancelled { .. } => 3,
        ReceiptStatus::Split { .. } => 4,
    }
}

/// The value of a receipt's leaf, with the pledge in force on it (the
/// caller passes the pledge its status names, `None` if not pledged).
pub fn receipt_value(receipt: &Receipt, active_pledge: Option<&Pledge>) -> MapHash {
    let terms = &receipt.terms;
    let mut f = Fields::new(RECEIPT_STATE_TAG);
    f.text(1, &terms.receipt_id)
        .text(2, &terms.tank_id)
        .text(3, &terms.certificate.inspector)
        .text(4, &terms.certificate.number)
        .text(5, &terms.product_grade)
        .text(6, &terms.specification)
        .int(7, terms.quantity_kg)
        .int(
            8,
            match terms.customs_status {
                CustomsStatus::Bonded => 1,
                CustomsStatus::DutyPaid => 2,
            },
        )
        .text(9, &terms.customs_reference)
        .int(10, terms.expires_at_ms)
        .int(11, u64::from(terms.loss_allowance_ppm))
        .text(12, &terms.insurance_reference)
        .text(13, &receipt.warehouse_id)
        .text(14, &receipt.holder_id)
        .int(15, status_number(&receipt.status));
    match &receipt.status {
        ReceiptStatus::Cancelled { at } => {
            f.int(16, *at);
        }
        ReceiptStatus::Split { at, parts } => {
            f.int(16, *at);
            for part in parts {
                f.text(17, part);
            }
        }
        ReceiptStatus::Active | ReceiptStatus::Pledged { .. } => {}
    }
    if let Some(parent) = &receipt.parent_id {
        f.text(18, parent);
    }
    f.int(19, receipt.issued_at_ms)
        .int(20, receipt.issued_at)
        .int(21, receipt.updated_at)
        .int(22, receipt.history_len);
    if let Some(freeze) = &receipt.frozen {
        f.text(23, &freeze.regulator_id)
            .text(24, &freeze.order_reference)
            .int(25, freeze.since);
    }
    if let Some(pledge) = active_pledge {
        let terms = &pledge.terms;
        f.text(32, &terms.pledge_id)
            .text(33, &terms.pledgee_id)
            .text(34, &pledge.pledgor_id)
            .int(35, terms.secured_amount.minor_units)
            .text(36, &terms.secured_amount.currency)
            .text(37, &terms.loan_reference)
            .int(38, terms.maturity_ms)
            .int(39, pledge.started_at_ms)
            .int(40, pledge.registered_at);
        if let Some(succession) = pledge.successions.last() {
            f.text(41, &succession.to).int(42, succession.at);
        }
    }
    f.finish()
}

/// The value of a tank's leaf.
pub fn tank_value(tank: &Tank) -> MapHash {
    let mut f = Fields::new(TANK_STATE_TAG);
    f.text(1, &tank.id)
        .text(2, &tank.warehouse_id)
        .int(3, tank.capacity_kg)
        .text(4, &tank.product)
        .int(5, tank.certified_kg)
        .int(6, tank.receipted_kg)
        .int(7, tank.registered_at)
        .int(8, tank.updated_at)
        .text(9, &tank.physical_id.facility_code)
        .text(10, &tank.physical_id.tank_number)
        .text(11, &tank.calibration.inspector)
        .text(12, &tank.calibration.number);
    if let Some(last) = &tank.last_gauging {
        f.text(13, &last.gauging.inspector_id)
            .text(14, &last.gauging.report_no)
            .int(15, last.gauging.measured_kg)
            .int(16, last.gauging.gauged_at_ms)
            .int(17, last.at);
    }
    if let Some(shortfall) = &tank.shortfall {
        f.int(18, shortfall.since);
    }
    // Each custodian change: the revoked warehouse, then the appointing
    // entries (the successor of one change is the next change's revoked
    // warehouse, the last one's is field 2).
    for change in &tank.custody {
        f.text(19, &change.from);
    }
    for change in &tank.custody {
        f.int(20, change.at);
    }
    f.finish()
}
