//! Builders for every operation's transaction: the ledger's builders
//! ([`pledge_ledger::ops`], re-exported here) and the header a client
//! stamps on a transaction.
//!
//! A transaction is a [`TxHeader`] (ledger id, a fresh tx id, the signed
//! validity window) wrapped around one [`Operation`]:
//!
//! ```
//! use pledge_client::ops::{self, TxHeader};
//! let header = TxHeader::new("zhoushan-dev", "bank-a").unwrap();
//! let tx = header.wrap(ops::release_pledge("PL-0001"));
//! assert!(tx.tx_id.starts_with("bank-a-"));
//! ```
//! Quantities are integer kg, money integer minor units, times ms since the
//! Unix epoch, as in the proto.

pub use pledge_ledger::ops::*;
use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::error::{ClientError, Result};
use crate::time::now_ms;

/// How long a transaction is valid by default: a day from when it is built.
pub const DEFAULT_VALIDITY_MS: u64 = 86_400_000;
/// How far before "now" a default window opens, so that a node whose clock
/// is a little behind the client's still accepts it.
pub const CLOCK_SLACK_MS: u64 = 5 * 60_000;

/// The fields every transaction carries besides its operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxHeader {
    /// The ledger the transaction is meant for.
    pub ledger_id: String,
    /// Client-chosen id, unique ledger-wide for ever.
    pub tx_id: String,
    /// The entry may not be earlier, ms since the Unix epoch.
    pub not_before_ms: u64,
    /// The entry may not be later, ms since the Unix epoch.
    pub not_after_ms: u64,
}

impl TxHeader {
    /// A header for `ledger_id` with a fresh tx id for `participant` (see
    /// [`new_tx_id`]), valid from a few minutes ago for a day.
    pub fn new(ledger_id: &str, participant: &str) -> Result<TxHeader> {
        let now = now_ms();
        Ok(TxHeader {
            ledger_id: ledger_id.to_owned(),
            tx_id: new_tx_id(participant)?,
            not_before_ms: now.saturating_sub(CLOCK_SLACK_MS),
            not_after_ms: now + DEFAULT_VALIDITY_MS,
        })
    }

    /// The same header with a tx id of the caller's choosing.
    pub fn with_tx_id(mut self, tx_id: &str) -> TxHeader {
        tx_id.clone_into(&mut self.tx_id);
        self
    }

    /// The same header valid until `duration_ms` from now (co-signing over
    /// days: at most the ledger's `max_validity_ms`).
    pub fn valid_for(mut self, duration_ms: u64) -> TxHeader {
        self.not_after_ms = now_ms() + duration_ms;
        self
    }

    /// The same header valid from `not_before_ms` to `not_after_ms`.
    pub fn valid_between(mut self, not_before_ms: u64, not_after_ms: u64) -> TxHeader {
        self.not_before_ms = not_before_ms;
        self.not_after_ms = not_after_ms;
        self
    }

    /// The transaction carrying `operation`.
    pub fn wrap(self, operation: Operation) -> pb::Transaction {
        transaction(
            &self.ledger_id,
            &self.tx_id,
            (self.not_before_ms, self.not_after_ms),
            operation,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

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
            .valid_for(7 * 86_400_000)
            .wrap(release_pledge("PL-1"));
        assert_eq!(tx.tx_id, "retry-7");
        assert!(tx.not_before_ms > 1_700_000_000_000);
        assert!(tx.not_after_ms >= tx.not_before_ms + 7 * 86_400_000);
    }
}
