//! Typed refusals of the rules: what was refused, and what it conflicted with.
//!
//! A rejection is a decision about a well-formed, correctly signed envelope:
//! the same envelope against the same state is always refused the same way,
//! and nothing changes. Each variant carries the ids and entry numbers a bank
//! or an auditor needs to see the conflict.
//!
//! Three things about a refusal are API, declared here once each:
//! - [`Rejection::reason`]: its stable reason code (`RECEIPT_PLEDGED`),
//!   written out per variant, never derived from a Rust name;
//! - [`Rejection::kind`]: its class, which the node maps to a gRPC code;
//! - [`Rejection::fields`]: its metadata, snake_case keys (the variant's
//!   field names; nested values joined with `_`, e.g. `certificate_inspector`,
//!   `party_id`), values as text, absent optional fields left out.
//!
//! Messages name times in RFC 3339 UTC; the metadata keeps milliseconds.

mod metadata;
mod party;

use serde::Serialize;
use thiserror::Error;

pub use party::{Party, ReceiptState};

use crate::identity::{LegalId, PhysicalTankId};
use crate::model::{CertificateRef, Role, Seq};
use crate::timestamp::rfc3339;

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

/// A refusal by the rules. Nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum Rejection {
    // ----- the transaction as a whole -----
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
    /// A different transaction already used this id.
    #[error(
        "transaction id `{tx_id}` was already used by entry {seq}{}",
        .earlier.as_ref().map(|e| format!(", which {e}")).unwrap_or_default()
    )]
    TxIdReused {
        /// The id.
        tx_id: String,
        /// The entry that used it.
        seq: Seq,
        /// What that entry did ("registered pledge PL-A of WR-7 to bank-b"),
        /// filled in by the ledger, which reads the entry.
        #[serde(skip_serializing_if = "Option::is_none")]
        earlier: Option<String>,
    },
    /// The entry's time is before the transaction's validity window.
    #[error(
        "the transaction is valid only from {} (entry time {})",
        rfc3339(*.not_before_ms), rfc3339(*.entry_time_ms)
    )]
    TxNotYetValid {
        /// The window's start, ms.
        not_before_ms: u64,
        /// The entry's time, ms.
        entry_time_ms: u64,
    },
    /// The entry's time is after the transaction's validity window.
    #[error(
        "the transaction expired at {} (entry time {}): draft and sign it again",
        rfc3339(*.not_after_ms), rfc3339(*.entry_time_ms)
    )]
    TxExpired {
        /// The window's end, ms.
        not_after_ms: u64,
        /// The entry's time, ms.
        entry_time_ms: u64,
    },
    /// The validity window is longer than the genesis allows.
    #[error(
        "the validity window {} – {} is longer than this ledger allows ({} days)",
        rfc3339(*.not_before_ms), rfc3339(*.not_after_ms), .max_ms / 86_400_000
    )]
    ValidityTooLong {
        /// The window's start, ms.
        not_before_ms: u64,
        /// The window's end, ms.
        not_after_ms: u64,
        /// The longest window allowed, ms.
        max_ms: u64,
    },

    // ----- signers -----
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
    /// A signer used a key it held once but that was replaced.
    #[error(
        "signer `{signer}` signed with its old key, replaced at entry {retired_at}; its current key is valid since entry {key_since}"
    )]
    KeyNotCurrent {
        /// The signer.
        signer: String,
        /// Since when the current key is valid.
        key_since: Seq,
        /// The entry that retired the key used.
        retired_at: Seq,
    },
    /// A signer used a key that was never its own.
    #[error(
        "the key {key} was never `{signer}`'s key ({})",
        .owner.as_ref().map(|o| format!("it is `{o}`'s")).unwrap_or_else(|| "no participant holds it".into())
    )]
    KeyNeverOwned {
        /// The signer claimed.
        signer: String,
        /// The key used, hex.
        key: String,
        /// Whose key it is, if anyone's.
        #[serde(skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    /// A required party did not sign.
    #[error("missing signature of {party}")]
    MissingSignature {
        /// Who had to sign.
        party: Party,
    },
    /// Fewer quorum members signed than the genesis requires.
    #[error(
        "{threshold} of the quorum members {{{}}} must sign; signed: {{{}}}",
        .members.join(", "), .signed.join(", ")
    )]
    QuorumNotMet {
        /// Signatures required.
        threshold: u32,
        /// The members.
        members: Vec<String>,
        /// The members that signed.
        signed: Vec<String>,
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
    /// One participant named in two capacities that must be independent.
    #[error(
        "`{participant}` cannot be both the {first} and the {second}: each must be a different participant"
    )]
    PartiesNotDistinct {
        /// The participant.
        participant: String,
        /// One capacity.
        first: &'static str,
        /// The other.
        second: &'static str,
    },

    // ----- participants -----
    /// A participant with this id exists.
    #[error("participant `{id}` already exists (admitted at entry {admitted_at})")]
    ParticipantExists {
        /// The id.
        #[serde(rename = "participant")]
        id: String,
        /// When it was admitted.
        admitted_at: Seq,
    },
    /// Another participant has this legal identity.
    #[error("{legal_id} is already the legal identity of participant `{participant}`")]
    LegalIdInUse {
        /// The legal identity.
        #[serde(serialize_with = "metadata::legal_id")]
        legal_id: LegalId,
        /// Its participant.
        participant: String,
    },
    /// The key is (or was) a participant's key.
    #[error(
        "the key {key} belongs to participant `{participant}` (since entry {since}); a key belongs to one participant, for ever"
    )]
    KeyInUse {
        /// The key, hex.
        key: String,
        /// Whose it is or was.
        participant: String,
        /// Since when.
        since: Seq,
    },
    /// The key is a sealing key of a member of the registry's membership in
    /// force.
    #[error(
        "the key {key} is the sealing key of member {member_id} (membership of entry {membership_since}); a party signature and a seal never share a key"
    )]
    KeyOfMember {
        /// The key, hex.
        key: String,
        /// The member whose sealing key it is.
        member_id: u64,
        /// The membership entry in force.
        membership_since: Seq,
    },
    /// No such participant.
    #[error("participant `{id}` does not exist")]
    ParticipantNotFound {
        /// The id.
        #[serde(rename = "participant")]
        id: String,
    },
    /// The participant is revoked.
    #[error("participant `{id}` was revoked at entry {revoked_at}")]
    ParticipantRevoked {
        /// The id.
        #[serde(rename = "participant")]
        id: String,
        /// The revoking entry.
        revoked_at: Seq,
    },
    /// The new key is the key in use.
    #[error("participant `{id}` already uses this key")]
    SameKey {
        /// The id.
        #[serde(rename = "participant")]
        id: String,
    },
    /// A bank with active pledges revoked without a successor.
    #[error(
        "bank `{participant}` has {active_pledges} active pledge(s) (e.g. `{first_pledge}`): name a successor bank to take them over"
    )]
    SuccessorRequired {
        /// The bank.
        participant: String,
        /// How many pledges it holds.
        active_pledges: u64,
        /// One of them.
        first_pledge: String,
    },
    /// A successor named where none can take over.
    #[error(
        "`{successor}` cannot succeed `{participant}`: only a bank's revocation names a successor, which must be another bank"
    )]
    SuccessorNotApplicable {
        /// The participant revoked.
        participant: String,
        /// The successor named.
        successor: String,
    },
    /// Revoking a quorum member would leave too few to govern.
    #[error(
        "revoking quorum member `{member}` would leave {live_members_after} live member(s), fewer than the {threshold} a quorum needs"
    )]
    QuorumWouldBreak {
        /// The member.
        member: String,
        /// Live members left.
        live_members_after: u32,
        /// The threshold.
        threshold: u32,
    },

    // ----- tanks and stock -----
    /// A tank with this id exists.
    #[error("tank `{id}` already exists (registered at entry {registered_at})")]
    TankExists {
        /// The id.
        #[serde(rename = "tank")]
        id: String,
        /// When it was registered.
        registered_at: Seq,
    },
    /// The physical tank is registered already, by this or another warehouse.
    #[error(
        "{physical_id} is already registered as tank `{tank}` of warehouse `{warehouse}` (entry {registered_at})"
    )]
    PhysicalTankRegistered {
        /// The physical identity.
        physical_id: PhysicalTankId,
        /// The tank registered with it.
        tank: String,
        /// Its warehouse.
        warehouse: String,
        /// When.
        registered_at: Seq,
    },
    /// No such tank.
    #[error("tank `{id}` does not exist")]
    TankNotFound {
        /// The id.
        #[serde(rename = "tank")]
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
    /// A gauging that measures more than the tank can hold.
    #[error(
        "tank `{tank}` holds at most {capacity_kg} kg; a gauging of {measured_kg} kg is refused"
    )]
    MeasuredAboveCapacity {
        /// The tank.
        tank: String,
        /// Measured.
        measured_kg: u64,
        /// Capacity.
        capacity_kg: u64,
    },
    /// A gauging older than the tank's last re-gauge.
    #[error(
        "tank `{tank}` was re-gauged at {} (entry {last_gauged_at}); a gauging of {} cannot speak for it",
        rfc3339(*.last_gauged_at_ms), rfc3339(*.gauged_at_ms)
    )]
    GaugingSuperseded {
        /// The tank.
        tank: String,
        /// The gauging time given.
        gauged_at_ms: u64,
        /// The last re-gauge's time.
        last_gauged_at_ms: u64,
        /// Its entry.
        last_gauged_at: Seq,
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
    /// The tank is in shortfall: a re-gauge found less oil than receipted.
    #[error(
        "{}tank `{tank}` is in shortfall since entry {since}: inspector `{inspector}` measured {measured_kg} kg (report {report_no}) against {receipted_kg} kg of live receipts, {missing_kg} kg missing",
        .receipt.as_ref().map(|r| format!("receipt `{r}`: ")).unwrap_or_default()
    )]
    TankShortfall {
        /// The receipt concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        receipt: Option<Box<str>>,
        /// The tank.
        tank: String,
        /// What the re-gauge measured.
        measured_kg: u64,
        /// What live receipts claim.
        receipted_kg: u64,
        /// Claimed beyond the certified stock.
        missing_kg: u64,
        /// The inspector.
        inspector: String,
        /// The gauging report.
        report_no: String,
        /// The re-gauge's entry.
        since: Seq,
    },
    /// The tank's warehouse was revoked and no successor took it over.
    #[error(
        "{}tank `{tank}`'s warehouse `{warehouse}` was revoked at entry {revoked_at}: custodian revoked until the quorum appoints a successor",
        .receipt.as_ref().map(|r| format!("receipt `{r}`: ")).unwrap_or_default()
    )]
    CustodianRevoked {
        /// The receipt concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        receipt: Option<Box<str>>,
        /// The tank.
        tank: String,
        /// Its revoked warehouse.
        warehouse: String,
        /// The revoking entry.
        revoked_at: Seq,
    },
    /// A successor custodian for a tank whose warehouse is not revoked.
    #[error("tank `{tank}`'s warehouse `{warehouse}` is not revoked; it keeps its tank")]
    CustodianNotRevoked {
        /// The tank.
        tank: String,
        /// Its warehouse.
        warehouse: String,
    },

    // ----- certificates -----
    /// The certificate is recorded already.
    #[error("{certificate} is already recorded (entry {certified_at})")]
    CertificateExists {
        /// Inspector and number.
        certificate: CertificateRef,
        /// When it was recorded.
        certified_at: Seq,
    },
    /// No such certificate.
    #[error("{certificate} is not recorded")]
    CertificateNotFound {
        /// Inspector and number.
        certificate: CertificateRef,
    },
    /// The certificate already backs a receipt.
    #[error("{certificate} already backs receipt `{receipt}`, which is {receipt_state}")]
    CertificateInUse {
        /// Inspector and number.
        certificate: CertificateRef,
        /// The receipt it backs.
        receipt: String,
        /// What became of that receipt.
        #[serde(flatten)]
        receipt_state: Box<ReceiptState>,
    },
    /// The certificate is for another tank.
    #[error("{certificate} is for tank `{certificate_tank}`, not `{tank}`")]
    CertificateTankMismatch {
        /// Inspector and number.
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
        /// Inspector and number.
        certificate: CertificateRef,
        /// Gauged.
        certified_kg: u64,
        /// Requested.
        requested_kg: u64,
    },
    /// The grade named is not the tank's product.
    #[error("tank `{tank}` holds {tank_product:?}, not {requested:?}")]
    ProductMismatch {
        /// The tank.
        tank: String,
        /// What it holds.
        tank_product: String,
        /// What was named.
        requested: String,
    },

    // ----- receipts -----
    /// A receipt with this id exists or existed: ids are never reused.
    #[error("receipt id `{id}` is already used (entry {issued_at}); receipt ids are never reused")]
    ReceiptExists {
        /// The id.
        #[serde(rename = "receipt")]
        id: String,
        /// When it was issued.
        issued_at: Seq,
    },
    /// No such receipt.
    #[error("receipt `{id}` does not exist")]
    ReceiptNotFound {
        /// The id.
        #[serde(rename = "receipt")]
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
        "receipt `{receipt}` is frozen by `{regulator}` under order {order_reference:?} since entry {since}{}",
        match (.pledge, .pledgee) {
            (Some(p), Some(b)) => format!("; it is pledged to bank `{b}` under pledge `{p}`"),
            _ => String::new(),
        }
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
        /// The active pledge on it, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        pledge: Option<Box<str>>,
        /// That pledge's bank.
        #[serde(skip_serializing_if = "Option::is_none")]
        pledgee: Option<Box<str>>,
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
    #[error(
        "receipt `{receipt}` expired at {} (entry time {})",
        rfc3339(*.expires_at_ms), rfc3339(*.now_ms)
    )]
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
    #[error(
        "`{field}` ({}) must be after the entry time ({})",
        rfc3339(*.value_ms), rfc3339(*.now_ms)
    )]
    NotInFuture {
        /// The field.
        field: &'static str,
        /// Its value.
        value_ms: u64,
        /// The entry time.
        now_ms: u64,
    },
    /// A time that must not lie after the entry time does.
    #[error(
        "`{field}` ({}) lies after the entry time ({})",
        rfc3339(*.value_ms), rfc3339(*.now_ms)
    )]
    NotInPast {
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

    // ----- pledges -----
    /// A pledge with this id exists.
    #[error("pledge id `{id}` is already used (entry {registered_at})")]
    PledgeExists {
        /// The id.
        #[serde(rename = "pledge")]
        id: String,
        /// When it was registered.
        registered_at: Seq,
    },
    /// No such pledge.
    #[error("pledge `{id}` does not exist")]
    PledgeNotFound {
        /// The id.
        #[serde(rename = "pledge")]
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
    /// Enforcement on maturity grounds before the maturity.
    #[error(
        "pledge `{pledge}` matures at {} (entry time {}); before that it is enforced only on a regulator's order or with the holder's consent",
        rfc3339(*.maturity_ms), rfc3339(*.now_ms)
    )]
    EnforcementBeforeMaturity {
        /// The pledge.
        pledge: String,
        /// Its maturity.
        maturity_ms: u64,
        /// The entry time.
        now_ms: u64,
    },

    // ----- the registry's members -----
    /// A membership entry changes more than one voter at once.
    #[error(
        "a membership change may add or remove one voter at a time; this one adds {added:?} and removes {removed:?} (member ids, compared with the membership of entry {since})"
    )]
    MembershipChangeTooLarge {
        /// Voters added (member ids).
        added: Vec<u64>,
        /// Voters removed (member ids).
        removed: Vec<u64>,
        /// The membership entry in force.
        since: Seq,
    },
    /// The node that was to sequence the transaction may no longer seal:
    /// its key is not a voter's in the membership in force. Nothing was
    /// decided; the same envelope may be sent to the registry's leader.
    #[error(
        "this node may no longer seal entries: its key is not a voter's key in the membership of entry {since}; send the same envelope to the registry's current leader"
    )]
    SealerNotAMember {
        /// The membership entry in force.
        since: Seq,
    },
}

