//! The receipt's lineage folded with the ledger's own rules: each entry of
//! a bundle goes through [`rules::apply`] (the very state machine the node
//! and the audit run) against a partial state holding what the bundle's
//! entries created, so no lifecycle rule is stated twice.
//!
//! ```text
//!  Lineage (partial state)
//!    objects   receipts, pledges, certificates the entries put; the
//!              bundle's ledger id
//!    tank      seeded from its committed leaf: as it stood before the
//!              bundle's first entry (custodian, capacity, product, the
//!              custodians already replaced), no stock yet
//!    per entry (EntryState) what a bundle cannot show is granted:
//!              every signer signs with its current key and holds every
//!              role; a custodian the tank's leaf shows replaced is revoked
//!              from its appointment on; the quorum is any two signers
//!  entry ─▶ rules::apply(EntryState, envelope, {seq, time}) ─▶ Objects ─▶ merged
//! ```
//!
//! What the partial state grants is what docs/FORMAT.md §7.6 says a bundle
//! does not prove (keys, roles, the quorum's membership): the audit's
//! replay checks those. Everything else, who may change a receipt, which
//! parties sign, conservation on a split, pledges and freezes, expiry and
//! maturity against the entry's own time, is the rule the node applied.

use std::collections::BTreeSet;

use crate::crypto::PublicKey;
use crate::envelope::VerifiedEnvelope;
use crate::model::{
    Certificate, CertificateRef, CustodyChange, Governance, KeyOwner, LegalId, Membership,
    Participant, ParticipantSpec, PhysicalTankId, Pledge, Receipt, Role, Seq, Tank, TxRecord,
};
use crate::rejection::Rejection;
use crate::rules::{self, ApplyError, EntryContext, Outcome};
use crate::state::{Objects, ReceiptFilter, StateError, StateRead};
use crate::tx::Operation;

use super::BundleError;

/// Every role: a bundle cannot show which roles a signer holds.
const ALL_ROLES: [Role; 8] = [
    Role::Admin,
    Role::Warehouse,
    Role::Holder,
    Role::Bank,
    Role::Regulator,
    Role::Auditor,
    Role::Inspector,
    Role::PriceReporter,
];

/// The fewest members any quorum has (the genesis requires two or more).
const MIN_QUORUM: u32 = 2;

/// The tank a receipt is drawn on, as its committed state leaf describes it.
#[derive(Debug, Clone)]
pub(super) struct TankSeed {
    pub id: String,
    pub warehouse_id: String,
    pub capacity_kg: u64,
    pub product: String,
    pub physical_id: PhysicalTankId,
    pub calibration: CertificateRef,
    pub registered_at: Seq,
    pub custody: Vec<CustodyChange>,
}

impl TankSeed {
    /// The tank as it stood before entry `first`: the custodian then, the
    /// custodian changes before it, and no stock (the bundle's own
    /// certification adds the stock its receipt draws on).
    fn before(&self, first: Seq) -> Tank {
        let earlier: Vec<CustodyChange> = self
            .custody
            .iter()
            .filter(|c| c.at < first)
            .cloned()
            .collect();
        let warehouse_id = self
            .custody
            .iter()
            .find(|c| c.at >= first)
            .map_or(&self.warehouse_id, |c| &c.from)
            .clone();
        Tank {
            id: self.id.clone(),
            warehouse_id,
            physical_id: self.physical_id.clone(),
            calibration: self.calibration.clone(),
            capacity_kg: self.capacity_kg,
            product: self.product.clone(),
            certified_kg: 0,
            receipted_kg: 0,
            last_gauging: None,
            shortfall: None,
            custody: earlier,
            registered_at: self.registered_at,
            updated_at: self.registered_at,
        }
    }

    /// The entry from which `warehouse` is revoked, if the leaf shows it
    /// replaced as custodian (its revocation came before its successor's
    /// appointment).
    fn revoked_by(&self, warehouse: &str, seq: Seq) -> Option<Seq> {
        self.custody
            .iter()
            .find(|c| c.from == warehouse && c.at <= seq)
            .map(|c| c.at)
    }
}

