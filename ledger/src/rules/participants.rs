//! Genesis, admission, keys and revocation of participants.
//!
//! Identity rules kept here: a legal identity belongs to one participant and
//! a public key to one participant, for ever (a retired key is not reused,
//! by its owner or anyone else). Governance rules: revoking a bank with
//! active pledges names a successor bank that takes them over; a revocation
//! may not leave the quorum unable to act.

use super::{
    EntryContext, RuleResult, load_active, load_active_with_role, load_pledge, load_receipt,
};
use crate::crypto::PublicKey;
use crate::model::{Governance, KeyOwner, Participant, ParticipantSpec, Receipt, Role, Succession};
use crate::rejection::Rejection;
use crate::state::ReceiptFilter;
use crate::state::{Objects, StateRead};

pub(super) fn genesis(
    ledger_id: &str,
    participants: &[ParticipantSpec],
    governance: &Governance,
) -> RuleResult<Objects> {
    let mut changes = Objects {
        ledger_id: Some(ledger_id.to_owned()),
        governance: Some(governance.clone()),
        ..Objects::default()
    };
    for spec in participants {
        record_admission(&mut changes, spec, 0);
    }
    Ok(changes)
}

pub(super) fn admit<S: StateRead + ?Sized>(
    state: &S,
    spec: &ParticipantSpec,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    if let Some(existing) = state.participant(&spec.id)? {
        return Err(Rejection::ParticipantExists {
            id: spec.id.clone(),
            admitted_at: existing.admitted_at,
        }
        .into());
    }
    if let Some(participant) = state.legal_id_owner(&spec.legal_id)? {
        return Err(Rejection::LegalIdInUse {
            legal_id: spec.legal_id.clone(),
            participant,
        }
        .into());
    }
    require_participant_key_free(state, &spec.public_key)?;
    let mut changes = Objects::default();
    record_admission(&mut changes, spec, ctx.seq);
    Ok(changes)
}

/// A rotation by the participant itself, or a recovery by the quorum: the
/// authority differs (authority.rs), the effect is the same.
pub(super) fn replace_key<S: StateRead + ?Sized>(
    state: &S,
    id: &str,
    new_key: PublicKey,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut participant = load_active(state, id)?;
    let old_key = participant.spec.public_key;
    if old_key == new_key {
        return Err(Rejection::SameKey { id: id.to_owned() }.into());
    }
    require_participant_key_free(state, &new_key)?;
    let mut changes = Objects::default();
    if let Some(mut old_owner) = state.key_owner(&old_key)? {
        old_owner.retired_at = Some(ctx.seq);
        changes.put_key_owner(old_key, old_owner);
    }
    changes.put_key_owner(new_key, key_owner(id, ctx.seq));
    participant.spec.public_key = new_key;
    participant.key_since = ctx.seq;
    changes.put_participant(participant);
    Ok(changes)
}

pub(super) fn revoke<S: StateRead + ?Sized>(
    state: &S,
    id: &str,
    successor_id: Option<&str>,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut participant = load_active(state, id)?;
    require_quorum_survives(state, id)?;
    let mut changes = Objects::default();
    let pledges = active_pledges_of(state, id)?;
    match successor_id {
        Some(successor) => {
            require_successor(state, &participant, successor)?;
            hand_over(state, &mut changes, pledges, id, successor, ctx)?;
        }
        None if !pledges.is_empty() => {
            return Err(Rejection::SuccessorRequired {
                participant: id.to_owned(),
                active_pledges: pledges.len() as u64,
                first_pledge: pledges[0].0.clone(),
            }
            .into());
        }
        None => {}
    }
    participant.revoked_at = Some(ctx.seq);
    participant.successor_id = successor_id.map(str::to_owned);
    changes.put_participant(participant);
    Ok(changes)
}

/// The pledges in force whose pledgee is `bank`, each with its receipt, in
/// receipt order.
fn active_pledges_of<S: StateRead + ?Sized>(
    state: &S,
    bank: &str,
) -> RuleResult<Vec<(String, Receipt)>> {
    let mut pledges = Vec::new();
    for receipt_id in state.receipt_ids(&ReceiptFilter::Pledgee(bank.to_owned()))? {
        let receipt = load_receipt(state, &receipt_id)?;
        if let Some(pledge_id) = receipt.active_pledge() {
            pledges.push((pledge_id.to_owned(), receipt));
        }
    }
    Ok(pledges)
}

