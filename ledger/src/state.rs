//! The derived state: what the rules read, and the changes they produce.
//!
//! The rules read through [`StateRead`] and return an [`Objects`] change set;
//! they never write. A change set holds whole objects to put (nothing is ever
//! deleted: ids are never reused). The same type is the in-memory state
//! ([`MemoryState`]), so replay and the model tests need no store at all, and
//! [`Overlay`] layers the pending changes of a commit group over any state.
//!
//! This module knows nothing of storage: the stores (`crate::store`) depend
//! on it, never the other way round. A store's read failure reaches the rules
//! as a [`StateError`].
//!
//! **The kinds of object** are the fields of [`Objects`], in one list:
//!
//! | kind               | key                       | value                         |
//! |--------------------|---------------------------|-------------------------------|
//! | ledger id          | —                         | the id fixed by genesis       |
//! | governance         | —                         | [`Governance`] from genesis   |
//! | membership         | —                         | [`Membership`]: the registry's members, from the last membership entry |
//! | participants       | participant id            | [`Participant`]               |
//! | key owners         | public key                | [`KeyOwner`]: whose it is/was |
//! | legal identities   | [`LegalId`]               | participant id                |
//! | tanks              | tank id                   | [`Tank`] (stock, shortfall, custody) |
//! | physical tanks     | [`PhysicalTankId`]        | tank id                       |
//! | certificates       | [`CertificateRef`]        | [`Certificate`]               |
//! | receipts           | receipt id                | [`Receipt`]                   |
//! | pledges            | pledge id                 | [`Pledge`] (with successions) |
//! | transactions       | tx id                     | [`TxRecord`]                  |
//! | receipt history    | receipt id                | entries that changed it       |
//! | attempts           | transaction hash          | the attempt entry that recorded it |
//! | prices             | [`PriceKey`] (grade, currency) | the latest [`PriceAssessment`] |
//!
//! Adding a kind: a field and its line in [`Objects::merge`]; a
//! [`StateRead`] method with its implementations here ([`Objects`], and
//! every [`Layered`] state at once); the disk state store's keys
//! (`store/state/disk.rs`, `put_objects` and its `StateRead`); and the
//! memory state view's forwarding (`store/state/memory.rs`). A kind that
//! readers walk whole (tanks, receipts) also gets a bounded listing.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::ops::Bound;

use crate::crypto::{Digest, PublicKey};
use crate::model::{
    Certificate, CertificateRef, Governance, KeyOwner, LegalId, Membership, Participant,
    PhysicalTankId, Pledge, PriceAssessment, PriceKey, Receipt, Seq, Tank, TxRecord,
};

/// The state could not be read: a storage failure, never a rule. It wraps
/// the store's own error (see `crate::store::StoreError`), which names the
/// operation and the key.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StateError(Box<dyn Error + Send + Sync>);

impl StateError {
    /// Wraps a store's error.
    pub fn new(source: impl Error + Send + Sync + 'static) -> StateError {
        StateError(Box::new(source))
    }

