//! The value a map leaf holds for a receipt or a tank: the SHA-256 of its
//! current state, written field by field (numbered below) so that a
//! verifier in any language can compute it; never a Rust serialisation.
//!
//! ```text
//!  preimage = tag ‖ field*            field = number:u8 ‖ length:u32 ‖ bytes
//!  value    = SHA-256(preimage)
//! ```
//! Fields come in increasing number (a repeated field repeats its number, in
//! order); text is UTF-8, integers are 8 bytes big-endian, lengths
//! big-endian. A field that is absent (no freeze, no pledge, no parent…) is
//! left out, so a field added later changes no existing value until an
//! object has it. An evidence bundle carries the preimage; [`LeafFields`]
//! reads it back. docs/FORMAT.md §7.9 lists every field.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};
use thiserror::Error;

use super::hash::MapHash;
use crate::model::{CustomsStatus, Pledge, Receipt, ReceiptStatus, Tank};

/// Prefix of a receipt's value.
pub const RECEIPT_STATE_TAG: &[u8] = b"pledge-ledger/v1/receipt-state\0";
/// Prefix of a tank's value.
pub const TANK_STATE_TAG: &[u8] = b"pledge-ledger/v1/tank-state\0";

/// Writes fields in order.
struct Fields {
    preimage: Vec<u8>,
    last: u8,
}

impl Fields {
    fn new(tag: &[u8]) -> Fields {
        Fields {
            preimage: tag.to_vec(),
            last: 0,
        }
    }

    fn bytes(&mut self, number: u8, value: &[u8]) -> &mut Fields {
        debug_assert!(number >= self.last, "fields out of order");
        self.last = number;
        self.preimage.push(number);
        let length = u32::try_from(value.len()).unwrap_or(u32::MAX);
        self.preimage.extend_from_slice(&length.to_be_bytes());
        self.preimage.extend_from_slice(value);
        self
    }

    fn text(&mut self, number: u8, value: &str) -> &mut Fields {
        self.bytes(number, value.as_bytes())
    }

    fn int(&mut self, number: u8, value: u64) -> &mut Fields {
        self.bytes(number, &value.to_be_bytes())
    }

    fn finish(self) -> Vec<u8> {
        self.preimage
    }
}

/// The value of a leaf whose preimage is `preimage`.
pub fn value_of(preimage: &[u8]) -> MapHash {
    Sha256::digest(preimage).into()
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
    value_of(&receipt_preimage(receipt, active_pledge))
}

/// The preimage of a receipt's leaf value (see [`receipt_value`]).
pub fn receipt_preimage(receipt: &Receipt, active_pledge: Option<&Pledge>) -> Vec<u8> {
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
    value_of(&tank_preimage(tank))
}

/// The preimage of a tank's leaf value (see [`tank_value`]).
pub fn tank_preimage(tank: &Tank) -> Vec<u8> {
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

/// A leaf preimage read back: its fields by number, each number's values
/// in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafFields {
    fields: BTreeMap<u8, Vec<Vec<u8>>>,
}

/// Why a leaf preimage does not read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LeafError {
    /// The preimage does not start with the expected tag.
    #[error("the state preimage does not start with the tag {expected:?}")]
    WrongTag {
        /// The tag expected, as text.
        expected: String,
    },
    /// A field runs past the end, or numbers are not in increasing order.
    #[error("the state preimage is malformed at byte {offset}")]
    Malformed {
        /// Where.
        offset: usize,
    },
    /// A field the verifier needs is missing or of the wrong shape.
    #[error("the state preimage lacks field {number} or holds it malformed")]
    BadField {
        /// The field number.
        number: u8,
    },
}

impl LeafFields {
    /// Reads a preimage written with `tag` ([`RECEIPT_STATE_TAG`] or
    /// [`TANK_STATE_TAG`]).
    pub fn parse(tag: &[u8], preimage: &[u8]) -> Result<LeafFields, LeafError> {
        let Some(mut rest) = preimage.strip_prefix(tag) else {
            return Err(LeafError::WrongTag {
                expected: String::from_utf8_lossy(tag)
                    .trim_end_matches('\0')
                    .to_owned(),
            });
        };
        let mut fields: BTreeMap<u8, Vec<Vec<u8>>> = BTreeMap::new();
        let mut last = 0u8;
        while !rest.is_empty() {
            let offset = preimage.len() - rest.len();
            let malformed = LeafError::Malformed { offset };
            let (&number, after) = rest.split_first().ok_or(malformed.clone())?;
            let length: [u8; 4] = after
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(malformed.clone())?;
            let length = u32::from_be_bytes(length) as usize;
            let value = after.get(4..4 + length).ok_or(malformed.clone())?;
            if number < last || number == 0 {
                return Err(malformed);
            }
            last = number;
            fields.entry(number).or_default().push(value.to_vec());
            rest = &after[4 + length..];
        }
        Ok(LeafFields { fields })
    }

    /// Every value of field `number`, in order.
    pub fn all(&self, number: u8) -> &[Vec<u8>] {
        self.fields.get(&number).map_or(&[], Vec::as_slice)
    }

    /// Whether field `number` is present.
    pub fn has(&self, number: u8) -> bool {
        self.fields.contains_key(&number)
    }

    /// The one text value of field `number`, if present.
    pub fn text(&self, number: u8) -> Result<Option<String>, LeafError> {
        match self.all(number) {
            [] => Ok(None),
            [value] => String::from_utf8(value.clone())
                .map(Some)
                .map_err(|_| LeafError::BadField { number }),
            _ => Err(LeafError::BadField { number }),
        }
    }

    /// The one integer value of field `number`, if present.
    pub fn int(&self, number: u8) -> Result<Option<u64>, LeafError> {
        match self.all(number) {
            [] => Ok(None),
            [value] => <[u8; 8]>::try_from(value.as_slice())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| LeafError::BadField { number }),
            _ => Err(LeafError::BadField { number }),
        }
    }

    /// The text of a field that must be present.
    pub fn required_text(&self, number: u8) -> Result<String, LeafError> {
        self.text(number)?.ok_or(LeafError::BadField { number })
    }

    /// The integer of a field that must be present.
    pub fn required_int(&self, number: u8) -> Result<u64, LeafError> {
        self.int(number)?.ok_or(LeafError::BadField { number })
    }

    /// Every value of a repeated text field.
    pub fn texts(&self, number: u8) -> Result<Vec<String>, LeafError> {
        self.all(number)
            .iter()
            .map(|v| String::from_utf8(v.clone()).map_err(|_| LeafError::BadField { number }))
            .collect()
    }
}
