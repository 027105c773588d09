//! Transactions as the rules see them, decoded and validated from the
//! protobuf bytes that the parties signed.
//!
//! [`Transaction::decode`] is the only way in: it refuses malformed protobuf,
//! missing or unknown fields, bad ids and text, zero quantities and summed
//! overflows, so the rules never see an ill-formed value.

use std::collections::BTreeSet;

use pb::transaction::Operation as PbOp;
use pledge_proto::v1 as pb;
use prost::Message;

use crate::crypto::PublicKey;
use crate::error::DecodeError;
use crate::model::{
    CertificateRef, CustomsStatus, Money, ParticipantSpec, PledgeTerms, ReceiptTerms, Role,
};
use crate::text::{check_id, check_required_text, check_text};

/// Most parts a split may produce.
pub const MAX_SPLIT_PARTS: usize = 100;
/// Most participants a genesis may admit.
pub const MAX_GENESIS_PARTICIPANTS: usize = 1_000;

/// A decoded, validated transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The ledger it is meant for.
    pub ledger_id: String,
    /// Client-chosen id, unique ledger-wide.
    pub tx_id: String,
    /// Client clock when built, ms since the Unix epoch.
    pub client_time_ms: u64,
    /// What it does.
    pub operation: Operation,
}

/// Every operation of the receipt and pledge lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Entry 0: fixes the ledger id and admits the first participants.
    Genesis {
        /// Participants admitted, at least one an admin.
        participants: Vec<ParticipantSpec>,
    },
    /// An admin admits a participant.
    AdmitParticipant(ParticipantSpec),
    /// An admin replaces a participant's key.
    RotateKey {
        /// Whose key.
        participant_id: String,
        /// The new key.
        new_key: PublicKey,
    },
    /// An admin revokes a participant.
    RevokeParticipant {
        /// Who.
        participant_id: String,
        /// Why.
        reason: String,
    },
    /// A warehouse registers a tank.
    RegisterTank {
        /// Tank id.
        tank_id: String,
        /// Owning warehouse.
        warehouse_id: String,
        /// Capacity, kg.
        capacity_kg: u64,
        /// Product held.
        product: String,
    },
    /// A warehouse records certified stock.
    CertifyStock {
        /// Tank gauged.
        tank_id: String,
        /// The inspection certificate.
        certificate: CertificateRef,
        /// Gauged kg.
        quantity_kg: u64,
        /// Whose oil.
        depositor_id: String,
    },
    /// A warehouse issues a receipt.
    IssueReceipt(ReceiptTerms),
    /// Holder endorses, warehouse confirms.
    TransferReceipt {
        /// Receipt.
        receipt_id: String,
        /// New holder.
        new_holder_id: String,
    },
    /// A receipt becomes several with the same total.
    SplitReceipt {
        /// Parent receipt.
        receipt_id: String,
        /// (new receipt id, kg) for each part.
        parts: Vec<(String, u64)>,
    },
    /// Holder surrenders on delivery; warehouse cancels.
    CancelReceipt {
        /// Receipt.
        receipt_id: String,
        /// Why.
        reason: String,
    },
    /// Holder pledges to a bank.
    RegisterPledge(PledgeTerms),
    /// Pledgee releases.
    ReleasePledge {
        /// Pledge.
        pledge_id: String,
    },
    /// Pledgee enforces; receipt goes to the bank or a named buyer.
    EnforcePledge {
        /// Pledge.
        pledge_id: String,
        /// Named buyer; `None` means the pledgee itself.
        transferee_id: Option<String>,
    },
    /// Regulator freezes a receipt.
    FreezeReceipt {
        /// Receipt.
        receipt_id: String,
        /// Court order reference.
        order_reference: String,
    },
    /// Regulator lifts a freeze.
    UnfreezeReceipt {
        /// Receipt.
        receipt_id: String,
        /// Court order reference.
        order_reference: String,
    },
}

