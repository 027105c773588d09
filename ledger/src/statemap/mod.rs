//! The state map: a sparse Merkle tree from every receipt and tank to the
//! hash of its current state. Every checkpoint commits to its root (the
//! `state-root` line), so a bank proves with a map proof a receipt's current
//! state, its latest entry and the length of its history, and entries left
//! out of a bundle are caught (docs/FORMAT.md §7.9).
//!
//! ```text
//!  key   = SHA-256("pledge-ledger/v1/state-key\0" ‖ kind ‖ id)        kind 0x01 receipt, 0x02 tank
//!  value = SHA-256(state tag ‖ fields)                                 leaf.rs
//!  subtree(depth, prefix) = EMPTY (32 zero bytes)                      no key under it
//!                         | leaf_hash(key, value)                       exactly one
//!                         | node_hash(subtree(left), subtree(right))    two or more
//!  root  = subtree(0, "")
//! ```
//! - [`hash`]: keys, tags, leaf and node hashes, bit order.
//! - [`leaf`]: the value of a receipt's and a tank's leaf, field by field.
//! - [`tree`]: the stored nodes and the incremental update of one group.
//! - [`proof`]: proofs of presence and absence, and their verification.
//! - [`versioned`]: the map as the state stores keep it, by version.
//! - [`history`]: the superseded versions a store keeps in memory.
//! - [`floor`]: the oldest version still proven at, below which the stores
//!   prune.
//!
//! The map is derived state. The state stores update it once per applied
//! update, off the acknowledgement path ([`versioned::update_for`]: only
//! the leaves the update changed, [`changed_leaves`]); checkpoints read its
//! root at their size; an auditor's replay recomputes the root from the
//! replayed objects ([`root_of_state`]) and compares it with the
//! checkpoint's.

pub mod floor;
pub mod hash;
pub mod history;
pub mod leaf;
pub mod proof;
pub mod tree;
pub mod versioned;

use std::collections::BTreeMap;

pub use floor::{MapFloor, MapPin};
pub use hash::{EMPTY, Kind, MapHash, map_key};
pub use history::MapHistory;
pub use proof::{MapProof, MapProofError};
pub use tree::{MapNode, MapNodeId, MapNodeSource, MapUpdate, MemoryMap};
pub use versioned::{AtVersion, VersionedMap};

use crate::model::{Receipt, ReceiptStatus};
use crate::state::{Objects, StateRead};
use crate::store::StoreError;

/// The leaves that `changes` (a group's new objects) set, reading a
/// receipt's pledge from the changes first, then from `state`.
pub fn changed_leaves<S: StateRead + ?Sized>(
    changes: &Objects,
    state: &S,
) -> Result<BTreeMap<MapHash, MapHash>, StoreError> {
    let mut leaves = BTreeMap::new();
    for receipt in changes.receipts.values() {
        let value = receipt_leaf_value(receipt, |id| match changes.pledges.get(id) {
            Some(pledge) => Ok(Some(pledge.clone())),
            None => state.pledge(id),
        })?;
        leaves.insert(map_key(Kind::Receipt, receipt.id()), value);
    }
    for tank in changes.tanks.values() {
        leaves.insert(map_key(Kind::Tank, &tank.id), leaf::tank_value(tank));
    }
    Ok(leaves)
}

/// Every leaf of a whole state.
pub fn leaves_of_state(state: &Objects) -> BTreeMap<MapHash, MapHash> {
    let mut leaves = BTreeMap::new();
    for receipt in state.receipts.values() {
        let Ok(value) = receipt_leaf_value(receipt, |id| {
            Ok::<_, std::convert::Infallible>(state.pledges.get(id).cloned())
        });
        leaves.insert(map_key(Kind::Receipt, receipt.id()), value);
    }
    for tank in state.tanks.values() {
        leaves.insert(map_key(Kind::Tank, &tank.id), leaf::tank_value(tank));
    }
    leaves
}

/// The map root of a whole state, computed from scratch.
pub fn root_of_state(state: &Objects) -> MapHash {
    tree::root_of(&leaves_of_state(state))
}

/// A receipt's leaf value, `pledge` fetching its active pledge by id.
pub fn receipt_leaf_value<E>(
    receipt: &Receipt,
    pledge: impl Fn(&str) -> Result<Option<crate::model::Pledge>, E>,
) -> Result<MapHash, E> {
    let active = match &receipt.status {
        ReceiptStatus::Pledged { pledge_id } => pledge(pledge_id)?,
        _ => None,
    };
    Ok(leaf::receipt_value(receipt, active.as_ref()))
}
