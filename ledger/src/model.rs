//! The ledger's objects as the rules see them: participants, tanks,
//! inspection certificates, receipts and pledges, plus the record kept for
//! every applied transaction id. Quantities are integer kilograms, money is
//! integer minor units; there are no floats anywhere in the ledger.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, PublicKey};

/// A sequence number: the position of an entry in the chain, from 0.
pub type Seq = u64;

/// What a participant may do. A participant may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Registry operator: admits, re-keys and revokes participants.
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
}

impl Participant {
    /// Whether the participant holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.spec.roles.contains(&role)
    }
}

/// A tank in a bonded tank farm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tank {
    /// Ledger-wide tank id.
    pub id: String,
    /// The warehouse that owns it.
    pub warehouse_id: String,
    /// Capacity in kilograms.
    pub capacity_kg: u64,
    /// The product it holds.
    pub product: String,
    /// Certified stock: gauged kilograms certified and not yet delivered out.
    pub certified_kg: u64,
    /// Sum of the quantities of the live receipts drawn on this tank.
    pub receipted_kg: u64,
    /// The entry that registered it.
    pub registered_at: Seq,
    /// The last entry that changed it.
    pub updated_at: Seq,
}

/// Names an inspection certificate: agency and certificate number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CertificateRef {
    /// Inspection agency.
    pub agency: String,
    /// Certificate number.
    pub number: String,
}

impl fmt::Display for CertificateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} certificate {}", self.agency, self.number)
    }
}

/// An inspection certificate recorded by a stock certification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Agency and number.
    pub reference: CertificateRef,
    /// The tank gauged.
    pub tank_id: String,
    /// Gauged kilograms.
    pub quantity_kg: u64,
    /// Whose oil it is.
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
    /// The issuing warehouse.
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
}

impl Pledge {
    /// Pledge id.
    pub fn id(&self) -> &str {
        &self.terms.pledge_id
    }
}

/// What the ledger remembers of every applied transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// The entry that holds it.
    pub seq: Seq,
    /// Its content hash ([`crate::crypto::tx_hash`]).
    pub tx_hash: Digest,
}
