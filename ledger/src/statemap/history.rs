//! The map's past, in memory: the node versions a store overwrote that a
//! proof at a size from the floor on may still read, and the roots from the
//! floor on. A store that keeps only each node's newest version (the disk
//! store) answers older sizes from here.
//!
//! ```text
//!  apply(end)        for each node overwritten: supersede(id, its version, its node, end)
//!                    BEFORE the write that overwrites it; then add_root(end, root)
//!  read at v ≥ floor the newest stored version if it is ≤ v, else node_at(id, v)
//!  prune(floor)      drops the versions superseded at or below floor (a read at
//!                    v ≥ floor finds their successor) and the roots below floor
//! ```
//! Its size is what changed since the floor: one checkpoint interval of
//! writes on a node. Nothing here survives a restart: a store reopened at
//! `applied` entries is provable from `applied` on ([`MapHistory::starting_at`]).

use std::collections::BTreeMap;

use super::hash::MapHash;
use super::tree::{MapNode, MapNodeId};

/// Superseded node versions and roots, from a floor on.
#[derive(Debug, Clone, Default)]
pub struct MapHistory {
    /// Node versions by position and the version they were written at.
    superseded: BTreeMap<(MapNodeId, u64), MapNode>,
    /// The same versions by the version that superseded them: what a
    /// prune drops, without a scan.
    by_successor: BTreeMap<u64, Vec<(MapNodeId, u64)>>,
    /// Roots by version.
    roots: BTreeMap<u64, MapHash>,
    /// Sizes below this are no longer provable.
    floor: u64,
}

impl MapHistory {
    /// The history of a map opened after `applied` entries with `root`:
    /// provable at `applied` only, until more is applied.
    pub fn starting_at(applied: u64, root: MapHash) -> MapHistory {
        MapHistory {
            roots: BTreeMap::from([(applied, root)]),
            floor: applied,
            ..MapHistory::default()
        }
    }

    /// Records that the node `node`, written at `version` at `id`, is
    /// overwritten by a version written at `at`.
    pub fn supersede(&mut self, id: MapNodeId, version: u64, node: MapNode, at: u64) {
        if self.superseded.insert((id, version), node).is_none() {
            self.by_successor.entry(at).or_default().push((id, version));
        }
    }

    /// Records the root after `version` entries.
    pub fn add_root(&mut self, version: u64, root: MapHash) {
        self.roots.insert(version, root);
    }

    /// The newest superseded version at `id` written at or below `version`.
    pub fn node_at(&self, id: &MapNodeId, version: u64) -> Option<MapNode> {
        self.superseded
            .range((*id, 0)..=(*id, version))
            .next_back()
            .map(|(_, node)| *node)
    }

    /// The root after exactly `version` entries, if one was recorded.
    pub fn root_at(&self, version: u64) -> Option<MapHash> {
        self.roots.get(&version).copied()
    }

    /// Sizes below this are no longer provable.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// How many superseded node versions are kept.
    pub fn len(&self) -> usize {
        self.superseded.len()
    }

    /// Whether no superseded node version is kept.
    pub fn is_empty(&self) -> bool {
        self.superseded.is_empty()
    }

    /// Raises the floor to `floor` (a lower one changes nothing): drops the
    /// versions superseded at or below it and the roots below it. Returns
    /// how many versions and roots it dropped.
    pub fn prune(&mut self, floor: u64) -> u64 {
        if floor <= self.floor {
            return 0;
        }
        let kept = self.by_successor.split_off(&floor.saturating_add(1));
        let dropped = std::mem::replace(&mut self.by_successor, kept);
        let mut count = 0;
        for key in dropped.into_values().flatten() {
            self.superseded.remove(&key);
            count += 1;
        }
        let kept_roots = self.roots.split_off(&floor);
        count += std::mem::replace(&mut self.roots, kept_roots).len();
        self.floor = floor;
        count as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner(byte: u8) -> MapNode {
        MapNode::Inner { hash: [byte; 32] }
    }

    #[test]
    fn a_read_finds_the_version_live_at_its_size_until_pruned() {
        let id = MapNodeId::ROOT;
        let mut history = MapHistory::starting_at(3, [3; 32]);
        // Written at 3, overwritten at 5, then at 8 (8 is now the stored one).
        history.supersede(id, 3, inner(3), 5);
        history.add_root(5, [5; 32]);
        history.supersede(id, 5, inner(5), 8);
        history.add_root(8, [8; 32]);
        assert_eq!(history.node_at(&id, 4), Some(inner(3)));
        assert_eq!(history.node_at(&id, 7), Some(inner(5)));
        assert_eq!(history.node_at(&id, 2), None);
        assert_eq!(history.root_at(3), Some([3; 32]));
        assert_eq!(history.root_at(4), None);

        assert_eq!(history.prune(5), 2, "the version of 3 and the root at 3");
        assert_eq!(history.floor(), 5);
        assert_eq!(history.node_at(&id, 6), Some(inner(5)));
        assert_eq!(history.len(), 1);
        assert_eq!(history.root_at(5), Some([5; 32]));
        assert_eq!(history.prune(4), 0, "the floor never goes down");
        assert_eq!(history.prune(8), 2);
        assert!(history.is_empty());
    }
}