/// Every reason code, in the order of [`Rejection`]'s variants.
pub const ALL_REASONS: &[&str] = &[
    "WRONG_LEDGER",
    "GENESIS_OUT_OF_PLACE",
    "TX_ID_REUSED",
    "TX_NOT_YET_VALID",
    "TX_EXPIRED",
    "VALIDITY_TOO_LONG",
    "UNKNOWN_SIGNER",
    "SIGNER_REVOKED",
    "KEY_NOT_CURRENT",
    "KEY_NEVER_OWNED",
    "MISSING_SIGNATURE",
    "QUORUM_NOT_MET",
    "UNEXPECTED_SIGNER",
    "MISSING_ROLE",
    "PARTIES_NOT_DISTINCT",
    "PARTICIPANT_EXISTS",
    "LEGAL_ID_IN_USE",
    "KEY_IN_USE",
    "KEY_OF_MEMBER",
    "PARTICIPANT_NOT_FOUND",
    "PARTICIPANT_REVOKED",
    "SAME_KEY",
    "SUCCESSOR_REQUIRED",
    "SUCCESSOR_NOT_APPLICABLE",
    "QUORUM_WOULD_BREAK",
    "TANK_EXISTS",
    "PHYSICAL_TANK_REGISTERED",
    "TANK_NOT_FOUND",
    "CAPACITY_EXCEEDED",
    "MEASURED_ABOVE_CAPACITY",
    "GAUGING_SUPERSEDED",
    "STOCK_EXCEEDED",
    "TANK_SHORTFALL",
    "CUSTODIAN_REVOKED",
    "CUSTODIAN_NOT_REVOKED",
    "CERTIFICATE_EXISTS",
    "CERTIFICATE_NOT_FOUND",
    "CERTIFICATE_IN_USE",
    "CERTIFICATE_TANK_MISMATCH",
    "QUANTITY_EXCEEDS_CERTIFICATE",
    "PRODUCT_MISMATCH",
    "RECEIPT_EXISTS",
    "RECEIPT_NOT_FOUND",
    "RECEIPT_PLEDGED",
    "RECEIPT_FROZEN",
    "RECEIPT_NOT_LIVE",
    "RECEIPT_EXPIRED",
    "RECEIPT_NOT_FROZEN",
    "ALREADY_HOLDER",
    "SPLIT_MISMATCH",
    "NOT_IN_FUTURE",
    "NOT_IN_PAST",
    "QUANTITY_OVERFLOW",
    "PLEDGE_EXISTS",
    "PLEDGE_NOT_FOUND",
    "PLEDGE_NOT_ACTIVE",
    "ENFORCEMENT_BEFORE_MATURITY",
    "MEMBERSHIP_CHANGE_TOO_LARGE",
    "SEALER_NOT_A_MEMBER",
];

