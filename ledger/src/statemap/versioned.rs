//! The map as a state store keeps it: every node written under the version
//! (the number of entries applied) it belongs to, never overwritten, and
//! the root of every version. A proof at a checkpoint's size reads, for
//! each position, the newest node written at or below that size.
//!
//! ```text
//!  StateStore::apply(update)      version = update.end
//!     changed_leaves(update.changes, state before) ─▶ tree::update(nodes at the latest version)
//!     write each changed node at version, and root[version]
//!  checkpoint of size n           root[n] (n must be a version: a size the store applied)
//!  proof at n                     proof::prove(AtVersion { n })
//!  StateStore::prune_map(floor)   drop every node version superseded at or below floor,
//!                                 and the roots below it; sizes ≥ floor read as before
//! ```
//! Pruning keeps, for each position, the newest version at or below the
//! floor and every later one, so a read at any version ≥ floor finds the
//! node it found before. A read below the floor is [`StoreError::MapPruned`].

use std::collections::BTreeMap;

use super::hash::MapHash;
use super::tree::{self, MapNode, MapNodeId, MapNodeSource, MapUpdate};
use super::{Kind, MapProof, changed_leaves, map_key, proof};
use crate::state::{Objects, StateRead};
use crate::store::StoreError;

/// Versioned map nodes, as a state store or a view of one holds them.
pub trait VersionedMap {
    /// The node at `id` as of `version`: the newest written at or below it.
    fn map_node_at(&self, id: &MapNodeId, version: u64) -> Result<Option<MapNode>, StoreError>;

    /// The root of the map after exactly `version` entries, if the store
    /// applied up to that size (an apply covering several groups leaves no
    /// root at the sizes inside it).
    fn state_root_at(&self, version: u64) -> Result<Option<MapHash>, StoreError>;

    /// The floor the map was pruned to: versions below it are gone.
    fn map_floor(&self) -> Result<u64, StoreError>;

    /// How many node versions are stored: the map's storage (scans it).
    fn map_node_versions(&self) -> Result<u64, StoreError>;
}

/// The nodes of a versioned map as of one version.
#[derive(Debug, Clone, Copy)]
pub struct AtVersion<'a, M: ?Sized> {
    /// The map.
    pub map: &'a M,
    /// The version read.
    pub version: u64,
}

impl<M: VersionedMap + ?Sized> MapNodeSource for AtVersion<'_, M> {
    type Error = StoreError;
    fn map_node(&self, id: &MapNodeId) -> Result<Option<MapNode>, StoreError> {
        self.map.map_node_at(id, self.version)
    }
}

/// What a state store writes for `changes` (the objects an update puts),
/// `current` being the store before it: the changed nodes and the new root.
pub fn update_for<S>(current: &S, changes: &Objects) -> Result<MapUpdate, StoreError>
where
    S: StateRead + VersionedMap,
{
    let leaves: BTreeMap<MapHash, MapHash> = changed_leaves(changes, current)?;
    tree::update(
        &AtVersion {
            map: current,
            version: u64::MAX,
        },
        &leaves,
    )
}

/// The proof for the object `kind`/`id` in the map as of `version`.
pub fn prove_at<M: VersionedMap + ?Sized>(
    map: &M,
    kind: Kind,
    id: &str,
    version: u64,
) -> Result<MapProof, StoreError> {
    proof::prove(&AtVersion { map, version }, &map_key(kind, id))
}
