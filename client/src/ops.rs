//! Builders for every operation's transaction.
//!
//! A transaction is a [`TxHeader`] (ledger id, a fresh tx id, the client
//! time) wrapped around one [`Operation`]:
//!
//! ```
//! use pledge_client::ops::{self, TxHeader};
//! let header = TxHeader::new("zhoushan-dev", "bank-a").unwrap();
//! let tx = header.wrap(ops::release_pledge("PL-0001"));
//! assert!(tx.tx_id.starts_with("bank-a-"));
//! ```
//! Quantities are integer kg, money integer minor units, times ms since the
//! Unix epoch, as in the proto.

use pledge_ledger::crypto::PublicKey;
use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::error::{ClientError, Result};
use crate::time::now_ms;

/// The fields every transaction carries besides its operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxHeader {
    /// The ledger the transaction is meant for.
    pub ledger_id: String,
    /// Client-chosen id, unique ledger-wide for ever.
    pub tx_id: String,
    /// When the transaction was built, ms since the Unix epoch.
    pub client_time_ms: u64,
}

impl TxHeader {
    /// A header for `ledger_id` with a fresh tx id for `participant` (see
    /// [`new_tx_id`]) and the current time.
    pub fn new(ledger_id: &str, participant: &str) -> Result<TxHeader> {
        Ok(TxHeader {
            ledger_id: ledger_id.to_owned(),
            tx_id: new_tx_id(participant)?,
            client_time_ms: now_ms(),
        })
    }

    /// The same header with a tx id of the caller's choosing.
    pub fn with_tx_id(mut self, tx_id: &str) -> TxHeader {
        tx_id.clone_into(&mut self.tx_id);
        self
    }

    /// The transaction carrying `operation`.
    pub fn wrap(self, operation: Operation) -> pb::Transaction {
        pb::Transaction {
            ledger_id: self.ledger_id,
            tx_id: self.tx_id,
            client_time_ms: self.client_time_ms,
            operation: Some(operation),
        }
    }
}

/// Longest participant prefix kept in a generated tx id, so that the id stays
/// within the ledger's 64-character limit.
const TX_ID_PREFIX_MAX: usize = 64 - 1 - 13 - 1 - 16;

/// A fresh tx id: `<participant>-<unix ms>-<16 random hex digits>`.
///
/// Unique for all practical purposes, and it says who built the
/// transaction and when (a participant id longer than 33 characters is
/// shortened to keep the id within 64). A retry must reuse the id of the
/// first attempt: the node answers an identical resubmission with the
/// original entry.
pub fn new_tx_id(participant: &str) -> Result<String> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| ClientError::Random(e.to_string()))?;
    let prefix: String = participant.chars().take(TX_ID_PREFIX_MAX).collect();
    Ok(format!("{prefix}-{}-{}", now_ms(), hex::encode(random)))
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
pub fn split_receipt(receipt_id: &str, parts: &[(String, u64)]) -> Operation {
    Operation::SplitReceipt(pb::SplitReceipt {
        receipt_id: receipt_id.to_owned(),
        parts: parts
            .iter()
            .map(|(id, kg)| pb::SplitPart {
                receipt_id: id.clone(),
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
    use ed25519_dalek::SigningKey;
    use pledge_ledger::crypto;
    use pledge_ledger::tx::Transaction;
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
            split_receipt("R-1", &[("R-1a".into(), 400_000), ("R-1b".into(), 600_000)]),
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
            let tx = TxHeader::new("zhoushan-dev", "trader-a")
                .unwrap()
                .wrap(operation);
            let decoded = Transaction::decode(&tx.encode_to_vec())
                .unwrap_or_else(|e| panic!("{:?} refused: {e}", tx.operation));
            assert_eq!(decoded.ledger_id, "zhoushan-dev");
            assert_eq!(decoded.tx_id, tx.tx_id);
        }
    }

    #[test]
    fn tx_ids_name_the_participant_and_differ() {
        let a = new_tx_id("bank-a").unwrap();
        let b = new_tx_id("bank-a").unwrap();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.rsplitn(3, '-').collect();
        assert_eq!(parts[0].len(), 16);
        assert!(parts[1].parse::<u64>().is_ok());
        assert_eq!(parts[2], "bank-a");
    }

    #[test]
    fn long_participant_ids_still_give_valid_tx_ids() {
        let id = new_tx_id(&"w".repeat(64)).unwrap();
        assert!(id.len() <= 64, "{id}");
        pledge_ledger::text::check_id("tx_id", &id).unwrap();
    }

    #[test]
    fn header_keeps_a_chosen_tx_id() {
        let tx = TxHeader::new("l", "p")
            .unwrap()
            .with_tx_id("retry-7")
            .wrap(release_pledge("PL-1"));
        assert_eq!(tx.tx_id, "retry-7");
        assert!(tx.client_time_ms > 1_700_000_000_000);
    }
}
