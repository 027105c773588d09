//! The leader's membership reconciler (docs/REPLICATION.md §7.2, §7.3):
//! Raft's configuration follows the ledger's membership, never the
//! reverse.
//!
//! ```text
//!  every RECONCILE_EVERY, on the leader, the membership entry applied here vs Raft's configuration
//!    member the ledger lists, unknown to Raft      ─▶ raft.add_learner(id, address)   (it catches up: log or snapshot)
//!    the ledger's voters ≠ Raft's voters           ─▶ raft.change_membership(voters)  (joint consensus, then the new set)
//!      a voter to add that has not caught up       ─▶ left out until its matched index is within CAUGHT_UP_WITHIN
//!    a Raft learner the ledger no longer lists     ─▶ raft.change_membership(RemoveNodes)
//! ```
//!
//! The quorum signs the end state (`pledgectl cluster add` lists the new
//! member as a voter); the leader only chooses when Raft gets there, so it
//! never needs to write a membership entry of its own. A membership entry
//! changes at most one voter (docs/FORMAT.md §3.1), so each step is one
//! voter in or out. A leader that the ledger removed takes itself out of
//! Raft's voters the same way; once that commits, the others elect a new
//! leader.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::{ChangeMembers, Raft, RaftMetrics};
use pledge_cluster::types::{MemberId, MemberNode, TypeConfig};
use pledge_ledger::model::Membership;
use pledge_ledger::state::StateRead;

use crate::NodePublished;

/// How often the leader compares the two memberships.
const RECONCILE_EVERY: Duration = Duration::from_millis(300);

/// A member the ledger makes a voter becomes one in Raft once its matched
/// index is within this many entries of the leader's last.
const CAUGHT_UP_WITHIN: u64 = 100;

/// Runs for the life of the node.
pub async fn run(
    raft: Raft<TypeConfig>,
    me: MemberId,
    published: Arc<NodePublished>,
    dial: BTreeMap<MemberId, String>,
) {
    loop {
        tokio::time::sleep(RECONCILE_EVERY).await;
        if raft.metrics().borrow().current_leader != Some(me) {
            continue;
        }
        let Ok(Some(ledger)) = published.load().membership() else {
            continue;
        };
        if let Err(error) = step(&raft, &ledger, &dial).await {
            tracing::warn!(%error, "could not bring Raft's membership to the ledger's");
        }
    }
}

/// One change towards the ledger's membership, if any is needed.
async fn step(
    raft: &Raft<TypeConfig>,
    ledger: &Membership,
    dial: &BTreeMap<MemberId, String>,
) -> anyhow::Result<()> {
    let metrics = raft.metrics().borrow().clone();
    let current = metrics.membership_config.membership();
    if current.get_joint_config().len() > 1 {
        return Ok(()); // a change is under way
    }
    let known: BTreeSet<MemberId> = current.nodes().map(|(id, _)| *id).collect();
    let voters: BTreeSet<MemberId> = current.voter_ids().collect();
    if let Some(new) = ledger.members.iter().find(|m| !known.contains(&m.id)) {
        let address = dial.get(&new.id).cloned().unwrap_or(new.address.clone());
        tracing::info!(member = new.id, %address, "adding a learner the ledger lists");
        raft.add_learner(new.id, MemberNode { address }, false)
            .await?;
        return Ok(());
    }
    let wanted: BTreeSet<MemberId> = ledger
        .members
        .iter()
        .filter(|m| m.voter)
        .map(|m| m.id)
        .collect();
    let target = voters_now(&wanted, &voters, &metrics);
    if target != voters && !target.is_empty() {
        tracing::info!(
            ?wanted,
            ?voters,
            ?target,
            "changing Raft's voters to the ledger's"
        );
        raft.change_membership(target, false).await?;
        return Ok(());
    }
    let listed: BTreeSet<MemberId> = ledger.members.iter().map(|m| m.id).collect();
    let stray: BTreeSet<MemberId> = known.difference(&listed).copied().collect();
    if !stray.is_empty() {
        tracing::info!(?stray, "removing learners the ledger no longer lists");
        raft.change_membership(ChangeMembers::RemoveNodes(stray), false)
            .await?;
    }
    Ok(())
}

/// The voters Raft should have now: the ledger's voters, less those that
/// are not voters yet and have not caught up with the leader's log (a
/// voter that lags would hold back every commit it is needed for).
fn voters_now(
    wanted: &BTreeSet<MemberId>,
    voters: &BTreeSet<MemberId>,
    metrics: &RaftMetrics<MemberId, MemberNode>,
) -> BTreeSet<MemberId> {
    let last = metrics.last_log_index.unwrap_or(0);
    let matched = |id: &MemberId| -> Option<u64> {
        let replication = metrics.replication.as_ref()?;
        Some(replication.get(id)?.as_ref()?.index)
    };
    wanted
        .iter()
        .filter(|id| {
            if voters.contains(id) {
                return true;
            }
            let caught_up = matched(id).is_some_and(|index| index + CAUGHT_UP_WITHIN >= last);
            if !caught_up {
                tracing::debug!(member = **id, matched = ?matched(id), last, "a new voter is still catching up");
            }
            caught_up
        })
        .copied()
        .collect()
}
