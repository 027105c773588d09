//! Typed refusals of the rules: what was refused, and what it conflicted with.
//!
//! A rejection is a decision about a well-formed, correctly signed envelope:
//! the same envelope against the same state is always refused the same way,
//! and nothing changes. Each variant carries the ids and entry numbers a bank
//! or an auditor needs to see the conflict (and, later, to report refused
//! attempts as fraud signals). [`Rejection::kind`] is the one place that says
//! which class of refusal each variant is; the node maps kinds to gRPC codes.

use serde::Serialize;
use thiserror::Error;

use crate::model::{CertificateRef, Role, Seq};

/// The class of a refusal, for mapping onto status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// The transaction is valid on its own but wrong for this ledger.
    InvalidArgument,
    /// A signer is unknown, revoked, or signed with a key that is not current.
    Unauthenticated,
    /// A required party did not sign, or a party signed that had no standing.
    PermissionDenied,
    /// The object to be created exists already (ids are never reused).
    AlreadyExists,
    /// An object the transaction refers to does not exist.
    NotFound,
    /// The objects are not in a state that allows the operation.
    FailedPrecondition,
}

/// Who has to sign, when a required signature is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Party {
    /// A specific participant, in the capacity named (e.g. "holder").
    Participant {
        /// Participant id.
        id: String,
        /// Capacity: "holder", "warehouse", "pledgee", "bank", "admitted admin".
        capacity: &'static str,
    },
    /// Any participant holding the role.
    AnyWithRole(Role),
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Party::Participant { id, capacity } => write!(f, "`{id}` as {capacity}"),
            Party::AnyWithRole(role) => write!(f, "any {role}"),
        }
    }
}

