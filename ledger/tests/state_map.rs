//! The state map against a naive map (the definition in pledge_ledger::statemap,
//! applied literally, key by key): incremental roots, and proofs of
//! presence, absence and stale values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use pledge_ledger::statemap::hash::{EMPTY, KEY_BITS, bit, leaf_hash, node_hash, same_prefix};
use pledge_ledger::statemap::proof::prove;
use pledge_ledger::statemap::tree::{MapNodeId, root_of, update, upper_nodes};
use pledge_ledger::statemap::{MapHash, MapProof, MapProofError, MemoryMap};
use proptest::prelude::*;

/// The definition, literally: the subtree of the keys (among `leaves`) that
/// share the first `depth` bits of `path`.
fn naive_subtree(leaves: &[(MapHash, MapHash)], path: &MapHash, depth: usize) -> MapHash {
    let under: Vec<(MapHash, MapHash)> = leaves
        .iter()
        .filter(|(k, _)| same_prefix(k, path, depth))
        .copied()
        .collect();
    match under.as_slice() {
        [] => EMPTY,
        [(key, value)] => leaf_hash(key, value),
        _ => {
            assert!(depth < KEY_BITS);
            let mut left = *path;
            let mut right = *path;
            left[depth / 8] &= !(0x80 >> (depth % 8));
            right[depth / 8] |= 0x80 >> (depth % 8);
            node_hash(
                &naive_subtree(&under, &left, depth + 1),
                &naive_subtree(&under, &right, depth + 1),
            )
        }
    }
}

fn naive_root(leaves: &BTreeMap<MapHash, MapHash>) -> MapHash {
    let all: Vec<(MapHash, MapHash)> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
    naive_subtree(&all, &[0; 32], 0)
}

/// Keys that often share long prefixes (deep trees), sometimes not.
fn key() -> impl Strategy<Value = MapHash> {
    prop_oneof![
        any::<[u8; 32]>(),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| {
            let mut key = [0x5a; 32];
            key[30] = a & 0x0f;
            key[31] = b;
            key
        }),
    ]
}

fn batches() -> impl Strategy<Value = Vec<Vec<(MapHash, MapHash)>>> {
    proptest::collection::vec(
        proptest::collection::vec((key(), any::<[u8; 32]>()), 1..12),
        1..6,
    )
}

proptest! {
    #[test]
    fn an_update_counts_exactly_the_keys_the_map_did_not_hold(batches in batches()) {
        let mut map = MemoryMap::new();
        let mut naive = BTreeMap::new();
        for batch in batches {
            let changes: BTreeMap<MapHash, MapHash> = batch.into_iter().collect();
            let new = changes.keys().filter(|k| !naive.contains_key(*k)).count() as u64;
            let update = update(&map, &changes).unwrap();
            prop_assert_eq!(update.added, new);
            naive.extend(changes.clone());
            map.apply(&changes);
        }
    }

    #[test]
    fn incremental_roots_match_the_naive_map(batches in batches()) {
        let mut map = MemoryMap::new();
        let mut naive = BTreeMap::new();
        prop_assert_eq!(map.root(), EMPTY);
        for batch in batches {
            let changes: BTreeMap<MapHash, MapHash> = batch.into_iter().collect();
            naive.extend(changes.clone());
            let root = map.apply(&changes);
            prop_assert_eq!(root, naive_root(&naive));
            prop_assert_eq!(root, root_of(&naive));
            prop_assert_eq!(map.root(), root);
        }
    }

    #[test]
    fn proofs_show_presence_and_absence(batches in batches(), probes in proptest::collection::vec(key(), 1..8)) {
        let mut map = MemoryMap::new();
        let mut naive = BTreeMap::new();
        for batch in batches {
            let changes: BTreeMap<MapHash, MapHash> = batch.into_iter().collect();
            naive.extend(changes.clone());
            map.apply(&changes);
        }
        let root = map.root();
        for (key, value) in &naive {
            let proof = prove(&map, key).unwrap();
            prop_assert_eq!(proof.verify_present(&root, key, value), Ok(()));
            prop_assert!(proof.verify_absent(&root, key).is_err());
            prop_assert!(proof.verify_present(&root, key, &[1; 32]).is_err() || *value == [1; 32]);
        }
        for probe in probes.iter().filter(|p| !naive.contains_key(*p)) {
            let proof = prove(&map, probe).unwrap();
            prop_assert_eq!(proof.verify_absent(&root, probe), Ok(()));
            prop_assert!(proof.verify_present(&root, probe, &[0; 32]).is_err());
        }
    }

    #[test]
    fn a_stale_proof_does_not_verify_against_the_new_root(
        batch in proptest::collection::vec((key(), any::<[u8; 32]>()), 1..12),
        new_value in any::<[u8; 32]>(),
    ) {
        let mut map = MemoryMap::new();
        let changes: BTreeMap<MapHash, MapHash> = batch.into_iter().collect();
        map.apply(&changes);
        let (key, old_value) = changes.iter().next().map(|(k, v)| (*k, *v)).unwrap();
        prop_assume!(new_value != old_value);
        let old_proof = prove(&map, &key).unwrap();
        let new_root = map.apply(&BTreeMap::from([(key, new_value)]));
        prop_assert!(old_proof.verify_present(&new_root, &key, &old_value).is_err());
        let new_proof = prove(&map, &key).unwrap();
        prop_assert_eq!(new_proof.verify_present(&new_root, &key, &old_value), Err(MapProofError::OtherValue));
        prop_assert_eq!(new_proof.verify_present(&new_root, &key, &new_value), Ok(()));
    }

    #[test]
    fn a_tampered_proof_fails(
        batch in proptest::collection::vec((key(), any::<[u8; 32]>()), 2..12),
        which in any::<prop::sample::Index>(),
        flip in 0usize..256,
    ) {
        let mut map = MemoryMap::new();
        let changes: BTreeMap<MapHash, MapHash> = batch.into_iter().collect();
        let root = map.apply(&changes);
        let (key, value) = changes.iter().next().map(|(k, v)| (*k, *v)).unwrap();
        let mut proof = prove(&map, &key).unwrap();
        prop_assume!(!proof.siblings.is_empty());
        let i = which.index(proof.siblings.len());
        proof.siblings[i][flip / 8] ^= 1 << (flip % 8);
        prop_assert!(proof.verify_present(&root, &key, &value).is_err());
    }

    #[test]
    fn proof_verification_never_panics(
        siblings in proptest::collection::vec(any::<[u8; 32]>(), 0..300),
        leaf in proptest::option::of((any::<[u8; 32]>(), any::<[u8; 32]>())),
        key in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
    ) {
        let proof = MapProof { siblings, leaf };
        let _ = proof.verify_present(&root, &key, &[0; 32]);
        let _ = proof.verify_absent(&root, &key);
    }
}

