//! Who must sign what: the one table of required parties, and the check that
//! an envelope is signed by exactly those parties with their current keys.
//!
//! | operation                       | required signers                                         |
//! |---------------------------------|----------------------------------------------------------|
//! | genesis                         | every quorum member it names (with the key it gives it)  |
//! | admit, recover key, revoke      | the quorum: k distinct quorum members                    |
//! | rotate key                      | the participant itself, with its current key             |
//! | register tank                   | the named warehouse and the calibrating inspector        |
//! | certify stock                   | the tank's warehouse, the inspector and the depositor    |
//! | re-gauge tank                   | the inspector                                            |
//! | appoint custodian               | the quorum, the successor warehouse and the inspector    |
//! | issue receipt                   | the tank's warehouse                                     |
//! | transfer, split, cancel receipt | the holder and the tank's warehouse                      |
//! | register pledge                 | the holder and the pledgee bank                          |
//! | release pledge                  | the pledgee (after a succession, the successor)          |
//! | enforce pledge                  | the pledgee; with ORDER grounds also any regulator, with HOLDER_CONSENT also the holder |
//! | freeze receipt                  | any regulator                                            |
//! | unfreeze receipt                | the regulator that froze it, or the quorum               |
//! | assess price                    | the named price reporter                                 |
//!
//! A signature counts only if its key is the signer's current key and the
//! signer is not revoked at this point of the chain. Every required party
//! must sign, and nobody else may: an extra signature is refused too. The
//! quorum is satisfied by at least k of its members' signatures (more members
//! may sign). A participant named in two capacities signs once.

use super::{RuleResult, load_participant, load_pledge, load_receipt, load_tank};
use crate::crypto::PublicKey;
use crate::envelope::VerifiedEnvelope;
use crate::model::{EnforcementGrounds, Governance, ParticipantSpec, Role, Seq, Tank};
use crate::rejection::{Party, Rejection};
use crate::state::StateRead;
use crate::tx::Operation;

/// The parties whose signatures `operation` needs, in the current state.
pub fn required_parties<S: StateRead + ?Sized>(
    state: &S,
    operation: &Operation,
) -> RuleResult<Vec<Party>> {
    let parties = match operation {
        Operation::Genesis { governance, .. } => governance
            .quorum_members
            .iter()
            .map(|id| party(id, "quorum member"))
            .collect(),
        Operation::AdmitParticipant(_)
        | Operation::RecoverKey { .. }
        | Operation::RevokeParticipant { .. }
        | Operation::ChangeMembership { .. } => vec![quorum(state)?],
        Operation::RotateKey { participant_id, .. } => vec![party(participant_id, "key owner")],
        Operation::RegisterTank(t) => vec![
            party(&t.warehouse_id, "warehouse"),
            party(&t.calibration.inspector, "calibrating inspector"),
        ],
        Operation::CertifyStock(c) => vec![
            party(&custodian(state, &c.tank_id)?, "warehouse"),
            party(&c.certificate.inspector, "inspector"),
            party(&c.depositor_id, "depositor"),
        ],
        Operation::RegaugeTank { gauging, .. } => vec![party(&gauging.inspector_id, "inspector")],
        Operation::AppointCustodian {
            warehouse_id,
            gauging,
            ..
        } => vec![
            party(warehouse_id, "successor custodian"),
            party(&gauging.inspector_id, "inspector"),
            quorum(state)?,
        ],
        Operation::IssueReceipt(terms) => {
            vec![party(&custodian(state, &terms.tank_id)?, "warehouse")]
        }
        Operation::TransferReceipt { receipt_id, .. }
        | Operation::SplitReceipt { receipt_id, .. }
        | Operation::CancelReceipt { receipt_id, .. } => {
            let receipt = load_receipt(state, receipt_id)?;
            let warehouse = custodian(state, &receipt.terms.tank_id)?;
            vec![
                party(&receipt.holder_id, "holder"),
                party(&warehouse, "warehouse"),
            ]
        }
        Operation::RegisterPledge(terms) => {
            let receipt = load_receipt(state, &terms.receipt_id)?;
            vec![
                party(&receipt.holder_id, "holder"),
                party(&terms.pledgee_id, "pledgee"),
            ]
        }
        Operation::ReleasePledge { pledge_id } => {
            vec![party(load_pledge(state, pledge_id)?.pledgee(), "pledgee")]
        }
        Operation::EnforcePledge {
            pledge_id, grounds, ..
        } => enforcers(state, pledge_id, grounds)?,
        Operation::FreezeReceipt { .. } => vec![Party::AnyWithRole(Role::Regulator)],
        Operation::AssessPrice(report) => vec![party(&report.reporter_id, "price reporter")],
        Operation::UnfreezeReceipt { receipt_id, .. } => {
            let receipt = load_receipt(state, receipt_id)?;
            let Some(freeze) = receipt.frozen else {
                return Err(Rejection::ReceiptNotFrozen {
                    receipt: receipt_id.clone(),
                }
                .into());
            };
            vec![Party::OneOf(vec![
                party(&freeze.regulator_id, "freezing regulator"),
                quorum(state)?,
            ])]
        }
    };
    Ok(dedup(parties))
}

/// The pledgee, and the co-signer its grounds call for.
fn enforcers<S: StateRead + ?Sized>(
    state: &S,
    pledge_id: &str,
    grounds: &EnforcementGrounds,
) -> RuleResult<Vec<Party>> {
    let pledge = load_pledge(state, pledge_id)?;
    let mut parties = vec![party(pledge.pledgee(), "pledgee")];
    match grounds {
        EnforcementGrounds::Maturity => {}
        EnforcementGrounds::Order { .. } => parties.push(Party::AnyWithRole(Role::Regulator)),
        EnforcementGrounds::HolderConsent => {
            let receipt = load_receipt(state, &pledge.terms.receipt_id)?;
            parties.push(party(&receipt.holder_id, "consenting holder"));
        }
    }
    Ok(parties)
}

