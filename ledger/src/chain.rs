//! Checking the hash chain entry by entry: sequence numbers, previous-hash
//! links, non-decreasing time, and the seal. Used when a store opens, by
//! replay, and by the auditor.
//!
//! **Who may seal** ([`Sealers`], docs/FORMAT.md §3.1): the ledger key (the
//! key auditors hold, which sealed the genesis) until the first membership
//! entry; from the entry after a membership entry on, any voter's key that
//! entry lists.

use std::sync::Arc;

use thiserror::Error;

use crate::crypto::{Digest, PublicKey};
use crate::entry::Entry;
use crate::error::DecodeError;
use crate::model::{Membership, Seq, voter_keys};
use crate::tx::{Operation, Transaction};

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
    /// The seal does not verify under any key allowed to seal the entry.
    #[error("entry {seq}: the seal does not verify under {}", key_list(.keys))]
    BadSeal {
        /// The entry.
        seq: Seq,
        /// The keys allowed to seal it.
        keys: Vec<PublicKey>,
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
                keys: vec![*key],
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

fn key_list(keys: &[PublicKey]) -> String {
    match keys {
        [key] => format!("key {key}"),
        keys => {
            let hex: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            format!("any of the member keys {}", hex.join(", "))
        }
    }
}

/// The keys that may seal the next entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealers {
    /// Never empty.
    keys: Arc<[PublicKey]>,
    /// The membership entry that listed them; `None` for the ledger key.
    since: Option<Seq>,
    /// The key that sealed the last entry checked (the leader, most
    /// likely to seal the next one too).
    last: PublicKey,
}

impl Sealers {
    /// Before any membership entry: the ledger key alone.
    pub fn ledger_key(key: PublicKey) -> Sealers {
        Sealers {
            keys: Arc::from([key]),
            since: None,
            last: key,
        }
    }

    /// After a membership entry: its voters' keys.
    pub fn listed(membership: &Membership) -> Sealers {
        let keys = membership.sealer_keys();
        let last = keys.first().copied().unwrap_or(PublicKey([0; 32]));
        Sealers {
            keys: keys.into(),
            since: Some(membership.since),
            last,
        }
    }

    /// The keys allowed to seal the next entry.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The membership entry that listed the keys (`None`: the ledger key).
    pub fn since(&self) -> Option<Seq> {
        self.since
    }

    /// Whether `key` may seal the next entry.
    pub fn allows(&self, key: &PublicKey) -> bool {
        self.keys.contains(key)
    }

    /// The key the seal over `hash` verifies under, if any allowed one.
    pub fn sealer(&self, hash: &Digest, seal: &[u8; 64]) -> Option<PublicKey> {
        self.keys
            .iter()
            .find(|key| crate::crypto::verify_seal(key, hash, seal))
            .copied()
    }

    /// The allowed key most likely to have sealed the next entry: the one
    /// that sealed the last entry checked, if still allowed.
    pub fn likely(&self) -> PublicKey {
        match self.allows(&self.last) {
            true => self.last,
            false => self.keys.first().copied().unwrap_or(self.last),
        }
    }

    /// Checks the seal of `entry` (whose hash is `hash`), the next entry;
    /// returns the key it verifies under.
    pub fn check(&mut self, entry: &Entry, hash: &Digest) -> Result<PublicKey, ChainError> {
        let likely = self.likely();
        let sealer = match crate::crypto::verify_seal(&likely, hash, &entry.seal) {
            true => Some(likely),
            false => self.sealer(hash, &entry.seal),
        };
        let sealer = sealer.ok_or_else(|| ChainError::BadSeal {
            seq: entry.seq,
            keys: self.keys.to_vec(),
        })?;
        self.last = sealer;
        Ok(sealer)
    }

    /// Records that the next entry's seal verified under `key` (checked by
    /// the caller, e.g. in a batch).
    pub fn sealed_by(&mut self, key: PublicKey) {
        self.last = key;
    }

    /// Moves past `entry`: after a membership entry, its voters' keys seal
    /// (an attempt entry applied nothing, whatever its transaction).
    pub fn follow(&mut self, entry: &Entry) {
        if entry.is_attempt() {
            return;
        }
        if let Some(keys) = membership_keys(&entry.envelope.tx_bytes)
            && !keys.is_empty()
        {
            self.keys = keys.into();
            self.since = Some(entry.seq);
        }
    }
}

/// The voters' keys a membership transaction lists, or `None` for any
/// other transaction (or bytes that do not decode: the rules refuse them).
pub fn membership_keys(tx_bytes: &[u8]) -> Option<Vec<PublicKey>> {
    // Field 28 (`change_membership`), length-delimited: key 0xE2 0x01. A
    // transaction without those two bytes in a row cannot carry it.
    if !tx_bytes.windows(2).any(|w| w == [0xE2, 0x01]) {
        return None;
    }
    match Transaction::decode(tx_bytes).ok()?.operation {
        Operation::ChangeMembership { members, .. } => Some(voter_keys(&members)),
        _ => None,
    }
}