impl Operation {
    /// The operation's name as in the proto, for logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Genesis { .. } => "genesis",
            Operation::AdmitParticipant(_) => "admit_participant",
            Operation::RotateKey { .. } => "rotate_key",
            Operation::RevokeParticipant { .. } => "revoke_participant",
            Operation::RegisterTank { .. } => "register_tank",
            Operation::CertifyStock { .. } => "certify_stock",
            Operation::IssueReceipt(_) => "issue_receipt",
            Operation::TransferReceipt { .. } => "transfer_receipt",
            Operation::SplitReceipt { .. } => "split_receipt",
            Operation::CancelReceipt { .. } => "cancel_receipt",
            Operation::RegisterPledge(_) => "register_pledge",
            Operation::ReleasePledge { .. } => "release_pledge",
            Operation::EnforcePledge { .. } => "enforce_pledge",
            Operation::FreezeReceipt { .. } => "freeze_receipt",
            Operation::UnfreezeReceipt { .. } => "unfreeze_receipt",
        }
    }
}

impl Transaction {
    /// Decodes and validates transaction bytes exactly as signed.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        let raw = pb::Transaction::decode(bytes).map_err(|e| DecodeError::Malformed {
            message: "Transaction",
            reason: e.to_string(),
        })?;
        Transaction::try_from(raw)
    }
}

impl TryFrom<pb::Transaction> for Transaction {
    type Error = DecodeError;

    fn try_from(raw: pb::Transaction) -> Result<Self, DecodeError> {
        check_id("ledger_id", &raw.ledger_id)?;
        check_id("tx_id", &raw.tx_id)?;
        let operation = raw.operation.ok_or(DecodeError::MissingOperation)?;
        Ok(Transaction {
            ledger_id: raw.ledger_id,
            tx_id: raw.tx_id,
            client_time_ms: raw.client_time_ms,
            operation: decode_operation(operation)?,
        })
    }
}

fn decode_operation(op: PbOp) -> Result<Operation, DecodeError> {
    Ok(match op {
        PbOp::Genesis(g) => decode_genesis(g)?,
        PbOp::AdmitParticipant(a) => Operation::AdmitParticipant(decode_participant(
            a.participant.ok_or(DecodeError::EmptyField {
                field: "participant",
            })?,
        )?),
        PbOp::RotateKey(r) => Operation::RotateKey {
            participant_id: id("participant_id", r.participant_id)?,
            new_key: key("new_public_key", &r.new_public_key)?,
        },
        PbOp::RevokeParticipant(r) => Operation::RevokeParticipant {
            participant_id: id("participant_id", r.participant_id)?,
            reason: text("reason", r.reason)?,
        },
        PbOp::RegisterTank(t) => Operation::RegisterTank {
            tank_id: id("tank_id", t.tank_id)?,
            warehouse_id: id("warehouse_id", t.warehouse_id)?,
            capacity_kg: positive("capacity_kg", t.capacity_kg)?,
            product: required_text("product", t.product)?,
        },
        PbOp::CertifyStock(c) => Operation::CertifyStock {
            tank_id: id("tank_id", c.tank_id)?,
            certificate: certificate(c.inspection_agency, c.certificate_no)?,
            quantity_kg: positive("quantity_kg", c.quantity_kg)?,
            depositor_id: id("depositor_id", c.depositor_id)?,
        },
        PbOp::IssueReceipt(i) => Operation::IssueReceipt(decode_receipt_terms(i)?),
        PbOp::TransferReceipt(t) => Operation::TransferReceipt {
            receipt_id: id("receipt_id", t.receipt_id)?,
            new_holder_id: id("new_holder_id", t.new_holder_id)?,
        },
        PbOp::SplitReceipt(s) => decode_split(s)?,
        PbOp::CancelReceipt(c) => Operation::CancelReceipt {
            receipt_id: id("receipt_id", c.receipt_id)?,
            reason: text("reason", c.reason)?,
        },
        PbOp::RegisterPledge(p) => Operation::RegisterPledge(decode_pledge_terms(p)?),
        PbOp::ReleasePledge(r) => Operation::ReleasePledge {
            pledge_id: id("pledge_id", r.pledge_id)?,
        },
        PbOp::EnforcePledge(e) => Operation::EnforcePledge {
            pledge_id: id("pledge_id", e.pledge_id)?,
            transferee_id: optional_id("transferee_id", e.transferee_id)?,
        },
        PbOp::FreezeReceipt(f) => Operation::FreezeReceipt {
            receipt_id: id("receipt_id", f.receipt_id)?,
            order_reference: required_text("order_reference", f.order_reference)?,
        },
        PbOp::UnfreezeReceipt(u) => Operation::UnfreezeReceipt {
            receipt_id: id("receipt_id", u.receipt_id)?,
            order_reference: required_text("order_reference", u.order_reference)?,
        },
    })
}

