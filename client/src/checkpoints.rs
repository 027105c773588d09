//! Checkpoints on the auditor's side: the Merkle tree and entry hashes of an
//! audited chain, checked against signed checkpoints, and the last verified
//! checkpoint remembered between audits.
//!
//! ```text
//!  records ──▶ TreeWitness (leaf hashes, entry hashes)
//!                 │ check(checkpoint): root at its size, chain head at its size
//!  remembered checkpoint (file) ──▶ must still hold: the log only grew
//!  node's latest checkpoint     ──▶ must hold, then is remembered for next time
//! ```
//! A history rewritten and re-sealed with the node's own key passes every
//! link and seal check of a replay, but not these: its root at the remembered
//! size differs from the root the node signed then. When a larger signed
//! checkpoint does agree with the chain, the two notes are a fork
//! ([`fork_between`]): evidence anyone can check offline.

use std::path::{Path, PathBuf};

use pledge_ledger::checkpoint::{Checkpoint, SignedCheckpoint, ledger_origin};
use pledge_ledger::cosigning::{ForkEvidence, Trust, fork};
use pledge_ledger::crypto::{Digest, ENTRY_HASH_TAG, PublicKey};
use pledge_ledger::entry::SEAL_LEN;
use pledge_ledger::merkle::{self, MemoryNodes};

use crate::error::{ClientError, Result};

/// The tree and entry hashes of the entries audited so far.
#[derive(Debug, Default)]
pub struct TreeWitness {
    tree: MemoryNodes,
    entry_hashes: Vec<Digest>,
}

impl TreeWitness {
    /// An empty witness.
    pub fn new() -> TreeWitness {
        TreeWitness::default()
    }

    /// Adds the next record (body ‖ seal).
    pub fn push(&mut self, record: &[u8]) {
        let body = &record[..record.len().saturating_sub(SEAL_LEN)];
        // A record too short to hold a seal never gets here: replay refuses it first.
        let _ = self.tree.append(merkle::leaf_hash(body));
        self.entry_hashes
            .push(Digest::tagged(ENTRY_HASH_TAG, &[body]));
    }

    /// Entries witnessed.
    pub fn size(&self) -> u64 {
        self.entry_hashes.len() as u64
    }

    /// The Merkle root over the first `size` entries.
    pub fn root(&self, size: u64) -> Option<merkle::Hash> {
        merkle::root(size, &self.tree).ok()
    }

    /// Whether the audited chain is the chain `checkpoint` speaks of: it has
    /// at least its size, the same root at that size, and the same head.
    pub fn check(&self, checkpoint: &Checkpoint) -> std::result::Result<(), String> {
        let size = checkpoint.size;
        if size > self.size() {
            return Err(format!(
                "the chain has {} entries but a checkpoint signed at {} covers {size}: entries were removed",
                self.size(),
                checkpoint.time_ms
            ));
        }
        let root = self.root(size).unwrap_or_default();
        if root != checkpoint.root {
            return Err(format!(
                "the chain's Merkle root at size {size} is {}, but the checkpoint signed at {} says {}: history was rewritten",
                hex::encode(root),
                checkpoint.time_ms,
                hex::encode(checkpoint.root)
            ));
        }
        let head = match size.checked_sub(1) {
            Some(last) => self.entry_hashes[last as usize],
            None => Digest::ZERO,
        };
        if head != checkpoint.head_hash {
            return Err(format!(
                "entry {} hashes to {head}, but the checkpoint's chain head is {}",
                size.saturating_sub(1),
                checkpoint.head_hash
            ));
        }
        Ok(())
    }

    /// An RFC 9162 consistency proof between two sizes of the audited tree.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Option<Vec<merkle::Hash>> {
        merkle::consistency_proof(from, to, &self.tree).ok()
    }
}

/// When a signed checkpoint does not agree with the audited chain but a
/// larger one does, both were signed by the node for one ledger and cannot
/// both be true: no tree of the agreeing one's root has the disagreeing one
/// as its prefix. That pair is a fork, evidence anyone can check offline
/// with the two notes. `None`: the pair is consistent after all, the
/// disagreeing one is the larger, or the audited chain is too short.
pub fn fork_between(
    witness: &TreeWitness,
    disagreeing: &SignedCheckpoint,
    agreeing: &SignedCheckpoint,
) -> Option<ForkEvidence> {
    let (from, to) = (disagreeing.checkpoint.size, agreeing.checkpoint.size);
    if from > to || to > witness.size() {
        return None;
    }
    let proof = witness.consistency_proof(from, to)?;
    match fork::compare(disagreeing, agreeing, Some(&proof)) {
        Err(evidence) => Some(*evidence),
        Ok(_) => None,
    }
}

