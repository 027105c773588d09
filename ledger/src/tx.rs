//! Transactions as the rules see them, decoded and validated from the
//! protobuf bytes that the parties signed.
//!
//! [`Transaction::decode`] is the only way in: it refuses malformed protobuf,
//! bytes that are not the canonical encoding (unknown fields among them,
//! `canonical.rs`), missing fields, bad ids and text, zero quantities and
//! summed overflows, so the rules never see an ill-formed value.

use std::collections::BTreeSet;

use pb::transaction::Operation as PbOp;
use pledge_proto::v1 as pb;
use prost::Message;

use crate::canonical;
use crate::crypto::PublicKey;
use crate::error::DecodeError;
use crate::identity::{LegalId, PhysicalTankId};
use crate::model::{
    CertificateRef, CustomsStatus, EnforcementGrounds, Gauging, Governance, Member, Money,
    ParticipantSpec, PledgeTerms, PriceKey, ReceiptTerms, Role,
};
use crate::text::{check_id, check_required_text, check_text};

/// Most parts a split may produce.
pub const MAX_SPLIT_PARTS: usize = 100;
/// Most participants a genesis may admit.
pub const MAX_GENESIS_PARTICIPANTS: usize = 1_000;
/// Largest tank capacity, certified parcel or gauged quantity accepted, kg
/// (1 Mt; the largest oil tanks hold about 0.2 Mt).
pub const MAX_TANK_CAPACITY_KG: u64 = 1_000_000_000;
/// Most quorum members a genesis may name (each signs the genesis).
pub const MAX_QUORUM_MEMBERS: usize = 16;
/// Most members a registry lists.
pub const MAX_MEMBERS: usize = 9;
/// The largest member id (Raft's node ids are 63-bit here).
pub const MAX_MEMBER_ID: u64 = 1 << 63;
/// Largest quorum threshold: a custodian appointment carries the quorum's
/// signatures plus the successor's and the inspector's, at most 16 in all.
pub const MAX_QUORUM_THRESHOLD: u32 = 14;
/// Longest `max_validity_ms` a genesis may set: 366 days.
pub const MAX_VALIDITY_LIMIT_MS: u64 = 366 * 86_400_000;
/// Highest price per tonne an assessment may state, minor units (10^12: ten
/// billion units of a currency per tonne). With quantities of at most
/// [`MAX_TANK_CAPACITY_KG`] a receipt's value stays below 10^18 minor units.
pub const MAX_PRICE_PER_TONNE_MINOR: u64 = 1_000_000_000_000;
/// Highest margin level a pledge may state: 10,000 basis points (100 %).
pub const MAX_MARGIN_LEVEL_BP: u32 = 10_000;
/// How many roles there are (a participant holds 1 ..= this many).
pub const ROLE_COUNT: usize = 8;

/// A decoded, validated transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The ledger it is meant for.
    pub ledger_id: String,
    /// Client-chosen id, unique ledger-wide.
    pub tx_id: String,
    /// When it may be applied.
    pub validity: Validity,
    /// What it does.
    pub operation: Operation,
}

/// The signed validity window: the entry's time must lie within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Earliest entry time, ms since the Unix epoch.
    pub not_before_ms: u64,
    /// Latest entry time, ms since the Unix epoch.
    pub not_after_ms: u64,
}

impl Validity {
    /// The window's length, ms.
    pub fn length_ms(&self) -> u64 {
        self.not_after_ms - self.not_before_ms
    }
}

/// A tank registration: the warehouse's and the calibrating inspector's word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TankRegistration {
    /// Tank id.
    pub tank_id: String,
    /// Owning warehouse.
    pub warehouse_id: String,
    /// Physical identity (facility code and tank number).
    pub physical_id: PhysicalTankId,
    /// The calibration certificate: the inspector and its number.
    pub calibration: CertificateRef,
    /// Capacity, kg.
    pub capacity_kg: u64,
    /// Product held.
    pub product: String,
}

/// A stock certification: warehouse, inspector and depositor all sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockCertification {
    /// Tank gauged.
    pub tank_id: String,
    /// The certificate: the inspector and its number.
    pub certificate: CertificateRef,
    /// Gauged kg.
    pub quantity_kg: u64,
    /// Grade gauged.
    pub product_grade: String,
    /// When it was gauged.
    pub gauged_at_ms: u64,
    /// Whose oil.
    pub depositor_id: String,
}