    /// The store's error, for callers that know its type.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}

/// Read access to the derived state. Reads may fail only for storage reasons.
pub trait StateRead {
    /// The ledger id fixed by genesis; `None` before genesis.
    fn ledger_id(&self) -> Result<Option<String>, StateError>;
    /// The governance fixed by genesis; `None` before genesis.
    fn governance(&self) -> Result<Option<Governance>, StateError>;
    /// The registry's members as the last membership entry stated them;
    /// `None` before the first one (a single node).
    fn membership(&self) -> Result<Option<Membership>, StateError>;
    /// A participant by id.
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError>;
    /// Whose a public key is, or was.
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StateError>;
    /// The participant with a legal identity.
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StateError>;
    /// A tank by id.
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError>;
    /// The tank registered with a physical identity.
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StateError>;
    /// An inspection certificate.
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError>;
    /// A receipt by id.
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError>;
    /// A pledge by id.
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError>;
    /// The record of an applied transaction id.
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError>;
    /// The attempt entry that recorded a refused transaction (by its
    /// content hash), if one did.
    fn attempt(&self, tx_hash: &Digest) -> Result<Option<Seq>, StateError>;
    /// The latest price assessment of a grade in a currency.
    fn price(&self, key: &PriceKey) -> Result<Option<PriceAssessment>, StateError>;
    /// The ids of every receipt matching `filter`, in id order. For the rare
    /// rules that act on many objects at once (a custodian's succession, a
    /// bank's): a store answers from an index.
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError>;
    /// At most `limit` tanks whose ids sort after `after` (exclusive;
    /// `None` from the first), in id order: a bounded page of every tank,
    /// for readers that walk them all (the regulator's report).
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError>;
}

/// Which receipts to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptFilter {
    /// Every receipt.
    All,
    /// Held by this participant.
    Holder(String),
    /// Issued by this warehouse.
    Warehouse(String),
    /// Drawn on this tank.
    Tank(String),
    /// Under an active pledge to this bank.
    Pledgee(String),
    /// In this status: "active", "pledged", "cancelled" or "split".
    Status(&'static str),
}

impl ReceiptFilter {
    /// Whether `receipt` (whose active pledge, if any, is to `pledgee`) matches.
    pub fn matches(&self, receipt: &Receipt, pledgee: Option<&str>) -> bool {
        match self {
            ReceiptFilter::All => true,
            ReceiptFilter::Holder(id) => receipt.holder_id == *id,
            ReceiptFilter::Warehouse(id) => receipt.warehouse_id == *id,
            ReceiptFilter::Tank(id) => receipt.terms.tank_id == *id,
            ReceiptFilter::Pledgee(id) => pledgee == Some(id.as_str()),
            ReceiptFilter::Status(name) => receipt.status.name() == *name,
        }
    }
}

/// The ids among `candidates` (in any order, repeats allowed) of receipts
/// that match `filter` as `state` sees them now, in id order: how a layer of
/// newer changes over a base re-judges the base's answer.
pub fn matching_receipts<S: StateRead + ?Sized>(
    state: &S,
    filter: &ReceiptFilter,
    candidates: impl Iterator<Item = String>,
) -> Result<Vec<String>, StateError> {
    let mut ids = BTreeSet::new();
    for id in candidates {
        let Some(receipt) = state.receipt(&id)? else {
            continue;
        };
        if filter.matches(&receipt, pledgee_of(state, &receipt)?.as_deref()) {
            ids.insert(id);
        }
    }
    Ok(ids.into_iter().collect())
}

/// The bank of the receipt's active pledge, if any, as `state` sees it.
pub fn pledgee_of<S: StateRead + ?Sized>(
    state: &S,
    receipt: &Receipt,
) -> Result<Option<String>, StateError> {
    match receipt.active_pledge() {
        Some(pledge) => Ok(state.pledge(pledge)?.map(|p| p.pledgee().to_owned())),
        None => Ok(None),
    }
}

/// A set of objects: the changes of one entry or group, or a whole state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objects {
    /// The ledger id, set by genesis.
    pub ledger_id: Option<String>,
    /// The governance, set by genesis.
    pub governance: Option<Governance>,
    /// The members, set by a membership entry.
    pub membership: Option<Membership>,
    /// Participants by id.
    pub participants: BTreeMap<String, Participant>,
    /// Every key any participant ever held, and whose.
    pub key_owners: BTreeMap<PublicKey, KeyOwner>,
    /// Legal identities and their participant.
    pub legal_ids: BTreeMap<LegalId, String>,
    /// Tanks by id.
    pub tanks: BTreeMap<String, Tank>,
    /// Physical tank identities and their tank.
    pub physical_tanks: BTreeMap<PhysicalTankId, String>,
    /// Certificates by inspector and number.
    pub certificates: BTreeMap<CertificateRef, Certificate>,
    /// Receipts by id.
    pub receipts: BTreeMap<String, Receipt>,
    /// Pledges by id.
    pub pledges: BTreeMap<String, Pledge>,
    /// Applied transaction ids.
    pub transactions: BTreeMap<String, TxRecord>,
    /// For each receipt, the entries that changed it, in order.
    pub receipt_history: BTreeMap<String, Vec<Seq>>,
    /// Refused transactions recorded by attempt entries: content hash →
    /// the attempt entry.
    pub attempts: BTreeMap<Digest, Seq>,
    /// The latest price assessment of each grade in each currency.
    pub prices: BTreeMap<PriceKey, PriceAssessment>,
}

impl Objects {
    /// Puts every object of `later` over this set.
    pub fn merge(&mut self, later: Objects) {
        if later.ledger_id.is_some() {
            self.ledger_id = later.ledger_id;
        }
        if later.governance.is_some() {
            self.governance = later.governance;
        }
        if later.membership.is_some() {
            self.membership = later.membership;
        }
        self.participants.extend(later.participants);
        self.key_owners.extend(later.key_owners);
        self.legal_ids.extend(later.legal_ids);
        self.tanks.extend(later.tanks);
        self.physical_tanks.extend(later.physical_tanks);
        self.certificates.extend(later.certificates);
        self.receipts.extend(later.receipts);
        self.pledges.extend(later.pledges);
        self.transactions.extend(later.transactions);
        self.attempts.extend(later.attempts);
        self.prices.extend(later.prices);
        for (id, seqs) in later.receipt_history {
            self.receipt_history.entry(id).or_default().extend(seqs);
        }
    }

