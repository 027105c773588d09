//! JSON forms of transactions and of the node's answers, for people
//! (draft summaries, `pledgectl` output) and for scripts (`--json`).
//!
//! Field names are the proto's; bytes are lower-case hex; enums are their
//! lower-case names without prefix (`"bonded"`, `"active"`, `"bank"`);
//! quantities, money and times stay integers (kg, minor units, ms since the
//! Unix epoch) so that nothing is lost.

use pledge_proto::v1::{self as pb, transaction::Operation};
use serde_json::{Value, json};

/// A transaction: ledger id, tx id, validity window, the operation's name
/// and its fields.
pub fn transaction(tx: &pb::Transaction) -> Value {
    let (name, fields) = match &tx.operation {
        Some(op) => operation(op),
        None => ("none", Value::Null),
    };
    let mut value = json!({
        "ledger_id": tx.ledger_id,
        "tx_id": tx.tx_id,
        "not_before_ms": tx.not_before_ms,
        "not_after_ms": tx.not_after_ms,
        "operation": name,
    });
    if let Value::Object(map) = &mut value {
        map.insert(name.to_owned(), fields);
    }
    value
}

/// An operation's proto name and its fields.
pub fn operation(op: &Operation) -> (&'static str, Value) {
    match op {
        Operation::Genesis(g) => (
            "genesis",
            json!({ "participants": g.participants.iter().map(participant_spec).collect::<Vec<_>>(),
                    "governance": g.governance.as_ref().map(governance) }),
        ),
        Operation::AdmitParticipant(a) => (
            "admit_participant",
            json!({ "participant": a.participant.as_ref().map(participant_spec) }),
        ),
        Operation::RotateKey(r) => (
            "rotate_key",
            json!({ "participant_id": r.participant_id, "new_public_key": hex::encode(&r.new_public_key) }),
        ),
        Operation::RecoverKey(r) => (
            "recover_key",
            json!({ "participant_id": r.participant_id, "new_public_key": hex::encode(&r.new_public_key),
                    "reason": r.reason }),
        ),
        Operation::RevokeParticipant(r) => (
            "revoke_participant",
            json!({ "participant_id": r.participant_id, "reason": r.reason,
                    "successor_id": r.successor_id }),
        ),
        Operation::RegisterTank(t) => (
            "register_tank",
            json!({ "tank_id": t.tank_id, "warehouse_id": t.warehouse_id,
                    "capacity_kg": t.capacity_kg, "product": t.product,
                    "physical_id": t.physical_id.as_ref().map(physical_id),
                    "inspector_id": t.inspector_id,
                    "calibration_certificate_no": t.calibration_certificate_no }),
        ),
        Operation::CertifyStock(c) => (
            "certify_stock",
            json!({ "tank_id": c.tank_id, "inspector_id": c.inspector_id,
                    "certificate_no": c.certificate_no, "quantity_kg": c.quantity_kg,
                    "product_grade": c.product_grade, "gauged_at_ms": c.gauged_at_ms,
                    "depositor_id": c.depositor_id }),
        ),
        Operation::RegaugeTank(r) => (
            "regauge_tank",
            json!({ "tank_id": r.tank_id, "gauging": r.gauging.as_ref().map(gauging) }),
        ),
        Operation::AppointCustodian(a) => (
            "appoint_custodian",
            json!({ "tank_id": a.tank_id, "warehouse_id": a.warehouse_id,
                    "gauging": a.gauging.as_ref().map(gauging) }),
        ),
        Operation::IssueReceipt(terms) => ("issue_receipt", receipt_terms(terms)),
        Operation::TransferReceipt(t) => (
            "transfer_receipt",
            json!({ "receipt_id": t.receipt_id, "new_holder_id": t.new_holder_id }),
        ),
        Operation::SplitReceipt(s) => (
            "split_receipt",
            json!({ "receipt_id": s.receipt_id, "parts": s.parts.iter()
                .map(|p| json!({ "receipt_id": p.receipt_id, "quantity_kg": p.quantity_kg }))
                .collect::<Vec<_>>() }),
        ),
        Operation::CancelReceipt(c) => (
            "cancel_receipt",
            json!({ "receipt_id": c.receipt_id, "reason": c.reason }),
        ),
        Operation::RegisterPledge(terms) => ("register_pledge", pledge_terms(terms)),
        Operation::ReleasePledge(r) => ("release_pledge", json!({ "pledge_id": r.pledge_id })),
        Operation::EnforcePledge(e) => (
            "enforce_pledge",
            json!({ "pledge_id": e.pledge_id, "transferee_id": e.transferee_id,
                    "grounds": grounds_name(e.grounds), "order_reference": e.order_reference }),
        ),
        Operation::FreezeReceipt(f) => (
            "freeze_receipt",
            json!({ "receipt_id": f.receipt_id, "order_reference": f.order_reference }),
        ),
        Operation::UnfreezeReceipt(u) => (
            "unfreeze_receipt",
            json!({ "receipt_id": u.receipt_id, "order_reference": u.order_reference }),
        ),
        Operation::ChangeMembership(c) => (
            "change_membership",
            json!({ "members": c.members.iter().map(cluster_member).collect::<Vec<_>>(),
                    "reason": c.reason }),
        ),
    }
}

