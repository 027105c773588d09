//! Domain objects → protobuf views. Conversions live here, at the edge.

use pledge_ledger::model::{
    CustomsStatus, Participant, Pledge, PledgeStatus, PledgeTerms, Receipt, ReceiptStatus,
    ReceiptTerms, Tank,
};
use pledge_ledger::tx::role_to_proto;
use pledge_proto::v1 as pb;

/// A receipt, its active pledge and its history.
pub fn receipt(
    receipt: &Receipt,
    active_pledge: Option<&Pledge>,
    history: Vec<u64>,
) -> pb::ReceiptView {
    let (status, split_into) = match &receipt.status {
        ReceiptStatus::Active => (pb::ReceiptStatus::Active, Vec::new()),
        ReceiptStatus::Pledged { .. } => (pb::ReceiptStatus::Pledged, Vec::new()),
        ReceiptStatus::Cancelled { .. } => (pb::ReceiptStatus::Cancelled, Vec::new()),
        ReceiptStatus::Split { parts, .. } => (pb::ReceiptStatus::Split, parts.clone()),
    };
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
        active_pledge: active_pledge.map(pledge),
        history,
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
        inspection_agency: terms.certificate.agency.clone(),
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

/// A pledge.
pub fn pledge(pledge: &Pledge) -> pb::PledgeView {
    let (status, ended_at_seq, transferee_id) = match &pledge.status {
        PledgeStatus::Active => (pb::PledgeStatus::Active, 0, String::new()),
        PledgeStatus::Released { at } => (pb::PledgeStatus::Released, *at, String::new()),
        PledgeStatus::Enforced { at, transferee_id } => {
            (pb::PledgeStatus::Enforced, *at, transferee_id.clone())
        }
    };
    pb::PledgeView {
        terms: Some(pledge_terms(&pledge.terms)),
        pledgor_id: pledge.pledgor_id.clone(),
        status: status as i32,
        started_at_ms: pledge.started_at_ms,
        registered_at_seq: pledge.registered_at,
        ended_at_seq,
        transferee_id,
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

/// A tank and the live receipts drawn on it.
pub fn tank(tank: &Tank, live_receipt_ids: Vec<String>) -> pb::TankView {
    pb::TankView {
        tank_id: tank.id.clone(),
        warehouse_id: tank.warehouse_id.clone(),
        capacity_kg: tank.capacity_kg,
        product: tank.product.clone(),
        certified_kg: tank.certified_kg,
        receipted_kg: tank.receipted_kg,
        registered_at_seq: tank.registered_at,
        live_receipt_ids,
    }
}

/// A participant.
pub fn participant(participant: &Participant) -> pb::ParticipantView {
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
        }),
        admitted_at_seq: participant.admitted_at,
        key_since_seq: participant.key_since,
        revoked: participant.revoked_at.is_some(),
        revoked_at_seq: participant.revoked_at.unwrap_or_default(),
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