/// A successor is a live bank other than the revoked one, and only a bank's
/// revocation has one.
fn require_successor<S: StateRead + ?Sized>(
    state: &S,
    revoked: &Participant,
    successor: &str,
) -> RuleResult<()> {
    if !revoked.has_role(Role::Bank) || successor == revoked.spec.id {
        return Err(Rejection::SuccessorNotApplicable {
            participant: revoked.spec.id.clone(),
            successor: successor.to_owned(),
        }
        .into());
    }
    load_active_with_role(state, successor, &[Role::Bank])?;
    Ok(())
}

/// Every pledge passes to the successor; its receipt is put too, unchanged,
/// so that the entry stamps it (`stamp`): the hand-over is in the receipt's
/// history (and its pledgee index moves).
fn hand_over<S: StateRead + ?Sized>(
    state: &S,
    changes: &mut Objects,
    pledges: Vec<(String, Receipt)>,
    from: &str,
    to: &str,
    ctx: EntryContext,
) -> RuleResult<()> {
    for (pledge_id, receipt) in pledges {
        let mut pledge = load_pledge(state, &pledge_id)?;
        pledge.successions.push(Succession {
            from: from.to_owned(),
            to: to.to_owned(),
            at: ctx.seq,
        });
        changes.put_pledge(pledge);
        changes.put_receipt(receipt);
    }
    Ok(())
}

/// A quorum member may be revoked only while enough live members remain to
/// form the quorum.
fn require_quorum_survives<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<()> {
    let governance = super::authority::governance(state)?;
    if !governance.quorum_members.iter().any(|m| m == id) {
        return Ok(());
    }
    let mut live = 0u32;
    for member in governance.quorum_members.iter().filter(|m| *m != id) {
        if state
            .participant(member)?
            .is_some_and(|p| p.revoked_at.is_none())
        {
            live += 1;
        }
    }
    if live < governance.quorum_threshold {
        return Err(Rejection::QuorumWouldBreak {
            member: id.to_owned(),
            live_members_after: live,
            threshold: governance.quorum_threshold,
        }
        .into());
    }
    Ok(())
}

/// A participant's new key is nobody's participant key, now or before, nor
/// the sealing key of a member of the membership in force (the reverse of
/// the membership rule: a party signature and a seal never share a key).
fn require_participant_key_free<S: StateRead + ?Sized>(
    state: &S,
    key: &PublicKey,
) -> RuleResult<()> {
    require_unused_key(state, key)?;
    let Some(membership) = state.membership()? else {
        return Ok(());
    };
    match membership.members.iter().find(|m| m.public_key == *key) {
        Some(member) => Err(Rejection::KeyOfMember {
            key: key.to_hex(),
            member_id: member.id,
            membership_since: membership.since,
        }
        .into()),
        None => Ok(()),
    }
}

pub(super) fn require_unused_key<S: StateRead + ?Sized>(
    state: &S,
    key: &PublicKey,
) -> RuleResult<()> {
    match state.key_owner(key)? {
        Some(owner) => Err(Rejection::KeyInUse {
            key: key.to_hex(),
            participant: owner.participant_id,
            since: owner.since,
        }
        .into()),
        None => Ok(()),
    }
}

fn record_admission(changes: &mut Objects, spec: &ParticipantSpec, seq: u64) {
    changes.put_key_owner(spec.public_key, key_owner(&spec.id, seq));
    changes.put_legal_id(spec.legal_id.clone(), &spec.id);
    changes.put_participant(Participant {
        spec: spec.clone(),
        admitted_at: seq,
        key_since: seq,
        revoked_at: None,
        successor_id: None,
    });
}

fn key_owner(id: &str, seq: u64) -> KeyOwner {
    KeyOwner {
        participant_id: id.to_owned(),
        since: seq,
        retired_at: None,
    }
}
