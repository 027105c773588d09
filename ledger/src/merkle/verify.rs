//! Storage-free proof verification, following RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
//!
//! The proof length is checked first against the closed form in [`super::proof`], so that a
//! proof with missing or extra hashes is reported as such rather than as a root mismatch.

use super::error::ProofError;
use super::hash::{EMPTY_ROOT, Hash, node_hash};
use super::proof::{consistency_proof_len, inclusion_proof_len};

/// The root that an inclusion proof of `leaf_hash` at `index` in a tree of `size` leaves leads
/// to (RFC 9162 §2.1.3.2 without the final comparison).
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    let expected = inclusion_proof_len(index, size)?;
    check_len(expected, proof)?;
    // `size - 1` cannot underflow: `index < size` was checked above.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(wrong_len(expected, proof));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_len(expected, proof));
    }
    Ok(r)
}

/// Checks that `proof` shows the leaf with hash `leaf_hash` at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    check_root(size, root, computed)
}

/// Checks that `proof` shows the tree of `size1` leaves with root `root1` to be a prefix of the
/// tree of `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots (for size 0, both must be [`EMPTY_ROOT`]).
/// A proof from the empty tree to a non-empty one is refused ([`super::RangeError::EmptyOldTree`]).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    let expected = consistency_proof_len(size1, size2)?;
    check_len(expected, proof)?;
    if size1 == size2 {
        if size1 == 0 {
            check_root(0, &EMPTY_ROOT, *root1)?;
        }
        return check_root(size2, root2, *root1);
    }
    // Here 0 < size1 < size2 and `proof` is non-empty (step 1 of the RFC).
    let (first, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some(split) => split,
            None => return Err(wrong_len(expected, proof)),
        }
    };
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(wrong_len(expected, proof));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_len(expected, proof));
    }
    check_root(size1, root1, fr)?;
    check_root(size2, root2, sr)
}

fn check_len(expected: usize, proof: &[Hash]) -> Result<(), ProofError> {
    if proof.len() == expected {
        Ok(())
    } else {
        Err(wrong_len(expected, proof))
    }
}

fn wrong_len(expected: usize, proof: &[Hash]) -> ProofError {
    ProofError::WrongProofLength {
        expected,
        found: proof.len(),
    }
}

fn check_root(tree_size: u64, expected: &Hash, computed: Hash) -> Result<(), ProofError> {
    if *expected == computed {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            tree_size,
            expected: *expected,
            computed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{
        MemoryNodes, RangeError, consistency_proof, inclusion_proof, leaf_hash, root,
    };

    fn tree(size: u64) -> MemoryNodes {
        let mut t = MemoryNodes::new();
        for i in 0..size {
            t.append(leaf_hash(&i.to_le_bytes())).unwrap();
        }
        t
    }

    #[test]
    fn single_leaf_tree() {
        let leaf = leaf_hash(b"x");
        assert_eq!(verify_inclusion(&leaf, 0, 1, &[], &leaf), Ok(()));
        assert_eq!(
            verify_inclusion(&leaf, 0, 1, &[leaf], &leaf),
            Err(ProofError::WrongProofLength {
                expected: 0,
                found: 1
            })
        );
    }

    #[test]
    fn garbage_inputs_are_errors_not_panics() {
        let h = [9u8; 32];
        let long = vec![h; 200];
        for (index, size) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (0, u64::MAX),
        ] {
            for proof in [&[][..], &long[..64], &long[..]] {
                assert!(verify_inclusion(&h, index, size, proof, &h).is_err());
            }
        }
        for (s1, s2) in [
            (0, 0),
            (0, u64::MAX),
            (u64::MAX, 0),
            (u64::MAX - 1, u64::MAX),
            (1, u64::MAX),
            (u64::MAX, u64::MAX),
        ] {
            for proof in [&[][..], &long[..1], &long[..64], &long[..]] {
                let _ = verify_consistency(s1, s2, proof, &h, &h);
            }
        }
        assert_eq!(
            verify_inclusion(&h, 3, 3, &[], &h),
            Err(ProofError::Range(RangeError::IndexOutOfRange {
                index: 3,
                size: 3
            }))
        );
    }

    #[test]
    fn equal_sizes() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(verify_consistency(5, 5, &[], &a, &a), Ok(()));
        assert!(matches!(
            verify_consistency(5, 5, &[], &a, &b),
            Err(ProofError::RootMismatch { tree_size: 5, .. })
        ));
        assert!(matches!(
            verify_consistency(5, 5, &[a], &a, &a),
            Err(ProofError::WrongProofLength {
                expected: 0,
                found: 1
            })
        ));
        assert_eq!(
            verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT),
            Ok(())
        );
        assert!(verify_consistency(0, 0, &[], &a, &a).is_err());
        assert_eq!(
            verify_consistency(0, 3, &[], &EMPTY_ROOT, &a),
            Err(ProofError::Range(RangeError::EmptyOldTree { size2: 3 }))
        );
    }

    #[test]
    fn generated_proofs_verify_exhaustively_small() {
        let t = tree(33);
        for size in 1..=33u64 {
            let r = root(size, &t).unwrap();
            for index in 0..size {
                let leaf = leaf_hash(&index.to_le_bytes());
                let proof = inclusion_proof(index, size, &t).unwrap();
                assert_eq!(verify_inclusion(&leaf, index, size, &proof, &r), Ok(()));
                let wrong = leaf_hash(b"other");
                assert!(verify_inclusion(&wrong, index, size, &proof, &r).is_err());
            }
            for size1 in 1..=size {
                let r1 = root(size1, &t).unwrap();
                let proof = consistency_proof(size1, size, &t).unwrap();
                assert_eq!(verify_consistency(size1, size, &proof, &r1, &r), Ok(()));
                if size1 < size {
                    assert!(verify_consistency(size1, size, &proof, &r, &r1).is_err());
                }
            }
        }
    }
}
