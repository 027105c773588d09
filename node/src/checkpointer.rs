//! Signed checkpoints: while entries arrive, the node signs a checkpoint of
//! the whole chain at most once per interval (`checkpoint_interval_ms`, one
//! second by default), has its witnesses cosign it, and then publishes it to
//! `GetCheckpoint` and `ProveReceipt`.
//!
//! ```text
//!  head moved ─▶ sign (node key) ─▶ witnesses cosign (≤ witness_timeout_ms) ─▶ publish ─▶ sleep interval
//! ```
//! A new entry is therefore covered by a published checkpoint within about
//! one interval plus the witnesses' round trip. Every checkpoint is of the
//! same append-only chain, so any two it publishes are consistent.

use std::sync::Arc;
use std::time::Duration;

use pledge_ledger::checkpoint::SignedCheckpoint;
use pledge_ledger::merkle;
use tokio::sync::watch;

use crate::sequencer::{SharedLedger, now_ms};
use crate::witnesses::{Prover, Witnesses};

/// The latest published checkpoint, shared with the service.
pub type Latest = watch::Receiver<Option<Arc<SignedCheckpoint>>>;

/// Signs one checkpoint now, then one after each change of the head, at most
/// once per `interval`. Ends when the head channel closes.
pub async fn run(
    ledger: SharedLedger,
    mut heads: watch::Receiver<u64>,
    latest: watch::Sender<Option<Arc<SignedCheckpoint>>>,
    interval: Duration,
    witnesses: Option<Arc<Witnesses>>,
) {
    let prove = prover(ledger.clone());
    loop {
        match sign(&ledger) {
            Ok(mut checkpoint) => {
                if let Some(witnesses) = &witnesses {
                    witnesses.cosign(&mut checkpoint, &prove).await;
                    report_quorum(witnesses, &checkpoint);
                }
                tracing::debug!(size = checkpoint.checkpoint.size, "checkpoint published");
                latest.send_replace(Some(Arc::new(checkpoint)));
            }
            Err(error) => tracing::error!(%error, "could not sign a checkpoint"),
        }
        if heads.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(interval).await;
        heads.borrow_and_update();
    }
}

fn sign(ledger: &SharedLedger) -> anyhow::Result<SignedCheckpoint> {
    let ledger = read(ledger)?;
    Ok(ledger.sign_checkpoint(now_ms())?)
}

/// Consistency proofs from the node's own tree (it only grows, so a proof
/// between two sizes it has is always available).
fn prover(ledger: SharedLedger) -> Prover {
    Arc::new(move |from, to| {
        let ledger = read(&ledger)?;
        Ok(merkle::consistency_proof(from, to, ledger.store())?)
    })
}

fn read(
    ledger: &SharedLedger,
) -> anyhow::Result<
    std::sync::RwLockReadGuard<'_, pledge_ledger::ledger::Ledger<pledge_ledger::store::DiskStore>>,
> {
    ledger
        .read()
        .map_err(|_| anyhow::anyhow!("the ledger lock is poisoned"))
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