/// A price reporter's assessment of a grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceReport {
    /// The reporter; it signs.
    pub reporter_id: String,
    /// The grade and currency.
    pub key: PriceKey,
    /// Price per metric tonne, minor units (1 ..= 10^12).
    pub price_per_tonne_minor: u64,
    /// When it was assessed.
    pub assessed_at_ms: u64,
}

/// Every operation of the receipt and pledge lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Entry 0: fixes the ledger id and governance, admits the first participants.
    Genesis {
        /// Participants admitted.
        participants: Vec<ParticipantSpec>,
        /// The quorum and the longest validity window.
        governance: Governance,
    },
    /// The quorum admits a participant.
    AdmitParticipant(ParticipantSpec),
    /// A participant replaces its own key.
    RotateKey {
        /// Whose key.
        participant_id: String,
        /// The new key.
        new_key: PublicKey,
    },
    /// The quorum gives a participant a new key.
    RecoverKey {
        /// Whose key.
        participant_id: String,
        /// The new key.
        new_key: PublicKey,
        /// Why.
        reason: String,
    },
    /// The quorum revokes a participant.
    RevokeParticipant {
        /// Who.
        participant_id: String,
        /// Why.
        reason: String,
        /// The bank taking over a revoked bank's active pledges.
        successor_id: Option<String>,
    },
    /// A warehouse registers a tank, with the calibrating inspector.
    RegisterTank(TankRegistration),
    /// Warehouse, inspector and depositor certify stock.
    CertifyStock(StockCertification),
    /// An inspector re-gauges a tank.
    RegaugeTank {
        /// Tank.
        tank_id: String,
        /// What was measured.
        gauging: Gauging,
    },
    /// The quorum appoints a successor custodian, re-gauged by an inspector.
    AppointCustodian {
        /// Tank.
        tank_id: String,
        /// Successor warehouse.
        warehouse_id: String,
        /// The hand-over re-gauge.
        gauging: Gauging,
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
    /// Holder surrenders; warehouse cancels.
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
        /// On what grounds.
        grounds: EnforcementGrounds,
    },
    /// Regulator freezes a receipt.
    FreezeReceipt {
        /// Receipt.
        receipt_id: String,
        /// Court order reference.
        order_reference: String,
    },
    /// The freezing regulator (or the quorum) lifts a freeze.
    UnfreezeReceipt {
        /// Receipt.
        receipt_id: String,
        /// Court order reference.
        order_reference: String,
    },
    /// The quorum states the registry's complete member list.
    ChangeMembership {
        /// Every member, in id order.
        members: Vec<Member>,
        /// Why.
        reason: String,
    },
    /// A price reporter assesses a grade's price.
    AssessPrice(PriceReport),
}

impl Operation {
    /// The operation's name as in the proto, for logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Genesis { .. } => "genesis",
            Operation::AdmitParticipant(_) => "admit_participant",
            Operation::RotateKey { .. } => "rotate_key",
            Operation::RecoverKey { .. } => "recover_key",
            Operation::RevokeParticipant { .. } => "revoke_participant",
            Operation::RegisterTank(_) => "register_tank",
            Operation::CertifyStock(_) => "certify_stock",
            Operation::RegaugeTank { .. } => "regauge_tank",
            Operation::AppointCustodian { .. } => "appoint_custodian",
            Operation::IssueReceipt(_) => "issue_receipt",
            Operation::TransferReceipt { .. } => "transfer_receipt",
            Operation::SplitReceipt { .. } => "split_receipt",
            Operation::CancelReceipt { .. } => "cancel_receipt",
            Operation::RegisterPledge(_) => "register_pledge",
            Operation::ReleasePledge { .. } => "release_pledge",
            Operation::EnforcePledge { .. } => "enforce_pledge",
            Operation::FreezeReceipt { .. } => "freeze_receipt",
            Operation::UnfreezeReceipt { .. } => "unfreeze_receipt",
            Operation::ChangeMembership { .. } => "change_membership",
            Operation::AssessPrice(_) => "assess_price",
        }
    }
}

impl Transaction {
    /// Decodes and validates transaction bytes exactly as signed: they must
    /// be the canonical encoding of what they decode to.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        let raw = pb::Transaction::decode(bytes).map_err(|e| DecodeError::Malformed {
            message: "Transaction",
            reason: e.to_string(),
        })?;
        canonical::require_canonical(bytes, &raw)?;
        Transaction::try_from(raw)
    }
}

