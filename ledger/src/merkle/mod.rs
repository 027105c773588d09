//! Merkle tree over ledger entries (RFC 9162 §2.1): hashing, proofs, verification.