fn decode_genesis(g: pb::Genesis) -> Result<Operation, DecodeError> {
    bounded(
        "participants",
        g.participants.len(),
        1,
        MAX_GENESIS_PARTICIPANTS,
    )?;
    let participants = g
        .participants
        .into_iter()
        .map(decode_participant)
        .collect::<Result<Vec<_>, _>>()?;
    no_repeats("participants", participants.iter().map(|p| p.id.as_str()))?;
    Ok(Operation::Genesis { participants })
}

fn decode_participant(p: pb::ParticipantSpec) -> Result<ParticipantSpec, DecodeError> {
    bounded("roles", p.roles.len(), 1, 6)?;
    let roles = p
        .roles
        .iter()
        .map(|r| role(*r))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if roles.len() != p.roles.len() {
        return Err(DecodeError::Repeated {
            field: "roles",
            value: format!("{:?}", p.roles),
        });
    }
    Ok(ParticipantSpec {
        id: id("participant.id", p.id)?,
        name: required_text("participant.name", p.name)?,
        roles,
        public_key: key("participant.public_key", &p.public_key)?,
    })
}

fn decode_receipt_terms(i: pb::IssueReceipt) -> Result<ReceiptTerms, DecodeError> {
    let customs_status = match pb::CustomsStatus::try_from(i.customs_status) {
        Ok(pb::CustomsStatus::Bonded) => CustomsStatus::Bonded,
        Ok(pb::CustomsStatus::DutyPaid) => CustomsStatus::DutyPaid,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "customs_status",
                value: i.customs_status,
            });
        }
    };
    Ok(ReceiptTerms {
        receipt_id: id("receipt_id", i.receipt_id)?,
        tank_id: id("tank_id", i.tank_id)?,
        certificate: certificate(i.inspection_agency, i.certificate_no)?,
        product_grade: required_text("product_grade", i.product_grade)?,
        specification: text("specification", i.specification)?,
        quantity_kg: positive("quantity_kg", i.quantity_kg)?,
        customs_status,
        customs_reference: required_text("customs_reference", i.customs_reference)?,
        expires_at_ms: positive("expires_at_ms", i.expires_at_ms)?,
        loss_allowance_ppm: ppm(i.loss_allowance_ppm)?,
        insurance_reference: text("insurance_reference", i.insurance_reference)?,
    })
}

