//! Builders for every operation: the one place where an operation's
//! protobuf message is put together. The command line, the client library,
//! the load generator, the development genesis and every test build their
//! transactions with these (the client library re-exports them as
//! `pledge_client::ops`, beside the header that stamps a fresh tx id and the
//! clock).
//!
//! A transaction is a header (ledger id, tx id, the client's time) around
//! one [`Operation`]; [`transaction`] puts them together:
//!
//! ```
//! use pledge_ledger::ops;
//! let tx = ops::transaction("zhoushan-dev", "bank-a-7", 1_800_000_000_000, ops::release_pledge("PL-0001"));
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

/// The transaction carrying `operation`.
pub fn transaction(
    ledger_id: &str,
    tx_id: &str,
    client_time_ms: u64,
    operation: Operation,
) -> pb::Transaction {
    pb::Transaction {
        ledger_id: ledger_id.to_owned(),
        tx_id: tx_id.to_owned(),
        client_time_ms,
        operation: Some(operation),
    }
}

/// A participant as admitted (by [`admit_participant`] or in a genesis).
pub fn participant_spec(
    id: &str,
    name: &str,
    roles: &[pb::Role],
    public_key: &PublicKey,
) -> pb::ParticipantSpec {
    pb::ParticipantSpec {
        id: id.to_owned(),
        name: name.to_owned(),
        roles: roles.iter().map(|r| *r as i32).collect(),
        public_key: public_key.0.to_vec(),
    }
}

/// The first entry of a ledger; signed by every admin it admits.
pub fn genesis(participants: Vec<pb::ParticipantSpec>) -> Operation {
    Operation::Genesis(pb::Genesis { participants })
}

/// An admin admits a participant.
pub fn admit_participant(participant: pb::ParticipantSpec) -> Operation {
    Operation::AdmitParticipant(pb::AdmitParticipant {
        participant: Some(participant),
    })
}

/// An admin replaces a participant's key.
pub fn rotate_key(participant_id: &str, new_public_key: &PublicKey) -> Operation {
    Operation::RotateKey(pb::RotateKey {
        participant_id: participant_id.to_owned(),
        new_public_key: new_public_key.0.to_vec(),
    })
}

/// An admin revokes a participant.
pub fn revoke_participant(participant_id: &str, reason: &str) -> Operation {
    Operation::RevokeParticipant(pb::RevokeParticipant {
        participant_id: participant_id.to_owned(),
        reason: reason.to_owned(),
    })
}

/// A warehouse registers one of its tanks.
pub fn register_tank(
    tank_id: &str,
    warehouse_id: &str,
    capacity_kg: u64,
    product: &str,
) -> Operation {
    Operation::RegisterTank(pb::RegisterTank {
        tank_id: tank_id.to_owned(),
        capacity_kg,
        product: product.to_owned(),
        warehouse_id: warehouse_id.to_owned(),
    })
}

/// A warehouse records inspected stock of a depositor's oil in a tank.
pub fn certify_stock(
    tank_id: &str,
    inspection_agency: &str,
    certificate_no: &str,
    quantity_kg: u64,
    depositor_id: &str,
) -> Operation {
    Operation::CertifyStock(pb::CertifyStock {
        tank_id: tank_id.to_owned(),
        inspection_agency: inspection_agency.to_owned(),
        certificate_no: certificate_no.to_owned(),
        quantity_kg,
        depositor_id: depositor_id.to_owned(),
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
    })
}

/// The pledgee releases its pledge.
pub fn release_pledge(pledge_id: &str) -> Operation {
    Operation::ReleasePledge(pb::ReleasePledge {
        pledge_id: pledge_id.to_owned(),
    })
}

/// The pledgee enforces its pledge; `None` transfers the receipt to the bank.
pub fn enforce_pledge(pledge_id: &str, transferee_id: Option<&str>) -> Operation {
    Operation::EnforcePledge(pb::EnforcePledge {
        pledge_id: pledge_id.to_owned(),
        transferee_id: transferee_id.unwrap_or_default().to_owned(),
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
        let spec = participant_spec("bank-c", "Bank C", &[pb::Role::Bank], &key(3));
        vec![
            genesis(vec![participant_spec(
                "admin",
                "Registry",
                &[pb::Role::Admin],
                &key(1),
            )]),
            admit_participant(spec),
            rotate_key("bank-c", &key(4)),
            revoke_participant("bank-c", "licence withdrawn"),
            register_tank("ZS-TF1/T-101", "wh-1", 50_000_000, "VLSFO 0.5%S"),
            certify_stock("ZS-TF1/T-101", "SGS Zhoushan", "C-1", 1_000_000, "trader-a"),
            issue_receipt(pb::IssueReceipt {
                receipt_id: "R-1".into(),
                tank_id: "ZS-TF1/T-101".into(),
                inspection_agency: "SGS Zhoushan".into(),
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
            release_pledge("PL-1"),
            enforce_pledge("PL-1", None),
            enforce_pledge("PL-1", Some("trader-b")),
            freeze_receipt("R-1", "(2026) Zhe 09 Min Chu 1"),
            unfreeze_receipt("R-1", "(2026) Zhe 09 Min Chu 1"),
        ]
    }

    #[test]
    fn every_builder_decodes_as_a_valid_transaction() {
        for operation in every_operation() {
            let tx = transaction("zhoushan-dev", "tx-1", 1_800_000_000_000, operation);
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
        }
    }
    const VARIANTS: usize = 15;

    #[test]
    fn every_operation_has_a_builder() {
        let built: std::collections::BTreeSet<usize> =
            every_operation().iter().map(variant).collect();
        assert_eq!(built, (0..VARIANTS).collect());
    }
}