/// A member of the registry as a membership entry lists it.
pub fn cluster_member(member: &pb::MemberSpec) -> Value {
    json!({
        "member_id": member.member_id,
        "name": member.name,
        "address": member.address,
        "public_key": hex::encode(&member.public_key),
        "voter": member.voter,
    })
}

/// A participant as admitted.
pub fn participant_spec(spec: &pb::ParticipantSpec) -> Value {
    json!({
        "id": spec.id,
        "name": spec.name,
        "roles": spec.roles.iter().map(|r| role_name(*r)).collect::<Vec<_>>(),
        "public_key": hex::encode(&spec.public_key),
        "legal_identity": spec.legal_identity.as_ref().map(legal_identity),
    })
}

/// A legal identity: `{"unified_social_credit_code": …}` or `{"lei": …}`.
pub fn legal_identity(l: &pb::LegalIdentity) -> Value {
    use pb::legal_identity::Identifier;
    match &l.identifier {
        Some(Identifier::UnifiedSocialCreditCode(code)) => {
            json!({ "unified_social_credit_code": code })
        }
        Some(Identifier::Lei(code)) => json!({ "lei": code }),
        None => Value::Null,
    }
}

/// The governance fixed by the genesis.
pub fn governance(g: &pb::Governance) -> Value {
    json!({
        "quorum_members": g.quorum_members,
        "quorum_threshold": g.quorum_threshold,
        "max_validity_ms": g.max_validity_ms,
    })
}

/// A physical tank identity.
pub fn physical_id(p: &pb::PhysicalTankId) -> Value {
    json!({ "facility_code": p.facility_code, "tank_number": p.tank_number })
}

/// An inspector's gauging of a tank.
pub fn gauging(g: &pb::Gauging) -> Value {
    json!({
        "inspector_id": g.inspector_id,
        "report_no": g.report_no,
        "measured_kg": g.measured_kg,
        "gauged_at_ms": g.gauged_at_ms,
    })
}

/// A tank's shortfall.
pub fn shortfall(s: &pb::ShortfallView) -> Value {
    json!({
        "gauging": s.gauging.as_ref().map(gauging),
        "since_seq": s.since_seq,
        "receipted_kg": s.receipted_kg,
        "missing_kg": s.missing_kg,
    })
}

/// The terms a receipt is issued with.
pub fn receipt_terms(t: &pb::IssueReceipt) -> Value {
    json!({
        "receipt_id": t.receipt_id,
        "tank_id": t.tank_id,
        "inspector_id": t.inspector_id,
        "certificate_no": t.certificate_no,
        "product_grade": t.product_grade,
        "specification": t.specification,
        "quantity_kg": t.quantity_kg,
        "customs_status": customs_name(t.customs_status),
        "customs_reference": t.customs_reference,
        "expires_at_ms": t.expires_at_ms,
        "loss_allowance_ppm": t.loss_allowance_ppm,
        "insurance_reference": t.insurance_reference,
    })
}

/// The terms of a pledge.
pub fn pledge_terms(t: &pb::RegisterPledge) -> Value {
    json!({
        "pledge_id": t.pledge_id,
        "receipt_id": t.receipt_id,
        "pledgee_id": t.pledgee_id,
        "secured_amount": t.secured_amount.as_ref().map(|m| json!({
            "minor_units": m.minor_units, "currency": m.currency })),
        "loan_reference": t.loan_reference,
        "maturity_ms": t.maturity_ms,
    })
}

