//! The in-memory store: the same contract as the disk store, nothing durable.

use std::collections::BTreeMap;

use super::{ReceiptFilter, Store, StoreError, active_pledge_id, follow_on, tree_nodes_for};
use crate::chain::ChainCursor;
use crate::crypto::PublicKey;
use crate::entry::{Entry, Sealed};
use crate::error::DecodeError;
use crate::merkle::{self, Hash, NodeId, NodeSource};
use crate::model::{
    Certificate, CertificateRef, Governance, KeyOwner, LegalId, Participant, PhysicalTankId,
    Pledge, Receipt, Seq, Tank, TxRecord,
};
use crate::state::{Objects, StateRead};

/// Entries and state in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Vec<Vec<u8>>,
    state: Objects,
    head: ChainCursor,
    nodes: BTreeMap<NodeId, Hash>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn len(&self) -> u64 {
        self.records.len() as u64
    }

    fn head(&self) -> ChainCursor {
        self.head
    }

    fn entry(&self, seq: Seq) -> Result<Entry, StoreError> {
        let record = self.record(seq)?;
        Entry::decode(&record).map_err(|e: DecodeError| StoreError::InvalidEntry {
            seq,
            reason: e.to_string(),
        })
    }

    fn record(&self, seq: Seq) -> Result<Vec<u8>, StoreError> {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.records.get(i))
            .cloned()
            .ok_or(StoreError::OutOfRange {
                seq,
                len: self.len(),
            })
    }

    fn commit(&mut self, entries: &[Sealed], changes: &Objects) -> Result<(), StoreError> {
        let head = follow_on(self.head, entries)?;
        let leaves = entries.iter().map(|s| merkle::leaf_hash(s.body()));
        let nodes = tree_nodes_for(self, self.len(), leaves)?;
        self.head = head;
        self.nodes.extend(nodes);
        self.records
            .extend(entries.iter().map(|s| s.record.clone()));
        self.state.merge(changes.clone());
        Ok(())
    }

    fn objects(&self) -> Result<Objects, StoreError> {
        Ok(self.state.clone())
    }

    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError> {
        let after = (
            std::ops::Bound::Excluded(after.to_owned()),
            std::ops::Bound::Unbounded,
        );
        let pledgee = |r: &Receipt| {
            let pledge = active_pledge_id(r).and_then(|id| self.state.pledges.get(id));
            pledge.map(|p| p.pledgee().to_owned())
        };
        Ok(self
            .state
            .receipts
            .range(after)
            .map(|(_, r)| r)
            .filter(|r| filter.matches(r, pledgee(r).as_deref()))
            .take(limit)
            .cloned()
            .collect())
    }

    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError> {
        Ok(self
            .state
            .receipt_history
            .get(id)
            .cloned()
            .unwrap_or_default())
    }
}

impl StateRead for MemoryStore {
    fn ledger_id(&self) -> Result<Option<String>, StoreError> {
        self.state.ledger_id()
    }
    fn governance(&self) -> Result<Option<Governance>, StoreError> {
        self.state.governance()
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StoreError> {
        self.state.participant(id)
    }
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StoreError> {
        self.state.key_owner(key)
    }
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StoreError> {
        self.state.legal_id_owner(legal_id)
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StoreError> {
        self.state.tank(id)
    }
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StoreError> {
        self.state.physical_tank(physical_id)
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StoreError> {
        self.state.certificate(reference)
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StoreError> {
        self.state.receipt(id)
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StoreError> {
        self.state.pledge(id)
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StoreError> {
        self.state.transaction(tx_id)
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StoreError> {
        self.state.receipt_ids(filter)
    }
}

impl NodeSource for MemoryStore {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        self.nodes
            .get(&id)
            .copied()
            .ok_or_else(|| StoreError::Tree {
                reason: format!("node {id:?} is not stored"),
            })
    }
}
