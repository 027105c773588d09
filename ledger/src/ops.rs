//! Builders for every operation: the one place where an operation's
//! protobuf message is put together. The command line, the client library,
//! the load generator, the development genesis and every test build their
//! transactions with these (the client library re-exports them as
//! `pledge_client::ops`, beside the header that stamps a fresh tx id and a
//! validity window from the clock).
//!
//! A transaction is a header (ledger id, tx id, the signed validity window)
//! around one [`Operation`]; [`transaction`] puts them together:
//!
//! ```
//! use pledge_ledger::ops;
//! let t0 = 1_800_000_000_000;
//! let tx = ops::transaction("zhoushan-dev", "bank-a-7", (t0, t0 + 86_400_000), ops::release_pledge("PL-0001"));
//! assert_eq!(tx.tx_id, "bank-a-7");
//! ```
//! Quantities are integer kg, money integer minor units, times ms since the
//! Unix epoch, as in the proto. Who must sign each operation is
//! `rules/authority.rs`'s business, not the builders'.
//!
//! Adding an operation: its message in `proto/`, its builder here (and a
//! line in this module's test of every builder), its rules in `rules/`.

use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::crypto::PublicKey;

/// The transaction carrying `operation`, valid from `validity.0` to
/// `validity.1` (ms since the Unix epoch, both inclusive).
pub fn transaction(
    ledger_id: &str,
    tx_id: &str,
    validity: (u64, u64),
    operation: Operation,
) -> pb::Transaction {
    pb::Transaction {
        ledger_id: ledger_id.to_owned(),
        tx_id: tx_id.to_owned(),
        not_before_ms: validity.0,
        not_after_ms: validity.1,
        operation: Some(operation),
    }
}

/// A participant as admitted (by [`admit_participant`] or in a genesis).
pub fn participant_spec(
    id: &str,
    name: &str,
    roles: &[pb::Role],
    public_key: &PublicKey,
    legal_identity: pb::LegalIdentity,
) -> pb::ParticipantSpec {
    pb::ParticipantSpec {
        id: id.to_owned(),
        name: name.to_owned(),
        roles: roles.iter().map(|r| *r as i32).collect(),
        public_key: public_key.0.to_vec(),
        legal_identity: Some(legal_identity),
    }
}

/// A legal identity: a unified social credit code (统一社会信用代码).
pub fn uscc(code: &str) -> pb::LegalIdentity {
    pb::LegalIdentity {
        identifier: Some(pb::legal_identity::Identifier::UnifiedSocialCreditCode(
            code.to_owned(),
        )),
    }
}

/// A legal identity: an ISO 17442 Legal Entity Identifier.
pub fn lei(code: &str) -> pb::LegalIdentity {
    pb::LegalIdentity {
        identifier: Some(pb::legal_identity::Identifier::Lei(code.to_owned())),
    }
}

/// The governance a genesis fixes: `threshold` of `members` sign governance
/// operations; windows are at most `max_validity_ms` long.
pub fn governance(members: &[&str], threshold: u32, max_validity_ms: u64) -> pb::Governance {
    pb::Governance {
        quorum_members: members.iter().map(|m| (*m).to_owned()).collect(),
        quorum_threshold: threshold,
        max_validity_ms,
    }
}

/// The first entry of a ledger; signed by every quorum member.
pub fn genesis(participants: Vec<pb::ParticipantSpec>, governance: pb::Governance) -> Operation {
    Operation::Genesis(pb::Genesis {
        participants,
        governance: Some(governance),
    })
}

/// The quorum admits a participant.
pub fn admit_participant(participant: pb::ParticipantSpec) -> Operation {
    Operation::AdmitParticipant(pb::AdmitParticipant {
        participant: Some(participant),
    })
}

/// A participant replaces its own key (signed with its current key).
pub fn rotate_key(participant_id: &str, new_public_key: &PublicKey) -> Operation {
    Operation::RotateKey(pb::RotateKey {
        participant_id: participant_id.to_owned(),
        new_public_key: new_public_key.0.to_vec(),
    })
}

