//! The ledger's objects as the rules see them: the governance, participants
//! and the keys they ever held, tanks, inspection certificates, receipts and
//! pledges, plus the record kept for every applied transaction id.
//! Quantities are integer kilograms, money is integer minor units; there are
//! no floats anywhere in the ledger.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, PublicKey};
pub use crate::identity::{LegalId, PhysicalTankId};

/// A sequence number: the position of an entry in the chain, from 0.
pub type Seq = u64;

/// What a participant may do. A participant may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registry operator (governance itself needs the genesis quorum).
    Admin,
    /// Bonded tank farm: tanks, stock certification, receipts.
    Warehouse,
    /// Oil trader: holds, transfers and pledges receipts.
    Holder,
    /// Lender: takes, releases and enforces pledges.
    Bank,
    /// Regulator or court: freezes and unfreezes receipts.
    Regulator,
    /// Read-only auditor.
    Auditor,
    /// Independent inspection agency: calibrations, stock certificates,
    /// re-gauges.
    Inspector,
    /// Price reporting agency: price assessments of grades.
    PriceReporter,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Role::Admin => "admin",
            Role::Warehouse => "warehouse",
            Role::Holder => "holder",
            Role::Bank => "bank",
            Role::Regulator => "regulator",
            Role::Auditor => "auditor",
            Role::Inspector => "inspector",
            Role::PriceReporter => "price_reporter",
        };
        f.write_str(name)
    }
}

/// A participant as admitted by genesis or by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantSpec {
    /// Ledger-wide id.
    pub id: String,
    /// Legal name.
    pub name: String,
    /// Legal identity, unique ledger-wide.
    pub legal_id: LegalId,
    /// Roles held.
    pub roles: BTreeSet<Role>,
    /// Current ed25519 key.
    pub public_key: PublicKey,
}

/// A participant and its standing at the current point of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Id, name, roles and the current key.
    pub spec: ParticipantSpec,
    /// The entry that admitted it.
    pub admitted_at: Seq,
    /// The entry from which the current key is valid.
    pub key_since: Seq,
    /// The entry that revoked it, if any: from there on it can sign nothing.
    pub revoked_at: Option<Seq>,
    /// The bank that took its active pledges over when it was revoked.
    pub successor_id: Option<String>,
}

impl Participant {
    /// Whether the participant holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.spec.roles.contains(&role)
    }
}

/// Who governs the ledger, fixed by the genesis for the ledger's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    /// Participants whose signatures count towards the quorum, sorted.
    pub quorum_members: Vec<String>,
    /// Distinct members that must sign a governance operation (≥ 2).
    pub quorum_threshold: u32,
    /// Longest validity window a transaction may state, ms.
    pub max_validity_ms: u64,
}

/// One node of the registry as the ledger lists it (docs/FORMAT.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member id, 1 ..= 2⁶³.
    pub id: u64,
    /// A name for people.
    pub name: String,
    /// URL of its member-to-member service.
    pub address: String,
    /// Its seal key.
    pub public_key: PublicKey,
    /// Counts towards a majority and may lead (so seal); a learner only
    /// receives the log.
    pub voter: bool,
}

/// The registry's members, as the last membership entry stated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Every member, in id order.
    pub members: Vec<Member>,
    /// The membership entry that stated it.
    pub since: Seq,
}

impl Membership {
    /// The keys that may seal the entries after `since`: the voters' keys.
    pub fn sealer_keys(&self) -> Vec<PublicKey> {
        voter_keys(&self.members)
    }

    /// Member `id`, if listed.
    pub fn member(&self, id: u64) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// The seal keys of the voters among `members`.
pub fn voter_keys(members: &[Member]) -> Vec<PublicKey> {
    members
        .iter()
        .filter(|m| m.voter)
        .map(|m| m.public_key)
        .collect()
}

/// Whose a public key is (or was): a key belongs to one participant for ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOwner {
    /// The participant.
    pub participant_id: String,
    /// The entry from which it was the participant's key.
    pub since: Seq,
    /// The entry that replaced it (a rotation or a recovery), if any.
    pub retired_at: Option<Seq>,
}

/// An inspector's measurement of a tank's whole contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gauging {
    /// The inspector.
    pub inspector_id: String,
    /// The inspector's report number.
    pub report_no: String,
    /// Measured kilograms.
    pub measured_kg: u64,
    /// When it was measured, ms since the Unix epoch.
    pub gauged_at_ms: u64,
}

/// A gauging as recorded on a tank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaugingRecord {
    /// What was measured.
    pub gauging: Gauging,
    /// The entry that recorded it.
    pub at: Seq,
}

/// A tank whose live receipts claim more than its certified stock, since a
/// re-gauge found less oil than receipted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    /// The re-gauge that found it.
    pub gauging: Gauging,
    /// The entry of that re-gauge.
    pub since: Seq,
}

/// A change of a tank's custodian after its warehouse was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyChange {
    /// The revoked warehouse.
    pub from: String,
    /// The successor appointed.
    pub to: String,
    /// The appointing entry.
    pub at: Seq,
}

