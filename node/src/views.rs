//! Domain objects → protobuf views. Conversions live here, at the edge.
//!
//! A receipt's or a pledge's view also shows what its tank says about it (a
//! shortfall, a revoked custodian): [`TankStanding`] carries that, read once
//! by the handler.

use pledge_ledger::model::{
    CustomsStatus, EnforcementGrounds, Gauging, Governance, LegalId, Participant, Pledge,
    PledgeStatus, PledgeTerms, Receipt, ReceiptStatus, ReceiptTerms, Seq, Tank,
};
use pledge_ledger::tx::role_to_proto;
use pledge_proto::v1 as pb;

use crate::pages::Page;

/// What a tank says about the receipts on it.
#[derive(Debug, Clone, Default)]
pub struct TankStanding {
    /// Set while the tank is in shortfall.
    pub shortfall: Option<pb::ShortfallView>,
    /// The entry that revoked the tank's warehouse, while no successor has
    /// taken the tank over.
    pub custodian_revoked_at: Option<Seq>,
}

impl TankStanding {
    /// The standing of `tank`, whose warehouse was revoked at
    /// `custodian_revoked_at` (if it was).
    pub fn of(tank: &Tank, custodian_revoked_at: Option<Seq>) -> TankStanding {
        TankStanding {
            shortfall: shortfall(tank),
            custodian_revoked_at,
        }
    }
}

/// A receipt, its active pledge, its history and its tank's standing.
pub fn receipt(
    receipt: &Receipt,
    active_pledge: Option<&Pledge>,
    history: Vec<u64>,
    standing: &TankStanding,
) -> pb::ReceiptView {
    let (status, split_into) = match &receipt.status {
        ReceiptStatus::Active => (pb::ReceiptStatus::Active, Vec::new()),
        ReceiptStatus::Pledged { .. } => (pb::ReceiptStatus::Pledged, Vec::new()),
        ReceiptStatus::Cancelled { .. } => (pb::ReceiptStatus::Cancelled, Vec::new()),
        ReceiptStatus::Split { parts, .. } => (pb::ReceiptStatus::Split, parts.clone()),
    };
    let live = receipt.status.is_live();
    pb::ReceiptView {
        terms: Some(receipt_terms(&receipt.terms)),
        warehouse_id: receipt.warehouse_id.clone(),
        holder_id: receipt.holder_id.clone(),
        status: status as i32,
        frozen: receipt.frozen.as_ref().map(|f| pb::FreezeView {
            regulator_id: f.regulator_id.clone(),
            order_reference: f.order_reference.clone(),
            since_seq: f.since,
        }),
        parent_id: receipt.parent_id.clone().unwrap_or_default(),
        split_into,
        issued_at_ms: receipt.issued_at_ms,
        issued_at_seq: receipt.issued_at,
        updated_at_seq: receipt.updated_at,
        active_pledge: active_pledge.map(|p| pledge(p, standing)),
        history,
        tank_shortfall: standing.shortfall.clone().filter(|_| live),
        custodian_revoked: live && standing.custodian_revoked_at.is_some(),
        custodian_revoked_at_seq: standing
            .custodian_revoked_at
            .filter(|_| live)
            .unwrap_or_default(),
    }
}

fn receipt_terms(terms: &ReceiptTerms) -> pb::IssueReceipt {
    let customs = match terms.customs_status {
        CustomsStatus::Bonded => pb::CustomsStatus::Bonded,
        CustomsStatus::DutyPaid => pb::CustomsStatus::DutyPaid,
    };
    pb::IssueReceipt {
        receipt_id: terms.receipt_id.clone(),
        tank_id: terms.tank_id.clone(),
        inspector_id: terms.certificate.inspector.clone(),
        certificate_no: terms.certificate.number.clone(),
        product_grade: terms.product_grade.clone(),
        specification: terms.specification.clone(),
        quantity_kg: terms.quantity_kg,
        customs_status: customs as i32,
        customs_reference: terms.customs_reference.clone(),
        expires_at_ms: terms.expires_at_ms,
        loss_allowance_ppm: terms.loss_allowance_ppm,
        insurance_reference: terms.insurance_reference.clone(),
    }
}

/// A pledge; an active one is marked with its collateral's standing.
pub fn pledge(pledge: &Pledge, standing: &TankStanding) -> pb::PledgeView {
    let (status, ended_at_seq, transferee_id, grounds) = match &pledge.status {
        PledgeStatus::Active => (pb::PledgeStatus::Active, 0, String::new(), None),
        PledgeStatus::Released { at } => (pb::PledgeStatus::Released, *at, String::new(), None),
        PledgeStatus::Enforced {
            at,
            transferee_id,
            grounds,
        } => (
            pb::PledgeStatus::Enforced,
            *at,
            transferee_id.clone(),
            Some(grounds),
        ),
    };
    let active = pledge.status == PledgeStatus::Active;
    let (grounds, order_reference) = enforcement_grounds(grounds);
    pb::PledgeView {
        terms: Some(pledge_terms(&pledge.terms)),
        pledgor_id: pledge.pledgor_id.clone(),
        status: status as i32,
        started_at_ms: pledge.started_at_ms,
        registered_at_seq: pledge.registered_at,
        ended_at_seq,
        transferee_id,
        pledgee_id: pledge.pledgee().to_owned(),
        successions: pledge
            .successions
            .iter()
            .map(|s| pb::SuccessionView {
                from_id: s.from.clone(),
                to_id: s.to.clone(),
                at_seq: s.at,
            })
            .collect(),
        grounds: grounds as i32,
        order_reference,
        collateral_shortfall: standing.shortfall.clone().filter(|_| active),
        custodian_revoked: active && standing.custodian_revoked_at.is_some(),
    }
}