/// The quorum gives a participant that lost its key a new one.
pub fn recover_key(participant_id: &str, new_public_key: &PublicKey, reason: &str) -> Operation {
    Operation::RecoverKey(pb::RecoverKey {
        participant_id: participant_id.to_owned(),
        new_public_key: new_public_key.0.to_vec(),
        reason: reason.to_owned(),
    })
}

/// The quorum revokes a participant; a bank with active pledges names the
/// successor bank that takes them over.
pub fn revoke_participant(
    participant_id: &str,
    reason: &str,
    successor: Option<&str>,
) -> Operation {
    Operation::RevokeParticipant(pb::RevokeParticipant {
        participant_id: participant_id.to_owned(),
        reason: reason.to_owned(),
        successor_id: successor.unwrap_or_default().to_owned(),
    })
}

/// A tank's physical identity: bonded facility code and tank number.
pub fn physical_tank_id(facility_code: &str, tank_number: &str) -> pb::PhysicalTankId {
    pb::PhysicalTankId {
        facility_code: facility_code.to_owned(),
        tank_number: tank_number.to_owned(),
    }
}

/// A warehouse registers one of its tanks, calibrated by `inspector_id`
/// (both sign).
pub fn register_tank(
    tank_id: &str,
    warehouse_id: &str,
    capacity_kg: u64,
    product: &str,
    physical_id: pb::PhysicalTankId,
    inspector_id: &str,
    calibration_certificate_no: &str,
) -> Operation {
    Operation::RegisterTank(pb::RegisterTank {
        tank_id: tank_id.to_owned(),
        capacity_kg,
        product: product.to_owned(),
        warehouse_id: warehouse_id.to_owned(),
        physical_id: Some(physical_id),
        inspector_id: inspector_id.to_owned(),
        calibration_certificate_no: calibration_certificate_no.to_owned(),
    })
}

/// An inspector's certificate of a depositor's oil in a tank (signed by the
/// tank's warehouse, the inspector and the depositor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockCertificate<'a> {
    /// The tank gauged.
    pub tank_id: &'a str,
    /// The inspector (a participant).
    pub inspector_id: &'a str,
    /// The inspector's certificate number.
    pub certificate_no: &'a str,
    /// Gauged kg.
    pub quantity_kg: u64,
    /// The grade gauged (the tank's product).
    pub product_grade: &'a str,
    /// When it was gauged, ms since the Unix epoch.
    pub gauged_at_ms: u64,
    /// The owner of the oil.
    pub depositor_id: &'a str,
}

/// Certifies stock (see [`StockCertificate`]).
pub fn certify_stock(certificate: &StockCertificate<'_>) -> Operation {
    Operation::CertifyStock(pb::CertifyStock {
        tank_id: certificate.tank_id.to_owned(),
        inspector_id: certificate.inspector_id.to_owned(),
        certificate_no: certificate.certificate_no.to_owned(),
        quantity_kg: certificate.quantity_kg,
        depositor_id: certificate.depositor_id.to_owned(),
        product_grade: certificate.product_grade.to_owned(),
        gauged_at_ms: certificate.gauged_at_ms,
    })
}

/// An inspector's measurement of a whole tank.
pub fn gauging(
    inspector_id: &str,
    report_no: &str,
    measured_kg: u64,
    gauged_at_ms: u64,
) -> pb::Gauging {
    pb::Gauging {
        inspector_id: inspector_id.to_owned(),
        report_no: report_no.to_owned(),
        measured_kg,
        gauged_at_ms,
    }
}

/// An inspector re-gauges a tank (signed by the inspector).
pub fn regauge_tank(tank_id: &str, gauging: pb::Gauging) -> Operation {
    Operation::RegaugeTank(pb::RegaugeTank {
        tank_id: tank_id.to_owned(),
        gauging: Some(gauging),
    })
}