impl TryFrom<pb::Transaction> for Transaction {
    type Error = DecodeError;

    fn try_from(raw: pb::Transaction) -> Result<Self, DecodeError> {
        check_id("ledger_id", &raw.ledger_id)?;
        check_id("tx_id", &raw.tx_id)?;
        let validity = validity(raw.not_before_ms, raw.not_after_ms)?;
        let operation = raw.operation.ok_or(DecodeError::MissingOperation)?;
        Ok(Transaction {
            ledger_id: raw.ledger_id,
            tx_id: raw.tx_id,
            validity,
            operation: decode_operation(operation)?,
        })
    }
}

fn validity(not_before_ms: u64, not_after_ms: u64) -> Result<Validity, DecodeError> {
    positive("not_before_ms", not_before_ms)?;
    positive("not_after_ms", not_after_ms)?;
    if not_after_ms < not_before_ms {
        return Err(DecodeError::InvertedWindow {
            not_before_ms,
            not_after_ms,
        });
    }
    Ok(Validity {
        not_before_ms,
        not_after_ms,
    })
}

fn decode_operation(op: PbOp) -> Result<Operation, DecodeError> {
    Ok(match op {
        PbOp::Genesis(g) => decode_genesis(g)?,
        PbOp::AdmitParticipant(a) => Operation::AdmitParticipant(decode_participant(required(
            "participant",
            a.participant,
        )?)?),
        PbOp::RotateKey(r) => Operation::RotateKey {
            participant_id: id("participant_id", r.participant_id)?,
            new_key: key("new_public_key", &r.new_public_key)?,
        },
        PbOp::RecoverKey(r) => Operation::RecoverKey {
            participant_id: id("participant_id", r.participant_id)?,
            new_key: key("new_public_key", &r.new_public_key)?,
            reason: required_text("reason", r.reason)?,
        },
        PbOp::RevokeParticipant(r) => Operation::RevokeParticipant {
            participant_id: id("participant_id", r.participant_id)?,
            reason: required_text("reason", r.reason)?,
            successor_id: optional_id("successor_id", r.successor_id)?,
        },
        PbOp::RegisterTank(t) => Operation::RegisterTank(decode_tank(t)?),
        PbOp::CertifyStock(c) => Operation::CertifyStock(StockCertification {
            tank_id: id("tank_id", c.tank_id)?,
            certificate: certificate(c.inspector_id, c.certificate_no)?,
            quantity_kg: kilograms("quantity_kg", c.quantity_kg, 1)?,
            product_grade: required_text("product_grade", c.product_grade)?,
            gauged_at_ms: positive("gauged_at_ms", c.gauged_at_ms)?,
            depositor_id: id("depositor_id", c.depositor_id)?,
        }),
        PbOp::RegaugeTank(r) => Operation::RegaugeTank {
            tank_id: id("tank_id", r.tank_id)?,
            gauging: decode_gauging(required("gauging", r.gauging)?)?,
        },
        PbOp::AppointCustodian(a) => Operation::AppointCustodian {
            tank_id: id("tank_id", a.tank_id)?,
            warehouse_id: id("warehouse_id", a.warehouse_id)?,
            gauging: decode_gauging(required("gauging", a.gauging)?)?,
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
            grounds: enforcement_grounds(e.grounds, e.order_reference)?,
        },
        PbOp::FreezeReceipt(f) => Operation::FreezeReceipt {
            receipt_id: id("receipt_id", f.receipt_id)?,
            order_reference: required_text("order_reference", f.order_reference)?,
        },
        PbOp::UnfreezeReceipt(u) => Operation::UnfreezeReceipt {
            receipt_id: id("receipt_id", u.receipt_id)?,
            order_reference: required_text("order_reference", u.order_reference)?,
        },
        PbOp::ChangeMembership(c) => Operation::ChangeMembership {
            members: decode_members(c.members)?,
            reason: required_text("reason", c.reason)?,
        },
        PbOp::AssessPrice(a) => Operation::AssessPrice(decode_price_report(a)?),
    })
}