/// A tank in a bonded tank farm.
///
/// Stock arithmetic: `certified_kg` rises with each stock certificate, falls
/// with each delivery, and falls to the measured quantity when a re-gauge
/// finds less. The tank is in shortfall exactly when its live receipts claim
/// more than its certified stock (`receipted_kg > certified_kg`), which only a
/// re-gauge can bring about; `shortfall` then names that re-gauge. Otherwise
/// `receipted_kg ≤ certified_kg ≤ capacity_kg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tank {
    /// Ledger-wide tank id.
    pub id: String,
    /// The warehouse that holds it now (its registrant, or a successor
    /// custodian).
    pub warehouse_id: String,
    /// Its physical identity, unique ledger-wide.
    pub physical_id: PhysicalTankId,
    /// The calibration certificate (inspector and number).
    pub calibration: CertificateRef,
    /// Capacity in kilograms.
    pub capacity_kg: u64,
    /// The product it holds.
    pub product: String,
    /// Certified stock: gauged kilograms certified and not yet delivered out.
    pub certified_kg: u64,
    /// Sum of the quantities of the live receipts drawn on this tank.
    pub receipted_kg: u64,
    /// The last re-gauge, if any.
    pub last_gauging: Option<GaugingRecord>,
    /// Set while the tank is in shortfall.
    pub shortfall: Option<Shortfall>,
    /// Custodian changes, oldest first.
    pub custody: Vec<CustodyChange>,
    /// The entry that registered it.
    pub registered_at: Seq,
    /// The last entry that changed it.
    pub updated_at: Seq,
}

impl Tank {
    /// Kilograms that live receipts claim beyond the certified stock.
    pub fn missing_kg(&self) -> u64 {
        self.receipted_kg.saturating_sub(self.certified_kg)
    }
}

/// Names an inspection certificate: the inspector (a participant) and the
/// inspector's certificate number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CertificateRef {
    /// The inspector's participant id.
    pub inspector: String,
    /// Certificate number.
    pub number: String,
}

impl fmt::Display for CertificateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate {} of `{}`", self.number, self.inspector)
    }
}

/// An inspection certificate recorded by a stock certification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Inspector and number.
    pub reference: CertificateRef,
    /// The tank gauged.
    pub tank_id: String,
    /// Gauged kilograms.
    pub quantity_kg: u64,
    /// The grade gauged.
    pub product_grade: String,
    /// When the inspector gauged it, ms since the Unix epoch.
    pub gauged_at_ms: u64,
    /// Whose oil it is (it signed the certification).
    pub depositor_id: String,
    /// The receipt issued against it, once one is. A certificate backs at
    /// most one receipt, for ever.
    pub receipt_id: Option<String>,
    /// The entry that recorded it.
    pub certified_at: Seq,
}

/// Customs status of the oil.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomsStatus {
    /// Held in bond.
    Bonded,
    /// Duty paid.
    DutyPaid,
}

/// The terms a receipt is issued with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptTerms {
    /// Ledger-wide receipt id.
    pub receipt_id: String,
    /// The tank the oil is in.
    pub tank_id: String,
    /// The backing inspection certificate.
    pub certificate: CertificateRef,
    /// Product grade.
    pub product_grade: String,
    /// Specification text.
    pub specification: String,
    /// Quantity in kilograms.
    pub quantity_kg: u64,
    /// Bonded or duty paid.
    pub customs_status: CustomsStatus,
    /// Customs declaration reference.
    pub customs_reference: String,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: u64,
    /// Allowed storage loss, parts per million.
    pub loss_allowance_ppm: u32,
    /// Insurance policy reference.
    pub insurance_reference: String,
}

/// Where a receipt is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptStatus {
    /// Live and free of pledges.
    Active,
    /// Live and under the named active pledge.
    Pledged {
        /// The active pledge.
        pledge_id: String,
    },
    /// Surrendered on delivery of the oil; final.
    Cancelled {
        /// The cancelling entry.
        at: Seq,
    },
    /// Retired by a split into the listed receipts; final.
    Split {
        /// The splitting entry.
        at: Seq,
        /// The receipts it became.
        parts: Vec<String>,
    },
}

impl ReceiptStatus {
    /// Live receipts count against their tank's stock.
    pub fn is_live(&self) -> bool {
        matches!(self, ReceiptStatus::Active | ReceiptStatus::Pledged { .. })
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            ReceiptStatus::Active => "active",
            ReceiptStatus::Pledged { .. } => "pledged",
            ReceiptStatus::Cancelled { .. } => "cancelled",
            ReceiptStatus::Split { .. } => "split",
        }
    }
}

/// A regulator's freeze on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    /// Who froze it.
    pub regulator_id: String,
    /// Court order or case reference.
    pub order_reference: String,
    /// The freezing entry.
    pub since: Seq,
}

