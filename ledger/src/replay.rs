//! Replay: rebuilding the state from entries alone, checking everything.
//!
//! ```text
//!  record ─▶ ChainCursor (seq, link, time) ─▶ Sealers (the seal, under a key allowed at that point)
//!         ─▶ Envelope::verify (every signature)
//!         ─▶ rules::apply at (seq, entry time) against the state so far ─▶ must be Applied
//!            (an attempt entry: rules::reapply_attempt ─▶ must be refused exactly as recorded)
//! ```
//! A committed entry was accepted once, so replay must accept it again with
//! the same result; anything else (a refused or duplicate transaction, a
//! signature by a key that was not current at that point) names the entry.
//! Used by the auditor, by tests, and by [`crate::ledger::Ledger::open`] to
//! bring the state store up to the log.

mod batch;

pub use batch::{BatchReplayer, PART_RECORDS, SignaturesChecked, check_signatures_only};

use thiserror::Error;

use crate::chain::{ChainCursor, ChainError, Sealers};
use crate::crypto::{Digest, PublicKey};
use crate::entry::Entry;
use crate::envelope::{EnvelopeError, VerifiedEnvelope};
use crate::model::Seq;
use crate::rejection::Rejection;
use crate::rules::{self, ApplyError, AttemptFault, AttemptReplayError, EntryContext, Outcome};
use crate::state::{MemoryState, Objects, StateError, StateRead};

/// Why an entry does not replay.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EntryFault {
    /// It breaks the hash chain.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Its envelope is malformed or a signature does not verify.
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The rules refuse it at this point of the chain.
    #[error("the rules refuse it: {0}")]
    Rejected(Box<Rejection>),
    /// An attempt entry that is not a true record of a refusal.
    #[error("attempt entry: {0}")]
    Attempt(#[from] AttemptFault),
    /// It repeats a transaction already applied.
    #[error("it repeats the transaction of entry {original}")]
    Duplicate {
        /// The entry that applied it first.
        original: Seq,
    },
    /// The state could not be read.
    #[error(transparent)]
    Store(#[from] StateError),
}

impl EntryFault {
    /// The stable reason code (docs/ERRORS.md) of an entry the envelope
    /// checks or the rules refuse; none for a broken chain (framing, link,
    /// time, seal), a repeated transaction, an attempt entry that is no true
    /// record of a refusal, or a store failure.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            EntryFault::Envelope(error) => Some(error.reason()),
            EntryFault::Rejected(rejection) => Some(rejection.reason()),
            EntryFault::Chain(_)
            | EntryFault::Attempt(_)
            | EntryFault::Duplicate { .. }
            | EntryFault::Store(_) => None,
        }
    }
}

/// The first entry that does not replay, and why.
#[derive(Debug, Error)]
#[error("entry {seq}: {fault}")]
pub struct ReplayError {
    /// The first bad entry.
    pub seq: Seq,
    /// Why.
    pub fault: EntryFault,
}

/// Applies an entry's transaction to `state` as replay does: every
/// signature checked, the rules run at the entry's own sequence number and
/// time. Checks the seal when `node_key` is given; the chain links are the
/// caller's (see [`ChainCursor`]).
pub fn reapply<S: StateRead + ?Sized>(
    state: &S,
    entry: &Entry,
    node_key: Option<&PublicKey>,
) -> Result<Objects, EntryFault> {
    if let Some(key) = node_key
        && !entry.seal_verifies(key)
    {
        return Err(ChainError::BadSeal {
            seq: entry.seq,
            keys: vec![*key],
        }
        .into());
    }
    let verified = entry.envelope.clone().verify()?;
    apply_verified(state, entry, &verified)
}

/// Applies an entry whose envelope's signatures were checked: its
/// transaction, or for an attempt entry the check of its refusal.
pub(crate) fn apply_verified<S: StateRead + ?Sized>(
    state: &S,
    entry: &Entry,
    verified: &VerifiedEnvelope,
) -> Result<Objects, EntryFault> {
    let ctx = EntryContext {
        seq: entry.seq,
        time_ms: entry.time_ms,
    };
    if let Some(refusal) = &entry.refusal {
        return rules::reapply_attempt(state, verified, refusal, ctx).map_err(|e| match e {
            AttemptReplayError::Fault(fault) => fault.into(),
            AttemptReplayError::Store(error) => error.into(),
        });
    }
    match rules::apply(state, verified, ctx) {
        Ok(Outcome::Applied(changes)) => Ok(changes),
        Ok(Outcome::Duplicate(record)) => Err(EntryFault::Duplicate {
            original: record.seq,
        }),
        Err(ApplyError::Rejected(rejection)) => Err(EntryFault::Rejected(rejection)),
        Err(ApplyError::Store(error)) => Err(error.into()),
    }
}

/// Replays a chain record by record into an in-memory state.
#[derive(Debug, Default)]
pub struct Replayer {
    cursor: ChainCursor,
    state: MemoryState,
    sealers: Option<Sealers>,
}

impl Replayer {
    /// A replayer that checks every seal: under `ledger_key` until the first
    /// membership entry, then under the keys the membership in force lists
    /// (no seals when `None`, for chains whose seals are checked elsewhere).
    pub fn new(ledger_key: Option<PublicKey>) -> Replayer {
        Replayer {
            sealers: ledger_key.map(Sealers::ledger_key),
            ..Replayer::default()
        }
    }

    /// The keys allowed to seal the next entry (`None`: seals unchecked).
    pub fn sealers(&self) -> Option<&Sealers> {
        self.sealers.as_ref()
    }

    /// Checks and applies the next record.
    pub fn push_record(&mut self, record: &[u8]) -> Result<(), ReplayError> {
        let seq = self.cursor.next_seq;
        let entry = Entry::decode(record).map_err(|source| ReplayError {
            seq,
            fault: ChainError::Malformed { seq, source }.into(),
        })?;
        self.push(&entry)
    }

    /// Checks and applies the next entry.
    pub fn push(&mut self, entry: &Entry) -> Result<(), ReplayError> {
        let seq = self.cursor.next_seq;
        let fail = |fault: EntryFault| ReplayError { seq, fault };
        self.cursor.check_links(entry).map_err(|e| fail(e.into()))?;
        let hash = entry.hash();
        if let Some(sealers) = &mut self.sealers {
            sealers.check(entry, &hash).map_err(|e| fail(e.into()))?;
        }
        let changes = reapply(&self.state, entry, None).map_err(fail)?;
        self.state.merge(changes);
        self.advance(entry, hash);
        Ok(())
    }

    /// Moves past an entry checked and applied.
    pub(crate) fn advance(&mut self, entry: &Entry, hash: Digest) {
        self.cursor.advance(entry, hash);
        if let Some(sealers) = &mut self.sealers {
            sealers.follow(entry);
        }
    }

    /// Entries replayed so far.
    pub fn entries(&self) -> u64 {
        self.cursor.next_seq
    }

    /// Hash of the last entry replayed.
    pub fn head_hash(&self) -> Digest {
        self.cursor.head_hash
    }

    /// The chain position reached.
    pub fn cursor(&self) -> ChainCursor {
        self.cursor
    }

    /// The state replayed so far.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The replayed state.
    pub fn into_state(self) -> MemoryState {
        self.state
    }
}
