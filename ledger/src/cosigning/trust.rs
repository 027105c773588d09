//! What a verifier trusts, in one value: the log keys it accepts for the
//! ledger and its witness policy. Every verifier (an audit, `receipt prove`,
//! `verify-bundle`, the client library) opens checkpoints through
//! [`Trust::open`], so none of them can forget the quorum.
//!
//! ```text
//!  note ─▶ log signature by an accepted key (checkpoint::SignedCheckpoint::open)
//!       ─▶ WitnessPolicy::check: k of n cosignatures ─▶ CosignedCheckpoint
//! ```

use thiserror::Error;

use super::policy::{Cosigners, QuorumError, WitnessPolicy};
use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::crypto::PublicKey;

/// The log keys a verifier accepts and the witnesses it requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// Log (node) keys accepted for the ledger, obtained out of band.
    pub log_keys: Vec<PublicKey>,
    /// The witnesses that must have cosigned a checkpoint.
    pub policy: WitnessPolicy,
}

/// A checkpoint signed by an accepted log key whose cosignatures meet the
/// policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    /// The checkpoint and its note.
    pub signed: SignedCheckpoint,
    /// The policy's witnesses whose cosignatures verified.
    pub cosigners: Cosigners,
    /// Whether the policy required any cosignature (`false`: the checkpoint
    /// rests on the log key alone).
    pub witnessed: bool,
}

impl Trust {
    /// Trusts `log_keys` and the keys of the policy's `log` lines (a trust
    /// file, docs/FORMAT.md §7.2) under `policy`: a checkpoint or entry
    /// sealed by any of them is accepted.
    pub fn new(mut log_keys: Vec<PublicKey>, policy: WitnessPolicy) -> Trust {
        for key in policy.log_keys() {
            if !log_keys.contains(key) {
                log_keys.push(*key);
            }
        }
        Trust { log_keys, policy }
    }

    /// Trusts the log key alone (no witness required).
    pub fn log_key_only(log_key: PublicKey) -> Trust {
        Trust::new(vec![log_key], WitnessPolicy::none())
    }

    /// Opens a signed note as a checkpoint of `origin`: an accepted log key
    /// signed it and the witness quorum holds.
    pub fn open(&self, note: &str, origin: &str) -> Result<CosignedCheckpoint, TrustError> {
        let signed = SignedCheckpoint::open(note, origin, &self.log_keys)?;
        self.accept(signed)
    }

    /// Checks the witness quorum on a checkpoint whose log signature was
    /// already verified against one of [`Trust::log_keys`].
    pub fn accept(&self, signed: SignedCheckpoint) -> Result<CosignedCheckpoint, TrustError> {
        if !self.log_keys.contains(&signed.node_key) {
            return Err(TrustError::LogKeyNotAccepted {
                key: signed.node_key,
            });
        }
        let cosigners = self
            .policy
            .check(&signed.note)
            .map_err(|source| TrustError::Quorum {
                size: signed.checkpoint.size,
                source,
            })?;
        Ok(CosignedCheckpoint {
            signed,
            cosigners,
            witnessed: !self.policy.is_none(),
        })
    }
}

/// Why a checkpoint is not believed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The note is malformed or not signed by an accepted log key.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint was signed by a log key the verifier does not accept.
    #[error("the checkpoint is signed by log key {key}, which is not accepted")]
    LogKeyNotAccepted {
        /// The key that signed.
        key: PublicKey,
    },
    /// The witness quorum does not hold.
    #[error("the checkpoint of size {size}: {source}")]
    Quorum {
        /// The checkpoint's size.
        size: u64,
        /// Whose cosignatures are missing.
        #[source]
        source: QuorumError,
    },
}
