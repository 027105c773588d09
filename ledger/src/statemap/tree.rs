//! The stored map and its incremental update: only the nodes on the paths
//! of the keys that changed are read, rehashed and rewritten, once per
//! group of changes.
//!
//! The tree is stored as its compact nodes, each at the position (depth,
//! prefix) of the subtree it stands for:
//!
//! ```text
//!  Leaf { key, value }   a subtree holding one leaf, at the highest position where it is alone
//!  Inner { hash }        a subtree holding two or more; its children are stored below it
//!  (nothing)             an empty subtree
//! ```
//! Entries are never removed (receipt and tank ids are never reused), so a
//! node only ever becomes an `Inner` or a `Leaf` with a new value; a leaf
//! that must share its subtree with a new key moves down.

use std::collections::BTreeMap;

use super::hash::{EMPTY, KEY_BITS, MapHash, bit, leaf_hash, node_hash, prefix};

/// Where a node sits: its depth and the prefix of its keys (bits from
/// `depth` on are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapNodeId {
    /// 0 (the root) ..= 256.
    pub depth: u16,
    /// The keys' common first `depth` bits, the rest zero.
    pub prefix: MapHash,
}

impl MapNodeId {
    /// The root's position.
    pub const ROOT: MapNodeId = MapNodeId {
        depth: 0,
        prefix: EMPTY,
    };

    /// The child on `side` (0 left, 1 right).
    fn child(&self, side: u8) -> MapNodeId {
        let depth = usize::from(self.depth);
        let mut prefix = self.prefix;
        if side == 1 {
            prefix[depth / 8] |= 0x80 >> (depth % 8);
        }
        MapNodeId {
            depth: self.depth + 1,
            prefix,
        }
    }

    /// The position at `depth` on the path of `key`.
    pub fn on_path(key: &MapHash, depth: usize) -> MapNodeId {
        MapNodeId {
            depth: depth as u16,
            prefix: prefix(key, depth),
        }
    }

    /// The position in heap order (the root 0, then each depth left to
    /// right: `2^depth − 1 + prefix`, the prefix read as a `depth`-bit
    /// number), for a file holding the map's upper levels; `None` below
    /// depth 63.
    pub fn heap_position(&self) -> Option<u64> {
        let depth = u32::from(self.depth);
        if depth >= 63 {
            return None;
        }
        let high = u64::from_be_bytes(self.prefix[..8].try_into().ok()?);
        let bits = high.checked_shr(64 - depth).unwrap_or(0);
        Some((1u64 << depth) - 1 + bits)
    }

    /// A storage key: depth (2 bytes, big-endian) ‖ prefix.
    pub fn to_key(&self) -> [u8; 34] {
        let mut out = [0u8; 34];
        out[..2].copy_from_slice(&self.depth.to_be_bytes());
        out[2..].copy_from_slice(&self.prefix);
        out
    }

    /// Reads a storage key written by [`MapNodeId::to_key`].
    pub fn from_key(bytes: &[u8]) -> Option<MapNodeId> {
        let depth = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?);
        let prefix: MapHash = bytes.get(2..)?.try_into().ok()?;
        (usize::from(depth) <= KEY_BITS).then_some(MapNodeId { depth, prefix })
    }
}

/// A stored node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapNode {
    /// The only leaf of its subtree.
    Leaf {
        /// The map key.
        key: MapHash,
        /// The value hash.
        value: MapHash,
    },
    /// A subtree of two or more leaves, with its hash.
    Inner {
        /// The subtree's hash.
        hash: MapHash,
    },
}

impl MapNode {
    /// The hash of the subtree the node stands for.
    pub fn hash(&self) -> MapHash {
        match self {
            MapNode::Leaf { key, value } => leaf_hash(key, value),
            MapNode::Inner { hash } => *hash,
        }
    }

