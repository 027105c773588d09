//! Comparing checkpoints with each other (Merkle consistency) and binding a
//! checkpoint's chain head to its Merkle root (docs/FORMAT.md §7.3, §7.4).

use super::{Checkpoint, CheckpointError};
use crate::crypto::Digest;
use crate::entry::Entry;
use crate::merkle::{self, EMPTY_ROOT, Hash, ProofError};
use crate::note::quote;

/// Checks that `newer` extends `older`: same origin, no smaller size, and
/// `proof` (RFC 9162 consistency proof from `older.size` to `newer.size`)
/// shows `older.root` to be the root of a prefix of `newer`'s tree. Equal
/// sizes need an empty proof and equal roots and chain heads.
///
/// The chain heads of different sizes are bound to their roots by
/// [`verify_head_binding`], not by this check.
pub fn verify_consistent(
    older: &Checkpoint,
    newer: &Checkpoint,
    proof: &[Hash],
) -> Result<(), CheckpointError> {
    if older.origin != newer.origin {
        return Err(CheckpointError::OriginMismatch {
            expected: quote(&older.origin),
            found: quote(&newer.origin),
        });
    }
    if newer.size < older.size {
        return Err(CheckpointError::SizeRegressed {
            older: older.size,
            newer: newer.size,
        });
    }
    if older.size == newer.size {
        // Two histories of one size are a fork whatever proof comes with them.
        if older.root != newer.root || older.head_hash != newer.head_hash {
            return Err(CheckpointError::ForkAtSameSize { size: older.size });
        }
        return expect_no_proof(older, newer, proof);
    }
    if older.size == 0 {
        // Every tree extends the empty one; RFC 9162 defines no proof for it.
        if older.root != EMPTY_ROOT || older.head_hash != Digest::ZERO {
            return Err(CheckpointError::BadEmptyCheckpoint);
        }
        return expect_no_proof(older, newer, proof);
    }
    merkle::verify_consistency(older.size, newer.size, proof, &older.root, &newer.root).map_err(
        |source| CheckpointError::Inconsistent {
            older: older.size,
            newer: newer.size,
            source,
        },
    )
}

/// Equal sizes and the empty tree take no consistency proof.
fn expect_no_proof(
    older: &Checkpoint,
    newer: &Checkpoint,
    proof: &[Hash],
) -> Result<(), CheckpointError> {
    if proof.is_empty() {
        return Ok(());
    }
    Err(CheckpointError::Inconsistent {
        older: older.size,
        newer: newer.size,
        source: ProofError::WrongProofLength {
            expected: 0,
            found: proof.len(),
        },
    })
}

/// Checks that `last_entry` is the chain head the checkpoint names: its seq
/// is `size − 1`, its entry hash is `head_hash`, and `inclusion_proof`
/// shows its leaf (`SHA-256(0x00 ‖ body)`) at index `size − 1` under `root`.
///
/// The entry's seal is not checked here (a bundle checks it).
pub fn verify_head_binding(
    checkpoint: &Checkpoint,
    last_entry: &Entry,
    inclusion_proof: &[Hash],
) -> Result<(), CheckpointError> {
    let Some(last) = checkpoint.size.checked_sub(1) else {
        return Err(CheckpointError::NothingToBind);
    };
    if last_entry.seq != last {
        return Err(CheckpointError::HeadSeqMismatch {
            expected: last,
            found: last_entry.seq,
        });
    }
    let body = last_entry.body();
    let entry_hash = last_entry.hash();
    if entry_hash != checkpoint.head_hash {
        return Err(CheckpointError::HeadHashMismatch {
            expected: checkpoint.head_hash,
            found: entry_hash,
        });
    }
    merkle::verify_inclusion(
        &merkle::leaf_hash(&body),
        last,
        checkpoint.size,
        inclusion_proof,
        &checkpoint.root,
    )
    .map_err(|source| CheckpointError::HeadNotInTree {
        size: checkpoint.size,
        source,
    })
}