/// The quorum appoints a successor custodian for a revoked warehouse's tank,
/// re-gauged at the hand-over (signed by the quorum, the successor and the
/// inspector).
pub fn appoint_custodian(tank_id: &str, warehouse_id: &str, gauging: pb::Gauging) -> Operation {
    Operation::AppointCustodian(pb::AppointCustodian {
        tank_id: tank_id.to_owned(),
        warehouse_id: warehouse_id.to_owned(),
        gauging: Some(gauging),
    })
}

/// A warehouse issues a receipt; the terms name every field.
pub fn issue_receipt(terms: pb::IssueReceipt) -> Operation {
    Operation::IssueReceipt(terms)
}

/// The holder endorses a receipt to a new holder (co-signed by the warehouse).
pub fn transfer_receipt(receipt_id: &str, new_holder_id: &str) -> Operation {
    Operation::TransferReceipt(pb::TransferReceipt {
        receipt_id: receipt_id.to_owned(),
        new_holder_id: new_holder_id.to_owned(),
    })
}

/// The warehouse splits a receipt into parts `(new receipt id, kg)`.
pub fn split_receipt<S: AsRef<str>>(receipt_id: &str, parts: &[(S, u64)]) -> Operation {
    Operation::SplitReceipt(pb::SplitReceipt {
        receipt_id: receipt_id.to_owned(),
        parts: parts
            .iter()
            .map(|(id, kg)| pb::SplitPart {
                receipt_id: id.as_ref().to_owned(),
                quantity_kg: *kg,
            })
            .collect(),
    })
}