/// The answer to a submission.
pub fn submit_response(r: &pb::SubmitResponse) -> Value {
    json!({
        "seq": r.seq,
        "entry_hash": hex::encode(&r.entry_hash),
        "seal": hex::encode(&r.seal),
        "time_ms": r.time_ms,
        "duplicate": r.duplicate,
        "since": r.since,
    })
}

/// The node's identity.
pub fn node_info(n: &pb::NodeInfo) -> Value {
    let mut value = json!({
        "ledger_id": n.ledger_id,
        "node_public_key": hex::encode(&n.node_public_key),
        // The key that sealed the genesis; a single node's own key.
        "ledger_key": hex::encode(match n.ledger_key.is_empty() {
            true => &n.node_public_key,
            false => &n.ledger_key,
        }),
        "genesis_hash": hex::encode(&n.genesis_hash),
        "version": n.version,
        "governance": n.governance.as_ref().map(governance),
    });
    if let Some(cluster) = &n.cluster {
        value["cluster"] = cluster_info(cluster);
    }
    value
}

/// A cluster member's view of the cluster.
pub fn cluster_info(c: &pb::ClusterInfo) -> Value {
    let role = pb::MemberRole::try_from(c.role).unwrap_or(pb::MemberRole::Unspecified);
    let members: Vec<Value> = c
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "name": m.name,
                "address": m.address,
                "client_address": m.client_address,
                "voter": m.voter,
                "in_raft": m.in_raft,
                "matched_index": m.matched_index,
                "public_key": hex::encode(&m.public_key),
            })
        })
        .collect();
    json!({
        "member_id": c.member_id,
        "role": role.as_str_name().trim_start_matches("MEMBER_ROLE_").to_lowercase(),
        "term": c.term,
        "leader_id": c.leader_id,
        "leader_address": c.leader_address,
        "applied_index": c.applied_index,
        "chain_size": c.chain_size,
        "members": members,
        "ledger_members": c.ledger_members.iter().map(cluster_member).collect::<Vec<_>>(),
        "membership_entry": c.membership_entry,
    })
}

/// The chain head.
pub fn head(h: &pb::Head) -> Value {
    json!({
        "size": h.size,
        "head_hash": hex::encode(&h.head_hash),
        "head_time_ms": h.head_time_ms,
        "tree_root": hex::encode(&h.tree_root),
    })
}

/// A receipt with its state.
pub fn receipt(r: &pb::ReceiptView) -> Value {
    json!({
        "terms": r.terms.as_ref().map(receipt_terms),
        "warehouse_id": r.warehouse_id,
        "holder_id": r.holder_id,
        "status": receipt_status_name(r.status),
        "frozen": r.frozen.as_ref().map(|f| json!({
            "regulator_id": f.regulator_id, "order_reference": f.order_reference,
            "since_seq": f.since_seq })),
        "parent_id": r.parent_id,
        "split_into": r.split_into,
        "issued_at_ms": r.issued_at_ms,
        "issued_at_seq": r.issued_at_seq,
        "updated_at_seq": r.updated_at_seq,
        "active_pledge": r.active_pledge.as_ref().map(pledge),
        "history": r.history,
        "tank_shortfall": r.tank_shortfall.as_ref().map(shortfall),
        "custodian_revoked": r.custodian_revoked,
        "custodian_revoked_at_seq": r.custodian_revoked_at_seq,
    })
}

/// A pledge with its state.
pub fn pledge(p: &pb::PledgeView) -> Value {
    json!({
        "terms": p.terms.as_ref().map(pledge_terms),
        "pledgor_id": p.pledgor_id,
        "status": pledge_status_name(p.status),
        "started_at_ms": p.started_at_ms,
        "registered_at_seq": p.registered_at_seq,
        "ended_at_seq": p.ended_at_seq,
        "transferee_id": p.transferee_id,
        "pledgee_id": p.pledgee_id,
        "successions": p.successions.iter().map(|s| json!({
            "from_id": s.from_id, "to_id": s.to_id, "at_seq": s.at_seq })).collect::<Vec<_>>(),
        "grounds": grounds_name(p.grounds),
        "order_reference": p.order_reference,
        "collateral_shortfall": p.collateral_shortfall.as_ref().map(shortfall),
        "custodian_revoked": p.custodian_revoked,
    })
}