    /// Puts a participant.
    pub fn put_participant(&mut self, p: Participant) {
        self.participants.insert(p.spec.id.clone(), p);
    }
    /// Records whose a key is.
    pub fn put_key_owner(&mut self, key: PublicKey, owner: KeyOwner) {
        self.key_owners.insert(key, owner);
    }
    /// Records a legal identity's participant.
    pub fn put_legal_id(&mut self, legal_id: LegalId, participant_id: &str) {
        self.legal_ids.insert(legal_id, participant_id.to_owned());
    }
    /// Puts a tank.
    pub fn put_tank(&mut self, t: Tank) {
        self.tanks.insert(t.id.clone(), t);
    }
    /// Records a physical tank's registration.
    pub fn put_physical_tank(&mut self, physical_id: PhysicalTankId, tank_id: &str) {
        self.physical_tanks.insert(physical_id, tank_id.to_owned());
    }
    /// Puts a certificate.
    pub fn put_certificate(&mut self, c: Certificate) {
        self.certificates.insert(c.reference.clone(), c);
    }
    /// Puts a receipt.
    pub fn put_receipt(&mut self, r: Receipt) {
        self.receipts.insert(r.terms.receipt_id.clone(), r);
    }
    /// Puts a pledge.
    pub fn put_pledge(&mut self, p: Pledge) {
        self.pledges.insert(p.terms.pledge_id.clone(), p);
    }
    /// Puts a price assessment as its grade's latest.
    pub fn put_price(&mut self, p: PriceAssessment) {
        self.prices.insert(p.key.clone(), p);
    }

    /// The bank of the receipt's active pledge, if any, in this set.
    pub(crate) fn pledgee_of(&self, receipt: &Receipt) -> Option<String> {
        let pledge = receipt.active_pledge().and_then(|id| self.pledges.get(id));
        pledge.map(|p| p.pledgee().to_owned())
    }
}

