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
//! **The kinds of object** are the fields of [`Objects`], in one list. Adding
//! a kind: a field and its line in [`Objects::merge`]; a [`StateRead`] method
//! with its implementations here ([`Objects`], [`Overlay`]); the disk state
//! store's table of kinds (`store/state/disk.rs`, `KINDS`); and the pending
//! overlay of a snapshot (`crate::view`).

use std::collections::BTreeMap;
use std::error::Error;

use crate::model::{
    Certificate, CertificateRef, Participant, Pledge, Receipt, Seq, Tank, TxRecord,
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
    /// A participant by id.
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError>;
    /// A tank by id.
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError>;
    /// An inspection certificate.
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError>;
    /// A receipt by id.
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError>;
    /// A pledge by id.
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError>;
    /// The record of an applied transaction id.
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError>;
}

/// A set of objects: the changes of one entry or group, or a whole state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objects {
    /// The ledger id, set by genesis.
    pub ledger_id: Option<String>,
    /// Participants by id.
    pub participants: BTreeMap<String, Participant>,
    /// Tanks by id.
    pub tanks: BTreeMap<String, Tank>,
    /// Certificates by agency and number.
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
        self.participants.extend(later.participants);
        self.tanks.extend(later.tanks);
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
    /// Puts a tank.
    pub fn put_tank(&mut self, t: Tank) {
        self.tanks.insert(t.id.clone(), t);
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
}

impl StateRead for Objects {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        Ok(self.ledger_id.clone())
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError> {
        Ok(self.participants.get(id).cloned())
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError> {
        Ok(self.tanks.get(id).cloned())
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

macro_rules! overlay_read {
    ($method:ident, $field:ident, $key:ty, $value:ty) => {
        fn $method(&self, key: &$key) -> Result<Option<$value>, StateError> {
            match self.pending.$field.get(key) {
                Some(found) => Ok(Some(found.clone())),
                None => self.base.$method(key),
            }
        }
    };
}

impl<S: StateRead + ?Sized> StateRead for Overlay<'_, S> {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        match &self.pending.ledger_id {
            Some(id) => Ok(Some(id.clone())),
            None => self.base.ledger_id(),
        }
    }
    overlay_read!(participant, participants, str, Participant);
    overlay_read!(tank, tanks, str, Tank);
    overlay_read!(certificate, certificates, CertificateRef, Certificate);
    overlay_read!(receipt, receipts, str, Receipt);
    overlay_read!(pledge, pledges, str, Pledge);
    overlay_read!(transaction, transactions, str, TxRecord);
}