/// The holder surrenders a receipt and the warehouse cancels it.
pub fn cancel_receipt(receipt_id: &str, reason: &str) -> Operation {
    Operation::CancelReceipt(pb::CancelReceipt {
        receipt_id: receipt_id.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Money in minor units of an ISO 4217 currency.
pub fn money(minor_units: u64, currency: &str) -> pb::Money {
    pb::Money {
        minor_units,
        currency: currency.to_owned(),
    }
}

/// The holder pledges a receipt to a bank (co-signed by the bank).
pub fn register_pledge(
    pledge_id: &str,
    receipt_id: &str,
    pledgee_id: &str,
    secured_amount: pb::Money,
    loan_reference: &str,
    maturity_ms: u64,
) -> Operation {
    Operation::RegisterPledge(pb::RegisterPledge {
        pledge_id: pledge_id.to_owned(),
        receipt_id: receipt_id.to_owned(),
        pledgee_id: pledgee_id.to_owned(),
        secured_amount: Some(secured_amount),
        loan_reference: loan_reference.to_owned(),
        maturity_ms,
        margin_level_bp: 0,
    })
}

/// `operation` (a [`register_pledge`]) stating a margin level: the highest
/// loan-to-value, basis points (8000 = 80 %), before the bank is warned.
/// Any other operation is returned as it is.
pub fn with_margin_level(operation: Operation, margin_level_bp: u32) -> Operation {
    match operation {
        Operation::RegisterPledge(pledge) => Operation::RegisterPledge(pb::RegisterPledge {
            margin_level_bp,
            ..pledge
        }),
        other => other,
    }
}

/// A price reporter assesses the price per tonne of a grade (as receipts
/// carry it) at a time.
pub fn assess_price(
    reporter_id: &str,
    product_grade: &str,
    price_per_tonne: pb::Money,
    assessed_at_ms: u64,
) -> Operation {
    Operation::AssessPrice(pb::AssessPrice {
        reporter_id: reporter_id.to_owned(),
        product_grade: product_grade.to_owned(),
        price_per_tonne: Some(price_per_tonne),
        assessed_at_ms,
    })
}

/// The pledgee releases its pledge.
pub fn release_pledge(pledge_id: &str) -> Operation {
    Operation::ReleasePledge(pb::ReleasePledge {
        pledge_id: pledge_id.to_owned(),
    })
}

/// The pledgee enforces its pledge on `grounds` (with the order's reference
/// for ORDER); `None` transfers the receipt to the bank.
pub fn enforce_pledge(
    pledge_id: &str,
    transferee_id: Option<&str>,
    grounds: pb::EnforcementGrounds,
    order_reference: &str,
) -> Operation {
    Operation::EnforcePledge(pb::EnforcePledge {
        pledge_id: pledge_id.to_owned(),
        transferee_id: transferee_id.unwrap_or_default().to_owned(),
        grounds: grounds as i32,
        order_reference: order_reference.to_owned(),
    })
}

/// A regulator freezes a receipt under a court order.
pub fn freeze_receipt(receipt_id: &str, order_reference: &str) -> Operation {
    Operation::FreezeReceipt(pb::FreezeReceipt {
        receipt_id: receipt_id.to_owned(),
        order_reference: order_reference.to_owned(),
    })
}

/// A regulator lifts a freeze.
pub fn unfreeze_receipt(receipt_id: &str, order_reference: &str) -> Operation {
    Operation::UnfreezeReceipt(pb::UnfreezeReceipt {
        receipt_id: receipt_id.to_owned(),
        order_reference: order_reference.to_owned(),
    })
}

/// One member of the registry, for [`change_membership`].
pub fn cluster_member(
    member_id: u64,
    name: &str,
    address: &str,
    key: &PublicKey,
    voter: bool,
) -> pb::MemberSpec {
    pb::MemberSpec {
        member_id,
        name: name.to_owned(),
        address: address.to_owned(),
        public_key: key.0.to_vec(),
        voter,
    }
}

/// The quorum states the registry's complete member list.
pub fn change_membership(members: Vec<pb::MemberSpec>, reason: &str) -> Operation {
    Operation::ChangeMembership(pb::ChangeMembership {
        members,
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto;
    use crate::tx::Transaction;
    use ed25519_dalek::SigningKey;
    use prost::Message;

    fn key(seed: u8) -> PublicKey {
        crypto::public_key(&SigningKey::from_bytes(&[seed; 32]))
    }

    fn every_operation() -> Vec<Operation> {
        let legal = uscc("91350100M000100Y43");
        let spec = participant_spec("bank-c", "Bank C", &[pb::Role::Bank], &key(3), legal);
        let founder = |id: &str, seed: u8, code: &str| {
            participant_spec(id, id, &[pb::Role::Admin], &key(seed), lei(code))
        };
        let gauged = gauging("insp-sgs", "RG-1", 900_000, 1_800_000_000_000);
        vec![
            genesis(
                vec![
                    founder("admin", 1, "529900TESTADMIN00181"),
                    founder("regulator", 2, "529900TESTREGUL00266"),
                ],
                governance(&["admin", "regulator"], 2, 30 * 86_400_000),
            ),
            admit_participant(spec),
            rotate_key("bank-c", &key(4)),
            recover_key("bank-c", &key(5), "HSM failure"),
            revoke_participant("bank-c", "licence withdrawn", Some("bank-a")),
            register_tank(
                "ZS-TF1/T-101",
                "wh-1",
                50_000_000,
                "VLSFO 0.5%S",
                physical_tank_id("ZS-BONDED-01", "T-101"),
                "insp-sgs",
                "CAL-101",
            ),
            certify_stock(&StockCertificate {
                tank_id: "ZS-TF1/T-101",
                inspector_id: "insp-sgs",
                certificate_no: "C-1",
                quantity_kg: 1_000_000,
                product_grade: "VLSFO 0.5%S",
                gauged_at_ms: 1_800_000_000_000,
                depositor_id: "trader-a",
            }),
            regauge_tank("ZS-TF1/T-101", gauged.clone()),
            appoint_custodian("ZS-TF1/T-101", "wh-2", gauged),
            issue_receipt(pb::IssueReceipt {
                receipt_id: "R-1".into(),
                tank_id: "ZS-TF1/T-101".into(),
                inspector_id: "insp-sgs".into(),
                certificate_no: "C-1".into(),
                product_grade: "VLSFO 0.5%S".into(),
                specification: "ISO 8217:2017 RMG 380".into(),
                quantity_kg: 1_000_000,
                customs_status: pb::CustomsStatus::Bonded as i32,
                customs_reference: "ZS-2026-000123".into(),
                expires_at_ms: 1_900_000_000_000,
                loss_allowance_ppm: 3_000,
                insurance_reference: "PICC-OIL-77".into(),
            }),
            transfer_receipt("R-1", "trader-b"),
            split_receipt("R-1", &[("R-1a", 400_000), ("R-1b", 600_000)]),
            cancel_receipt("R-1", "delivered ex-tank"),
            register_pledge(
                "PL-1",
                "R-1",
                "bank-a",
                money(450_000_000, "USD"),
                "LOAN-1",
                1_900_000_000_000,
            ),
            with_margin_level(
                register_pledge(
                    "PL-2",
                    "R-1",
                    "bank-a",
                    money(450_000_000, "USD"),
                    "LOAN-2",
                    1_900_000_000_000,
                ),
                8_000,
            ),
            assess_price(
                "platts",
                "VLSFO 0.5%S",
                money(61_250, "USD"),
                1_800_000_000_000,
            ),
            release_pledge("PL-1"),
            enforce_pledge("PL-1", None, pb::EnforcementGrounds::Maturity, ""),
            enforce_pledge(
                "PL-1",
                Some("trader-b"),
                pb::EnforcementGrounds::Order,
                "(2026) Zhe 09 Zhi 77",
            ),
            freeze_receipt("R-1", "(2026) Zhe 09 Min Chu 1"),
            unfreeze_receipt("R-1", "(2026) Zhe 09 Min Chu 1"),
            change_membership(
                vec![cluster_member(
                    1,
                    "zs-1",
                    "https://10.1.0.1:50071",
                    &key(9),
                    true,
                )],
                "first member",
            ),
        ]
    }

    #[test]
    fn every_builder_decodes_as_a_valid_transaction() {
        let t0 = 1_800_000_000_000;
        for operation in every_operation() {
            let tx = transaction("zhoushan-dev", "tx-1", (t0, t0 + 86_400_000), operation);
            let decoded = Transaction::decode(&tx.encode_to_vec())
                .unwrap_or_else(|e| panic!("{:?} refused: {e}", tx.operation));
            assert_eq!(decoded.ledger_id, "zhoushan-dev");
            assert_eq!(decoded.tx_id, tx.tx_id);
        }
    }

    /// The position of `operation`'s variant in the proto's `oneof`. The
    /// match is exhaustive: a new operation does not compile here until it
    /// has an arm, and then [`every_operation`] must build it.
    fn variant(operation: &Operation) -> usize {
        match operation {
            Operation::Genesis(_) => 0,
            Operation::AdmitParticipant(_) => 1,
            Operation::RotateKey(_) => 2,
            Operation::RevokeParticipant(_) => 3,
            Operation::RegisterTank(_) => 4,
            Operation::CertifyStock(_) => 5,
            Operation::IssueReceipt(_) => 6,
            Operation::TransferReceipt(_) => 7,
            Operation::SplitReceipt(_) => 8,
            Operation::CancelReceipt(_) => 9,
            Operation::RegisterPledge(_) => 10,
            Operation::ReleasePledge(_) => 11,
            Operation::EnforcePledge(_) => 12,
            Operation::FreezeReceipt(_) => 13,
            Operation::UnfreezeReceipt(_) => 14,
            Operation::RecoverKey(_) => 15,
            Operation::RegaugeTank(_) => 16,
            Operation::AppointCustodian(_) => 17,
            Operation::ChangeMembership(_) => 18,
            Operation::AssessPrice(_) => 19,
        }
    }
    const VARIANTS: usize = 20;

    #[test]
    fn every_operation_has_a_builder() {
        let built: std::collections::BTreeSet<usize> =
            every_operation().iter().map(variant).collect();
        assert_eq!(built, (0..VARIANTS).collect());
    }
}
