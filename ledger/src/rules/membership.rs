//! The registry's members: who may seal entries (docs/FORMAT.md §3.1).
//!
//! A membership entry states the complete member list. Its keys are never
//! a participant's key (a seal and a party signature never share a key),
//! and, compared with the membership in force, at most one voter comes or
//! goes: every two consecutive majorities then overlap, so no two leaders
//! of two memberships can both commit. The first membership entry of a
//! ledger may name any members (it turns a single node into a cluster).

use std::collections::BTreeSet;

use super::{EntryContext, RuleResult, participants::require_unused_key};
use crate::model::{Member, Membership};
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};

pub(super) fn change<S: StateRead + ?Sized>(
    state: &S,
    members: &[Member],
    ctx: EntryContext,
) -> RuleResult<Objects> {
    for member in members {
        require_unused_key(state, &member.public_key)?;
    }
    if let Some(current) = state.membership()? {
        require_one_voter_change(&current, members)?;
    }
    Ok(Objects {
        membership: Some(Membership {
            members: members.to_vec(),
            since: ctx.seq,
        }),
        ..Objects::default()
    })
}

/// A voter is a member id with its key: changing a voter's key is removing
/// one voter and adding another.
fn require_one_voter_change(current: &Membership, members: &[Member]) -> RuleResult<()> {
    let voters = |list: &[Member]| -> BTreeSet<(u64, [u8; 32])> {
        list.iter()
            .filter(|m| m.voter)
            .map(|m| (m.id, m.public_key.0))
            .collect()
    };
    let before = voters(&current.members);
    let after = voters(members);
    let added: Vec<u64> = after.difference(&before).map(|(id, _)| *id).collect();
    let removed: Vec<u64> = before.difference(&after).map(|(id, _)| *id).collect();
    if added.len() + removed.len() > 1 {
        return Err(Rejection::MembershipChangeTooLarge {
            added,
            removed,
            since: current.since,
        }
        .into());
    }
    Ok(())
}