    /// Storage bytes: `0x00 ‖ key ‖ value` for a leaf, `0x01 ‖ hash` for an
    /// inner node.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            MapNode::Leaf { key, value } => [&[0u8][..], key, value].concat(),
            MapNode::Inner { hash } => [&[1u8][..], hash].concat(),
        }
    }

    /// Reads bytes written by [`MapNode::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<MapNode> {
        match bytes.split_first()? {
            (0, rest) if rest.len() == 64 => Some(MapNode::Leaf {
                key: rest[..32].try_into().ok()?,
                value: rest[32..].try_into().ok()?,
            }),
            (1, rest) => Some(MapNode::Inner {
                hash: rest.try_into().ok()?,
            }),
            _ => None,
        }
    }
}

/// Where the stored nodes are read from.
pub trait MapNodeSource {
    /// The storage error.
    type Error;
    /// The node at `id`, if any.
    fn map_node(&self, id: &MapNodeId) -> Result<Option<MapNode>, Self::Error>;
}

/// The nodes to write for a group of changes, and the new root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapUpdate {
    /// The map's root after the update.
    pub root: MapHash,
    /// Every node that changed, to be written in one batch.
    pub writes: Vec<(MapNodeId, MapNode)>,
    /// How many of the changed keys were not in the map before (new
    /// leaves).
    pub added: u64,
}

/// The root of a stored map.
pub fn stored_root<S: MapNodeSource>(source: &S) -> Result<MapHash, S::Error> {
    Ok(source
        .map_node(&MapNodeId::ROOT)?
        .map_or(EMPTY, |n| n.hash()))
}

/// Puts `changes` (key → new value) into the stored map: reads the nodes
/// on their paths once, returns the nodes to write and the new root.
pub fn update<S: MapNodeSource>(
    source: &S,
    changes: &BTreeMap<MapHash, MapHash>,
) -> Result<MapUpdate, S::Error> {
    let changes: Vec<(MapHash, MapHash)> = changes.iter().map(|(k, v)| (*k, *v)).collect();
    let mut writes = Vec::new();
    let mut added = 0;
    let current = source.map_node(&MapNodeId::ROOT)?;
    let root = if changes.is_empty() {
        current.map_or(EMPTY, |n| n.hash())
    } else {
        added += new_keys(current.as_ref(), &changes);
        put(
            source,
            MapNodeId::ROOT,
            current,
            &changes,
            &mut writes,
            &mut added,
        )?
    };
    Ok(MapUpdate {
        root,
        writes,
        added,
    })
}

/// How many of `changes` are new keys under a stored node `current`,
/// counted where the stored nodes end: none for an inner node (its
/// children are stored and counted there), else every change but the
/// leaf's own key.
fn new_keys(current: Option<&MapNode>, changes: &[(MapHash, MapHash)]) -> u64 {
    let kept = match current {
        Some(MapNode::Inner { .. }) => return 0,
        Some(MapNode::Leaf { key, .. }) => changes.iter().any(|(k, _)| k == key),
        None => false,
    };
    changes.len() as u64 - u64::from(kept)
}

/// Rewrites the subtree at `id` (now `current`) with `changes`, all of
/// whose keys lie under it and which is not empty; returns its new hash.
fn put<S: MapNodeSource>(
    source: &S,
    id: MapNodeId,
    current: Option<MapNode>,
    changes: &[(MapHash, MapHash)],
    writes: &mut Vec<(MapNodeId, MapNode)>,
    added: &mut u64,
) -> Result<MapHash, S::Error> {
    let mut leaves = changes.to_vec();
    let children_stored = match current {
        Some(MapNode::Inner { .. }) => true,
        Some(MapNode::Leaf { key, value }) => {
            if !leaves.iter().any(|(k, _)| *k == key) {
                let at = leaves.partition_point(|(k, _)| *k < key);
                leaves.insert(at, (key, value));
            }
            false
        }
        None => false,
    };
    if let [(key, value)] = leaves.as_slice()
        && !children_stored
    {
        let node = MapNode::Leaf {
            key: *key,
            value: *value,
        };
        writes.push((id, node));
        return Ok(node.hash());
    }
    let depth = usize::from(id.depth);
    let split = leaves.partition_point(|(k, _)| bit(k, depth) == 0);
    let (left, right) = leaves.split_at(split);
    let mut side_hash = |side: u8, side_changes: &[(MapHash, MapHash)]| {
        let child = id.child(side);
        let stored = if children_stored {
            source.map_node(&child)?
        } else {
            None
        };
        if side_changes.is_empty() {
            return Ok(stored.map_or(EMPTY, |n| n.hash()));
        }
        if children_stored {
            *added += new_keys(stored.as_ref(), side_changes);
        }
        put(source, child, stored, side_changes, writes, added)
    };
    let left = side_hash(0, left)?;
    let right = side_hash(1, right)?;
    let hash = node_hash(&left, &right);
    writes.push((id, MapNode::Inner { hash }));
    Ok(hash)
}

