//! Attempts: which refusals the chain records, and how replay checks a
//! recorded one (docs/FORMAT.md §3.2).
//!
//! An envelope whose parties are authenticated (every signature verifies,
//! every signer is a live participant signing with its current key) and
//! that the rules refuse for a fraud-relevant reason ([`is_fraud_relevant`])
//! is recorded as an *attempt entry*: the envelope as signed, with the
//! refusal's reason code and fields. It changes no state but one: the
//! transaction's hash is remembered, so that the same transaction is
//! recorded once.
//!
//! Every fraud-relevant refusal is raised after the signer checks of
//! `authority.rs` passed (they run first), so a refusal for one of these
//! reasons is itself proof that the signers were authenticated; no
//! unauthenticated envelope can become an entry.
//!
//! Replay ([`reapply_attempt`]) runs the rules on the recorded envelope at
//! the attempt's own position and time and requires the very refusal
//! recorded: a node can neither invent an attempt (one the rules would have
//! accepted) nor alter its reason or fields.

use super::{ApplyError, EntryContext, Outcome, RuleResult, apply};
use crate::envelope::VerifiedEnvelope;
use crate::model::Seq;
use crate::refusal::Refusal;
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};

/// Whether a refusal is fraud-relevant, and so recorded as an attempt: a
/// receipt already pledged; a certificate or a physical tank already used;
/// a quantity beyond the certificate, the certified stock or the tank's
/// capacity; a frozen receipt; a tank in shortfall; a revoked custodian.
/// The one list; docs/FORMAT.md §3.2 gives the same codes.
pub fn is_fraud_relevant(rejection: &Rejection) -> bool {
    matches!(
        rejection,
        Rejection::ReceiptPledged { .. }
            | Rejection::CertificateInUse { .. }
            | Rejection::CertificateExists { .. }
            | Rejection::PhysicalTankRegistered { .. }
            | Rejection::QuantityExceedsCertificate { .. }
            | Rejection::StockExceeded { .. }
            | Rejection::CapacityExceeded { .. }
            | Rejection::ReceiptFrozen { .. }
            | Rejection::TankShortfall { .. }
            | Rejection::CustodianRevoked { .. }
    )
}

/// The reason codes of [`is_fraud_relevant`], for documentation and tests.
pub const FRAUD_RELEVANT_REASONS: &[&str] = &[
    "RECEIPT_PLEDGED",
    "CERTIFICATE_IN_USE",
    "CERTIFICATE_EXISTS",
    "PHYSICAL_TANK_REGISTERED",
    "QUANTITY_EXCEEDS_CERTIFICATE",
    "STOCK_EXCEEDED",
    "CAPACITY_EXCEEDED",
    "RECEIPT_FROZEN",
    "TANK_SHORTFALL",
    "CUSTODIAN_REVOKED",
];

/// What becomes of a refused envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptDecision {
    /// Not fraud-relevant: refused, nothing recorded.
    NotRecorded,
    /// The same transaction was recorded by this attempt entry already.
    RecordedAt(Seq),
    /// To be recorded as an attempt entry: the refusal, and the change (the
    /// transaction's hash remembered at this entry).
    Record(Refusal, Box<Objects>),
}

/// Decides whether `rejection`, the rules' refusal of `envelope` as entry
/// `ctx`, is recorded as an attempt.
pub fn decide_attempt<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
    rejection: &Rejection,
    ctx: EntryContext,
) -> RuleResult<AttemptDecision> {
    if !is_fraud_relevant(rejection) {
        return Ok(AttemptDecision::NotRecorded);
    }
    if let Some(seq) = state.attempt(&envelope.tx_hash)? {
        return Ok(AttemptDecision::RecordedAt(seq));
    }
    let mut changes = Objects::default();
    changes.attempts.insert(envelope.tx_hash, ctx.seq);
    Ok(AttemptDecision::Record(
        Refusal::of(rejection),
        Box::new(changes),
    ))
}

/// Why a recorded attempt does not replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptFault {
    /// The rules accept the envelope here: it was no refused attempt.
    #[error("the rules accept its transaction here: it is no refused attempt")]
    Accepted,
    /// The transaction was applied before (a retry is no attempt).
    #[error("its transaction was applied at entry {original}: a retry is no attempt")]
    Duplicate {
        /// The entry that applied it.
        original: Seq,
    },
    /// The rules refuse it, but not for a fraud-relevant reason.
    #[error("the rules refuse it with {reason}, which is not recorded as an attempt")]
    NotFraudRelevant {
        /// The reason the rules give.
        reason: &'static str,
    },
    /// The rules refuse it otherwise than the entry records.
    #[error("it records {recorded:?}, the rules refuse it with {derived:?}")]
    RefusalDiffers {
        /// What the entry records.
        recorded: Box<Refusal>,
        /// What the rules give here.
        derived: Box<Refusal>,
    },
    /// The same transaction was recorded by an earlier attempt entry.
    #[error("its transaction was recorded by attempt entry {earlier} already")]
    Repeated {
        /// The earlier attempt entry.
        earlier: Seq,
    },
}

/// Why an attempt entry cannot be replayed: a fault, or a state read.
#[derive(Debug, thiserror::Error)]
pub enum AttemptReplayError {
    /// The entry is not a true record of a refusal.
    #[error(transparent)]
    Fault(#[from] AttemptFault),
    /// The state could not be read.
    #[error(transparent)]
    Store(#[from] crate::state::StateError),
}

/// Replays an attempt entry: the rules, run on its envelope at its own
/// position and time, must refuse it with exactly the recorded refusal, for
/// a fraud-relevant reason, and the transaction must not have been
/// recorded before. Returns the change (the transaction's hash remembered).
pub fn reapply_attempt<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
    recorded: &Refusal,
    ctx: EntryContext,
) -> Result<Objects, AttemptReplayError> {
    let rejection = match apply(state, envelope, ctx) {
        Ok(Outcome::Applied(_)) => return Err(AttemptFault::Accepted.into()),
        Ok(Outcome::Duplicate(record)) => {
            return Err(AttemptFault::Duplicate {
                original: record.seq,
            }
            .into());
        }
        Err(ApplyError::Rejected(rejection)) => rejection,
        Err(ApplyError::Store(error)) => return Err(error.into()),
    };
    let derived = Refusal::of(&rejection);
    if !is_fraud_relevant(&rejection) {
        return Err(AttemptFault::NotFraudRelevant {
            reason: rejection.reason(),
        }
        .into());
    }
    if derived != *recorded {
        return Err(AttemptFault::RefusalDiffers {
            recorded: Box::new(recorded.clone()),
            derived: Box::new(derived),
        }
        .into());
    }
    match decide_attempt(state, envelope, &rejection, ctx) {
        Ok(AttemptDecision::Record(_, changes)) => Ok(*changes),
        Ok(AttemptDecision::RecordedAt(earlier)) => Err(AttemptFault::Repeated { earlier }.into()),
        Ok(AttemptDecision::NotRecorded) => Err(AttemptFault::NotFraudRelevant {
            reason: rejection.reason(),
        }
        .into()),
        Err(ApplyError::Store(error)) => Err(error.into()),
        Err(ApplyError::Rejected(other)) => Err(AttemptFault::NotFraudRelevant {
            reason: other.reason(),
        }
        .into()),
    }
}
