//! What a witness decides about one `add-checkpoint` request, given the last
//! checkpoint it cosigned for the log: pure, no I/O, no clock (C2SP
//! tlog-witness, with one rule stricter than it, below).
//!
//! ```text
//!  body ─ parse ─▶ 400            malformed
//!  origin ───────▶ 404            not a log this witness follows
//!  log signature ▶ 403            not signed by an accepted key of that log
//!  old > size ───▶ 400
//!  old ≠ latest ─▶ 409 + latest   the submitter's idea of our state is stale
//!  old = size ───▶ 409 (evidence) same size, other root or chain head
//!  proof ────────▶ 422 (evidence) not consistent with what we cosigned
//!  else          ▶ cosign; the new checkpoint becomes the latest
//! ```
//!
//! Stricter than C2SP: at equal sizes the chain head must be the same too,
//! not only the root ([`verify_consistent`]), so the log cannot gather
//! cosignatures on two different chain heads for one tree.

use std::collections::BTreeMap;

use pledge_ledger::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint, verify_consistent};
use pledge_ledger::cosigning::add_checkpoint::AddCheckpoint;
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::note::{NoteError, SignedNote};

/// The logs a witness follows: origin → the log keys it accepts.
pub type Logs = BTreeMap<String, Vec<PublicKey>>;

/// Why a request is refused, with the HTTP status C2SP assigns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The body is not a request, or the checkpoint is malformed. (400)
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The witness does not follow this log. (404)
    #[error("unknown log {origin}")]
    UnknownLog {
        /// The checkpoint's origin.
        origin: String,
    },
    /// No accepted key of the log signed the checkpoint. (403)
    #[error("the checkpoint is not signed by the log: {0}")]
    NotSignedByLog(String),
    /// The request's old size is not the size this witness last cosigned. (409)
    #[error(
        "the old size is {old}, but the latest checkpoint cosigned for this log has size {latest}"
    )]
    StaleOldSize {
        /// The request's old size.
        old: u64,
        /// The size of the latest cosigned checkpoint.
        latest: u64,
    },
    /// A checkpoint of the size already cosigned, but different: the log
    /// signed two trees (or heads) of one size. (409, evidence)
    #[error("fork: {reason}")]
    Fork {
        /// What differs.
        reason: String,
    },
    /// The consistency proof does not verify from the latest cosigned
    /// checkpoint: a rewritten history, or a bad proof. (422, evidence)
    #[error("not consistent with the checkpoint of size {latest} cosigned before: {reason}")]
    Inconsistent {
        /// The size of the latest cosigned checkpoint.
        latest: u64,
        /// Why the proof fails.
        reason: String,
    },
}

impl Refusal {
    /// The HTTP status C2SP tlog-witness assigns.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::NotSignedByLog(_) => 403,
            Refusal::UnknownLog { .. } => 404,
            Refusal::StaleOldSize { .. } | Refusal::Fork { .. } => 409,
            Refusal::Inconsistent { .. } => 422,
        }
    }

    /// Whether the refused checkpoint is evidence of the log misbehaving
    /// (validly signed, but contradicting what this witness cosigned).
    pub fn is_evidence(&self) -> bool {
        matches!(self, Refusal::Fork { .. } | Refusal::Inconsistent { .. })
    }
}

/// Decides on a request. `latest(origin)` is the checkpoint this witness
/// last cosigned for that log. On `Ok`, the caller must make the returned
/// checkpoint its latest (durably, atomically with this decision) before
/// answering with a cosignature.
pub fn decide(
    body: &str,
    logs: &Logs,
    latest: impl Fn(&str) -> Option<Checkpoint>,
) -> Result<SignedCheckpoint, Refusal> {
    let request = AddCheckpoint::parse(body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let note =
        SignedNote::parse(&request.checkpoint).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let origin = note
        .text()
        .split('\n')
        .next()
        .unwrap_or_default()
        .to_owned();
    let Some(keys) = logs.get(&origin) else {
        return Err(Refusal::UnknownLog {
            origin: origin.chars().take(80).collect(),
        });
    };
    let (checkpoint, node_key) =
        Checkpoint::verify_parsed(&note, &origin, keys).map_err(signature_refusal)?;
    let new = SignedCheckpoint {
        checkpoint,
        note,
        node_key,
    };
    check_against(&request, &new.checkpoint, latest(&origin).as_ref())?;
    Ok(new)
}

/// The size, equal-size and consistency rules against the latest cosigned.
fn check_against(
    request: &AddCheckpoint,
    new: &Checkpoint,
    latest: Option<&Checkpoint>,
) -> Result<(), Refusal> {
    if request.old_size > new.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is larger than the checkpoint's size {}",
            request.old_size, new.size
        )));
    }
    let latest_size = latest.map_or(0, |c| c.size);
    if request.old_size != latest_size {
        return Err(Refusal::StaleOldSize {
            old: request.old_size,
            latest: latest_size,
        });
    }
    let Some(latest) = latest else {
        if !request.proof.is_empty() {
            return Err(Refusal::BadRequest(
                "a consistency proof from size 0 must be empty".to_owned(),
            ));
        }
        return Ok(());
    };
    verify_consistent(latest, new, &request.proof).map_err(|error| match error {
        CheckpointError::ForkAtSameSize { .. } => Refusal::Fork {
            reason: error.to_string(),
        },
        other => Refusal::Inconsistent {
            latest: latest.size,
            reason: other.to_string(),
        },
    })
}

fn signature_refusal(error: CheckpointError) -> Refusal {
    match error {
        CheckpointError::Note(NoteError::NotSigned { .. })
        | CheckpointError::Note(NoteError::InvalidSignature { .. }) => {
            Refusal::NotSignedByLog(error.to_string())
        }
        other => Refusal::BadRequest(other.to_string()),
    }
}
