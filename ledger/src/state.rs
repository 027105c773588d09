//! The derived state: what the rules read, and the changes they produce.
//!
//! The rules read through [`StateRead`] and return an [`Objects`] change set;
//! they never write. A change set holds whole objects to put (nothing is ever
//! deleted: ids are never reused). The same type is the in-memory state
//! ([`MemoryState`]), so replay and the model tests need no store at all, and
//! [`Overlay`] layers the pending changes of a commit group over any state.
//!
//! The kinds of object, each keyed as shown (this list is the one place to
//! look; every store keeps exactly these):
//!
//! | kind               | key                       | value                         |
//! |--------------------|---------------------------|-------------------------------|
//! | ledger id          | —                         | the id fixed by genesis       |
//! | governance         | —                         | [`Governance`] from genesis   |
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

use std::collections::{BTreeMap, BTreeSet};

use crate::crypto::PublicKey;
use crate::model::{
    Certificate, CertificateRef, Governance, KeyOwner, LegalId, Participant, PhysicalTankId,
    Pledge, Receipt, Seq, Tank, TxRecord,
};
use crate::store::{ReceiptFilter, StoreError, active_pledge_id};

/// Read access to the derived state. Reads may fail only for storage reasons.
pub trait StateRead {
    /// The ledger id fixed by genesis; `None` before genesis.
    fn ledger_id(&self) -> Result<Option<String>, StoreError>;
    /// The governance fixed by genesis; `None` before genesis.
    fn governance(&self) -> Result<Option<Governance>, StoreError>;
    /// A participant by id.
    fn participant(&self, id: &str) -> Result<Option<Participant>, StoreError>;
    /// Whose a public key is, or was.
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StoreError>;
    /// The participant with a legal identity.
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StoreError>;
    /// A tank by id.
    fn tank(&self, id: &str) -> Result<Option<Tank>, StoreError>;
    /// The tank registered with a physical identity.
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StoreError>;
    /// An inspection certificate.
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StoreError>;
    /// A receipt by id.
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StoreError>;
    /// A pledge by id.
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StoreError>;
    /// The record of an applied transaction id.
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StoreError>;
    /// The ids of every receipt matching `filter`, in id order. For the rare
    /// rules that act on many objects at once (a custodian's succession, a
    /// bank's): a store answers from an index.
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StoreError>;
}

/// A set of objects: the changes of one entry or group, or a whole state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objects {
    /// The ledger id, set by genesis.
    pub ledger_id: Option<String>,
    /// The governance, set by genesis.
    pub governance: Option<Governance>,
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
        self.participants.extend(later.participants);
        self.key_owners.extend(later.key_owners);
        self.legal_ids.extend(later.legal_ids);
        self.tanks.extend(later.tanks);
        self.physical_tanks.extend(later.physical_tanks);
        self.certificates.extend(later.certificates);
        self.receipts.extend(later.receipts);
        self.pledges.extend(later.pledges);
        self.transactions.extend(later.transactions);
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

    /// The bank of the receipt's active pledge, if any, in this set.
    fn pledgee_of(&self, receipt: &Receipt) -> Option<String> {
        let pledge = active_pledge_id(receipt).and_then(|id| self.pledges.get(id));
        pledge.map(|p| p.pledgee().to_owned())
    }
}

impl StateRead for Objects {
    fn ledger_id(&self) -> Result<Option<String>, StoreError> {
        Ok(self.ledger_id.clone())
    }
    fn governance(&self) -> Result<Option<Governance>, StoreError> {
        Ok(self.governance.clone())
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StoreError> {
        Ok(self.participants.get(id).cloned())
    }
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StoreError> {
        Ok(self.key_owners.get(key).cloned())
    }
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StoreError> {
        Ok(self.legal_ids.get(legal_id).cloned())
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StoreError> {
        Ok(self.tanks.get(id).cloned())
    }
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StoreError> {
        Ok(self.physical_tanks.get(physical_id).cloned())
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StoreError> {
        Ok(self.certificates.get(reference).cloned())
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StoreError> {
        Ok(self.receipts.get(id).cloned())
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StoreError> {
        Ok(self.pledges.get(id).cloned())
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StoreError> {
        Ok(self.transactions.get(tx_id).copied())
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StoreError> {
        Ok(self
            .receipts
            .values()
            .filter(|r| filter.matches(r, self.pledgee_of(r).as_deref()))
            .map(|r| r.id().to_owned())
            .collect())
    }
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

    /// Whether `receipt`, as the overlay sees it, matches `filter`.
    fn overlay_matches(
        &self,
        filter: &ReceiptFilter,
        receipt: &Receipt,
    ) -> Result<bool, StoreError> {
        let pledgee = match active_pledge_id(receipt) {
            Some(id) => self.pledge(id)?.map(|p| p.pledgee().to_owned()),
            None => None,
        };
        Ok(filter.matches(receipt, pledgee.as_deref()))
    }
}

macro_rules! overlay_read {
    ($method:ident, $field:ident, $key:ty, $value:ty) => {
        fn $method(&self, key: &$key) -> Result<Option<$value>, StoreError> {
            match self.pending.$field.get(key) {
                Some(found) => Ok(Some(found.clone())),
                None => self.base.$method(key),
            }
        }
    };
}

impl<S: StateRead + ?Sized> StateRead for Overlay<'_, S> {
    fn ledger_id(&self) -> Result<Option<String>, StoreError> {
        match &self.pending.ledger_id {
            Some(id) => Ok(Some(id.clone())),
            None => self.base.ledger_id(),
        }
    }
    fn governance(&self) -> Result<Option<Governance>, StoreError> {
        match &self.pending.governance {
            Some(governance) => Ok(Some(governance.clone())),
            None => self.base.governance(),
        }
    }
    overlay_read!(participant, participants, str, Participant);
    overlay_read!(key_owner, key_owners, PublicKey, KeyOwner);
    overlay_read!(legal_id_owner, legal_ids, LegalId, String);
    overlay_read!(tank, tanks, str, Tank);
    overlay_read!(physical_tank, physical_tanks, PhysicalTankId, String);
    overlay_read!(certificate, certificates, CertificateRef, Certificate);
    overlay_read!(receipt, receipts, str, Receipt);
    overlay_read!(pledge, pledges, str, Pledge);
    overlay_read!(transaction, transactions, str, TxRecord);

    /// The base's matches, re-judged where the pending changes hold a newer
    /// version (a receipt, or the pledge it is under), plus pending receipts
    /// that match.
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StoreError> {
        let mut ids = BTreeSet::new();
        for id in self.base.receipt_ids(filter)? {
            let current = self.receipt(&id)?;
            if let Some(receipt) = current
                && self.overlay_matches(filter, &receipt)?
            {
                ids.insert(id);
            }
        }
        for receipt in self.pending.receipts.values() {
            if self.overlay_matches(filter, receipt)? {
                ids.insert(receipt.id().to_owned());
            }
        }
        Ok(ids.into_iter().collect())
    }
}
