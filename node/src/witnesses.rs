//! Gathering witnesses' cosignatures (C2SP tlog-witness): each new checkpoint
//! goes to every witness of the node's policy that has a URL, with a
//! consistency proof from the size that witness last cosigned; the
//! cosignatures that come back are verified and added to the note.
//!
//! ```text
//!  checkpoint ─▶ for each witness, at once (bounded by a timeout):
//!                  POST <url>/add-checkpoint  "old <s>\n<proof>\n\n<note>"
//!                    200 ─▶ verify the cosignature, remember s := size
//!                    409 text/x.tlog.size ─▶ s := the witness's size, retry once
//!                    else ─▶ logged; the checkpoint goes out without it
//! ```
//! The node starts knowing nothing of the witnesses' state (s = 0) and
//! learns it from their 409 answers, as the protocol intends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::CONTENT_TYPE;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pledge_ledger::checkpoint::SignedCheckpoint;
use pledge_ledger::cosigning::add_checkpoint::{
    ADD_CHECKPOINT_PATH, AddCheckpoint, SIZE_CONTENT_TYPE, parse_cosignatures, parse_size,
};
use pledge_ledger::cosigning::{Witness, WitnessPolicy, cosignature};
use pledge_ledger::merkle::Hash;
use pledge_ledger::note::NoteSignature;
use tokio::task::JoinSet;

/// Largest answer read from a witness.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Computes the consistency proof between two sizes of the node's log.
pub type Prover = Arc<dyn Fn(u64, u64) -> anyhow::Result<Vec<Hash>> + Send + Sync>;

/// The witnesses the node submits to.
#[derive(Debug)]
pub struct Witnesses {
    policy: WitnessPolicy,
    targets: Vec<Arc<Target>>,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// One witness and what the node knows of its state.
#[derive(Debug)]
struct Target {
    witness: Witness,
    url: String,
    /// The size of the last checkpoint it cosigned for us (0: none known).
    cosigned_size: AtomicU64,
}

impl Witnesses {
    /// The witnesses of `policy` that have a URL. `https://` is refused:
    /// witnesses speak plain HTTP (everything exchanged is public and signed).
    pub fn new(policy: WitnessPolicy, timeout: Duration) -> anyhow::Result<Witnesses> {
        let mut targets = Vec::new();
        for entry in policy.witnesses() {
            let Some(url) = &entry.url else { continue };
            anyhow::ensure!(
                url.starts_with("http://"),
                "witness {}: the node submits over plain HTTP only (http://…); \
                 cosignatures are verified by their signatures, not by the transport",
                entry.witness.name
            );
            targets.push(Arc::new(Target {
                witness: entry.witness.clone(),
                url: url.clone(),
                cosigned_size: AtomicU64::new(0),
            }));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Witnesses {
            policy,
            targets,
            client,
            timeout,
        })
    }

    /// The policy the witnesses come from.
    pub fn policy(&self) -> &WitnessPolicy {
        &self.policy
    }

    /// Submits `checkpoint` to every witness at once and adds the
    /// cosignatures that verify; a witness that fails or is slower than the
    /// timeout is logged and left out.
    pub async fn cosign(&self, checkpoint: &mut SignedCheckpoint, prove: &Prover) {
        let mut calls = JoinSet::new();
        for target in &self.targets {
            let call = submit(
                target.clone(),
                self.client.clone(),
                checkpoint.clone(),
                prove.clone(),
            );
            let timeout = self.timeout;
            let name = target.witness.name.clone();
            calls.spawn(async move {
                tokio::time::timeout(timeout, call)
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {timeout:?}")))
                    .map_err(|error| (name, error))
            });
        }
        let mut lines = Vec::new();
        while let Some(joined) = calls.join_next().await {
            match joined {
                Ok(Ok(line)) => lines.push(line),
                Ok(Err((witness, error))) => {
                    tracing::warn!(%witness, size = checkpoint.checkpoint.size, "no cosignature: {error:#}")
                }
                Err(error) => tracing::error!(%error, "witness call panicked"),
            }
        }
        if let Err(error) = checkpoint.add_signatures(lines) {
            tracing::error!(%error, "could not add the cosignatures");
        }
    }
}

/// One witness: submit, learn its size from a 409 and retry once, verify.
async fn submit(
    target: Arc<Target>,
    client: Client<HttpConnector, Full<Bytes>>,
    checkpoint: SignedCheckpoint,
    prove: Prover,
) -> anyhow::Result<NoteSignature> {
    let size = checkpoint.checkpoint.size;
    let mut old = target.cosigned_size.load(Ordering::Relaxed);
    for _ in 0..2 {
        anyhow::ensure!(
            old <= size,
            "the witness has cosigned a checkpoint of size {old}, larger than ours ({size}): \
             it has seen another history of this ledger"
        );
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            prove(old, size)?
        };
        let request = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: checkpoint.to_text(),
        };
        let (status, content_type, body) = post(&client, &target.url, request.to_body()).await?;
        match status {
            200 => {
                let line = cosignature_of(&target.witness, &body, &checkpoint)?;
                target.cosigned_size.store(size, Ordering::Relaxed);
                return Ok(line);
            }
            409 if content_type == SIZE_CONTENT_TYPE => old = parse_size(&body)?,
            _ => anyhow::bail!("the witness answered {status}: {}", body.trim_end()),
        }
    }
    anyhow::bail!("the witness keeps answering with another latest size")
}

/// The witness's verified cosignature among the lines it answered.
fn cosignature_of(
    witness: &Witness,
    body: &str,
    checkpoint: &SignedCheckpoint,
) -> anyhow::Result<NoteSignature> {
    let id = witness.key_id();
    let line = parse_cosignatures(body)?
        .into_iter()
        .find(|line| line.is_by(&witness.name, &id))
        .ok_or_else(|| anyhow::anyhow!("the answer holds no cosignature by this witness's key"))?;
    cosignature::verify(&line, checkpoint.note.text(), witness)?;
    Ok(line)
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    body: String,
) -> anyhow::Result<(u16, String, String)> {
    let request = hyper::Request::post(format!("{url}{ADD_CHECKPOINT_PATH}"))
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))?;
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
        .to_bytes();
    Ok((
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}
