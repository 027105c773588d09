//! The sequencer's core: turns verified envelopes into sealed, committed
//! entries, one group at a time.
//!
//! ```text
//!  envelopes (signatures already verified, in arrival order)
//!     │  for each: seq = next, time = max(now, head time)
//!     │            rules::apply against the state + this group's changes so far
//!     │            Applied → seal entry;  Duplicate → original entry;  Rejected → refusal
//!     ▼
//!  store.commit(group entries, group changes)   ← one fdatasync for the whole group
//!     ▼
//!  one result per envelope, in order
//! ```
//! No clock is read here: the caller passes the time. The node runs this on
//! its sequencer thread; tests, tools and the chain generator run it directly.

use std::borrow::Cow;

use ed25519_dalek::SigningKey;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint, ledger_origin};
use crate::crypto::{self, Digest, PublicKey};
use crate::describe;
use crate::entry::{Entry, Sealed};
use crate::envelope::VerifiedEnvelope;
use crate::model::{Seq, TxRecord};
use crate::rejection::Rejection;
use crate::rules::{self, ApplyError, EntryContext, Outcome};
use crate::state::Overlay;
use crate::store::{Store, StoreError};
use crate::tx::Transaction;

/// A transaction that is in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Its entry.
    pub seq: Seq,
    /// The entry hash.
    pub entry_hash: Digest,
    /// The node's seal over the entry hash.
    pub seal: [u8; 64],
    /// The entry time.
    pub time_ms: u64,
    /// Whether this was a retry of a transaction committed before.
    pub duplicate: bool,
    /// For a retry: what has become since of the object the transaction was
    /// about ("pledge `PL-A` was released at entry 20").
    pub since: Option<String>,
}

/// The answer for one envelope of a group.
pub type SubmitResult = Result<Committed, Rejection>;

/// A store together with the node key that seals its entries.
#[derive(Debug)]
pub struct Ledger<S: Store> {
    store: S,
    node_key: SigningKey,
}

impl<S: Store> Ledger<S> {
    /// Wraps an open store.
    pub fn new(store: S, node_key: SigningKey) -> Ledger<S> {
        Ledger { store, node_key }
    }

    /// The store, for reads.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back (to close it).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The store, for maintenance.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The node's public key.
    pub fn node_public_key(&self) -> PublicKey {
        crypto::public_key(&self.node_key)
    }

    /// Signs a checkpoint of the whole chain as it stands, at `time_ms`.
    pub fn sign_checkpoint(&self, time_ms: u64) -> Result<SignedCheckpoint, CheckpointError> {
        let ledger_id = self.store.ledger_id()?.unwrap_or_default();
        let origin = ledger_origin(&ledger_id);
        Checkpoint::from_store(&self.store, self.store.len(), time_ms, &origin)?
            .sign(&self.node_key)
    }

    /// Sequences, seals and durably commits a group. Returns one result per
    /// envelope, in order; rejected envelopes leave no trace. On `Err` nothing
    /// of the group may be reported as committed.
    pub fn append_group(
        &mut self,
        envelopes: &[VerifiedEnvelope],
        now_ms: u64,
    ) -> Result<Vec<SubmitResult>, StoreError> {
        self.append(envelopes.iter().map(Cow::Borrowed), now_ms)
    }

    /// [`Ledger::append_group`] taking the envelopes by value, so that each
    /// applied envelope moves into its entry instead of being copied.
    pub fn append_owned(
        &mut self,
        envelopes: Vec<VerifiedEnvelope>,
        now_ms: u64,
    ) -> Result<Vec<SubmitResult>, StoreError> {
        self.append(envelopes.into_iter().map(Cow::Owned), now_ms)
    }

    fn append<'a>(
        &mut self,
        envelopes: impl ExactSizeIterator<Item = Cow<'a, VerifiedEnvelope>>,
        now_ms: u64,
    ) -> Result<Vec<SubmitResult>, StoreError> {
        let head = self.store.head();
        let time_ms = now_ms.max(head.head_time_ms);
        let mut overlay = Overlay::new(&self.store);
        let mut entries: Vec<Sealed> = Vec::with_capacity(envelopes.len());
        let mut results = Vec::with_capacity(envelopes.len());
        let mut prev_hash = head.head_hash;
        for envelope in envelopes {
            let ctx = EntryContext {
                seq: head.next_seq + entries.len() as u64,
                time_ms,
            };
            let result = match rules::apply(&overlay, &envelope, ctx) {
                Ok(Outcome::Applied(changes)) => {
                    overlay.push(changes);
                    let envelope = match envelope {
                        Cow::Owned(verified) => verified.envelope,
                        Cow::Borrowed(verified) => verified.envelope.clone(),
                    };
                    let sealed = Entry::seal_new_sealed(
                        ctx.seq,
                        prev_hash,
                        time_ms,
                        envelope,
                        &self.node_key,
                    );
                    prev_hash = sealed.hash;
                    let committed = committed(&sealed.entry, sealed.hash, false);
                    entries.push(sealed);
                    Ok(committed)
                }
                Ok(Outcome::Duplicate(record)) => {
                    let mut answer = original(&self.store, &entries, record)?;
                    answer.since = describe::since(&overlay, &envelope.tx.operation)?;
                    Ok(answer)
                }
                Err(ApplyError::Rejected(rejection)) => {
                    Err(explain(&self.store, &entries, *rejection)?)
                }
                Err(ApplyError::Store(error)) => return Err(error),
            };
            results.push(result);
        }
        let changes = overlay.into_pending();
        if !entries.is_empty() {
            self.store.commit(&entries, &changes)?;
        }
        Ok(results)
    }
}

/// Completes a refusal with what only the chain knows: for a reused
/// transaction id, what the entry that used it did.
fn explain<S: Store>(
    store: &S,
    group: &[Sealed],
    rejection: Rejection,
) -> Result<Rejection, StoreError> {
    let Rejection::TxIdReused { tx_id, seq, .. } = rejection else {
        return Ok(rejection);
    };
    let entry = match group.iter().find(|s| s.entry.seq == seq) {
        Some(sealed) => sealed.entry.clone(),
        None => store.entry(seq)?,
    };
    let earlier = Transaction::decode(&entry.envelope.tx_bytes)
        .ok()
        .map(|tx| describe::what_it_did(&tx.operation));
    Ok(Rejection::TxIdReused {
        tx_id,
        seq,
        earlier,
    })
}

/// The committed answer of an earlier entry (in the store or this group).
fn original<S: Store>(
    store: &S,
    group: &[Sealed],
    record: TxRecord,
) -> Result<Committed, StoreError> {
    if let Some(sealed) = group.iter().find(|s| s.entry.seq == record.seq) {
        return Ok(committed(&sealed.entry, sealed.hash, true));
    }
    let entry = store.entry(record.seq)?;
    Ok(committed(&entry, entry.hash(), true))
}

fn committed(entry: &Entry, entry_hash: Digest, duplicate: bool) -> Committed {
    Committed {
        seq: entry.seq,
        entry_hash,
        seal: entry.seal,
        time_ms: entry.time_ms,
        duplicate,
        since: None,
    }
}