/// One entry's effect on the lineage.
#[derive(Debug)]
pub(super) struct Applied {
    /// The entry.
    pub seq: Seq,
    /// Its operation's name.
    pub operation: &'static str,
    /// The receipts it put.
    pub receipts: BTreeSet<String>,
    /// A certification or a custodian appointment: it may precede the
    /// issue without changing a receipt (it names the first holder, or
    /// who issued).
    pub before_issue: bool,
}

/// The partial state a bundle's entries are applied to.
#[derive(Debug)]
pub(super) struct Lineage {
    objects: Objects,
    tank: TankSeed,
}

impl Lineage {
    /// The empty lineage of `ledger_id`, on the tank as it stood before the
    /// bundle's first entry `first`.
    pub fn new(ledger_id: &str, tank: TankSeed, first: Seq) -> Lineage {
        let mut objects = Objects {
            ledger_id: Some(ledger_id.to_owned()),
            ..Objects::default()
        };
        objects.put_tank(tank.before(first));
        Lineage { objects, tank }
    }

    /// Applies one entry with the ledger's rules; a refusal says why the
    /// entry cannot follow the entries before it.
    pub fn apply(
        &mut self,
        envelope: &VerifiedEnvelope,
        ctx: EntryContext,
    ) -> Result<Applied, BundleError> {
        let seq = ctx.seq;
        let operation = envelope.tx.operation.name();
        if !concerns_receipts(&envelope.tx.operation) {
            return Err(BundleError::NotAboutReceipt { seq, operation });
        }
        let changes = self.try_apply(envelope, ctx).map_err(|error| match error {
            ApplyError::Rejected(rejection) => refusal(seq, operation, *rejection),
            ApplyError::Store(error) => BundleError::Incoherent {
                seq,
                reason: error.to_string(),
            },
        })?;
        let receipts = changes.receipts.keys().cloned().collect();
        self.objects.merge(changes);
        Ok(Applied {
            seq,
            operation,
            receipts,
            before_issue: matches!(
                envelope.tx.operation,
                Operation::CertifyStock(_) | Operation::AppointCustodian { .. }
            ),
        })
    }

    /// Whether `envelope` (the checkpoint's head entry, left out of the
    /// bundle) would change one of `lineage`'s receipts: the rules accept
    /// it here and it puts one of them.
    pub fn would_change(
        &self,
        envelope: &VerifiedEnvelope,
        ctx: EntryContext,
        lineage: &[String],
    ) -> bool {
        concerns_receipts(&envelope.tx.operation)
            && self
                .try_apply(envelope, ctx)
                .is_ok_and(|changes| changes.receipts.keys().any(|id| lineage.contains(id)))
    }

    fn try_apply(
        &self,
        envelope: &VerifiedEnvelope,
        ctx: EntryContext,
    ) -> Result<Objects, ApplyError> {
        let state = EntryState {
            lineage: self,
            envelope,
            seq: ctx.seq,
        };
        match rules::apply(&state, envelope, ctx)? {
            Outcome::Applied(changes) => Ok(changes),
            Outcome::Duplicate(previous) => Err(Rejection::TxIdReused {
                tx_id: envelope.tx.tx_id.clone(),
                seq: previous.seq,
                earlier: None,
            }
            .into()),
        }
    }

    /// The objects the entries put.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }
}

/// Operations that can change a receipt, a pledge on one, or the
/// certificate and tank behind one; any other is no receipt's history.
fn concerns_receipts(operation: &Operation) -> bool {
    match operation {
        Operation::CertifyStock(_)
        | Operation::AppointCustodian { .. }
        | Operation::IssueReceipt(_)
        | Operation::TransferReceipt { .. }
        | Operation::SplitReceipt { .. }
        | Operation::CancelReceipt { .. }
        | Operation::RegisterPledge(_)
        | Operation::ReleasePledge { .. }
        | Operation::EnforcePledge { .. }
        | Operation::FreezeReceipt { .. }
        | Operation::UnfreezeReceipt { .. } => true,
        Operation::RevokeParticipant { successor_id, .. } => successor_id.is_some(),
        Operation::Genesis { .. }
        | Operation::AdmitParticipant(_)
        | Operation::RotateKey { .. }
        | Operation::RecoverKey { .. }
        | Operation::ChangeMembership { .. }
        | Operation::RegisterTank(_)
        | Operation::RegaugeTank { .. }
        | Operation::AssessPrice(_) => false,
    }
}

