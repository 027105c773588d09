//! The generated chain's participants, keys and transactions: the demo
//! participants with the fixed keys of `pledge_ledger::testing` (so that a
//! chain can be regenerated and replayed anywhere), under a ledger id of its
//! own.

use ed25519_dalek::SigningKey;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::{demo, ops, testing};
use pledge_proto::v1::{self as pb, transaction::Operation};

pub use testing::{DAY_MS, T0};

/// The generated ledger's id.
pub const LEDGER_ID: &str = "zhoushan-bench";

/// The quorum of the generated ledger (its members sign the genesis).
pub const QUORUM: &[&str] = demo::QUORUM;

/// The inspector of the generated ledger.
pub const INSPECTOR: &str = demo::INSPECTOR;

/// The node key of generated chains.
pub fn node_key() -> SigningKey {
    testing::node_key()
}

/// The public half of [`node_key`].
pub fn node_public_key() -> PublicKey {
    crypto::public_key(&node_key())
}

/// The genesis operation admitting the demo participants.
pub fn genesis() -> Operation {
    testing::genesis_operation()
}

/// A transaction of the generated ledger, valid for 30 days from [`T0`],
/// signed by `signers`. The signatures are made here, so they are not
/// verified again.
pub fn signed(tx_id: String, operation: Operation, signers: &[&str]) -> VerifiedEnvelope {
    let tx = ops::transaction(LEDGER_ID, &tx_id, (T0, T0 + 30 * DAY_MS), operation);
    match testing::sign(&tx, signers).into_verified_unchecked() {
        Ok(verified) => verified,
        Err(error) => panic!(
            "generated transaction {} does not decode: {error}",
            tx.tx_id
        ),
    }
}

/// The terms of a receipt issued on `tank` against certificate `cert`,
/// valid for ten years from [`T0`].
pub fn issue_terms(receipt_id: &str, tank: &str, cert: &str, kg: u64) -> pb::IssueReceipt {
    testing::issue_terms(receipt_id, tank, cert, kg, T0 + 3_650 * DAY_MS)
}
