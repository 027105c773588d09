//! The leader's membership reconciler (docs/REPLICATION.md §7.2, §7.3):
//! Raft's configuration follows the ledger's membership, never the
//! reverse.
//!
//! ```text
//!  every RECONCILE_EVERY, on the leader, the membership entry applied here vs Raft's configuration
//!    member the ledger lists, unknown to Raft      ─▶ raft.add_learner(id, address)   (it catches up: log or snapshot)
//!    the ledger's voters ≠ Raft's voters           ─▶ raft.change_membership(voters)  (joint consensus, then the new set)
//!    a Raft learner the ledger no longer lists     ─▶ raft.change_membership(RemoveNodes)
//! ```
//!
//! A membership entry changes at most one voter (docs/FORMAT.md §3.1), so
//! each step is one voter in or out. A leader that the ledger removed
//! takes itself out of Raft's voters the same way; once that commits,
//! the others elect a new leader.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::{ChangeMembers, Raft};
use pledge_cluster::types::{MemberId, MemberNode, TypeConfig};
use pledge_ledger::model::Membership;
use pledge_ledger::state::StateRead;

use crate::NodePublished;

/// How often the leader compares the two memberships.
const RECONCILE_EVERY: Duration = Duration::from_millis(300);

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
    let config = raft.metrics().borrow().membership_config.clone();
    let current = config.membership();
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
    if wanted != voters {
        tracing::info!(?wanted, ?voters, "changing Raft's voters to the ledger's");
        raft.change_membership(wanted, false).await?;
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
