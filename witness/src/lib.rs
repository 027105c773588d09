//! `pledge-witness`: a C2SP tlog-witness for the oil receipt-pledge ledger,
//! run by a bank or the regulator with its own key.
//!
//! It follows one or more ledgers (by checkpoint origin and the node keys it
//! accepts). The node POSTs each new checkpoint with a consistency proof from
//! the last one this witness cosigned; the witness cosigns it only if the
//! ledger has only grown, and remembers it durably before answering. A
//! rewritten history or a second view of the same size is refused, and the
//! refused request is kept as evidence. Verifiers then accept a checkpoint
//! only with cosignatures from a quorum of the witnesses they trust (see
//! `pledge_ledger::cosigning`).
//!
//! ```text
//!  POST /add-checkpoint ─▶ http ─▶ WitnessService::add_checkpoint(body, now)
//!                                    │ decide (pure): parse, log signature, sizes, consistency
//!                                    │ WitnessStore: latest := checkpoint (fsync) | keep evidence
//!                                    ▼
//!                                  200 "— <name> <cosignature>\n" | 400/403/404/409/422
//! ```
//!
//! ```
//! use std::collections::BTreeMap;
//! use ed25519_dalek::SigningKey;
//! use pledge_ledger::checkpoint::Checkpoint;
//! use pledge_ledger::cosigning::add_checkpoint::AddCheckpoint;
//! use pledge_ledger::{crypto, merkle};
//! use pledge_witness::{WitnessService, store::WitnessStore};
//!
//! let node = SigningKey::from_bytes(&[1; 32]);
//! let logs = BTreeMap::from([("pledgeledger/demo".to_owned(), vec![crypto::public_key(&node)])]);
//! let dir = tempfile::tempdir().unwrap();
//! let store = WitnessStore::open(dir.path(), &logs).unwrap();
//! let witness = WitnessService::new("witness.example/w1", SigningKey::from_bytes(&[2; 32]), logs, store).unwrap();
//!
//! let empty = Checkpoint { origin: "pledgeledger/demo".into(), size: 0, root: merkle::EMPTY_ROOT,
//!                          head_hash: crypto::Digest::ZERO, state_root: [0; 32], time_ms: 1 };
//! let request = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: empty.sign(&node).unwrap().to_text() };
//! let answer = witness.add_checkpoint(&request.to_body(), 1_700_000_000_000);
//! assert_eq!(answer.status, 200);
//! assert!(answer.body.starts_with("— witness.example/w1 "));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod decide;
pub mod http;
pub mod store;

use std::sync::{Mutex, PoisonError};

use ed25519_dalek::SigningKey;
use pledge_ledger::cosigning::add_checkpoint::{SIZE_CONTENT_TYPE, cosignatures_body};
use pledge_ledger::cosigning::{CosignatureError, Witness, cosign};
use pledge_ledger::crypto;

use crate::decide::{Logs, Refusal, decide};
use crate::store::WitnessStore;

/// A witness: its identity, the logs it follows, its durable memory.
#[derive(Debug)]
pub struct WitnessService {
    identity: Witness,
    key: SigningKey,
    logs: Logs,
    /// One request at a time: the check against the latest checkpoint and
    /// its replacement are one atomic step (C2SP tlog-witness requires it).
    store: Mutex<WitnessStore>,
}

/// An HTTP answer, independent of the HTTP library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The content type of `body`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Answer {
    fn text(status: u16, body: String) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

impl WitnessService {
    /// A witness named `name` (its C2SP key name) signing with `key`.
    pub fn new(
        name: &str,
        key: SigningKey,
        logs: Logs,
        store: WitnessStore,
    ) -> Result<WitnessService, CosignatureError> {
        Ok(WitnessService {
            identity: Witness::new(name, crypto::public_key(&key))?,
            key,
            logs,
            store: Mutex::new(store),
        })
    }

    /// The witness's name and public key.
    pub fn identity(&self) -> &Witness {
        &self.identity
    }

    /// Handles one `add-checkpoint` body at `now_ms` (the witness's clock).
    pub fn add_checkpoint(&self, body: &str, now_ms: u64) -> Answer {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let decided = decide(body, &self.logs, |origin| {
            store.latest(origin).map(|c| c.checkpoint.clone())
        });
        match decided {
            Ok(checkpoint) => {
                let line = match cosign(
                    checkpoint.note.text(),
                    &self.identity.name,
                    &self.key,
                    now_ms / 1000,
                ) {
                    Ok(line) => line,
                    Err(error) => return Answer::text(500, format!("{error}\n")),
                };
                let size = checkpoint.checkpoint.size;
                if let Err(error) = store.set_latest(checkpoint) {
                    tracing::error!(%error, "could not record the cosigned checkpoint");
                    return Answer::text(500, "could not record the checkpoint\n".to_owned());
                }
                tracing::info!(size, "cosigned");
                Answer {
                    status: 200,
                    content_type: "text/plain; charset=utf-8",
                    body: cosignatures_body(&[line]),
                }
            }
            Err(refusal) => self.refuse(&mut store, body, &refusal, now_ms),
        }
    }

    fn refuse(
        &self,
        store: &mut WitnessStore,
        body: &str,
        refusal: &Refusal,
        now_ms: u64,
    ) -> Answer {
        if refusal.is_evidence() {
            let origin = body
                .split_once("\n\n")
                .and_then(|(_, note)| note.split('\n').next())
                .unwrap_or_default()
                .to_owned();
            let latest = store.latest(&origin).cloned();
            match store.keep_evidence(body, refusal, latest.as_ref(), now_ms) {
                Ok(path) => {
                    tracing::warn!(%refusal, evidence = %path.display(), "refused a contradicting checkpoint")
                }
                Err(error) => tracing::error!(%refusal, %error, "could not keep the evidence"),
            }
        } else {
            tracing::info!(%refusal, "refused");
        }
        match refusal {
            Refusal::StaleOldSize { latest, .. } => Answer {
                status: 409,
                content_type: SIZE_CONTENT_TYPE,
                body: format!("{latest}\n"),
            },
            other => Answer::text(other.status(), format!("{other}\n")),
        }
    }
}