/// Where an audit remembers the last checkpoint it verified for a ledger
/// sealed by `node_key`: `$XDG_STATE_HOME/pledgectl/<ledger>-<key>.checkpoint`,
/// else under `~/.local/state/pledgectl/` (`<key>`: the key's first 16 hex
/// digits, so development ledgers that share an id do not share a memory).
pub fn default_state_file(ledger_id: &str, node_key: &PublicKey) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    let key = node_key.to_hex();
    base.join("pledgectl")
        .join(format!("{ledger_id}-{}.checkpoint", &key[..16]))
}

/// Reads a remembered (or given) checkpoint note, if the file exists, and
/// believes it only under `trust` (an accepted node key, the witness quorum).
pub fn read_checkpoint(
    path: &Path,
    ledger_id: &str,
    trust: &Trust,
) -> Result<Option<SignedCheckpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ClientError::Io {
                op: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    trust
        .open(&text, &ledger_origin(ledger_id))
        .map(|cosigned| Some(cosigned.signed))
        .map_err(|e| ClientError::InvalidInput {
            what: "checkpoint file",
            reason: format!("{}: {e}", path.display()),
        })
}

/// Remembers a verified checkpoint note.
pub fn remember(path: &Path, checkpoint: &SignedCheckpoint) -> Result<()> {
    let io = |op, source| ClientError::Io {
        op,
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create", e))?;
    }
    std::fs::write(path, checkpoint.to_text()).map_err(|e| io("write", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use pledge_ledger::crypto;

    fn records(n: u8) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i; 100]).collect()
    }

    fn checkpoint_of(records: &[Vec<u8>], size: usize) -> Checkpoint {
        let mut witness = TreeWitness::new();
        records[..size].iter().for_each(|r| witness.push(r));
        Checkpoint {
            origin: "pledgeledger/t".into(),
            size: size as u64,
            root: witness.root(size as u64).unwrap(),
            head_hash: Digest::tagged(ENTRY_HASH_TAG, &[&records[size - 1][..36]]),
            state_root: [1; 32],
            time_ms: 1,
        }
    }

    #[test]
    fn a_grown_chain_holds_and_a_rewritten_or_shrunk_one_does_not() {
        let chain = records(10);
        let old = checkpoint_of(&chain, 6);
        let mut witness = TreeWitness::new();
        chain.iter().for_each(|r| witness.push(r));
        assert_eq!(witness.check(&old), Ok(()));

        let mut rewritten = chain.clone();
        rewritten[3][0] ^= 1;
        let mut witness = TreeWitness::new();
        rewritten.iter().for_each(|r| witness.push(r));
        assert!(witness.check(&old).unwrap_err().contains("rewritten"));

        let mut witness = TreeWitness::new();
        chain[..5].iter().for_each(|r| witness.push(r));
        assert!(witness.check(&old).unwrap_err().contains("removed"));
    }

    #[test]
    fn remembered_checkpoints_roundtrip_and_must_be_signed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/t.checkpoint");
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = checkpoint_of(&records(4), 4).sign(&key).unwrap();
        remember(&path, &signed).unwrap();
        let public = Trust::log_key_only(crypto::public_key(&key));
        assert_eq!(read_checkpoint(&path, "t", &public).unwrap(), Some(signed));
        let other = Trust::log_key_only(crypto::public_key(&SigningKey::from_bytes(&[4; 32])));
        assert!(read_checkpoint(&path, "t", &other).is_err());
        assert_eq!(
            read_checkpoint(&dir.path().join("none"), "t", &public).unwrap(),
            None
        );
    }

    #[test]
    fn a_checkpoint_the_audited_chain_contradicts_is_a_fork_with_a_larger_one_it_agrees_with() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let honest = records(10);
        let mut rewritten = honest.clone();
        rewritten[3][0] ^= 1;
        let old = checkpoint_of(&honest, 6).sign(&key).unwrap();
        let new = checkpoint_of(&rewritten, 10).sign(&key).unwrap();
        let mut witness = TreeWitness::new();
        rewritten.iter().for_each(|r| witness.push(r));
        assert!(witness.check(&old.checkpoint).is_err());
        assert!(witness.check(&new.checkpoint).is_ok());
        let fork = fork_between(&witness, &old, &new).unwrap();
        assert_eq!(
            (fork.first.checkpoint.size, fork.second.checkpoint.size),
            (6, 10)
        );
        let shown = fork.to_string();
        assert!(shown.starts_with("FORK"), "{shown}");
        assert!(shown.contains(&old.to_text()) && shown.contains(&new.to_text()));
        // The honest chain's checkpoints are consistent: no fork.
        let mut witness = TreeWitness::new();
        honest.iter().for_each(|r| witness.push(r));
        let honest_new = checkpoint_of(&honest, 10).sign(&key).unwrap();
        assert_eq!(fork_between(&witness, &old, &honest_new), None);
        // A larger checkpoint than the one it is compared with is not called a fork here.
        assert_eq!(fork_between(&witness, &honest_new, &old), None);
    }
}
