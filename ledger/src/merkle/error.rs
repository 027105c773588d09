//! Error types, one per failure domain.

use super::hash::Hash;

/// A request that names leaves or tree sizes that do not exist.
///
/// Returned by the pure index arithmetic in [`super::proof`] and wrapped by
/// [`MerkleError`] and [`ProofError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size the leaf was looked up in.
        size: u64,
    },
    /// A consistency proof was requested from a larger tree to a smaller one.
    #[error("tree sizes out of order: size1 {size1} > size2 {size2}")]
    SizesOutOfOrder {
        /// Size of the older tree.
        size1: u64,
        /// Size of the newer tree.
        size2: u64,
    },
    /// A consistency proof from the empty tree to a non-empty one: RFC 9162 does not define
    /// one (every tree extends the empty tree, so there is nothing to prove).
    #[error("no consistency proof from the empty tree to size {size2}")]
    EmptyOldTree {
        /// Size of the newer tree.
        size2: u64,
    },
    /// The tree already holds `u64::MAX` leaves; one more would overflow its size.
    #[error("tree of size {size} is full")]
    TreeFull {
        /// Current tree size.
        size: u64,
    },
}

/// Failure to compute a root or build a proof from stored nodes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError<E> {
    /// The requested leaf or sizes do not exist.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The node store failed, or lacked a node that a tree of the requested size must have.
    #[error("reading Merkle tree nodes from the store failed")]
    Storage(#[source] E),
}

/// Rejection of an inclusion or consistency proof, or of malformed proof input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The claimed leaf index or sizes cannot be proven (index ≥ size, size1 > size2, size1 = 0).
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The proof does not have the number of hashes that the claimed index and sizes require.
    #[error("proof has {found} hashes, expected {expected}")]
    WrongProofLength {
        /// Number of hashes a valid proof has.
        expected: usize,
        /// Number of hashes received.
        found: usize,
    },
    /// The root computed from the proof differs from the claimed root of the tree of size
    /// `tree_size`. For a consistency proof between equal sizes, `computed` is the first root.
    #[error(
        "root mismatch for tree size {tree_size}: expected {}, computed {}",
        hex::encode(.expected),
        hex::encode(.computed)
    )]
    RootMismatch {
        /// Size of the tree whose root did not match.
        tree_size: u64,
        /// The root the caller claimed.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
    /// A byte string meant to be a hash does not have [`super::HASH_LEN`] bytes.
    #[error("hash has {found} bytes, expected 32")]
    WrongHashLength {
        /// Number of bytes received.
        found: usize,
    },
}
