//! Fork detection: two checkpoints of one log, each validly signed by the
//! log, that cannot both be true. Either one is evidence the other party can
//! check offline, so a fork is reported with both notes in full.
//!
//! ```text
//!  same size, different root / head / state  ─▶ fork, no proof needed
//!  different sizes  ─▶ a consistency proof (from the log, or anyone) must verify,
//!                      else fork; without a proof the question stays open
//! ```

use std::fmt;

use crate::checkpoint::{SignedCheckpoint, verify_consistent};
use crate::merkle::Hash;

/// Two signed checkpoints of one log that contradict each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEvidence {
    /// The smaller (or, at equal sizes, the first given) checkpoint.
    pub first: SignedCheckpoint,
    /// The other one.
    pub second: SignedCheckpoint,
    /// Why they cannot both be true.
    pub reason: String,
}

impl fmt::Display for ForkEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "FORK: the log signed two histories that cannot both be true ({})",
            self.reason
        )?;
        writeln!(f, "first checkpoint:\n{}", self.first.to_text())?;
        write!(f, "second checkpoint:\n{}", self.second.to_text())
    }
}

/// What comparing two checkpoints showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// They are consistent: the larger extends the smaller.
    Consistent,
    /// Different sizes and no proof was given: a consistency proof from the
    /// smaller size to the larger is needed to decide.
    NeedsProof {
        /// The smaller size.
        from: u64,
        /// The larger size.
        to: u64,
    },
    /// They are checkpoints of two different logs (origins): nothing to
    /// compare.
    DifferentLogs,
}

/// Compares two checkpoints of one origin (both already verified as signed
/// by the log). `proof`: an RFC 9162 consistency proof from the smaller
/// size to the larger, if one is at hand. A proof that does not verify is a
/// fork: an honest log can always prove that it only grew.
pub fn compare(
    a: &SignedCheckpoint,
    b: &SignedCheckpoint,
    proof: Option<&[Hash]>,
) -> Result<Comparison, Box<ForkEvidence>> {
    let (older, newer) = if b.checkpoint.size < a.checkpoint.size {
        (b, a)
    } else {
        (a, b)
    };
    let fork = |reason: String| {
        Box::new(ForkEvidence {
            first: older.clone(),
            second: newer.clone(),
            reason,
        })
    };
    if older.checkpoint.origin != newer.checkpoint.origin {
        return Ok(Comparison::DifferentLogs);
    }
    let same_size = older.checkpoint.size == newer.checkpoint.size;
    let proof = match (same_size, proof) {
        (true, _) => &[][..],
        (false, Some(proof)) => proof,
        (false, None) => {
            return Ok(Comparison::NeedsProof {
                from: older.checkpoint.size,
                to: newer.checkpoint.size,
            });
        }
    };
    verify_consistent(&older.checkpoint, &newer.checkpoint, proof)
        .map(|()| Comparison::Consistent)
        .map_err(|error| fork(error.to_string()))
}
