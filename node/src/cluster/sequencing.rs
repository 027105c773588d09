//! The leader's sequencing step: submissions are decided in groups against
//! the applied state, proposed to Raft, and answered once the group is
//! committed on a majority and applied here.
//!
//! ```text
//!  handlers ──Sequencer──▶ [submissions] ──▶ this task
//!                                              │ drain ≤ max_group
//!                                              │ leader, and every entry of earlier terms applied?  else UNAVAILABLE
//!                                              │ Decider::decide(published snapshot, group, now)
//!                                              │ raft.client_write(Group)   majority fdatasync, commit, apply here
//!                                              ▼
//!                                   answer every submitter (or LEADERSHIP_LOST: the outcome is unknown)
//! ```
//!
//! One group is in flight at a time, so each decision sees every earlier
//! one applied: a receipt pledged in the previous group is refused in
//! this one. Submissions that arrive meanwhile wait in the queue and form
//! the next group.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use openraft::{Raft, RaftMetrics};
use pledge_cluster::types::{Group, MemberId, MemberNode, TypeConfig};
use pledge_ledger::ledger::{AttemptBudget, AttemptPolicy, Decider};
use pledge_ledger::merkle::Frontier;
use pledge_ledger::view::LedgerRead;
use tokio::sync::mpsc;

use crate::NodePublished;
use crate::pipeline::{Answer, SequencerError, Sizes, Submission, now_ms, refuse_replies};

/// Why this member cannot sequence now, from its Raft metrics; `None` when
/// it can. A leader that has not heard from a majority for
/// `quorum_stale_ms` is probably cut off: it refuses rather than propose a
/// group that cannot commit. A leader elected moments ago has heard from
/// none yet (openraft counts appends, not votes): it is not ready, not cut
/// off, until its first entry of the term commits and applies.
pub(super) fn not_ready(
    metrics: &RaftMetrics<MemberId, MemberNode>,
    me: MemberId,
    quorum_stale_ms: u64,
) -> Option<SequencerError> {
    if metrics.current_leader != Some(me) {
        return Some(SequencerError::Cluster {
            reason: "NOT_LEADER",
            message: "this member is no longer the leader; retry (the same envelope is safe)"
                .into(),
        });
    }
    if let Some(ms) = metrics
        .millis_since_quorum_ack
        .filter(|ms| *ms > quorum_stale_ms)
    {
        return Some(SequencerError::Cluster {
            reason: "NO_QUORUM",
            message: format!(
                "this member leads but has not heard from a majority of the members for {ms} ms: it may be cut off from them; retry at another member"
            ),
        });
    }
    let applied_term = metrics.last_applied.map(|id| id.leader_id.term);
    if applied_term != Some(metrics.current_term) || metrics.millis_since_quorum_ack.is_none() {
        return Some(SequencerError::Cluster {
            reason: "LEADER_NOT_READY",
            message:
                "the new leader is still committing and applying the entries of earlier terms; retry in a moment"
                    .into(),
        });
    }
    None
}

/// Runs until every sequencer handle is dropped.
pub async fn run(
    mut submissions: mpsc::Receiver<Submission>,
    raft: Raft<TypeConfig>,
    me: MemberId,
    published: Arc<NodePublished>,
    key: SigningKey,
    sizes: Sizes,
    quorum_stale_ms: u64,
) {
    let max_group = sizes.max_group;
    let mut budget = AttemptBudget::new(sizes.attempts);
    while let Some(first) = submissions.recv().await {
        let mut group = vec![first];
        while group.len() < max_group.max(1) {
            match submissions.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let refusal = not_ready(&raft.metrics().borrow(), me, quorum_stale_ms);
        if let Some(refusal) = refusal {
            refuse_replies(group.into_iter().map(|s| s.reply).collect(), &refusal);
            continue;
        }
        sequence(group, &raft, &published, &key, &mut budget).await;
    }
}

async fn sequence(
    group: Vec<Submission>,
    raft: &Raft<TypeConfig>,
    published: &NodePublished,
    key: &SigningKey,
    budget: &mut AttemptBudget,
) {
    let (envelopes, replies): (Vec<_>, Vec<_>) =
        group.into_iter().map(|s| (s.envelope, s.reply)).unzip();
    let snapshot = published.load();
    let head = snapshot.head();
    let decided = Frontier::load(head.next_seq, &*snapshot)
        .map_err(|e| e.to_string())
        .and_then(|frontier| {
            let mut decider = Decider::new(key.clone(), head, frontier).with_attempt_budget(
                std::mem::replace(budget, AttemptBudget::new(AttemptPolicy::OFF)),
            );
            let envelopes = envelopes.into_iter().map(std::borrow::Cow::Owned);
            let decided = decider.decide(&*snapshot, envelopes, now_ms());
            *budget = decider.into_attempt_budget();
            decided.map_err(|e| e.to_string())
        });
    let decided = match decided {
        Ok(decided) => decided,
        Err(reason) => {
            tracing::error!(%reason, "deciding failed");
            refuse_replies(replies, &SequencerError::Store { reason });
            return;
        }
    };
    if !decided.entries.is_empty() {
        let proposal = Group {
            first_seq: head.next_seq,
            entries: decided.entries,
        };
        if let Err(error) = raft.client_write(proposal).await {
            tracing::warn!(%error, "a proposed group was not confirmed");
            let lost = SequencerError::Cluster {
                reason: "LEADERSHIP_LOST",
                message: format!(
                    "leadership changed before the group was committed ({error}); the outcome is unknown: retry the same envelope, a committed one is answered with its entry"
                ),
            };
            refuse_replies(replies, &lost);
            return;
        }
    }
    let answers = decided.results.into_iter().zip(decided.attempts);
    for (reply, (result, attempt)) in replies.into_iter().zip(answers) {
        let _ = reply.send(Ok(Answer { result, attempt }));
    }
}
