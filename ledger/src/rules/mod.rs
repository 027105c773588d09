//! The state machine: every rule of the ledger, and only here.
//!
//! [`apply`] takes the current state, a verified envelope and the entry's
//! context (its sequence number and time, both chosen by the sequencer and
//! recorded in the entry), and returns the objects to put, or a typed
//! [`Rejection`]. It does no I/O, reads no clock and draws no randomness, so
//! the node, the replay verifier and the tests all run the very same rules.
//!
//! ```text
//!  apply(state, envelope, ctx)
//!    ├─ placement: entry 0 is the genesis and nothing else is
//!    ├─ ledger id: the transaction names this ledger
//!    ├─ tx id: identical retry → Duplicate; reuse by another tx → rejected
//!    ├─ validity: the entry's time lies in the signed window, which is not
//!    │            longer than the genesis allows
//!    ├─ authority (authority.rs): who must sign, and did exactly they sign
//!    └─ the operation (participants.rs, stock.rs, custody.rs, receipts.rs,
//!                      pledges.rs, freeze.rs, membership.rs)
//! ```
//!
//! A refusal for a fraud-relevant reason is recorded on the chain as an
//! attempt entry: which refusals, and how replay checks one, is
//! `attempts.rs` ([`decide_attempt`], [`reapply_attempt`]).

mod attempts;
mod authority;
mod custody;
mod freeze;
mod membership;
mod participants;
mod pledges;
mod receipts;
mod stock;

pub use attempts::{
    AttemptDecision, AttemptFault, AttemptReplayError, FRAUD_RELEVANT_REASONS, decide_attempt,
    is_fraud_relevant, reapply_attempt,
};
pub use authority::required_parties;

use crate::envelope::VerifiedEnvelope;
use crate::model::{Participant, Pledge, Receipt, Role, Seq, Tank, TxRecord};
use crate::rejection::Rejection;
use crate::state::{Objects, StateError, StateRead};
use crate::tx::{Operation, Transaction};

/// What the sequencer decided for an entry: its position and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryContext {
    /// The entry's sequence number.
    pub seq: Seq,
    /// The entry's time, ms since the Unix epoch.
    pub time_ms: u64,
}

/// The result of applying an envelope that was not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per transaction and consumed at once; boxing the change set would add an allocation to the hot path"
)]
pub enum Outcome {
    /// The transaction is new: these objects are to be put.
    Applied(Objects),
    /// The identical transaction was applied before, at this entry; nothing
    /// changes and the caller answers with the original entry.
    Duplicate(TxRecord),
}

/// Why apply did not produce changes.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The rules refused the transaction (boxed: a refusal carries the ids
    /// and entries of the conflict, and is the cold path).
    #[error(transparent)]
    Rejected(Box<Rejection>),
    /// The state could not be read.
    #[error(transparent)]
    Store(#[from] StateError),
}

impl From<Rejection> for ApplyError {
    fn from(rejection: Rejection) -> Self {
        ApplyError::Rejected(Box::new(rejection))
    }
}

type RuleResult<T> = Result<T, ApplyError>;

/// Applies a verified envelope to `state` as entry `ctx`.
pub fn apply<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
    ctx: EntryContext,
) -> Result<Outcome, ApplyError> {
    let tx = &envelope.tx;
    check_placement(&tx.operation, ctx.seq)?;
    if !matches!(tx.operation, Operation::Genesis { .. }) {
        check_ledger_id(state, &tx.ledger_id)?;
    }
    if let Some(previous) = state.transaction(&tx.tx_id)? {
        return match previous.tx_hash == envelope.tx_hash {
            true => Ok(Outcome::Duplicate(previous)),
            false => Err(Rejection::TxIdReused {
                tx_id: tx.tx_id.clone(),
                seq: previous.seq,
                earlier: None,
            }
            .into()),
        };
    }
    check_validity(state, tx, ctx)?;
    authority::check_signatures(state, envelope)?;
    let mut changes = apply_operation(state, envelope, ctx)?;
    stamp(&mut changes, ctx);
    changes.transactions.insert(
        tx.tx_id.clone(),
        TxRecord {
            seq: ctx.seq,
            tx_hash: envelope.tx_hash,
        },
    );
    Ok(Outcome::Applied(changes))
}