impl Rejection {
    /// The stable, machine-readable reason code, e.g. `RECEIPT_PLEDGED`.
    /// Declared here per variant; renaming a variant does not change it.
    pub fn reason(&self) -> &'static str {
        use Rejection::*;
        match self {
            WrongLedger { .. } => "WRONG_LEDGER",
            GenesisOutOfPlace { .. } => "GENESIS_OUT_OF_PLACE",
            TxIdReused { .. } => "TX_ID_REUSED",
            TxNotYetValid { .. } => "TX_NOT_YET_VALID",
            TxExpired { .. } => "TX_EXPIRED",
            ValidityTooLong { .. } => "VALIDITY_TOO_LONG",
            UnknownSigner { .. } => "UNKNOWN_SIGNER",
            SignerRevoked { .. } => "SIGNER_REVOKED",
            KeyNotCurrent { .. } => "KEY_NOT_CURRENT",
            KeyNeverOwned { .. } => "KEY_NEVER_OWNED",
            MissingSignature { .. } => "MISSING_SIGNATURE",
            QuorumNotMet { .. } => "QUORUM_NOT_MET",
            UnexpectedSigner { .. } => "UNEXPECTED_SIGNER",
            MissingRole { .. } => "MISSING_ROLE",
            PartiesNotDistinct { .. } => "PARTIES_NOT_DISTINCT",
            ParticipantExists { .. } => "PARTICIPANT_EXISTS",
            LegalIdInUse { .. } => "LEGAL_ID_IN_USE",
            KeyInUse { .. } => "KEY_IN_USE",
            KeyOfMember { .. } => "KEY_OF_MEMBER",
            ParticipantNotFound { .. } => "PARTICIPANT_NOT_FOUND",
            ParticipantRevoked { .. } => "PARTICIPANT_REVOKED",
            SameKey { .. } => "SAME_KEY",
            SuccessorRequired { .. } => "SUCCESSOR_REQUIRED",
            SuccessorNotApplicable { .. } => "SUCCESSOR_NOT_APPLICABLE",
            QuorumWouldBreak { .. } => "QUORUM_WOULD_BREAK",
            TankExists { .. } => "TANK_EXISTS",
            PhysicalTankRegistered { .. } => "PHYSICAL_TANK_REGISTERED",
            TankNotFound { .. } => "TANK_NOT_FOUND",
            CapacityExceeded { .. } => "CAPACITY_EXCEEDED",
            MeasuredAboveCapacity { .. } => "MEASURED_ABOVE_CAPACITY",
            GaugingSuperseded { .. } => "GAUGING_SUPERSEDED",
            StockExceeded { .. } => "STOCK_EXCEEDED",
            TankShortfall { .. } => "TANK_SHORTFALL",
            CustodianRevoked { .. } => "CUSTODIAN_REVOKED",
            CustodianNotRevoked { .. } => "CUSTODIAN_NOT_REVOKED",
            CertificateExists { .. } => "CERTIFICATE_EXISTS",
            CertificateNotFound { .. } => "CERTIFICATE_NOT_FOUND",
            CertificateInUse { .. } => "CERTIFICATE_IN_USE",
            CertificateTankMismatch { .. } => "CERTIFICATE_TANK_MISMATCH",
            QuantityExceedsCertificate { .. } => "QUANTITY_EXCEEDS_CERTIFICATE",
            ProductMismatch { .. } => "PRODUCT_MISMATCH",
            ReceiptExists { .. } => "RECEIPT_EXISTS",
            ReceiptNotFound { .. } => "RECEIPT_NOT_FOUND",
            ReceiptPledged { .. } => "RECEIPT_PLEDGED",
            ReceiptFrozen { .. } => "RECEIPT_FROZEN",
            ReceiptNotLive { .. } => "RECEIPT_NOT_LIVE",
            ReceiptExpired { .. } => "RECEIPT_EXPIRED",
            ReceiptNotFrozen { .. } => "RECEIPT_NOT_FROZEN",
            AlreadyHolder { .. } => "ALREADY_HOLDER",
            SplitMismatch { .. } => "SPLIT_MISMATCH",
            NotInFuture { .. } => "NOT_IN_FUTURE",
            NotInPast { .. } => "NOT_IN_PAST",
            QuantityOverflow { .. } => "QUANTITY_OVERFLOW",
            PledgeExists { .. } => "PLEDGE_EXISTS",
            PledgeNotFound { .. } => "PLEDGE_NOT_FOUND",
            PledgeNotActive { .. } => "PLEDGE_NOT_ACTIVE",
            EnforcementBeforeMaturity { .. } => "ENFORCEMENT_BEFORE_MATURITY",
            MembershipChangeTooLarge { .. } => "MEMBERSHIP_CHANGE_TOO_LARGE",
            SealerNotAMember { .. } => "SEALER_NOT_A_MEMBER",
        }
    }

    /// The class of this refusal: the one place that maps refusals to
    /// classes (and, through the node, to gRPC codes).
    pub fn kind(&self) -> RejectionKind {
        use Rejection::*;
        match self {
            WrongLedger { .. } | GenesisOutOfPlace { .. } | ValidityTooLong { .. } => {
                RejectionKind::InvalidArgument
            }
            UnknownSigner { .. }
            | SignerRevoked { .. }
            | KeyNotCurrent { .. }
            | KeyNeverOwned { .. } => RejectionKind::Unauthenticated,
            MissingSignature { .. }
            | QuorumNotMet { .. }
            | UnexpectedSigner { .. }
            | MissingRole { .. }
            | PartiesNotDistinct { .. } => RejectionKind::PermissionDenied,
            TxIdReused { .. }
            | ParticipantExists { .. }
            | LegalIdInUse { .. }
            | KeyInUse { .. }
            | KeyOfMember { .. }
            | TankExists { .. }
            | PhysicalTankRegistered { .. }
            | CertificateExists { .. }
            | ReceiptExists { .. }
            | PledgeExists { .. } => RejectionKind::AlreadyExists,
            ParticipantNotFound { .. }
            | TankNotFound { .. }
            | CertificateNotFound { .. }
            | ReceiptNotFound { .. }
            | PledgeNotFound { .. } => RejectionKind::NotFound,
            TxNotYetValid { .. }
            | TxExpired { .. }
            | ParticipantRevoked { .. }
            | SameKey { .. }
            | SuccessorRequired { .. }
            | SuccessorNotApplicable { .. }
            | QuorumWouldBreak { .. }
            | CapacityExceeded { .. }
            | MeasuredAboveCapacity { .. }
            | GaugingSuperseded { .. }
            | StockExceeded { .. }
            | TankShortfall { .. }
            | CustodianRevoked { .. }
            | CustodianNotRevoked { .. }
            | CertificateInUse { .. }
            | CertificateTankMismatch { .. }
            | QuantityExceedsCertificate { .. }
            | ProductMismatch { .. }
            | ReceiptPledged { .. }
            | ReceiptFrozen { .. }
            | ReceiptNotLive { .. }
            | ReceiptExpired { .. }
            | ReceiptNotFrozen { .. }
            | AlreadyHolder { .. }
            | SplitMismatch { .. }
            | NotInFuture { .. }
            | NotInPast { .. }
            | QuantityOverflow { .. }
            | PledgeNotActive { .. }
            | EnforcementBeforeMaturity { .. }
            | MembershipChangeTooLarge { .. }
            | SealerNotAMember { .. } => RejectionKind::FailedPrecondition,
        }
    }

    /// The refusal's metadata as (key, value) text pairs: snake_case keys,
    /// nested values joined with `_`, lists comma-separated, absent optional
    /// fields left out.
    pub fn fields(&self) -> Vec<(String, String)> {
        metadata::fields(self)
    }
}