/// The root of the map holding exactly `leaves`, computed from scratch (as
/// a replay will, once, at the size it checks).
pub fn root_of(leaves: &BTreeMap<MapHash, MapHash>) -> MapHash {
    let leaves: Vec<(MapHash, MapHash)> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
    subtree_root(&leaves, 0)
}

fn subtree_root(leaves: &[(MapHash, MapHash)], depth: usize) -> MapHash {
    match leaves {
        [] => EMPTY,
        [(key, value)] => leaf_hash(key, value),
        _ => {
            let split = leaves.partition_point(|(k, _)| bit(k, depth) == 0);
            let (left, right) = leaves.split_at(split);
            node_hash(
                &subtree_root(left, depth + 1),
                &subtree_root(right, depth + 1),
            )
        }
    }
}

/// The stored nodes at depths below `depths` of the map holding exactly
/// `leaves`, computed from scratch (as a store rebuilding its upper levels
/// does), root first.
pub fn upper_nodes(leaves: &BTreeMap<MapHash, MapHash>, depths: u16) -> Vec<(MapNodeId, MapNode)> {
    let leaves: Vec<(MapHash, MapHash)> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
    let mut nodes = Vec::new();
    collect_upper(&leaves, MapNodeId::ROOT, depths, &mut nodes);
    nodes
}

fn collect_upper(
    leaves: &[(MapHash, MapHash)],
    id: MapNodeId,
    depths: u16,
    nodes: &mut Vec<(MapNodeId, MapNode)>,
) -> MapHash {
    if id.depth >= depths {
        return subtree_root(leaves, usize::from(id.depth));
    }
    let node = match leaves {
        [] => return EMPTY,
        [(key, value)] => MapNode::Leaf {
            key: *key,
            value: *value,
        },
        _ => {
            let split = leaves.partition_point(|(k, _)| bit(k, usize::from(id.depth)) == 0);
            let (left, right) = leaves.split_at(split);
            // Parents before their children: the hash is filled in below.
            let at = nodes.len();
            nodes.push((id, MapNode::Inner { hash: EMPTY }));
            let left = collect_upper(left, id.child(0), depths, nodes);
            let right = collect_upper(right, id.child(1), depths, nodes);
            let hash = node_hash(&left, &right);
            nodes[at].1 = MapNode::Inner { hash };
            return hash;
        }
    };
    nodes.push((id, node));
    node.hash()
}

/// Stored nodes in memory (tests, tools, the in-memory store).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryMap {
    nodes: BTreeMap<MapNodeId, MapNode>,
}

impl MemoryMap {
    /// An empty map.
    pub fn new() -> MemoryMap {
        MemoryMap::default()
    }

    /// Applies `changes` and returns the new root.
    pub fn apply(&mut self, changes: &BTreeMap<MapHash, MapHash>) -> MapHash {
        let Ok(update) = update(&*self, changes);
        self.nodes.extend(update.writes);
        update.root
    }

    /// The current root.
    pub fn root(&self) -> MapHash {
        let Ok(root) = stored_root(self);
        root
    }

    /// The stored nodes, by position.
    pub fn nodes(&self) -> impl Iterator<Item = (&MapNodeId, &MapNode)> {
        self.nodes.iter()
    }

    /// Nodes stored.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl MapNodeSource for MemoryMap {
    type Error = std::convert::Infallible;
    fn map_node(&self, id: &MapNodeId) -> Result<Option<MapNode>, Self::Error> {
        Ok(self.nodes.get(id).copied())
    }
}
