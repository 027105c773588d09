//! Storage errors: they name the operation and the key or entry concerned.

use thiserror::Error;

use super::log::LogError;
use crate::chain::ChainError;
use crate::model::Seq;
use crate::state::StateError;

/// A failure of the store (not of the rules).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The entry log failed (asking past its end is [`StoreError::OutOfRange`]).
    #[error(transparent)]
    Log(LogError),
    /// sled failed.
    #[error("state database: {op} failed: {source}")]
    Sled {
        /// The operation.
        op: &'static str,
        /// sled's error.
        source: sled::Error,
    },
    /// A file of the state store beside the database failed.
    #[error("state file {path}: {op} failed: {source}", path = path.display())]
    StateFile {
        /// The operation.
        op: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A stored value does not decode.
    #[error("state database: value under key {key:?} does not decode: {reason}")]
    Codec {
        /// The key.
        key: String,
        /// The decoder's report.
        reason: String,
    },
    /// A receipt's history chain in the state database (its `h/` keys)
    /// does not end where the receipt's `updated_at` and `history_len`
    /// say, or an update adds to a receipt's history without writing the
    /// receipt (whose `updated_at` the chain follows).
    #[error("state database: receipt {receipt}'s history is {problem}")]
    BrokenHistory {
        /// The receipt.
        receipt: String,
        /// What does not match.
        problem: &'static str,
    },
    /// The stored chain does not verify.
    #[error("the stored chain does not verify: {0}")]
    Chain(#[from] ChainError),
    /// A logged entry is refused by the rules when replayed.
    #[error("entry {seq} in the log is not a valid transaction: {reason}")]
    InvalidEntry {
        /// The entry.
        seq: Seq,
        /// Why the rules refused it.
        reason: String,
    },
    /// A Merkle node is missing or a tree size is out of range.
    #[error("Merkle tree: {reason}")]
    Tree {
        /// What went wrong.
        reason: String,
    },
    /// An entry past the head was asked for.
    #[error("entry {seq} does not exist: the chain has {len} entries")]
    OutOfRange {
        /// The entry asked for.
        seq: Seq,
        /// Entries in the chain.
        len: u64,
    },
    /// A state update does not start at the state store's applied count.
    #[error(
        "state store: an update starting at entry {first} does not follow on from the {applied} entries applied"
    )]
    StateBehind {
        /// Entries the state store reflects.
        applied: u64,
        /// The update's first entry.
        first: Seq,
    },
    /// The state map has no root at a size: the state store has not
    /// applied up to it, or applied past it in one update.
    #[error(
        "the state map has no root after {size} entries (the state store applied {applied}); checkpoints are made at sizes the state store applied"
    )]
    NoStateRoot {
        /// The size asked for.
        size: u64,
        /// Entries the state store reflects.
        applied: u64,
    },
    /// The state map at a size below the floor the store pruned to: its
    /// superseded nodes and roots are gone (docs/FORMAT.md §7.9, "Pruning").
    #[error(
        "the state map after {size} entries is no longer kept (kept from {floor} entries on): prove at the latest checkpoint"
    )]
    MapPruned {
        /// The size asked for.
        size: u64,
        /// The smallest size the map is still kept at.
        floor: u64,
    },
    /// The state could not be read while deciding or replaying.
    #[error(transparent)]
    State(#[from] StateError),
    /// The state store failed earlier (that failure was reported then) and
    /// takes no more updates.
    #[error("the state store failed and takes no more updates; restart the node")]
    StateStopped,
}

/// Asking past the end of the log is [`StoreError::OutOfRange`], as it is
/// from any store.
impl From<LogError> for StoreError {
    fn from(error: LogError) -> StoreError {
        match error {
            LogError::OutOfRange { index, len } => StoreError::OutOfRange { seq: index, len },
            other => StoreError::Log(other),
        }
    }
}

impl From<StoreError> for StateError {
    fn from(error: StoreError) -> StateError {
        match error {
            StoreError::State(inner) => inner,
            other => StateError::new(other),
        }
    }
}
