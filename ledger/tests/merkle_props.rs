//! Property tests: the stored, incremental tree against a naive implementation written
//! straight from the recursive definitions of RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and
//! §2.1.4.1 (PROOF / SUBPROOF), and mutated proofs against the verifiers.
// Test helpers outside #[test] functions: a panic there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pledge_ledger::merkle::{
    Hash, MemoryNodes, ProofError, consistency_proof, inclusion_proof, leaf_hash, root,
    verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// The naive reference, independent of the library (including its hashing).
mod naive {
    use super::*;

    pub fn leaf(data: &[u8]) -> Hash {
        Sha256::new()
            .chain_update([0u8])
            .chain_update(data)
            .finalize()
            .into()
    }

    fn node(left: &Hash, right: &Hash) -> Hash {
        Sha256::new()
            .chain_update([1u8])
            .chain_update(left)
            .chain_update(right)
            .finalize()
            .into()
    }

    /// Largest power of two smaller than `n` (`n > 1`).
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]) over leaf inputs `d`.
    pub fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => Sha256::digest(b"").into(),
            1 => leaf(&d[0]),
            n => {
                let k = split(n);
                node(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    /// PATH(m, D[n]).
    pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n);
        let (mut p, sibling) = if m < k {
            (path(m, &d[..k]), mth(&d[k..]))
        } else {
            (path(m - k, &d[k..]), mth(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = split(n);
        let (mut p, sibling) = if m <= k {
            (subproof(m, &d[..k], b), mth(&d[k..]))
        } else {
            (subproof(m - k, &d[k..], false), mth(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// PROOF(m, D[n]) for `0 < m <= n` (empty when `m == n`).
    pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        subproof(m, d, true)
    }
}

fn leaves(salt: u64, n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| [salt.to_le_bytes(), i.to_le_bytes()].concat())
        .collect()
}

fn stored(data: &[Vec<u8>]) -> MemoryNodes {
    let mut tree = MemoryNodes::new();
    for d in data {
        tree.append(leaf_hash(d)).unwrap();
    }
    tree
}

/// (stored size, size1, size2, index) with `1 <= size1 <= size2 <= stored`, `index < size2`.
fn sizes() -> impl Strategy<Value = (u64, u64, u64, u64)> {
    (1..=600u64)
        .prop_flat_map(|n| (Just(n), 1..=n))
        .prop_flat_map(|(n, s2)| (Just(n), 1..=s2, Just(s2), 0..s2))
}

/// A proof with one change that must make it invalid.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: prop::sample::Index, bit: u8 },
    Drop { at: prop::sample::Index },
    Insert { at: prop::sample::Index, hash: Hash },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0..=255u8)
            .prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<prop::sample::Index>().prop_map(|at| Mutation::Drop { at }),
        (any::<prop::sample::Index>(), any::<Hash>())
            .prop_map(|(at, hash)| Mutation::Insert { at, hash }),
    ]
}

/// Applies `m`; `None` when it cannot change this proof (nothing to flip or drop).
fn mutate(proof: &[Hash], m: &Mutation) -> Option<Vec<Hash>> {
    let mut p = proof.to_vec();
    match m {
        Mutation::FlipBit { at, bit } => {
            if p.is_empty() {
                return None;
            }
            let i = at.index(p.len());
            p[i][usize::from(bit / 8)] ^= 1 << (bit % 8);
        }
        Mutation::Drop { at } => {
            if p.is_empty() {
                return None;
            }
            p.remove(at.index(p.len()));
        }
        Mutation::Insert { at, hash } => p.insert(at.index(p.len() + 1), *hash),
    }
    Some(p)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn stored_tree_matches_rfc_definitions(salt: u64, (n, size1, size2, index) in sizes()) {
        let data = leaves(salt, n);
        let tree = stored(&data);
        let s1 = size1 as usize;
        let s2 = size2 as usize;

        prop_assert_eq!(root(n, &tree).unwrap(), naive::mth(&data));
        let root1 = root(size1, &tree).unwrap();
        let root2 = root(size2, &tree).unwrap();
        prop_assert_eq!(root1, naive::mth(&data[..s1]));
        prop_assert_eq!(root2, naive::mth(&data[..s2]));

        let leaf = naive::leaf(&data[index as usize]);
        prop_assert_eq!(leaf, leaf_hash(&data[index as usize]));
        let incl = inclusion_proof(index, size2, &tree).unwrap();
        prop_assert_eq!(&incl, &naive::path(index as usize, &data[..s2]));
        prop_assert_eq!(verify_inclusion(&leaf, index, size2, &incl, &root2), Ok(()));

        let cons = consistency_proof(size1, size2, &tree).unwrap();
        prop_assert_eq!(&cons, &naive::proof(s1, &data[..s2]));
        prop_assert_eq!(verify_consistency(size1, size2, &cons, &root1, &root2), Ok(()));
    }

    #[test]
    fn mutated_inclusion_proofs_fail(
        salt: u64,
        (n, other_size, size, index) in sizes(),
        other_index: prop::sample::Index,
        m in mutation(),
    ) {
        let data = leaves(salt, n);
        let tree = stored(&data);
        let leaf = leaf_hash(&data[index as usize]);
        let r = root(size, &tree).unwrap();
        let proof = inclusion_proof(index, size, &tree).unwrap();

        if let Some(bad) = mutate(&proof, &m) {
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &r).is_err());
        }
        let wrong_leaf = leaf_hash(b"not in the tree");
        prop_assert!(verify_inclusion(&wrong_leaf, index, size, &proof, &r).is_err());
        let j = other_index.index(size as usize) as u64;
        if j != index {
            prop_assert!(verify_inclusion(&leaf, j, size, &proof, &r).is_err());
        }
        // A checkpoint of another size, with its own root. (With the root of `size` itself a
        // different size can verify when the proof has the same shape: the root does not
        // commit to the size, which is why checkpoints sign both.)
        if other_size != size && index < other_size {
            let other_root = root(other_size, &tree).unwrap();
            prop_assert!(verify_inclusion(&leaf, index, other_size, &proof, &other_root).is_err());
        }
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &[0; 32]).is_err());
        prop_assert!(matches!(
            verify_inclusion(&leaf, size, size, &proof, &r),
            Err(ProofError::Range(_))
        ));
    }

    #[test]
    fn mutated_consistency_proofs_fail(
        salt: u64,
        (n, size1, size2, other) in sizes(),
        m in mutation(),
    ) {
        let data = leaves(salt, n);
        let tree = stored(&data);
        let root1 = root(size1, &tree).unwrap();
        let root2 = root(size2, &tree).unwrap();
        let proof = consistency_proof(size1, size2, &tree).unwrap();

        if let Some(bad) = mutate(&proof, &m) {
            prop_assert!(verify_consistency(size1, size2, &bad, &root1, &root2).is_err());
        }
        if size1 < size2 {
            prop_assert!(verify_consistency(size1, size2, &proof, &root2, &root1).is_err());
            prop_assert!(verify_consistency(size2, size1, &proof, &root2, &root1).is_err());
        }
        let mut bad_root = root1;
        bad_root[0] ^= 1;
        prop_assert!(verify_consistency(size1, size2, &proof, &bad_root, &root2).is_err());
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &bad_root).is_err());
        // Claimed sizes that differ from the proven ones, with the true roots of those sizes.
        let other = other + 1; // 1..=size2
        if other != size1 {
            let other_root = root(other, &tree).unwrap();
            prop_assert!(verify_consistency(other, size2, &proof, &other_root, &root2).is_err());
        }
        if other != size2 && other >= size1 {
            let other_root = root(other, &tree).unwrap();
            prop_assert!(verify_consistency(size1, other, &proof, &root1, &other_root).is_err());
        }
    }

    #[test]
    fn verifiers_never_panic(
        leaf: Hash,
        root1: Hash,
        root2: Hash,
        a: u64,
        b: u64,
        proof in prop::collection::vec(any::<Hash>(), 0..70),
    ) {
        let _ = verify_inclusion(&leaf, a, b, &proof, &root1);
        let _ = verify_consistency(a, b, &proof, &root1, &root2);
        let _ = verify_consistency(a.min(b), a.max(b), &proof, &root1, &root2);
    }
}
