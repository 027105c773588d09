//! Witness cosigning: a checkpoint is believed only when enough witnesses,
//! run by banks and the regulator with their own keys, have cosigned it
//! (docs/FORMAT.md §7.8). A witness cosigns a checkpoint only if it is
//! consistent with the last one it cosigned for the log, so an operator who
//! rewrites history, or shows different histories to different parties,
//! cannot gather a quorum for both.
//!
//! ```text
//!  node ── add-checkpoint (old size, consistency proof, signed note) ──▶ witness
//!       ◀── "— <witness> base64(key id ‖ timestamp ‖ signature)" ───────┘
//!  verifier: log signature (checkpoint) ─▶ WitnessPolicy::check (k of n) ─▶ Cosigners
//!  two notes that disagree ─▶ fork::compare ─▶ ForkEvidence (both notes)
//! ```
//!
//! - [`cosignature`]: the Ed25519 `cosignature/v1` of C2SP tlog-cosignature.
//! - [`policy`]: the witness policy file and the quorum check.
//! - [`add_checkpoint`]: the C2SP tlog-witness request and answer bodies.
//! - [`fork`]: two contradicting checkpoints as evidence.
//! - [`trust`]: what a verifier trusts (node keys and policy), in one value.

pub mod add_checkpoint;
pub mod cosignature;
pub mod fork;
pub mod policy;
pub mod trust;

pub use cosignature::{CosignatureError, Witness, cosign};
pub use fork::{Comparison, ForkEvidence};
pub use policy::{Cosigners, PolicyError, PolicyWitness, QuorumError, WitnessPolicy};
pub use trust::{CosignedCheckpoint, Trust, TrustError};
