//! The derived state in memory: the same contract as the disk store,
//! nothing durable. A view is an immutable snapshot (the store copies its
//! state on the next apply while a view of it is alive).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{ReceiptFilter, StateStore, StateUpdate, StateView, StoreError, check_follows};
use crate::crypto::{Digest, PublicKey};
use crate::merkle::{Hash, NodeId, NodeSource};
use crate::model::{
    Certificate, CertificateRef, Governance, KeyOwner, LegalId, Membership, Participant,
    PhysicalTankId, Pledge, Receipt, Seq, Tank, TxRecord,
};
use crate::state::{Objects, StateError, StateRead};
use crate::statemap::{MapHash, MapNode, MapNodeId, VersionedMap, versioned};

/// Objects, history and the Merkle nodes above the leaves in memory.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default, Clone)]
struct Inner {
    applied: u64,
    objects: Objects,
    nodes: BTreeMap<NodeId, Hash>,
    /// State map nodes by position, then version.
    map_nodes: BTreeMap<(MapNodeId, u64), MapNode>,
    /// State map roots by version.
    map_roots: BTreeMap<u64, MapHash>,
    /// Versions below this are pruned.
    map_floor: u64,
}

impl MemoryStateStore {
    /// An empty state.
    pub fn new() -> MemoryStateStore {
        MemoryStateStore::default()
    }
}

impl StateStore for MemoryStateStore {
    type View = MemoryStateView;

    fn applied(&self) -> u64 {
        self.inner.applied
    }

    fn view(&self) -> MemoryStateView {
        MemoryStateView {
            inner: self.inner.clone(),
        }
    }

    fn apply(&mut self, update: &StateUpdate) -> Result<(), StoreError> {
        check_follows(self.inner.applied, update)?;
        // Read through a view dropped before `make_mut` (a live view makes
        // it copy the state).
        let map = versioned::update_for(&self.view(), &update.changes)?;
        let inner = Arc::make_mut(&mut self.inner);
        inner.objects.merge(update.changes.clone());
        let above_leaves = update.nodes.iter().filter(|(id, _)| id.level > 0);
        inner.nodes.extend(above_leaves.map(|(k, v)| (*k, *v)));
        let version = update.end;
        inner.map_nodes.extend(
            map.writes
                .into_iter()
                .map(|(id, node)| ((id, version), node)),
        );
        inner.map_roots.insert(version, map.root);
        inner.applied = update.end;
        Ok(())
    }

    fn prune_map(&mut self, floor: u64) -> Result<u64, StoreError> {
        let floor = floor.min(self.inner.applied);
        if floor <= self.inner.map_floor {
            return Ok(0);
        }
        let inner = Arc::make_mut(&mut self.inner);
        let superseded = superseded_at_or_below(&inner.map_nodes, floor);
        for key in &superseded {
            inner.map_nodes.remove(key);
        }
        let kept_roots = inner.map_roots.split_off(&floor);
        let roots_dropped = std::mem::replace(&mut inner.map_roots, kept_roots).len();
        inner.map_floor = floor;
        Ok((superseded.len() + roots_dropped) as u64)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.inner = Arc::default();
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The node versions a later version at or below `floor` superseded.
fn superseded_at_or_below(
    nodes: &BTreeMap<(MapNodeId, u64), MapNode>,
    floor: u64,
) -> Vec<(MapNodeId, u64)> {
    let keys: Vec<&(MapNodeId, u64)> = nodes.keys().collect();
    keys.windows(2)
        .filter(|pair| pair[0].0 == pair[1].0 && pair[1].1 <= floor)
        .map(|pair| *pair[0])
        .collect()
}

/// An immutable snapshot of a [`MemoryStateStore`].
#[derive(Debug, Clone)]
pub struct MemoryStateView {
    inner: Arc<Inner>,
}

impl StateView for MemoryStateView {
    fn applied(&self) -> u64 {
        self.inner.applied
    }

    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError> {
        let objects = &self.inner.objects;
        let after = (
            std::ops::Bound::Excluded(after.to_owned()),
            std::ops::Bound::Unbounded,
        );
        Ok(objects
            .receipts
            .range(after)
            .map(|(_, r)| r)
            .filter(|r| filter.matches(r, objects.pledgee_of(r).as_deref()))
            .take(limit)
            .cloned()
            .collect())
    }

    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError> {
        let history = self.inner.objects.receipt_history.get(id);
        Ok(history.cloned().unwrap_or_default())
    }

    fn objects(&self) -> Result<Objects, StoreError> {
        Ok(self.inner.objects.clone())
    }
}

impl StateRead for MemoryStateView {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        self.inner.objects.ledger_id()
    }
    fn governance(&self) -> Result<Option<Governance>, StateError> {
        self.inner.objects.governance()
    }
    fn membership(&self) -> Result<Option<Membership>, StateError> {
        self.inner.objects.membership()
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError> {
        self.inner.objects.participant(id)
    }
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StateError> {
        self.inner.objects.key_owner(key)
    }
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StateError> {
        self.inner.objects.legal_id_owner(legal_id)
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError> {
        self.inner.objects.tank(id)
    }
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StateError> {
        self.inner.objects.physical_tank(physical_id)
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError> {
        self.inner.objects.certificate(reference)
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError> {
        self.inner.objects.receipt(id)
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError> {
        self.inner.objects.pledge(id)
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError> {
        self.inner.objects.transaction(tx_id)
    }
    fn attempt(&self, tx_hash: &Digest) -> Result<Option<Seq>, StateError> {
        self.inner.objects.attempt(tx_hash)
    }
    fn price(
        &self,
        key: &crate::model::PriceKey,
    ) -> Result<Option<crate::model::PriceAssessment>, StateError> {
        self.inner.objects.price(key)
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError> {
        self.inner.objects.receipt_ids(filter)
    }
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError> {
        self.inner.objects.tanks(after, limit)
    }
}

impl MemoryStateView {
    /// Refuses a size below the floor the map was pruned to.
    fn check_provable(&self, size: u64) -> Result<(), StoreError> {
        let floor = self.inner.map_floor;
        match size < floor {
            true => Err(StoreError::MapPruned { size, floor }),
            false => Ok(()),
        }
    }
}

impl VersionedMap for MemoryStateView {
    fn map_node_at(&self, id: &MapNodeId, version: u64) -> Result<Option<MapNode>, StoreError> {
        self.check_provable(version)?;
        let newest = self
            .inner
            .map_nodes
            .range((*id, 0)..=(*id, version))
            .next_back();
        Ok(newest.map(|(_, node)| *node))
    }

    fn state_root_at(&self, version: u64) -> Result<Option<MapHash>, StoreError> {
        self.check_provable(version)?;
        Ok(match version {
            0 => Some(crate::statemap::EMPTY),
            _ => self.inner.map_roots.get(&version).copied(),
        })
    }

    fn map_floor(&self) -> Result<u64, StoreError> {
        Ok(self.inner.map_floor)
    }

    fn map_node_versions(&self) -> Result<u64, StoreError> {
        Ok(self.inner.map_nodes.len() as u64)
    }
}

impl NodeSource for MemoryStateView {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        self.inner
            .nodes
            .get(&id)
            .copied()
            .ok_or_else(|| StoreError::Tree {
                reason: format!("node {id:?} is not stored"),
            })
    }
}