/// A warehouse receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The terms it was issued with (for split parts: the parent's, with the
    /// part's id and quantity).
    pub terms: ReceiptTerms,
    /// The warehouse that holds the oil: the issuer, or the successor
    /// custodian of its tank.
    pub warehouse_id: String,
    /// The current holder.
    pub holder_id: String,
    /// Lifecycle status.
    pub status: ReceiptStatus,
    /// The freeze on it, if frozen.
    pub frozen: Option<Freeze>,
    /// The receipt it was split from, if any.
    pub parent_id: Option<String>,
    /// Issue time (entry time), ms since the Unix epoch.
    pub issued_at_ms: u64,
    /// The issuing (or splitting) entry.
    pub issued_at: Seq,
    /// The last entry that changed it.
    pub updated_at: Seq,
    /// How many entries changed it (its issue or split included): the
    /// length of its history.
    pub history_len: u64,
}

impl Receipt {
    /// Receipt id.
    pub fn id(&self) -> &str {
        &self.terms.receipt_id
    }

    /// The id of the pledge it is under, if pledged.
    pub fn active_pledge(&self) -> Option<&str> {
        match &self.status {
            ReceiptStatus::Pledged { pledge_id } => Some(pledge_id),
            _ => None,
        }
    }
}

/// Money: integer minor units of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (cents, fen).
    pub minor_units: u64,
    /// ISO 4217 code.
    pub currency: String,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.minor_units, self.currency)
    }
}

/// The terms a pledge is registered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PledgeTerms {
    /// Ledger-wide pledge id.
    pub pledge_id: String,
    /// The pledged receipt.
    pub receipt_id: String,
    /// The bank taking the pledge.
    pub pledgee_id: String,
    /// The secured amount.
    pub secured_amount: Money,
    /// The bank's loan reference.
    pub loan_reference: String,
    /// Loan maturity, ms since the Unix epoch.
    pub maturity_ms: u64,
    /// The highest loan-to-value before the bank is warned, basis points
    /// (1 ..= 10,000); `None` when the pledge states none.
    pub margin_level_bp: Option<u32>,
}

/// On what grounds a pledge was enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnforcementGrounds {
    /// The loan had matured.
    Maturity,
    /// A court or regulator order, co-signed by a regulator.
    Order {
        /// The order's reference.
        order_reference: String,
    },
    /// The holder consented and co-signed.
    HolderConsent,
}

impl EnforcementGrounds {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            EnforcementGrounds::Maturity => "maturity",
            EnforcementGrounds::Order { .. } => "order",
            EnforcementGrounds::HolderConsent => "holder_consent",
        }
    }
}

/// Where a pledge is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PledgeStatus {
    /// In force: the receipt is encumbered.
    Active,
    /// Released by the pledgee.
    Released {
        /// The releasing entry.
        at: Seq,
    },
    /// Enforced by the pledgee; the receipt went to `transferee_id`.
    Enforced {
        /// The enforcing entry.
        at: Seq,
        /// The new holder of the receipt.
        transferee_id: String,
        /// On what grounds.
        grounds: EnforcementGrounds,
    },
}

impl PledgeStatus {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            PledgeStatus::Active => "active",
            PledgeStatus::Released { .. } => "released",
            PledgeStatus::Enforced { .. } => "enforced",
        }
    }
}

/// A pledge of a receipt to a bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pledge {
    /// The terms registered.
    pub terms: PledgeTerms,
    /// The holder who pledged.
    pub pledgor_id: String,
    /// Start (entry time), ms since the Unix epoch.
    pub started_at_ms: u64,
    /// Lifecycle status.
    pub status: PledgeStatus,
    /// The registering entry.
    pub registered_at: Seq,
    /// Successor banks that took the pledge over, oldest first.
    pub successions: Vec<Succession>,
}

impl Pledge {
    /// Pledge id.
    pub fn id(&self) -> &str {
        &self.terms.pledge_id
    }

    /// The bank that holds the pledge now: the pledgee registered, or the
    /// last successor.
    pub fn pledgee(&self) -> &str {
        self.successions
            .last()
            .map_or(&self.terms.pledgee_id, |s| &s.to)
    }
}

/// A successor bank taking a revoked bank's pledge over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Succession {
    /// The revoked bank.
    pub from: String,
    /// The successor.
    pub to: String,
    /// The revoking entry.
    pub at: Seq,
}

/// Which price a price assessment states: a grade (as receipts carry it)
/// in a currency. The latest assessment of each is kept.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PriceKey {
    /// The grade, compared byte for byte with a receipt's `product_grade`.
    pub product_grade: String,
    /// ISO 4217 code.
    pub currency: String,
}

impl fmt::Display for PriceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` in {}", self.product_grade, self.currency)
    }
}

/// A price reporter's assessment of a grade, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceAssessment {
    /// The grade and currency.
    pub key: PriceKey,
    /// Price per metric tonne (1,000 kg), minor units of `key.currency`.
    pub price_per_tonne_minor: u64,
    /// When it was assessed, ms since the Unix epoch.
    pub assessed_at_ms: u64,
    /// The reporter that signed it.
    pub reporter_id: String,
    /// The entry that recorded it.
    pub at: Seq,
}

/// What the ledger remembers of every applied transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// The entry that holds it.
    pub seq: Seq,
    /// Its content hash ([`crate::crypto::tx_hash`]).
    pub tx_hash: Digest,
}