/// The rules' refusal as the bundle's: an object the bundle never created
/// means the entry is not about this receipt (or its earlier history is
/// left out); anything else, that the entry cannot follow the ones before.
fn refusal(seq: Seq, operation: &'static str, rejection: Rejection) -> BundleError {
    match rejection {
        Rejection::ReceiptNotFound { .. } | Rejection::TankNotFound { .. } => {
            BundleError::NotAboutReceipt { seq, operation }
        }
        Rejection::PledgeNotFound { id } => BundleError::UnknownPledge { seq, pledge_id: id },
        other => BundleError::Incoherent {
            seq,
            reason: other.to_string(),
        },
    }
}

/// The lineage as the rules see it while applying one entry: its objects,
/// and for what a bundle cannot show, what the entry's own signatures
/// claim (see the module docs).
struct EntryState<'a> {
    lineage: &'a Lineage,
    envelope: &'a VerifiedEnvelope,
    seq: Seq,
}

impl EntryState<'_> {
    fn granted_participant(&self, id: &str) -> Participant {
        let public_key = self
            .envelope
            .envelope
            .signatures
            .iter()
            .find(|s| s.signer == id)
            .map_or(PublicKey([0; 32]), |s| s.public_key);
        Participant {
            spec: ParticipantSpec {
                id: id.to_owned(),
                name: id.to_owned(),
                legal_id: LegalId::Lei(String::new()),
                roles: ALL_ROLES.into_iter().collect(),
                public_key,
            },
            admitted_at: 0,
            key_since: 0,
            revoked_at: self.lineage.tank.revoked_by(id, self.seq),
            successor_id: None,
        }
    }
}

impl StateRead for EntryState<'_> {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        self.lineage.objects.ledger_id()
    }
    fn governance(&self) -> Result<Option<Governance>, StateError> {
        let mut members: Vec<String> = self.envelope.signers().map(str::to_owned).collect();
        members.sort();
        members.dedup();
        Ok(Some(Governance {
            quorum_members: members,
            quorum_threshold: MIN_QUORUM,
            max_validity_ms: u64::MAX,
        }))
    }
    fn membership(&self) -> Result<Option<Membership>, StateError> {
        Ok(None)
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError> {
        Ok(Some(match self.lineage.objects.participants.get(id) {
            Some(known) => known.clone(),
            None => self.granted_participant(id),
        }))
    }
    fn key_owner(&self, _key: &PublicKey) -> Result<Option<KeyOwner>, StateError> {
        Ok(None)
    }
    fn legal_id_owner(&self, _legal_id: &LegalId) -> Result<Option<String>, StateError> {
        Ok(None)
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError> {
        self.lineage.objects.tank(id)
    }
    fn physical_tank(&self, _physical_id: &PhysicalTankId) -> Result<Option<String>, StateError> {
        Ok(None)
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError> {
        self.lineage.objects.certificate(reference)
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError> {
        self.lineage.objects.receipt(id)
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError> {
        self.lineage.objects.pledge(id)
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError> {
        self.lineage.objects.transaction(tx_id)
    }
    fn attempt(&self, tx_hash: &crate::crypto::Digest) -> Result<Option<Seq>, StateError> {
        self.lineage.objects.attempt(tx_hash)
    }
    fn price(
        &self,
        key: &crate::model::PriceKey,
    ) -> Result<Option<crate::model::PriceAssessment>, StateError> {
        self.lineage.objects.price(key)
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError> {
        self.lineage.objects.receipt_ids(filter)
    }
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError> {
        self.lineage.objects.tanks(after, limit)
    }
}
