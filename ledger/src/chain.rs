//! Checking the hash chain entry by entry: sequence numbers, previous-hash
//! links, non-decreasing time, and the node's seal. Used when a store opens,
//! by replay, and by the auditor.

use thiserror::Error;

use crate::crypto::{Digest, PublicKey};
use crate::entry::Entry;
use crate::error::DecodeError;
use crate::model::Seq;

/// Why an entry breaks the chain. Always names the entry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The record is not a well-formed entry.
    #[error("entry {seq}: {source}")]
    Malformed {
        /// Position of the record.
        seq: Seq,
        /// What is wrong.
        source: DecodeError,
    },
    /// The entry carries the wrong sequence number (deleted, duplicated or
    /// reordered entries).
    #[error("entry {seq}: carries sequence number {found}")]
    WrongSeq {
        /// Position in the chain.
        seq: Seq,
        /// The number it carries.
        found: Seq,
    },
    /// The entry does not commit to the previous entry's hash.
    #[error("entry {seq}: previous-hash link is {found}, the previous entry hashes to {expected}")]
    BrokenLink {
        /// The entry.
        seq: Seq,
        /// Hash of the previous entry.
        expected: Digest,
        /// What the entry says.
        found: Digest,
    },
    /// Time runs backwards.
    #[error("entry {seq}: time {time_ms} ms is before the previous entry's {previous_ms} ms")]
    TimeWentBack {
        /// The entry.
        seq: Seq,
        /// Its time.
        time_ms: u64,
        /// The previous entry's time.
        previous_ms: u64,
    },
    /// The node's seal does not verify.
    #[error("entry {seq}: the node's seal does not verify under key {node_key}")]
    BadSeal {
        /// The entry.
        seq: Seq,
        /// The node key used.
        node_key: PublicKey,
    },
}

impl ChainError {
    /// The entry at fault.
    pub fn seq(&self) -> Seq {
        match self {
            ChainError::Malformed { seq, .. }
            | ChainError::WrongSeq { seq, .. }
            | ChainError::BrokenLink { seq, .. }
            | ChainError::TimeWentBack { seq, .. }
            | ChainError::BadSeal { seq, .. } => *seq,
        }
    }
}

/// The running position of a chain check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainCursor {
    /// The sequence number the next entry must carry.
    pub next_seq: Seq,
    /// Hash of the last entry checked (zeros before entry 0).
    pub head_hash: Digest,
    /// Time of the last entry checked.
    pub head_time_ms: u64,
}

impl Default for ChainCursor {
    fn default() -> Self {
        ChainCursor {
            next_seq: 0,
            head_hash: Digest::ZERO,
            head_time_ms: 0,
        }
    }
}

impl ChainCursor {
    /// Decodes a record and checks it follows on; advances on success.
    pub fn check_record(
        &mut self,
        record: &[u8],
        node_key: Option<&PublicKey>,
    ) -> Result<Entry, ChainError> {
        let entry = Entry::decode(record).map_err(|source| ChainError::Malformed {
            seq: self.next_seq,
            source,
        })?;
        self.check(&entry, node_key)?;
        Ok(entry)
    }

    /// Checks that `entry` follows on; advances on success. The seal is
    /// checked when a node key is given.
    pub fn check(
        &mut self,
        entry: &Entry,
        node_key: Option<&PublicKey>,
    ) -> Result<Digest, ChainError> {
        self.check_hashed(entry, entry.hash(), node_key)
    }

    /// [`ChainCursor::check`] for an entry whose hash the caller computed
    /// already (from the same body), so that it is not hashed twice.
    pub fn check_hashed(
        &mut self,
        entry: &Entry,
        hash: Digest,
        node_key: Option<&PublicKey>,
    ) -> Result<Digest, ChainError> {
        self.check_links(entry)?;
        if let Some(key) = node_key
            && !crate::crypto::verify_seal(key, &hash, &entry.seal)
        {
            return Err(ChainError::BadSeal {
                seq: self.next_seq,
                node_key: *key,
            });
        }
        self.advance(entry, hash);
        Ok(hash)
    }

    /// Checks sequence number, previous-hash link and time; the seal is
    /// the caller's.
    pub fn check_links(&self, entry: &Entry) -> Result<(), ChainError> {
        let seq = self.next_seq;
        if entry.seq != seq {
            return Err(ChainError::WrongSeq {
                seq,
                found: entry.seq,
            });
        }
        if entry.prev_hash != self.head_hash {
            return Err(ChainError::BrokenLink {
                seq,
                expected: self.head_hash,
                found: entry.prev_hash,
            });
        }
        if entry.time_ms < self.head_time_ms {
            return Err(ChainError::TimeWentBack {
                seq,
                time_ms: entry.time_ms,
                previous_ms: self.head_time_ms,
            });
        }
        Ok(())
    }

    /// Moves past `entry`, whose hash is `hash`, once the caller checked it.
    pub fn advance(&mut self, entry: &Entry, hash: Digest) {
        self.next_seq += 1;
        self.head_hash = hash;
        self.head_time_ms = entry.time_ms;
    }
}