#[test]
fn an_absence_proof_with_a_leaf_off_the_path_is_refused() {
    let mut map = MemoryMap::new();
    let (a, b) = ([0x00; 32], [0xff; 32]);
    let root = map.apply(&BTreeMap::from([(a, [1; 32]), (b, [2; 32])]));
    // A proof for `a` that ends in `b`'s leaf: b is not on a's path.
    let forged = MapProof {
        siblings: vec![leaf_hash(&a, &[1; 32])],
        leaf: Some((b, [2; 32])),
    };
    assert_eq!(bit(&a, 0), 0);
    assert_eq!(
        forged.verify_absent(&root, &a),
        Err(MapProofError::LeafOffPath)
    );
    assert_eq!(prove(&map, &a).unwrap().siblings.len(), 1);
}

proptest! {
    /// The upper levels computed from scratch are exactly the stored nodes
    /// at those depths of a map built one change at a time.
    #[test]
    fn upper_nodes_are_the_stored_nodes_at_those_depths(
        keys in proptest::collection::vec(any::<[u8; 32]>(), 0..60),
        depths in 0u16..10,
    ) {
        let leaves: BTreeMap<MapHash, MapHash> =
            keys.iter().map(|k| (*k, leaf_hash(k, k))).collect();
        let mut map = MemoryMap::new();
        for (key, value) in &leaves {
            map.apply(&BTreeMap::from([(*key, *value)]));
        }
        let expected: BTreeMap<_, _> = map
            .nodes()
            .filter(|(id, _)| id.depth < depths)
            .map(|(id, node)| (*id, *node))
            .collect();
        let upper = upper_nodes(&leaves, depths);
        prop_assert_eq!(upper.len(), expected.len());
        prop_assert_eq!(upper.into_iter().collect::<BTreeMap<_, _>>(), expected);
    }
}

#[test]
fn heap_positions_number_each_depth_left_to_right() {
    let at = |depth: u16, first_byte: u8| MapNodeId {
        depth,
        prefix: {
            let mut prefix = EMPTY;
            prefix[0] = first_byte;
            prefix
        },
    };
    assert_eq!(MapNodeId::ROOT.heap_position(), Some(0));
    assert_eq!(at(1, 0).heap_position(), Some(1));
    assert_eq!(at(1, 0x80).heap_position(), Some(2));
    assert_eq!(at(2, 0x40).heap_position(), Some(4));
    assert_eq!(at(3, 0xe0).heap_position(), Some(14));
    let mut deep = at(62, 0xff);
    deep.prefix[..8].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc]);
    assert_eq!(deep.heap_position(), Some((1u64 << 63) - 2));
    assert_eq!(at(63, 0).heap_position(), None);
}