/// A tank with its stock.
pub fn tank(t: &pb::TankView) -> Value {
    json!({
        "tank_id": t.tank_id,
        "warehouse_id": t.warehouse_id,
        "capacity_kg": t.capacity_kg,
        "product": t.product,
        "certified_kg": t.certified_kg,
        "receipted_kg": t.receipted_kg,
        "registered_at_seq": t.registered_at_seq,
        "live_receipt_ids": t.live_receipt_ids,
        "next_page_token": t.next_page_token,
        "physical_id": t.physical_id.as_ref().map(physical_id),
        "calibration_inspector_id": t.calibration_inspector_id,
        "calibration_certificate_no": t.calibration_certificate_no,
        "last_gauging": t.last_gauging.as_ref().map(gauging),
        "last_gauging_seq": t.last_gauging_seq,
        "shortfall": t.shortfall.as_ref().map(shortfall),
        "custody": t.custody.iter().map(|c| json!({
            "from_id": c.from_id, "to_id": c.to_id, "at_seq": c.at_seq })).collect::<Vec<_>>(),
        "custodian_revoked": t.custodian_revoked,
    })
}

/// A participant with its state.
pub fn participant(p: &pb::ParticipantView) -> Value {
    json!({
        "spec": p.spec.as_ref().map(participant_spec),
        "admitted_at_seq": p.admitted_at_seq,
        "key_since_seq": p.key_since_seq,
        "revoked": p.revoked,
        "revoked_at_seq": p.revoked_at_seq,
        "successor_id": p.successor_id,
        "quorum_member": p.quorum_member,
    })
}

/// A role's lower-case name (`"bank"`), or the number if unknown.
pub fn role_name(role: i32) -> String {
    enum_name(
        pb::Role::try_from(role).ok().map(|r| r.as_str_name()),
        "ROLE_",
        role,
    )
}

/// A customs status's lower-case name (`"bonded"`, `"duty_paid"`).
pub fn customs_name(status: i32) -> String {
    let known = pb::CustomsStatus::try_from(status).ok();
    enum_name(known.map(|s| s.as_str_name()), "CUSTOMS_STATUS_", status)
}

/// A receipt status's lower-case name (`"pledged"`).
pub fn receipt_status_name(status: i32) -> String {
    let known = pb::ReceiptStatus::try_from(status).ok();
    enum_name(known.map(|s| s.as_str_name()), "RECEIPT_STATUS_", status)
}

/// Enforcement grounds' lower-case name (`"maturity"`, `"holder_consent"`).
pub fn grounds_name(grounds: i32) -> String {
    let known = pb::EnforcementGrounds::try_from(grounds).ok();
    enum_name(
        known.map(|g| g.as_str_name()),
        "ENFORCEMENT_GROUNDS_",
        grounds,
    )
}

/// A pledge status's lower-case name (`"released"`).
pub fn pledge_status_name(status: i32) -> String {
    let known = pb::PledgeStatus::try_from(status).ok();
    enum_name(known.map(|s| s.as_str_name()), "PLEDGE_STATUS_", status)
}

fn enum_name(proto_name: Option<&str>, prefix: &str, value: i32) -> String {
    match proto_name {
        Some(name) => name.trim_start_matches(prefix).to_ascii_lowercase(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_names_its_operation() {
        let tx = pb::Transaction {
            ledger_id: "l".into(),
            tx_id: "t".into(),
            not_before_ms: 5,
            not_after_ms: 6,
            operation: Some(Operation::ReleasePledge(pb::ReleasePledge {
                pledge_id: "PL-1".into(),
            })),
        };
        let value = transaction(&tx);
        assert_eq!(value["operation"], "release_pledge");
        assert_eq!(value["release_pledge"]["pledge_id"], "PL-1");
    }

    #[test]
    fn enums_read_as_words() {
        assert_eq!(role_name(pb::Role::Bank as i32), "bank");
        assert_eq!(
            customs_name(pb::CustomsStatus::DutyPaid as i32),
            "duty_paid"
        );
        assert_eq!(
            receipt_status_name(pb::ReceiptStatus::Split as i32),
            "split"
        );
        assert_eq!(pledge_status_name(99), "99");
    }
}
