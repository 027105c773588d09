//! Why a checkpoint could not be made, read or accepted.

use thiserror::Error;

use crate::crypto::Digest;
use crate::merkle::{MerkleError, ProofError};
use crate::note::NoteError;
use crate::store::StoreError;

/// Why a checkpoint could not be made, read or accepted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin (key name) is empty, or holds a space, a `+` or a control
    /// character, or does not start with `pledgeledger/`.
    #[error("origin {found:?} is not a valid checkpoint origin: {reason}")]
    BadOrigin {
        /// The origin given (quoted, cut to 80 characters).
        found: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The checkpoint's origin is not the one expected.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the verifier expected.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// A required line of the checkpoint text is absent.
    #[error("checkpoint text lacks its {field} line")]
    MissingLine {
        /// The line's field.
        field: &'static str,
    },
    /// A line of the checkpoint text is empty (an extra blank line).
    #[error("checkpoint text has an empty line where {field} belongs")]
    EmptyLine {
        /// The field expected there.
        field: &'static str,
    },
    /// A line that is not part of the format: an unknown or misplaced
    /// extension line, or one too many.
    #[error("checkpoint text has an unexpected line {found:?}")]
    UnexpectedLine {
        /// The line (cut to 80 characters).
        found: String,
    },
    /// A field is not in canonical form: a size or time that is not plain
    /// decimal without leading zeros or overflows 64 bits, a root that is not
    /// canonical standard base64 of 32 bytes, a head that is not 64
    /// lower-case hex digits.
    #[error("checkpoint {field} {found:?} is not canonical")]
    BadField {
        /// The field.
        field: &'static str,
        /// The value found (cut to 80 characters).
        found: String,
    },
    /// A checkpoint of size 0 whose root is not the empty root or whose
    /// chain head or state root is not all zeros.
    #[error(
        "a checkpoint of size 0 must have the empty root, a zero chain head and a zero state root"
    )]
    BadEmptyCheckpoint,
    /// A checkpoint was asked for beyond the store's last entry.
    #[error("no checkpoint at size {size}: the store holds {len} entries")]
    SizeBeyondStore {
        /// Size asked for.
        size: u64,
        /// Entries in the store.
        len: u64,
    },
    /// The signed note is malformed, or the log's signature on it is
    /// missing or does not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The newer checkpoint is smaller than the older one.
    #[error("checkpoint size went back from {older} to {newer}")]
    SizeRegressed {
        /// Older size.
        older: u64,
        /// Newer size.
        newer: u64,
    },
    /// Two checkpoints of the same size differ in root or chain head: the
    /// node has signed two histories.
    #[error("two checkpoints of size {size} differ: the ledger forked")]
    ForkAtSameSize {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not show the older tree to be a prefix of
    /// the newer one.
    #[error("checkpoint of size {newer} is not consistent with size {older}")]
    Inconsistent {
        /// Older size.
        older: u64,
        /// Newer size.
        newer: u64,
        /// Why the proof failed.
        #[source]
        source: ProofError,
    },
    /// A checkpoint of size 0 has no head entry to bind.
    #[error("a checkpoint of size 0 has no head entry")]
    NothingToBind,
    /// The entry given as the head is not entry `size − 1`.
    #[error("head entry has seq {found}, the checkpoint's head is {expected}")]
    HeadSeqMismatch {
        /// `size − 1`.
        expected: u64,
        /// The entry's seq.
        found: u64,
    },
    /// The head entry's hash is not the checkpoint's chain head.
    #[error("head entry hash is {found}, the checkpoint names {expected}")]
    HeadHashMismatch {
        /// The checkpoint's `chain-head`.
        expected: Digest,
        /// The entry's hash.
        found: Digest,
    },
    /// The head entry is not the last leaf under the checkpoint's root.
    #[error("head entry is not leaf {} of the tree of size {size}", size.saturating_sub(1))]
    HeadNotInTree {
        /// The checkpoint's size.
        size: u64,
        /// Why the inclusion proof failed.
        #[source]
        source: ProofError,
    },
}

impl From<MerkleError<StoreError>> for CheckpointError {
    fn from(error: MerkleError<StoreError>) -> Self {
        match error {
            MerkleError::Storage(error) => CheckpointError::Store(error),
            other => CheckpointError::Store(StoreError::Tree {
                reason: other.to_string(),
            }),
        }
    }
}