impl StateRead for Objects {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        Ok(self.ledger_id.clone())
    }
    fn governance(&self) -> Result<Option<Governance>, StateError> {
        Ok(self.governance.clone())
    }
    fn membership(&self) -> Result<Option<Membership>, StateError> {
        Ok(self.membership.clone())
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError> {
        Ok(self.participants.get(id).cloned())
    }
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StateError> {
        Ok(self.key_owners.get(key).cloned())
    }
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StateError> {
        Ok(self.legal_ids.get(legal_id).cloned())
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError> {
        Ok(self.tanks.get(id).cloned())
    }
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StateError> {
        Ok(self.physical_tanks.get(physical_id).cloned())
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError> {
        Ok(self.certificates.get(reference).cloned())
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError> {
        Ok(self.receipts.get(id).cloned())
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError> {
        Ok(self.pledges.get(id).cloned())
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError> {
        Ok(self.transactions.get(tx_id).copied())
    }
    fn attempt(&self, tx_hash: &Digest) -> Result<Option<Seq>, StateError> {
        Ok(self.attempts.get(tx_hash).copied())
    }
    fn price(&self, key: &PriceKey) -> Result<Option<PriceAssessment>, StateError> {
        Ok(self.prices.get(key).cloned())
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError> {
        Ok(self
            .receipts
            .values()
            .filter(|r| filter.matches(r, self.pledgee_of(r).as_deref()))
            .map(|r| r.id().to_owned())
            .collect())
    }
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError> {
        Ok(self
            .tanks
            .range::<str, _>(after_bound(after))
            .take(limit)
            .map(|(_, tank)| tank.clone())
            .collect())
    }
}

/// The ids strictly after `after` (every id when `None`), as a range.
pub fn after_bound(after: Option<&str>) -> (Bound<&str>, Bound<&str>) {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    (start, Bound::Unbounded)
}

/// The whole state held in memory: what replay builds.
pub type MemoryState = Objects;

/// Pending changes layered over a base state: reads see the changes first.
#[derive(Debug)]
pub struct Overlay<'a, S: ?Sized> {
    base: &'a S,
    pending: Objects,
}

impl<'a, S: StateRead + ?Sized> Overlay<'a, S> {
    /// No pending changes yet.
    pub fn new(base: &'a S) -> Self {
        Overlay {
            base,
            pending: Objects::default(),
        }
    }

    /// `pending` changes over `base`.
    pub fn with_pending(base: &'a S, pending: Objects) -> Self {
        Overlay { base, pending }
    }

    /// Adds changes on top of the pending ones.
    pub fn push(&mut self, changes: Objects) {
        self.pending.merge(changes);
    }

    /// The pending changes, to be written.
    pub fn into_pending(self) -> Objects {
        self.pending
    }

    /// The pending changes so far.
    pub fn pending(&self) -> &Objects {
        &self.pending
    }
}

impl<S: StateRead + ?Sized> Layered for Overlay<'_, S> {
    type Base = S;
    fn base(&self) -> &S {
        self.base
    }
    fn layers(&self) -> impl DoubleEndedIterator<Item = &Objects> {
        std::iter::once(&self.pending)
    }
}

/// A state made of change sets over a base: a read looks in the change
/// sets, newest first, then asks the base. A group's pending changes
/// ([`Overlay`]), a snapshot's updates not yet in the state store
/// (`crate::view::Snapshot`) and the groups a sequencer has in flight are
/// such states: each names its base and its change sets, and reads the
/// same way through [`StateRead`].
pub trait Layered {
    /// The state under the change sets.
    type Base: StateRead + ?Sized;
    /// The state under the change sets.
    fn base(&self) -> &Self::Base;
    /// The change sets, oldest first.
    fn layers(&self) -> impl DoubleEndedIterator<Item = &Objects>;
}

/// The newest version of an object among the change sets of `layered`.
fn newest<'a, L: Layered, T: Clone + 'a>(
    layered: &'a L,
    get: impl Fn(&'a Objects) -> Option<&'a T>,
) -> Option<T> {
    layered.layers().rev().find_map(get).cloned()
}

macro_rules! layered_read {
    ($method:ident, $field:ident, $key:ty, $value:ty) => {
        fn $method(&self, key: &$key) -> Result<Option<$value>, StateError> {
            match newest(self, |objects| objects.$field.get(key)) {
                Some(found) => Ok(Some(found)),
                None => self.base().$method(key),
            }
        }
    };
}

impl<L: Layered> StateRead for L {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        match newest(self, |objects| objects.ledger_id.as_ref()) {
            Some(id) => Ok(Some(id)),
            None => self.base().ledger_id(),
        }
    }
    fn governance(&self) -> Result<Option<Governance>, StateError> {
        match newest(self, |objects| objects.governance.as_ref()) {
            Some(governance) => Ok(Some(governance)),
            None => self.base().governance(),
        }
    }
    fn membership(&self) -> Result<Option<Membership>, StateError> {
        match newest(self, |objects| objects.membership.as_ref()) {
            Some(membership) => Ok(Some(membership)),
            None => self.base().membership(),
        }
    }
    layered_read!(participant, participants, str, Participant);
    layered_read!(key_owner, key_owners, PublicKey, KeyOwner);
    layered_read!(legal_id_owner, legal_ids, LegalId, String);
    layered_read!(tank, tanks, str, Tank);
    layered_read!(physical_tank, physical_tanks, PhysicalTankId, String);
    layered_read!(certificate, certificates, CertificateRef, Certificate);
    layered_read!(receipt, receipts, str, Receipt);
    layered_read!(pledge, pledges, str, Pledge);
    layered_read!(transaction, transactions, str, TxRecord);
    layered_read!(attempt, attempts, Digest, Seq);
    layered_read!(price, prices, PriceKey, PriceAssessment);

    /// The base's matches and every receipt the change sets hold, each
    /// judged as the layered state sees it.
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError> {
        let candidates = self.base().receipt_ids(filter)?.into_iter();
        let changed = self
            .layers()
            .flat_map(|changes| changes.receipts.keys().cloned());
        matching_receipts(self, filter, candidates.chain(changed))
    }

    /// The base's page and every tank the change sets hold after `after`,
    /// newest version of each, cut to `limit`: nothing is ever deleted, so
    /// the first `limit` tanks of the whole are among these.
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError> {
        let mut tanks: BTreeMap<String, Tank> = self
            .base()
            .tanks(after, limit)?
            .into_iter()
            .map(|tank| (tank.id.clone(), tank))
            .collect();
        for changes in self.layers() {
            let changed = changes.tanks.range::<str, _>(after_bound(after));
            tanks.extend(changed.map(|(id, tank)| (id.clone(), tank.clone())));
        }
        Ok(tanks.into_values().take(limit).collect())
    }
}