/// A refusal by the rules. Nothing was applied. Serializes (serde) to
/// `{"VariantName": {field: value, ...}}`, which the node turns into the
/// metadata of a gRPC `ErrorInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum Rejection {
    /// The transaction names another ledger.
    #[error("transaction is for ledger `{found}`, this is ledger `{expected}`")]
    WrongLedger {
        /// This ledger's id.
        expected: String,
        /// The id in the transaction.
        found: String,
    },
    /// A genesis anywhere but entry 0, or entry 0 that is not a genesis.
    #[error("entry {seq}: a genesis must be entry 0 and entry 0 must be a genesis")]
    GenesisOutOfPlace {
        /// Where it was offered.
        seq: Seq,
    },
    /// A genesis that admits no admin.
    #[error("genesis admits no admin")]
    GenesisWithoutAdmin,
    /// A different transaction already used this id.
    #[error("transaction id `{tx_id}` was already used by entry {seq} for a different transaction")]
    TxIdReused {
        /// The id.
        tx_id: String,
        /// The entry that used it.
        seq: Seq,
    },
    /// A signer is not a participant.
    #[error("signer `{signer}` is not an admitted participant")]
    UnknownSigner {
        /// The claimed id.
        signer: String,
    },
    /// A signer was revoked.
    #[error("signer `{signer}` was revoked at entry {revoked_at}")]
    SignerRevoked {
        /// The signer.
        signer: String,
        /// The revoking entry.
        revoked_at: Seq,
    },
    /// A signer used a key that is not its current key.
    #[error(
        "signer `{signer}` signed with a key that is not its current key (current since entry {key_since})"
    )]
    KeyNotCurrent {
        /// The signer.
        signer: String,
        /// Since when the current key is valid.
        key_since: Seq,
    },
    /// A required party did not sign.
    #[error("missing signature of {party}")]
    MissingSignature {
        /// Who had to sign.
        party: Party,
    },
    /// A participant signed who is not a party to this operation.
    #[error("`{signer}` signed but is not a party to this {operation}")]
    UnexpectedSigner {
        /// The extra signer.
        signer: String,
        /// The operation.
        operation: &'static str,
    },
    /// A participant lacks a role the operation requires of it.
    #[error("participant `{participant}` does not hold the {role} role")]
    MissingRole {
        /// The participant.
        participant: String,
        /// The role required.
        role: Role,
    },
    /// A participant with this id exists.
    #[error("participant `{id}` already exists (admitted at entry {admitted_at})")]
    ParticipantExists {
        /// The id.
        id: String,
        /// When it was admitted.
        admitted_at: Seq,
    },
    /// No such participant.
    #[error("participant `{id}` does not exist")]
    ParticipantNotFound {
        /// The id.
        id: String,
    },
    /// The participant is revoked.
    #[error("participant `{id}` was revoked at entry {revoked_at}")]
    ParticipantRevoked {
        /// The id.
        id: String,
        /// The revoking entry.
        revoked_at: Seq,
    },
    /// The new key is the key in use.
    #[error("participant `{id}` already uses this key")]
    SameKey {
        /// The id.
        id: String,
    },
    /// A tank with this id exists.
    #[error("tank `{id}` already exists (registered at entry {registered_at})")]
    TankExists {
        /// The id.
        id: String,
        /// When it was registered.
        registered_at: Seq,
    },
    /// No such tank.
    #[error("tank `{id}` does not exist")]
    TankNotFound {
        /// The id.
        id: String,
    },
    /// Certifying more stock than the tank holds.
    #[error(
        "tank `{tank}` holds at most {capacity_kg} kg; certified {certified_kg} kg, {requested_kg} kg more requested"
    )]
    CapacityExceeded {
        /// The tank.
        tank: String,
        /// Capacity.
        capacity_kg: u64,
        /// Already certified.
        certified_kg: u64,
        /// Requested.
        requested_kg: u64,
    },
    /// Receipts beyond the certified stock (the Qingdao fraud).
    #[error(
        "tank `{tank}` has {certified_kg} kg certified and {receipted_kg} kg already under live receipts; {requested_kg} kg more refused"
    )]
    StockExceeded {
        /// The tank.
        tank: String,
        /// Certified stock.
        certified_kg: u64,
        /// Under live receipts.
        receipted_kg: u64,
        /// Requested.
        requested_kg: u64,
    },
    /// The certificate is recorded already.
    #[error("{certificate} is already recorded (entry {certified_at})")]
    CertificateExists {
        /// Agency and number.
        certificate: CertificateRef,
        /// When it was recorded.
        certified_at: Seq,
    },
    /// No such certificate.
    #[error("{certificate} is not recorded")]
    CertificateNotFound {
        /// Agency and number.
        certificate: CertificateRef,
    },
    /// The certificate already backs a receipt.
    #[error("{certificate} already backs receipt `{receipt}`")]
    CertificateInUse {
        /// Agency and number.
        certificate: CertificateRef,
        /// The receipt it backs.
        receipt: String,
    },
    /// The certificate is for another tank.
    #[error("{certificate} is for tank `{certificate_tank}`, not `{tank}`")]
    CertificateTankMismatch {
        /// Agency and number.
        certificate: CertificateRef,
        /// Its tank.
        certificate_tank: String,
        /// The tank named.
        tank: String,
    },
    /// The receipt asks for more than the certificate gauged.
    #[error(
        "{certificate} certifies {certified_kg} kg; a receipt for {requested_kg} kg is refused"
    )]
    QuantityExceedsCertificate {
        /// Agency and number.
        certificate: CertificateRef,
        /// Gauged.
        certified_kg: u64,
        /// Requested.
        requested_kg: u64,
    },
    /// The receipt's product is not the tank's.
    #[error("tank `{tank}` holds {tank_product:?}, not {requested:?}")]
    ProductMismatch {
        /// The tank.
        tank: String,
        /// What it holds.
        tank_product: String,
        /// What was named.
        requested: String,
    },
    /// The receipt must go to the certificate's depositor.
    #[error("{certificate} certifies oil of `{depositor}`; the receipt cannot go to `{holder}`")]
    NotDepositor {
        /// Agency and number.
        certificate: CertificateRef,
        /// The depositor.
        depositor: String,
        /// The holder named.
        holder: String,
    },
    /// A receipt with this id exists or existed: ids are never reused.
    #[error("receipt id `{id}` is already used (entry {issued_at}); receipt ids are never reused")]
    ReceiptExists {
        /// The id.
        id: String,
        /// When it was issued.
        issued_at: Seq,
    },
    /// No such receipt.
    #[error("receipt `{id}` does not exist")]
    ReceiptNotFound {
        /// The id.
        id: String,
    },
    /// The receipt is under an active pledge.
    #[error(
        "receipt `{receipt}` is pledged to bank `{pledgee}` under pledge `{pledge}` since entry {since}"
    )]
    ReceiptPledged {
        /// The receipt.
        receipt: String,
        /// The active pledge.
        pledge: String,
        /// Its bank.
        pledgee: String,
        /// When it was registered.
        since: Seq,
    },
    /// The receipt is frozen.
    #[error(
        "receipt `{receipt}` is frozen by `{regulator}` under order {order_reference:?} since entry {since}"
    )]
    ReceiptFrozen {
        /// The receipt.
        receipt: String,
        /// Who froze it.
        regulator: String,
        /// The order.
        order_reference: String,
        /// When.
        since: Seq,
    },
    /// The receipt is cancelled or split.
    #[error("receipt `{receipt}` is {status} and can no longer change")]
    ReceiptNotLive {
        /// The receipt.
        receipt: String,
        /// "cancelled" or "split".
        status: &'static str,
    },
    /// The receipt has expired.
    #[error("receipt `{receipt}` expired at {expires_at_ms} ms (entry time {now_ms} ms)")]
    ReceiptExpired {
        /// The receipt.
        receipt: String,
        /// Its expiry.
        expires_at_ms: u64,
        /// The entry time.
        now_ms: u64,
    },
    /// Unfreezing a receipt that is not frozen.
    #[error("receipt `{receipt}` is not frozen")]
    ReceiptNotFrozen {
        /// The receipt.
        receipt: String,
    },
    /// Transfer to the current holder.
    #[error("`{holder}` already holds receipt `{receipt}`")]
    AlreadyHolder {
        /// The receipt.
        receipt: String,
        /// The holder.
        holder: String,
    },
    /// A split whose parts do not sum to the parent.
    #[error(
        "split parts of receipt `{receipt}` sum to {parts_kg} kg, the receipt is {receipt_kg} kg"
    )]
    SplitMismatch {
        /// The parent.
        receipt: String,
        /// Parent quantity.
        receipt_kg: u64,
        /// Sum of the parts.
        parts_kg: u64,
    },
    /// A time that must lie after the entry time does not.
    #[error("`{field}` ({value_ms} ms) must be after the entry time ({now_ms} ms)")]
    NotInFuture {
        /// The field.
        field: &'static str,
        /// Its value.
        value_ms: u64,
        /// The entry time.
        now_ms: u64,
    },
    /// Quantities on a tank would overflow 64 bits.
    #[error("quantities on tank `{tank}` would overflow")]
    QuantityOverflow {
        /// The tank.
        tank: String,
    },
    /// A pledge with this id exists.
    #[error("pledge id `{id}` is already used (entry {registered_at})")]
    PledgeExists {
        /// The id.
        id: String,
        /// When it was registered.
        registered_at: Seq,
    },
    /// No such pledge.
    #[error("pledge `{id}` does not exist")]
    PledgeNotFound {
        /// The id.
        id: String,
    },
    /// The pledge is released or enforced.
    #[error("pledge `{pledge}` is {status}, not active")]
    PledgeNotActive {
        /// The pledge.
        pledge: String,
        /// "released" or "enforced".
        status: &'static str,
    },
}

