//! The map as a state store keeps it, by version (the number of entries
//! applied): a proof at a checkpoint's size reads, for each position, the
//! newest node written at or below that size, and the root of that size.
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
//! node it found before. A read below the floor is [`StoreError::MapPruned`],
//! never an older or a newer node.
//!
//! How a store keeps the versions is its own: the memory store keeps every
//! version from the floor on in one ordered map; the disk store keeps only
//! each node's newest version on disk, overwritten in place, and the
//! versions it overwrote since the floor in memory ([`super::MapHistory`]),
//! so a reopened disk store is provable from the size it opened at on
//! (its floor).

use std::collections::BTreeMap;

use super::hash::MapHash;
use super::tree::{self, MapNode, MapNodeId, MapNodeSource, MapUpdate};
use super::{Kind, MapProof, changed_leaves, map_key, proof};
use crate::state::{Objects, StateRead};
use crate::store::StoreError;

/// Versioned map nodes, as a state store or a view of one holds them.
pub trait VersionedMap {
    /// The node at `id` as of `version`: the newest written at or below it
    /// ([`StoreError::MapPruned`] below [`VersionedMap::map_floor`]).
    fn map_node_at(&self, id: &MapNodeId, version: u64) -> Result<Option<MapNode>, StoreError>;

    /// The root of the map after exactly `version` entries, if the store
    /// applied up to that size (an apply covering several groups leaves no
    /// root at the sizes inside it; [`StoreError::MapPruned`] below
    /// [`VersionedMap::map_floor`]).
    fn state_root_at(&self, version: u64) -> Result<Option<MapHash>, StoreError>;

    /// The smallest size the map is provable at: versions below it are
    /// gone (pruned, or, for a reopened disk store, never kept).
    fn map_floor(&self) -> Result<u64, StoreError>;

    /// How many node versions are kept, newest and superseded: the map's
    /// storage (scans it).
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