/// Every receipt and tank the entry changed records it as its latest
/// entry; a receipt's history grows by the entry.
fn stamp(changes: &mut Objects, ctx: EntryContext) {
    for (id, receipt) in &mut changes.receipts {
        receipt.updated_at = ctx.seq;
        receipt.history_len += 1;
        changes.receipt_history.insert(id.clone(), vec![ctx.seq]);
    }
    for tank in changes.tanks.values_mut() {
        tank.updated_at = ctx.seq;
    }
}

fn apply_operation<S: StateRead + ?Sized>(
    state: &S,
    envelope: &VerifiedEnvelope,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    match &envelope.tx.operation {
        Operation::Genesis {
            participants,
            governance,
        } => participants::genesis(&envelope.tx.ledger_id, participants, governance),
        Operation::AdmitParticipant(spec) => participants::admit(state, spec, ctx),
        Operation::RotateKey {
            participant_id,
            new_key,
        }
        | Operation::RecoverKey {
            participant_id,
            new_key,
            ..
        } => participants::replace_key(state, participant_id, *new_key, ctx),
        Operation::RevokeParticipant {
            participant_id,
            successor_id,
            ..
        } => participants::revoke(state, participant_id, successor_id.as_deref(), ctx),
        Operation::RegisterTank(registration) => stock::register_tank(state, registration, ctx),
        Operation::CertifyStock(certification) => stock::certify(state, certification, ctx),
        Operation::RegaugeTank { tank_id, gauging } => stock::regauge(state, tank_id, gauging, ctx),
        Operation::AppointCustodian {
            tank_id,
            warehouse_id,
            gauging,
        } => custody::appoint(state, tank_id, warehouse_id, gauging, ctx),
        Operation::IssueReceipt(terms) => receipts::issue(state, terms, ctx),
        Operation::TransferReceipt {
            receipt_id,
            new_holder_id,
        } => receipts::transfer(state, receipt_id, new_holder_id, ctx),
        Operation::SplitReceipt { receipt_id, parts } => {
            receipts::split(state, receipt_id, parts, ctx)
        }
        Operation::CancelReceipt { receipt_id, .. } => receipts::cancel(state, receipt_id, ctx),
        Operation::RegisterPledge(terms) => pledges::register(state, terms, ctx),
        Operation::ReleasePledge { pledge_id } => pledges::release(state, pledge_id, ctx),
        Operation::EnforcePledge {
            pledge_id,
            transferee_id,
            grounds,
        } => pledges::enforce(state, pledge_id, transferee_id.as_deref(), grounds, ctx),
        Operation::FreezeReceipt {
            receipt_id,
            order_reference,
        } => {
            // The one signer authority.rs allows: the freezing regulator.
            let regulator = envelope.signers().next().unwrap_or_default();
            freeze::freeze(state, receipt_id, regulator, order_reference, ctx)
        }
        Operation::UnfreezeReceipt { receipt_id, .. } => freeze::unfreeze(state, receipt_id),
        Operation::ChangeMembership { members, .. } => membership::change(state, members, ctx),
    }
}