fn decode_price_report(a: pb::AssessPrice) -> Result<PriceReport, DecodeError> {
    let price = required("price_per_tonne", a.price_per_tonne)?;
    Ok(PriceReport {
        reporter_id: id("reporter_id", a.reporter_id)?,
        key: PriceKey {
            product_grade: required_text("product_grade", a.product_grade)?,
            currency: currency(price.currency)?,
        },
        price_per_tonne_minor: in_range(
            "price_per_tonne.minor_units",
            price.minor_units,
            1,
            MAX_PRICE_PER_TONNE_MINOR,
        )?,
        assessed_at_ms: positive("assessed_at_ms", a.assessed_at_ms)?,
    })
}

/// A complete member list: 1..=9 members, ids and keys distinct, at least
/// one voter; returned in id order.
fn decode_members(raw: Vec<pb::MemberSpec>) -> Result<Vec<Member>, DecodeError> {
    bounded("members", raw.len(), 1, MAX_MEMBERS)?;
    let mut members = raw
        .into_iter()
        .map(|m| {
            Ok(Member {
                id: in_range("members.member_id", m.member_id, 1, MAX_MEMBER_ID)?,
                name: id("members.name", m.name)?,
                address: required_text("members.address", m.address)?,
                public_key: key("members.public_key", &m.public_key)?,
                voter: m.voter,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    no_repeats(
        "members.member_id",
        members.iter().map(|m| m.id.to_string()),
    )?;
    no_repeats(
        "members.public_key",
        members.iter().map(|m| m.public_key.to_hex()),
    )?;
    bounded(
        "members.voter",
        members.iter().filter(|m| m.voter).count(),
        1,
        MAX_MEMBERS,
    )?;
    members.sort_by_key(|m| m.id);
    Ok(members)
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
    no_repeats("participants", participants.iter().map(|p| p.id.clone()))?;
    no_repeats(
        "participants.public_key",
        participants.iter().map(|p| p.public_key.to_hex()),
    )?;
    no_repeats(
        "participants.legal_identity",
        participants.iter().map(|p| p.legal_id.to_string()),
    )?;
    let governance = decode_governance(required("governance", g.governance)?, &participants)?;
    Ok(Operation::Genesis {
        participants,
        governance,
    })
}

fn decode_governance(
    g: pb::Governance,
    participants: &[ParticipantSpec],
) -> Result<Governance, DecodeError> {
    bounded(
        "governance.quorum_members",
        g.quorum_members.len(),
        2,
        MAX_QUORUM_MEMBERS,
    )?;
    let mut members = BTreeSet::new();
    for member in g.quorum_members {
        check_id("governance.quorum_members", &member)?;
        if !participants.iter().any(|p| p.id == member) {
            return Err(DecodeError::UnknownQuorumMember { member });
        }
        if !members.insert(member.clone()) {
            return Err(DecodeError::Repeated {
                field: "governance.quorum_members",
                value: member,
            });
        }
    }
    let most = (members.len() as u32).min(MAX_QUORUM_THRESHOLD);
    in_range(
        "governance.quorum_threshold",
        g.quorum_threshold.into(),
        2,
        most.into(),
    )?;
    in_range(
        "governance.max_validity_ms",
        g.max_validity_ms,
        1,
        MAX_VALIDITY_LIMIT_MS,
    )?;
    Ok(Governance {
        quorum_members: members.into_iter().collect(),
        quorum_threshold: g.quorum_threshold,
        max_validity_ms: g.max_validity_ms,
    })
}

fn decode_participant(p: pb::ParticipantSpec) -> Result<ParticipantSpec, DecodeError> {
    bounded("roles", p.roles.len(), 1, ROLE_COUNT)?;
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
        legal_id: legal_id(required("participant.legal_identity", p.legal_identity)?)?,
        roles,
        public_key: key("participant.public_key", &p.public_key)?,
    })
}

fn legal_id(raw: pb::LegalIdentity) -> Result<LegalId, DecodeError> {
    use pb::legal_identity::Identifier;
    match raw.identifier {
        Some(Identifier::UnifiedSocialCreditCode(code)) => LegalId::uscc(&code),
        Some(Identifier::Lei(code)) => LegalId::lei(&code),
        None => Err(DecodeError::EmptyField {
            field: "participant.legal_identity",
        }),
    }
}

fn decode_tank(t: pb::RegisterTank) -> Result<TankRegistration, DecodeError> {
    let physical = required("physical_id", t.physical_id)?;
    Ok(TankRegistration {
        tank_id: id("tank_id", t.tank_id)?,
        warehouse_id: id("warehouse_id", t.warehouse_id)?,
        physical_id: PhysicalTankId::new(&physical.facility_code, &physical.tank_number)?,
        calibration: CertificateRef {
            inspector: id("inspector_id", t.inspector_id)?,
            number: id("calibration_certificate_no", t.calibration_certificate_no)?,
        },
        capacity_kg: kilograms("capacity_kg", t.capacity_kg, 1)?,
        product: required_text("product", t.product)?,
    })
}

fn decode_gauging(g: pb::Gauging) -> Result<Gauging, DecodeError> {
    Ok(Gauging {
        inspector_id: id("gauging.inspector_id", g.inspector_id)?,
        report_no: id("gauging.report_no", g.report_no)?,
        measured_kg: kilograms("gauging.measured_kg", g.measured_kg, 0)?,
        gauged_at_ms: positive("gauging.gauged_at_ms", g.gauged_at_ms)?,
    })
}

fn enforcement_grounds(
    raw: i32,
    order_reference: String,
) -> Result<EnforcementGrounds, DecodeError> {
    let grounds = match pb::EnforcementGrounds::try_from(raw) {
        Ok(pb::EnforcementGrounds::Maturity) => EnforcementGrounds::Maturity,
        Ok(pb::EnforcementGrounds::HolderConsent) => EnforcementGrounds::HolderConsent,
        Ok(pb::EnforcementGrounds::Order) => {
            return Ok(EnforcementGrounds::Order {
                order_reference: required_text("order_reference", order_reference)?,
            });
        }
        _ => {
            return Err(DecodeError::BadEnum {
                field: "grounds",
                value: raw,
            });
        }
    };
    if !order_reference.is_empty() {
        return Err(DecodeError::Inconsistent {
            field: "order_reference",
            requirement: "must be empty unless the grounds are ENFORCEMENT_GROUNDS_ORDER",
        });
    }
    Ok(grounds)
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
        certificate: certificate(i.inspector_id, i.certificate_no)?,
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
    no_repeats("parts", parts.iter().map(|(id, _)| id.clone()))?;
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
    let amount = required("secured_amount", p.secured_amount)?;
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
        margin_level_bp: margin_level(p.margin_level_bp)?,
    })
}

