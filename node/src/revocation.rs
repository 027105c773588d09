//! Under mutual TLS, a participant revoked on the ledger loses its
//! connection's access: every request (reads included) from a connection
//! whose certificate names a revoked participant is refused with
//! PERMISSION_DENIED, reason `CONNECTION_REVOKED` (not the rules'
//! `PARTICIPANT_REVOKED`, a FAILED_PRECONDITION about a participant a
//! transaction names).
//!
//! ```text
//!   request ─▶ Revocations::check(certificate's participant)
//!                 known?  ── yes ─▶ revoked → refuse / live → pass
//!                 no      ─▶ read the participant once from the store, remember it
//!   heads (new entries) ─▶ follow(): every RevokeParticipant entry marks its
//!                          participant revoked
//! ```
//! The answers are remembered per participant id, so the hot path takes no
//! ledger lock; the follower reads each new entry once. A revocation takes
//! effect for connections as soon as the follower has seen its entry (the
//! rules already refuse the revoked participant's signatures from the entry
//! on). A certificate that names no participant (an auditor's tool) or a
//! participant not on the ledger is not affected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pledge_ledger::state::StateRead;
use pledge_ledger::tx::{Operation, Transaction};
use pledge_ledger::view::LedgerRead;
use tokio::sync::watch;
use tonic::{Code, Status};

use crate::NodePublished;
use crate::status;

/// The ErrorInfo reason of a request from a revoked participant's connection.
pub const CONNECTION_REVOKED: &str = "CONNECTION_REVOKED";

/// Which participants are revoked, as far as connections are concerned.
#[derive(Debug, Clone)]
pub struct Revocations {
    published: Arc<NodePublished>,
    /// Participant id → the entry that revoked it (`None`: live).
    known: Arc<Mutex<HashMap<String, Option<u64>>>>,
}

impl Revocations {
    /// Remembers nothing yet; answers from the `published` snapshot.
    pub fn new(published: Arc<NodePublished>) -> Revocations {
        Revocations {
            published,
            known: Arc::default(),
        }
    }

    /// Refuses a request over a connection whose client certificate names
    /// `participant` (`crate::tls::connection_participant`), if it is revoked.
    pub fn check(&self, participant: &str) -> Result<(), Status> {
        match self.revoked_at(participant)? {
            None => Ok(()),
            Some(seq) => Err(status::status(
                Code::PermissionDenied,
                format!(
                    "participant `{participant}` was revoked at entry {seq}: its certificate no longer gives access"
                ),
                CONNECTION_REVOKED,
                vec![
                    ("connection_participant".into(), participant.to_owned()),
                    ("revoked_at".into(), seq.to_string()),
                ],
            )),
        }
    }

    fn revoked_at(&self, participant: &str) -> Result<Option<u64>, Status> {
        if let Some(known) = self.remembered(participant) {
            return Ok(known);
        }
        let found = self
            .published
            .load()
            .participant(participant)
            .map_err(|e| status::store(&e))?;
        let revoked_at = found.and_then(|p| p.revoked_at);
        self.remember(participant, revoked_at);
        Ok(revoked_at)
    }

    fn remembered(&self, participant: &str) -> Option<Option<u64>> {
        self.known.lock().ok()?.get(participant).copied()
    }

    fn remember(&self, participant: &str, revoked_at: Option<u64>) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(participant.to_owned(), revoked_at);
        }
    }

    /// Follows the chain from `from`: every revocation committed marks its
    /// participant. Ends when the node stops.
    pub async fn follow(self, mut heads: watch::Receiver<u64>, from: u64) {
        let mut next = from;
        loop {
            let size = *heads.borrow_and_update();
            match self.scan(next, size) {
                Ok(scanned_to) => next = scanned_to,
                Err(error) => tracing::error!(%error, "reading entries for revocations failed"),
            }
            if heads.changed().await.is_err() {
                return;
            }
        }
    }

    /// Marks the revocations among entries `from..to` that the published
    /// snapshot holds; the entry it stopped before.
    fn scan(&self, from: u64, to: u64) -> Result<u64, pledge_ledger::StoreError> {
        let ledger = self.published.load();
        let end = to.min(ledger.len());
        for seq in from..end {
            let entry = ledger.entry(seq)?;
            if !entry.is_attempt()
                && let Ok(tx) = Transaction::decode(&entry.envelope.tx_bytes)
                && let Operation::RevokeParticipant { participant_id, .. } = tx.operation
            {
                self.remember(&participant_id, Some(seq));
            }
        }
        Ok(end.max(from))
    }
}
