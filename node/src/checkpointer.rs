//! Signed checkpoints: while entries arrive, the node signs a checkpoint of
//! the whole chain at most once per interval (`checkpoint_interval_ms`, one
//! second by default), has its witnesses cosign it, and then publishes it to
//! `GetCheckpoint` and `ProveReceipt`.
//!
//! ```text
//!  head moved ─▶ sign (node key) ─▶ witnesses cosign (≤ witness_timeout_ms) ─▶ publish ─▶ sleep interval
//! ```
//! A checkpoint covers the entries whose state the state store has applied
//! (its `state-root` is the state map's root at that size, kept by the
//! store off the acknowledgement path); while the store is behind the head,
//! the next checkpoint follows one interval later without waiting for a new
//! entry. A new entry is therefore covered by a published checkpoint within
//! about one interval plus the witnesses' round trip. Every checkpoint is of
//! the same append-only chain, so any two it publishes are consistent.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use pledge_ledger::checkpoint::SignedCheckpoint;
use pledge_ledger::ledger::sign_checkpoint;
use pledge_ledger::merkle;
use pledge_ledger::view::LedgerRead;
use tokio::sync::watch;

use crate::NodePublished;
use crate::pipeline::now_ms;
use crate::witnesses::{Prover, Witnesses};

/// The latest published checkpoint, shared with the service.
pub type Latest = watch::Receiver<Option<Arc<SignedCheckpoint>>>;

/// Signs one checkpoint now, then one after each change of the head, at most
/// once per `interval`. Ends when the head channel closes.
pub async fn run(
    published: Arc<NodePublished>,
    node_key: SigningKey,
    mut heads: watch::Receiver<u64>,
    latest: watch::Sender<Option<Arc<SignedCheckpoint>>>,
    interval: Duration,
    witnesses: Option<Arc<Witnesses>>,
) {
    let prove = prover(published.clone());
    let mut signed_size = None;
    loop {
        let snapshot = published.load();
        let behind = snapshot.committed_size() < snapshot.len();
        // While the state store catches up, the covered size may not have
        // moved since the last round: a second checkpoint of it would only
        // cost the witnesses a round trip.
        if signed_size != Some(snapshot.committed_size()) {
            match sign_checkpoint(&*snapshot, &node_key, now_ms()) {
                Ok(mut checkpoint) => {
                    if let Some(witnesses) = &witnesses {
                        witnesses.cosign(&mut checkpoint, &prove).await;
                        report_quorum(witnesses, &checkpoint);
                    }
                    tracing::debug!(size = checkpoint.checkpoint.size, "checkpoint published");
                    let size = checkpoint.checkpoint.size;
                    signed_size = Some(size);
                    latest.send_replace(Some(Arc::new(checkpoint)));
                    published.map_floor().serve(size);
                }
                Err(error) => tracing::error!(%error, "could not sign a checkpoint"),
            }
        }
        drop(snapshot);
        if !behind && heads.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(interval).await;
        heads.borrow_and_update();
    }
}

/// Consistency proofs from the node's own tree, read from the published
/// snapshot (the tree only grows, so a proof between two sizes it has is
/// always available).
fn prover(published: Arc<NodePublished>) -> Prover {
    Arc::new(move |from, to| {
        let snapshot = published.load();
        Ok(merkle::consistency_proof(from, to, &*snapshot)?)
    })
}

fn report_quorum(witnesses: &Witnesses, checkpoint: &SignedCheckpoint) {
    match witnesses.policy().check(&checkpoint.note) {
        Ok(cosigners) => tracing::debug!(
            size = checkpoint.checkpoint.size,
            cosigners = ?cosigners.names(),
            "witness quorum met"
        ),
        Err(error) => tracing::warn!(
            size = checkpoint.checkpoint.size,
            "checkpoint published without a witness quorum: {error}"
        ),
    }
}