/// 0 states no margin level; otherwise 1 ..= 10,000 basis points.
fn margin_level(bp: u32) -> Result<Option<u32>, DecodeError> {
    if bp == 0 {
        return Ok(None);
    }
    in_range("margin_level_bp", bp.into(), 1, MAX_MARGIN_LEVEL_BP.into())?;
    Ok(Some(bp))
}

fn role(raw: i32) -> Result<Role, DecodeError> {
    Ok(match pb::Role::try_from(raw) {
        Ok(pb::Role::Admin) => Role::Admin,
        Ok(pb::Role::Warehouse) => Role::Warehouse,
        Ok(pb::Role::Holder) => Role::Holder,
        Ok(pb::Role::Bank) => Role::Bank,
        Ok(pb::Role::Regulator) => Role::Regulator,
        Ok(pb::Role::Auditor) => Role::Auditor,
        Ok(pb::Role::Inspector) => Role::Inspector,
        Ok(pb::Role::PriceReporter) => Role::PriceReporter,
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
        Role::Inspector => pb::Role::Inspector,
        Role::PriceReporter => pb::Role::PriceReporter,
    }
}

fn certificate(inspector: String, number: String) -> Result<CertificateRef, DecodeError> {
    Ok(CertificateRef {
        inspector: id("inspector_id", inspector)?,
        number: id("certificate_no", number)?,
    })
}

fn required<T>(field: &'static str, value: Option<T>) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::EmptyField { field })
}

fn kilograms(field: &'static str, value: u64, min: u64) -> Result<u64, DecodeError> {
    if value < min {
        return Err(DecodeError::Zero { field });
    }
    in_range(field, value, min, MAX_TANK_CAPACITY_KG)
}

fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<u64, DecodeError> {
    if value < min {
        return Err(DecodeError::BelowMinimum {
            field,
            min,
            found: value,
        });
    }
    if value > max {
        return Err(DecodeError::OutOfRange {
            field,
            max,
            found: value,
        });
    }
    Ok(value)
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

fn no_repeats(
    field: &'static str,
    values: impl Iterator<Item = String>,
) -> Result<(), DecodeError> {
    let mut seen = BTreeSet::new();
    for value in values {
        if !seen.insert(value.clone()) {
            return Err(DecodeError::Repeated { field, value });
        }
    }
    Ok(())
}