/// The entry's time must lie in the transaction's signed window, and the
/// window may be no longer than the genesis allows (for the genesis itself,
/// its own limit).
fn check_validity<S: StateRead + ?Sized>(
    state: &S,
    tx: &Transaction,
    ctx: EntryContext,
) -> RuleResult<()> {
    let max_ms = match &tx.operation {
        Operation::Genesis { governance, .. } => governance.max_validity_ms,
        _ => authority::governance(state)?.max_validity_ms,
    };
    let window = tx.validity;
    if window.length_ms() > max_ms {
        return Err(Rejection::ValidityTooLong {
            not_before_ms: window.not_before_ms,
            not_after_ms: window.not_after_ms,
            max_ms,
        }
        .into());
    }
    if ctx.time_ms < window.not_before_ms {
        return Err(Rejection::TxNotYetValid {
            not_before_ms: window.not_before_ms,
            entry_time_ms: ctx.time_ms,
        }
        .into());
    }
    if ctx.time_ms > window.not_after_ms {
        return Err(Rejection::TxExpired {
            not_after_ms: window.not_after_ms,
            entry_time_ms: ctx.time_ms,
        }
        .into());
    }
    Ok(())
}

fn check_placement(operation: &Operation, seq: Seq) -> RuleResult<()> {
    let is_genesis = matches!(operation, Operation::Genesis { .. });
    if is_genesis != (seq == 0) {
        return Err(Rejection::GenesisOutOfPlace { seq }.into());
    }
    Ok(())
}

fn check_ledger_id<S: StateRead + ?Sized>(state: &S, found: &str) -> RuleResult<()> {
    let expected = state.ledger_id()?.unwrap_or_default();
    if expected != found {
        return Err(Rejection::WrongLedger {
            expected,
            found: found.to_owned(),
        }
        .into());
    }
    Ok(())
}

fn load_participant<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<Participant> {
    state
        .participant(id)?
        .ok_or_else(|| Rejection::ParticipantNotFound { id: id.to_owned() }.into())
}

/// A participant that exists and is not revoked.
fn load_active<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<Participant> {
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

/// A participant that exists, is not revoked, and holds one of `roles`.
fn load_active_with_role<S: StateRead + ?Sized>(
    state: &S,
    id: &str,
    roles: &[Role],
) -> RuleResult<Participant> {
    let participant = load_active(state, id)?;
    if !roles.iter().any(|role| participant.has_role(*role)) {
        return Err(Rejection::MissingRole {
            participant: id.to_owned(),
            role: roles.first().copied().unwrap_or(Role::Holder),
        }
        .into());
    }
    Ok(participant)
}

fn load_tank<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<Tank> {
    state
        .tank(id)?
        .ok_or_else(|| Rejection::TankNotFound { id: id.to_owned() }.into())
}

fn load_receipt<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<Receipt> {
    state
        .receipt(id)?
        .ok_or_else(|| Rejection::ReceiptNotFound { id: id.to_owned() }.into())
}

fn load_pledge<S: StateRead + ?Sized>(state: &S, id: &str) -> RuleResult<Pledge> {
    state
        .pledge(id)?
        .ok_or_else(|| Rejection::PledgeNotFound { id: id.to_owned() }.into())
}

/// Two capacities of one operation that must be filled by different
/// participants (nobody attests its own claim).
fn require_distinct(first: (&str, &'static str), second: (&str, &'static str)) -> RuleResult<()> {
    if first.0 == second.0 {
        return Err(Rejection::PartiesNotDistinct {
            participant: first.0.to_owned(),
            first: first.1,
            second: second.1,
        }
        .into());
    }
    Ok(())
}

/// A time stated in a transaction that must not lie after the entry.
fn require_past(field: &'static str, value_ms: u64, ctx: EntryContext) -> RuleResult<()> {
    if value_ms > ctx.time_ms {
        return Err(Rejection::NotInPast {
            field,
            value_ms,
            now_ms: ctx.time_ms,
        }
        .into());
    }
    Ok(())
}

fn require_future(field: &'static str, value_ms: u64, ctx: EntryContext) -> RuleResult<()> {
    if value_ms <= ctx.time_ms {
        return Err(Rejection::NotInFuture {
            field,
            value_ms,
            now_ms: ctx.time_ms,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod format_doc;