fn decode_split(s: pb::SplitReceipt) -> Result<Operation, DecodeError> {
    bounded("parts", s.parts.len(), 2, MAX_SPLIT_PARTS)?;
    let parts = s
        .parts
        .into_iter()
        .map(|p| {
            Ok((
                id("parts.receipt_id", p.receipt_id)?,
                positive("parts.quantity_kg", p.quantity_kg)?,
            ))
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    no_repeats("parts", parts.iter().map(|(id, _)| id.as_str()))?;
    parts
        .iter()
        .try_fold(0u64, |sum, (_, kg)| sum.checked_add(*kg))
        .ok_or(DecodeError::Overflow { field: "parts" })?;
    Ok(Operation::SplitReceipt {
        receipt_id: id("receipt_id", s.receipt_id)?,
        parts,
    })
}

fn decode_pledge_terms(p: pb::RegisterPledge) -> Result<PledgeTerms, DecodeError> {
    let amount = p.secured_amount.ok_or(DecodeError::EmptyField {
        field: "secured_amount",
    })?;
    Ok(PledgeTerms {
        pledge_id: id("pledge_id", p.pledge_id)?,
        receipt_id: id("receipt_id", p.receipt_id)?,
        pledgee_id: id("pledgee_id", p.pledgee_id)?,
        secured_amount: Money {
            minor_units: positive("secured_amount.minor_units", amount.minor_units)?,
            currency: currency(amount.currency)?,
        },
        loan_reference: required_text("loan_reference", p.loan_reference)?,
        maturity_ms: positive("maturity_ms", p.maturity_ms)?,
    })
}

fn role(raw: i32) -> Result<Role, DecodeError> {
    Ok(match pb::Role::try_from(raw) {
        Ok(pb::Role::Admin) => Role::Admin,
        Ok(pb::Role::Warehouse) => Role::Warehouse,
        Ok(pb::Role::Holder) => Role::Holder,
        Ok(pb::Role::Bank) => Role::Bank,
        Ok(pb::Role::Regulator) => Role::Regulator,
        Ok(pb::Role::Auditor) => Role::Auditor,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "roles",
                value: raw,
            });
        }
    })
}

/// The proto enum value of a role.
pub fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::Warehouse => pb::Role::Warehouse,
        Role::Holder => pb::Role::Holder,
        Role::Bank => pb::Role::Bank,
        Role::Regulator => pb::Role::Regulator,
        Role::Auditor => pb::Role::Auditor,
    }
}

fn certificate(agency: String, number: String) -> Result<CertificateRef, DecodeError> {
    Ok(CertificateRef {
        agency: required_text("inspection_agency", agency)?,
        number: id("certificate_no", number)?,
    })
}

fn id(field: &'static str, value: String) -> Result<String, DecodeError> {
    check_id(field, &value)?;
    Ok(value)
}

fn optional_id(field: &'static str, value: String) -> Result<Option<String>, DecodeError> {
    if value.is_empty() {
        return Ok(None);
    }
    id(field, value).map(Some)
}

fn text(field: &'static str, value: String) -> Result<String, DecodeError> {
    check_text(field, &value)?;
    Ok(value)
}

fn required_text(field: &'static str, value: String) -> Result<String, DecodeError> {
    check_required_text(field, &value)?;
    Ok(value)
}

fn positive(field: &'static str, value: u64) -> Result<u64, DecodeError> {
    if value == 0 {
        return Err(DecodeError::Zero { field });
    }
    Ok(value)
}

fn ppm(value: u32) -> Result<u32, DecodeError> {
    if value > 1_000_000 {
        return Err(DecodeError::OutOfRange {
            field: "loss_allowance_ppm",
            max: 1_000_000,
            found: u64::from(value),
        });
    }
    Ok(value)
}

fn currency(code: String) -> Result<String, DecodeError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(DecodeError::BadCurrency { found: code })
    }
}

fn key(field: &'static str, bytes: &[u8]) -> Result<PublicKey, DecodeError> {
    PublicKey::from_slice(bytes).ok_or(DecodeError::BadKey {
        field,
        what: "public key",
    })
}

fn bounded(field: &'static str, found: usize, min: usize, max: usize) -> Result<(), DecodeError> {
    if found < min {
        return Err(DecodeError::TooFew { field, min, found });
    }
    if found > max {
        return Err(DecodeError::TooMany { field, max, found });
    }
    Ok(())
}

fn no_repeats<'a>(
    field: &'static str,
    values: impl Iterator<Item = &'a str>,
) -> Result<(), DecodeError> {
    let mut seen = BTreeSet::new();
    for value in values {
        if !seen.insert(value) {
            return Err(DecodeError::Repeated {
                field,
                value: value.to_owned(),
            });
        }
    }
    Ok(())
}