impl Rejection {
    /// The class of this refusal.
    pub fn kind(&self) -> RejectionKind {
        use Rejection::*;
        match self {
            WrongLedger { .. } | GenesisOutOfPlace { .. } | GenesisWithoutAdmin => {
                RejectionKind::InvalidArgument
            }
            UnknownSigner { .. } | SignerRevoked { .. } | KeyNotCurrent { .. } => {
                RejectionKind::Unauthenticated
            }
            MissingSignature { .. } | UnexpectedSigner { .. } | MissingRole { .. } => {
                RejectionKind::PermissionDenied
            }
            TxIdReused { .. }
            | ParticipantExists { .. }
            | TankExists { .. }
            | CertificateExists { .. }
            | ReceiptExists { .. }
            | PledgeExists { .. } => RejectionKind::AlreadyExists,
            ParticipantNotFound { .. }
            | TankNotFound { .. }
            | CertificateNotFound { .. }
            | ReceiptNotFound { .. }
            | PledgeNotFound { .. } => RejectionKind::NotFound,
            _ => RejectionKind::FailedPrecondition,
        }
    }

    /// The fields of the refusal as (name, value) text pairs, for
    /// machine-readable error details.
    pub fn fields(&self) -> Vec<(String, String)> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(tagged)) => tagged
                .values()
                .flat_map(|fields| flatten("", fields))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A stable machine-readable reason, e.g. `RECEIPT_PLEDGED`: the
    /// variant's name, as serde tags it.
    pub fn reason(&self) -> String {
        let variant = match serde_json::to_value(self) {
            Ok(serde_json::Value::String(unit)) => unit,
            Ok(serde_json::Value::Object(tagged)) => {
                tagged.keys().next().cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        screaming_snake(&variant)
    }
}

fn flatten(prefix: &str, value: &serde_json::Value) -> Vec<(String, String)> {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(key, inner)| {
                let name = match prefix.is_empty() {
                    true => key.clone(),
                    false => format!("{prefix}.{key}"),
                };
                flatten(&name, inner)
            })
            .collect(),
        serde_json::Value::String(text) => vec![(prefix.to_owned(), text.clone())],
        other => vec![(prefix.to_owned(), other.to_string())],
    }
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_the_variant_in_screaming_snake_case() {
        let r = Rejection::ReceiptPledged {
            receipt: "R".into(),
            pledge: "P".into(),
            pledgee: "B".into(),
            since: 3,
        };
        assert_eq!(r.reason(), "RECEIPT_PLEDGED");
        assert_eq!(
            Rejection::GenesisWithoutAdmin.reason(),
            "GENESIS_WITHOUT_ADMIN"
        );
    }

    #[test]
    fn double_pledge_message_names_the_rival() {
        let r = Rejection::ReceiptPledged {
            receipt: "R-1".into(),
            pledge: "P-A".into(),
            pledgee: "bank-a".into(),
            since: 42,
        };
        assert_eq!(
            r.to_string(),
            "receipt `R-1` is pledged to bank `bank-a` under pledge `P-A` since entry 42"
        );
        assert_eq!(r.kind(), RejectionKind::FailedPrecondition);
        let fields = r.fields();
        assert!(
            fields.contains(&("pledge".into(), "P-A".into())),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("since".into(), "42".into())),
            "{fields:?}"
        );
    }
}
