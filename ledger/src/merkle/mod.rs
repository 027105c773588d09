//! Merkle tree over ledger entries (RFC 9162 §2.1): hashing, proofs, verification.
//!
//! - [`hash`]: leaf and node hashing with domain-separation prefixes, the empty root.
//! - [`NodeId`]: a perfect subtree; stores keep exactly those.
//! - [`proof`]: pure index arithmetic — which stored nodes a root or proof is made of.
//! - [`NodeSource`] and [`MemoryNodes`]: stored node hashes; [`root`], [`inclusion_proof`],
//!   [`consistency_proof`] and [`nodes_completed_by_append`] read O(log n) of them.
//! - [`Frontier`]: the right edge of a tree, to append without reading storage.
//! - [`verify_inclusion`], [`verify_consistency`]: storage-free verification.

mod error;
mod frontier;
pub mod hash;
mod node;
pub mod proof;
mod tree;
mod verify;

pub use error::{MerkleError, ProofError, RangeError};
pub use frontier::Frontier;
pub use hash::{
    EMPTY_ROOT, HASH_LEN, Hash, LEAF_PREFIX, NODE_PREFIX, leaf_hash, node_hash, parse_hash,
};
pub use node::NodeId;
pub use proof::ProofNode;
pub use tree::{
    MemoryNodes, MemoryNodesError, NodeSource, consistency_proof, inclusion_proof,
    nodes_completed_by_append, root,
};
pub use verify::{root_from_inclusion_proof, verify_consistency, verify_inclusion};
