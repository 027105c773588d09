//! Who must sign what: the one table of required parties, and the check that
//! an envelope is signed by exactly those parties with their current keys.
//!
//! | operation                         | required signers                          |
//! |-----------------------------------|-------------------------------------------|
//! | genesis                           | every admin it admits (with its key)      |
//! | admit / rotate key / revoke       | any admin                                 |
//! | register tank                     | the named warehouse                       |
//! | certify stock, issue receipt      | the tank's warehouse                      |
//! | transfer, split, cancel receipt   | the holder and the issuing warehouse      |
//! | register pledge                   | the holder and the pledgee bank           |
//! | release, enforce pledge           | the pledgee bank                          |
//! | freeze, unfreeze receipt          | any regulator                             |
//!
//! A signature counts only if its key is the signer's current key and the
//! signer is not revoked at this point of the chain. Every required party
//! must sign, and nobody else may: an extra signature is refused too.

use super::{RuleResult, load_pledge, load_receipt, load_tank};
use crate::crypto::PublicKey;
use crate::envelope::VerifiedEnvelope;
use crate::model::{ParticipantSpec, Role};
use crate::rejection::{Party, Rejection};
use crate::state::StateRead;
use crate::tx::Operation;

/// The parties whose signatures `operation` needs, in the current state.
pub fn required_parties<S: StateRead + ?Sized>(
    state: &S,
    operation: &Operation,
) -> RuleResult<Vec<Party>> {
    let parties = match operation {
        Operation::Genesis { participants } => admins(participants)
            .map(|p| party(&p.id, "admitted admin"))
            .collect(),
        Operation::AdmitParticipant(_)
        | Operation::RotateKey { .. }
        | Operation::RevokeParticipant { .. } => {
            vec![Party::AnyWithRole(Role::Admin)]
        }
        Operation::RegisterTank { warehouse_id, .. } => vec![party(warehouse_id, "warehouse")],
        Operation::CertifyStock { tank_id, .. } => {
            vec![party(&load_tank(state, tank_id)?.warehouse_id, "warehouse")]
        }
        Operation::IssueReceipt(terms) => vec![party(
            &load_tank(state, &terms.tank_id)?.warehouse_id,
            "warehouse",
        )],
        Operation::TransferReceipt { receipt_id, .. }
        | Operation::SplitReceipt { receipt_id, .. }
        | Operation::CancelReceipt { receipt_id, .. } => {
            let receipt = load_receipt(state, receipt_id)?;
            vec![
                party(&receipt.holder_id, "holder"),
                party(&receipt.warehouse_id, "warehouse"),
            ]
        }
        Operation::RegisterPledge(terms) => {
            let receipt = load_receipt(state, &terms.receipt_id)?;
            vec![
                party(&receipt.holder_id, "holder"),
                party(&terms.pledgee_id, "pledgee"),
            ]
        }
        Operation::ReleasePledge { pledge_id } | Operation::EnforcePledge { pledge_id, .. } => {
            vec![party(
                &load_pledge(state, pledge_id)?.terms.pledgee_id,
                "pledgee",
            )]
        }
        Operation::FreezeReceipt { .. } | Operation::UnfreezeReceipt { .. } => {
            vec![Party::AnyWithRole(Role::Regulator)]
        }
    };
    Ok(dedup(parties))
}

/// Checks that exactly the required parties signed, with current keys.
pub(super) fn check_signatures<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
) -> RuleResult<()> {
    let signers = match &envelope.tx.operation {
        Operation::Genesis { participants } => genesis_signers(participants, envelope)?,
        _ => current_signers(state, envelope)?,
    };
    let required = required_parties(state, &envelope.tx.operation)?;
    let mut unmatched: Vec<&Signer> = signers.iter().collect();
    for party in &required {
        let position = unmatched.iter().position(|s| s.satisfies(party));
        match position {
            Some(i) => {
                unmatched.remove(i);
            }
            None => {
                return Err(Rejection::MissingSignature {
                    party: party.clone(),
                }
                .into());
            }
        }
    }
    match unmatched.first() {
        Some(extra) => Err(Rejection::UnexpectedSigner {
            signer: extra.id.clone(),
            operation: envelope.tx.operation.name(),
        }
        .into()),
        None => Ok(()),
    }
}

/// A signer whose key has been checked, with the roles it holds.
#[derive(Debug)]
struct Signer {
    id: String,
    roles: Vec<Role>,
}

impl Signer {
    fn satisfies(&self, party: &Party) -> bool {
        match party {
            Party::Participant { id, .. } => *id == self.id,
            Party::AnyWithRole(role) => self.roles.contains(role),
        }
    }
}

fn current_signers<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
) -> RuleResult<Vec<Signer>> {
    let mut signers = Vec::with_capacity(envelope.envelope.signatures.len());
    for sig in &envelope.envelope.signatures {
        let participant =
            state
                .participant(&sig.signer)?
                .ok_or_else(|| Rejection::UnknownSigner {
                    signer: sig.signer.clone(),
                })?;
        if let Some(revoked_at) = participant.revoked_at {
            return Err(Rejection::SignerRevoked {
                signer: sig.signer.clone(),
                revoked_at,
            }
            .into());
        }
        check_key(
            &sig.signer,
            &participant.spec.public_key,
            &sig.public_key,
            participant.key_since,
        )?;
        signers.push(Signer {
            id: sig.signer.clone(),
            roles: participant.spec.roles.iter().copied().collect(),
        });
    }
    Ok(signers)
}

fn genesis_signers(
    admitted: &[ParticipantSpec],
    envelope: &VerifiedEnvelope,
) -> RuleResult<Vec<Signer>> {
    let mut signers = Vec::new();
    for sig in &envelope.envelope.signatures {
        let spec = admitted
            .iter()
            .find(|p| p.id == sig.signer)
            .ok_or_else(|| Rejection::UnknownSigner {
                signer: sig.signer.clone(),
            })?;
        check_key(&sig.signer, &spec.public_key, &sig.public_key, 0)?;
        signers.push(Signer {
            id: spec.id.clone(),
            roles: spec.roles.iter().copied().collect(),
        });
    }
    Ok(signers)
}

fn check_key(
    signer: &str,
    current: &PublicKey,
    used: &PublicKey,
    key_since: u64,
) -> RuleResult<()> {
    if current != used {
        return Err(Rejection::KeyNotCurrent {
            signer: signer.to_owned(),
            key_since,
        }
        .into());
    }
    Ok(())
}

fn admins(participants: &[ParticipantSpec]) -> impl Iterator<Item = &ParticipantSpec> {
    participants
        .iter()
        .filter(|p| p.roles.contains(&Role::Admin))
}

fn party(id: &str, capacity: &'static str) -> Party {
    Party::Participant {
        id: id.to_owned(),
        capacity,
    }
}

/// One participant in two capacities (a bank holding an enforced receipt)
/// signs once.
fn dedup(parties: Vec<Party>) -> Vec<Party> {
    let mut out: Vec<Party> = Vec::with_capacity(parties.len());
    for p in parties {
        let seen = out.iter().any(|q| match (q, &p) {
            (Party::Participant { id: a, .. }, Party::Participant { id: b, .. }) => a == b,
            _ => false,
        });
        if !seen {
            out.push(p);
        }
    }
    out
}