/// The tank's warehouse, which must not be revoked: a revoked custodian's
/// tank waits for a successor.
fn custodian<S: StateRead + ?Sized>(state: &S, tank_id: &str) -> RuleResult<String> {
    let tank = load_tank(state, tank_id)?;
    require_custodian_active(state, &tank, None)?;
    Ok(tank.warehouse_id)
}

/// Refuses an operation on a tank (or a receipt on it) whose warehouse was
/// revoked and has no successor yet.
pub(super) fn require_custodian_active<S: StateRead + ?Sized>(
    state: &S,
    tank: &Tank,
    receipt: Option<&str>,
) -> RuleResult<()> {
    let warehouse = load_participant(state, &tank.warehouse_id)?;
    match warehouse.revoked_at {
        Some(revoked_at) => Err(Rejection::CustodianRevoked {
            receipt: receipt.map(Box::from),
            tank: tank.id.clone(),
            warehouse: tank.warehouse_id.clone(),
            revoked_at,
        }
        .into()),
        None => Ok(()),
    }
}

/// The quorum fixed in the genesis.
fn quorum<S: StateRead + ?Sized>(state: &S) -> RuleResult<Party> {
    let governance = governance(state)?;
    Ok(Party::Quorum {
        members: governance.quorum_members,
        threshold: governance.quorum_threshold,
    })
}

/// The governance; every ledger past its genesis has one.
pub(super) fn governance<S: StateRead + ?Sized>(state: &S) -> RuleResult<Governance> {
    state
        .governance()?
        .ok_or_else(|| Rejection::GenesisOutOfPlace { seq: 0 }.into())
}

/// Checks that exactly the required parties signed, with current keys.
pub(super) fn check_signatures<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
) -> RuleResult<()> {
    let signers = match &envelope.tx.operation {
        Operation::Genesis { participants, .. } => genesis_signers(participants, envelope)?,
        _ => current_signers(state, envelope)?,
    };
    let required = required_parties(state, &envelope.tx.operation)?;
    let mut unmatched: Vec<&Signer> = signers.iter().collect();
    for party in &required {
        if !take(party, &mut unmatched) {
            return Err(missing(party, &signers));
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

/// The refusal for a party that did not sign.
fn missing(party: &Party, signers: &[Signer]) -> super::ApplyError {
    match party {
        Party::Quorum { members, threshold } => Rejection::QuorumNotMet {
            threshold: *threshold,
            members: members.clone(),
            signed: signers
                .iter()
                .filter(|s| members.contains(&s.id))
                .map(|s| s.id.clone())
                .collect(),
        },
        party => Rejection::MissingSignature {
            party: party.clone(),
        },
    }
    .into()
}

/// Takes the signers that satisfy `party` out of `unmatched`; false (and
/// nothing taken) if they are not there.
fn take(party: &Party, unmatched: &mut Vec<&Signer>) -> bool {
    match party {
        Party::Participant { id, .. } => take_first(unmatched, |s| s.id == *id),
        Party::AnyWithRole(role) => take_first(unmatched, |s| s.roles.contains(role)),
        Party::Quorum { members, threshold } => {
            let signed = unmatched.iter().filter(|s| members.contains(&s.id)).count();
            if signed < *threshold as usize {
                return false;
            }
            unmatched.retain(|s| !members.contains(&s.id));
            true
        }
        Party::OneOf(alternatives) => alternatives.iter().any(|alternative| {
            let mut trial = unmatched.clone();
            let taken = take(alternative, &mut trial);
            if taken {
                *unmatched = trial;
            }
            taken
        }),
    }
}

fn take_first(unmatched: &mut Vec<&Signer>, fits: impl Fn(&Signer) -> bool) -> bool {
    match unmatched.iter().position(|s| fits(s)) {
        Some(i) => {
            unmatched.remove(i);
            true
        }
        None => false,
    }
}

/// A signer whose key has been checked, with the roles it holds.
#[derive(Debug)]
struct Signer {
    id: String,
    roles: Vec<Role>,
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
        if participant.spec.public_key != sig.public_key {
            return Err(
                wrong_key(state, &sig.signer, &sig.public_key, participant.key_since)?.into(),
            );
        }
        signers.push(Signer {
            id: sig.signer.clone(),
            roles: participant.spec.roles.iter().copied().collect(),
        });
    }
    Ok(signers)
}

/// Why a key that is not the signer's current key was refused: a key it
/// held once, or one that was never its own.
fn wrong_key<S: StateRead + ?Sized>(
    state: &S,
    signer: &str,
    used: &PublicKey,
    key_since: Seq,
) -> RuleResult<Rejection> {
    Ok(match state.key_owner(used)? {
        Some(owner) if owner.participant_id == signer => Rejection::KeyNotCurrent {
            signer: signer.to_owned(),
            key_since,
            retired_at: owner.retired_at.unwrap_or(key_since),
        },
        owner => Rejection::KeyNeverOwned {
            signer: signer.to_owned(),
            key: used.to_hex(),
            owner: owner.map(|o| o.participant_id),
        },
    })
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
        if spec.public_key != sig.public_key {
            let owner = admitted.iter().find(|p| p.public_key == sig.public_key);
            return Err(Rejection::KeyNeverOwned {
                signer: sig.signer.clone(),
                key: sig.public_key.to_hex(),
                owner: owner.map(|p| p.id.clone()),
            }
            .into());
        }
        signers.push(Signer {
            id: spec.id.clone(),
            roles: spec.roles.iter().copied().collect(),
        });
    }
    Ok(signers)
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