fn enforcement_grounds(grounds: Option<&EnforcementGrounds>) -> (pb::EnforcementGrounds, String) {
    match grounds {
        None => (pb::EnforcementGrounds::Unspecified, String::new()),
        Some(EnforcementGrounds::Maturity) => (pb::EnforcementGrounds::Maturity, String::new()),
        Some(EnforcementGrounds::HolderConsent) => {
            (pb::EnforcementGrounds::HolderConsent, String::new())
        }
        Some(EnforcementGrounds::Order { order_reference }) => {
            (pb::EnforcementGrounds::Order, order_reference.clone())
        }
    }
}

fn pledge_terms(terms: &PledgeTerms) -> pb::RegisterPledge {
    pb::RegisterPledge {
        pledge_id: terms.pledge_id.clone(),
        receipt_id: terms.receipt_id.clone(),
        pledgee_id: terms.pledgee_id.clone(),
        secured_amount: Some(pb::Money {
            minor_units: terms.secured_amount.minor_units,
            currency: terms.secured_amount.currency.clone(),
        }),
        loan_reference: terms.loan_reference.clone(),
        maturity_ms: terms.maturity_ms,
    }
}

/// A gauging as in the transaction.
pub fn gauging(gauging: &Gauging) -> pb::Gauging {
    pb::Gauging {
        inspector_id: gauging.inspector_id.clone(),
        report_no: gauging.report_no.clone(),
        measured_kg: gauging.measured_kg,
        gauged_at_ms: gauging.gauged_at_ms,
    }
}

fn shortfall(tank: &Tank) -> Option<pb::ShortfallView> {
    tank.shortfall.as_ref().map(|s| pb::ShortfallView {
        gauging: Some(gauging(&s.gauging)),
        since_seq: s.since,
        receipted_kg: tank.receipted_kg,
        missing_kg: tank.missing_kg(),
    })
}

/// A tank, one page of the live receipts drawn on it and its custodian's
/// standing.
pub fn tank(tank: &Tank, live: Page<String>, standing: &TankStanding) -> pb::TankView {
    pb::TankView {
        tank_id: tank.id.clone(),
        warehouse_id: tank.warehouse_id.clone(),
        capacity_kg: tank.capacity_kg,
        product: tank.product.clone(),
        certified_kg: tank.certified_kg,
        receipted_kg: tank.receipted_kg,
        registered_at_seq: tank.registered_at,
        live_receipt_ids: live.items,
        next_page_token: live.next_token,
        physical_id: Some(pb::PhysicalTankId {
            facility_code: tank.physical_id.facility_code.clone(),
            tank_number: tank.physical_id.tank_number.clone(),
        }),
        calibration_inspector_id: tank.calibration.inspector.clone(),
        calibration_certificate_no: tank.calibration.number.clone(),
        last_gauging: tank.last_gauging.as_ref().map(|g| gauging(&g.gauging)),
        last_gauging_seq: tank.last_gauging.as_ref().map_or(0, |g| g.at),
        shortfall: standing.shortfall.clone(),
        custody: tank
            .custody
            .iter()
            .map(|c| pb::CustodyView {
                from_id: c.from.clone(),
                to_id: c.to.clone(),
                at_seq: c.at,
            })
            .collect(),
        custodian_revoked: standing.custodian_revoked_at.is_some(),
    }
}

/// A participant.
pub fn participant(participant: &Participant, quorum_member: bool) -> pb::ParticipantView {
    pb::ParticipantView {
        spec: Some(pb::ParticipantSpec {
            id: participant.spec.id.clone(),
            name: participant.spec.name.clone(),
            roles: participant
                .spec
                .roles
                .iter()
                .map(|r| role_to_proto(*r) as i32)
                .collect(),
            public_key: participant.spec.public_key.0.to_vec(),
            legal_identity: Some(legal_identity(&participant.spec.legal_id)),
        }),
        admitted_at_seq: participant.admitted_at,
        key_since_seq: participant.key_since,
        revoked: participant.revoked_at.is_some(),
        revoked_at_seq: participant.revoked_at.unwrap_or_default(),
        successor_id: participant.successor_id.clone().unwrap_or_default(),
        quorum_member,
    }
}

fn legal_identity(legal_id: &LegalId) -> pb::LegalIdentity {
    use pb::legal_identity::Identifier;
    pb::LegalIdentity {
        identifier: Some(match legal_id {
            LegalId::Uscc(code) => Identifier::UnifiedSocialCreditCode(code.clone()),
            LegalId::Lei(code) => Identifier::Lei(code.clone()),
        }),
    }
}

/// The governance fixed by the genesis.
pub fn governance(governance: &Governance) -> pb::Governance {
    pb::Governance {
        quorum_members: governance.quorum_members.clone(),
        quorum_threshold: governance.quorum_threshold,
        max_validity_ms: governance.max_validity_ms,
    }
}

/// The receipt status named by a list filter.
pub fn status_name(status: pb::ReceiptStatus) -> Option<&'static str> {
    match status {
        pb::ReceiptStatus::Active => Some("active"),
        pb::ReceiptStatus::Pledged => Some("pledged"),
        pb::ReceiptStatus::Cancelled => Some("cancelled"),
        pb::ReceiptStatus::Split => Some("split"),
        pb::ReceiptStatus::Unspecified => None,
    }
}

/// A member of the registry as the ledger lists it.
pub fn member_spec(member: &pledge_ledger::model::Member) -> pb::MemberSpec {
    pb::MemberSpec {
        member_id: member.id,
        name: member.name.clone(),
        address: member.address.clone(),
        public_key: member.public_key.0.to_vec(),
        voter: member.voter,
    }
}
