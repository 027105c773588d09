//! Genesis, admission, key rotation and revocation of participants.

use super::{EntryContext, RuleResult, load_participant};
use crate::crypto::PublicKey;
use crate::model::{Participant, ParticipantSpec, Role};
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};

pub(super) fn genesis(ledger_id: &str, participants: &[ParticipantSpec]) -> RuleResult<Objects> {
    if !participants.iter().any(|p| p.roles.contains(&Role::Admin)) {
        return Err(Rejection::GenesisWithoutAdmin.into());
    }
    let mut changes = Objects {
        ledger_id: Some(ledger_id.to_owned()),
        ..Objects::default()
    };
    for spec in participants {
        changes.put_participant(admitted(spec, 0));
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
    let mut changes = Objects::default();
    changes.put_participant(admitted(spec, ctx.seq));
    Ok(changes)
}

pub(super) fn rotate_key<S: StateRead + ?Sized>(
    state: &S,
    id: &str,
    new_key: PublicKey,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut participant = active(state, id)?;
    if participant.spec.public_key == new_key {
        return Err(Rejection::SameKey { id: id.to_owned() }.into());
    }
    participant.spec.public_key = new_key;
    participant.key_since = ctx.seq;
    let mut changes = Objects::default();
    changes.put_participant(participant);
    Ok(changes)
}

pub(super) fn revoke<S: StateRead + ?Sized>(
    state: &S,
    id: &str,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    let mut participant = active(state, id)?;
    participant.revoked_at = Some(ctx.seq);
    let mut changes = Objects::default();
    changes.put_participant(participant);
    Ok(changes)
}

fn active<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<Participant> {
    let participant = load_participant(state, id)?;
    match participant.revoked_at {
        Some(revoked_at) => Err(Rejection::ParticipantRevoked {
            id: id.to_owned(),
            revoked_at,
        }
        .into()),
        None => Ok(participant),
    }
}

fn admitted(spec: &ParticipantSpec, seq: u64) -> Participant {
    Participant {
        spec: spec.clone(),
        admitted_at: seq,
        key_since: seq,
        revoked_at: None,
    }
}
