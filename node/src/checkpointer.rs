//! Signed checkpoints: while entries arrive, the node signs a new checkpoint
//! of the whole chain at most once per interval (one second by default), and
//! publishes it to `GetCheckpoint` and `ProveReceipt`. Every checkpoint is of
//! the same append-only chain, so any two it publishes are consistent.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use pledge_ledger::checkpoint::SignedCheckpoint;
use pledge_ledger::ledger::sign_checkpoint;
use tokio::sync::watch;

use crate::NodePublished;
use crate::pipeline::now_ms;

/// The latest checkpoint, shared with the service.
pub type Latest = watch::Receiver<Option<Arc<SignedCheckpoint>>>;

/// Signs one checkpoint now, then one after each change of the head, at most
/// once per `interval`. Ends when the head channel closes.
pub async fn run(
    published: Arc<NodePublished>,
    node_key: SigningKey,
    mut heads: watch::Receiver<u64>,
    latest: watch::Sender<Option<Arc<SignedCheckpoint>>>,
    interval: Duration,
) {
    loop {
        match sign_checkpoint(&*published.load(), &node_key, now_ms()) {
            Ok(checkpoint) => {
                tracing::debug!(size = checkpoint.checkpoint.size, "checkpoint signed");
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
