//! Read options (`ReadOptions` in ledger_service.proto, docs/REPLICATION.md
//! §8): a read that must reflect at least entry N, or be linearizable,
//! waits (bounded) until this node has applied enough; every read answer
//! states, in the response metadata, the chain size it reflects.
//!
//! ```text
//!  read request ──ReadOptions──▶ linearizable? cluster: read index, applied up to it (cluster/reads.rs)
//!                                              single node: every acknowledged write is already published
//!                              ▶ at_least_seq? wait until the published chain holds that entry
//!                              ▶ read the published snapshot ──▶ answer + `pledge-chain-size`
//! ```

use std::time::Duration;

use pledge_proto::v1 as pb;
use tokio::sync::watch;
use tonic::metadata::MetadataValue;
use tonic::{Code, Response, Status};

use crate::cluster::ClusterHandle;
use crate::status;

/// The response metadata that states how many entries the chain an answer
/// reflects holds.
pub const CHAIN_SIZE_HEADER: &str = "pledge-chain-size";

/// What a read waits on.
#[derive(Debug, Clone, Copy)]
pub struct ReadGate<'a> {
    /// The published chain's size, moving as entries are applied.
    pub heads: &'a watch::Receiver<u64>,
    /// Cluster mode: where linearizable reads get their read index.
    pub cluster: Option<&'a ClusterHandle>,
    /// The node's longest read wait, ms (`[limits] read_wait_ms`).
    pub limit_ms: u64,
}

impl ReadGate<'_> {
    /// Returns once the published state meets `options`, or refuses.
    pub async fn meet(&self, options: Option<&pb::ReadOptions>) -> Result<(), Status> {
        let Some(options) = options else {
            return Ok(());
        };
        let wait = self.wait(options.wait_ms);
        let started = tokio::time::Instant::now();
        if options.linearizable
            && let Some(cluster) = self.cluster
        {
            cluster.linearizable(wait).await?;
        }
        let left = wait.saturating_sub(started.elapsed());
        self.holds_entry(options.at_least_seq, left).await
    }

    fn wait(&self, asked_ms: u32) -> Duration {
        let ms = match u64::from(asked_ms) {
            0 => self.limit_ms,
            asked => asked.min(self.limit_ms),
        };
        Duration::from_millis(ms)
    }

    async fn holds_entry(&self, seq: u64, within: Duration) -> Result<(), Status> {
        let size = seq.saturating_add(1);
        let mut heads = self.heads.clone();
        let waited = tokio::time::timeout(within, heads.wait_for(|have| *have >= size)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(status::status(
                Code::Unavailable,
                "the node is shutting down".into(),
                "SHUTTING_DOWN",
                Vec::new(),
            )),
            Err(_) => {
                let have = *self.heads.borrow();
                Err(not_caught_up(
                    format!(
                        "this node has not applied entry {seq} within {} ms (its chain holds \
                         {have} entries); retry, or read at another member",
                        within.as_millis()
                    ),
                    vec![
                        ("at_least_seq".into(), seq.to_string()),
                        ("chain_size".into(), have.to_string()),
                    ],
                ))
            }
        }
    }
}

/// UNAVAILABLE, reason NOT_CAUGHT_UP: a read's options were not met in time.
pub fn not_caught_up(message: String, metadata: Vec<(String, String)>) -> Status {
    status::status(Code::Unavailable, message, "NOT_CAUGHT_UP", metadata)
}

/// A read answer, stating the chain size it reflects.
pub fn stated<T>(answer: T, chain_size: u64) -> Response<T> {
    let mut response = Response::new(answer);
    response
        .metadata_mut()
        .insert(CHAIN_SIZE_HEADER, MetadataValue::from(chain_size));
    response
}
