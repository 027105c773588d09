//! RFC 6962 / RFC 9162 proof vectors from transparency-dev/merkle (see
//! `tests/vectors/rfc6962-merkle/NOTICE.md`), run against `pledge_ledger::merkle`.
// Test helpers outside #[test] functions: a panic there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use pledge_ledger::merkle::{
    EMPTY_ROOT, Hash, MemoryNodes, ProofError, consistency_proof, inclusion_proof, leaf_hash,
    parse_hash, root, verify_consistency, verify_inclusion,
};
use serde::Deserialize;

/// Number of files under `inclusion/` and `consistency/`; a wrong path or a lost file fails.
const INCLUSION_FILES: usize = 98;
const CONSISTENCY_FILES: usize = 98;
/// Files with `wantErr: false`.
const INCLUSION_HAPPY: usize = 6;
const CONSISTENCY_HAPPY: usize = 6;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rfc6962-merkle")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeConstants {
    leaf_inputs_hex: Vec<String>,
    root_hashes_hex_by_tree_size_from_1: Vec<String>,
    empty_root_hex: String,
}

/// Standard base64 with padding (the encoding Go's `encoding/json` uses for `[]byte`).
fn base64(text: &str) -> Vec<u8> {
    fn sextet(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("invalid base64 character {:?}", c as char),
        }
    }
    let bytes = text.as_bytes();
    assert_eq!(bytes.len() % 4, 0, "unpadded base64 {text:?}");
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = acc << 6 | sextet(c);
        }
        acc <<= 6 * pad as u32;
        out.extend_from_slice(&acc.to_be_bytes()[1..4 - pad]);
    }
    out
}

fn hex32(text: &str) -> Hash {
    parse_hash(&hex::decode(text).unwrap()).unwrap()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode_proof(proof: &Option<Vec<String>>) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .flatten()
        .map(|p| parse_hash(&base64(p)))
        .collect()
}

/// How a vector ended: accepted, rejected while decoding (a byte string that is not a 32-byte
/// hash, which the typed API cannot even take), or rejected by the verifier.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted,
    RejectedAtDecode,
    Rejected(ProofError),
}

fn run_inclusion(v: &InclusionVector) -> Outcome {
    let decoded: Result<_, ProofError> = (|| {
        Ok((
            parse_hash(&base64(&v.leaf_hash))?,
            parse_hash(&base64(&v.root))?,
            decode_proof(&v.proof)?,
        ))
    })();
    let Ok((leaf, root, proof)) = decoded else {
        return Outcome::RejectedAtDecode;
    };
    match verify_inclusion(&leaf, v.leaf_idx, v.tree_size, &proof, &root) {
        Ok(()) => Outcome::Accepted,
        Err(e) => Outcome::Rejected(e),
    }
}

/// Roots that are not 32 bytes are placeholders ("don't care") in the upstream vectors; in a
/// vector that must pass they are only compared with each other, so equal placeholders are
/// replaced by one stand-in hash (and different ones by different stand-ins).
fn consistency_root(raw: &[u8], allow_placeholder: bool) -> Result<Hash, ProofError> {
    match parse_hash(raw) {
        Err(_) if allow_placeholder => Ok(leaf_hash(raw)),
        other => other,
    }
}

fn run_consistency(v: &ConsistencyVector, allow_placeholder: bool) -> Outcome {
    let decoded: Result<_, ProofError> = (|| {
        Ok((
            consistency_root(&base64(&v.root1), allow_placeholder)?,
            consistency_root(&base64(&v.root2), allow_placeholder)?,
            decode_proof(&v.proof)?,
        ))
    })();
    let Ok((root1, root2, proof)) = decoded else {
        return Outcome::RejectedAtDecode;
    };
    match verify_consistency(v.size1, v.size2, &proof, &root1, &root2) {
        Ok(()) => Outcome::Accepted,
        Err(e) => Outcome::Rejected(e),
    }
}

#[test]
fn directory_holds_the_expected_files() {
    let dir = vectors_dir();
    assert!(dir.join("NOTICE.md").is_file());
    assert!(dir.join("LICENSE").is_file());
    assert!(dir.join("tree-constants.json").is_file());
    let all = json_files(&dir);
    assert_eq!(all.len(), INCLUSION_FILES + CONSISTENCY_FILES + 1);
}

#[test]
fn inclusion_vectors() {
    let files = json_files(&vectors_dir().join("inclusion"));
    assert_eq!(files.len(), INCLUSION_FILES);
    let (mut happy, mut at_decode, mut by_verifier) = (0, 0, 0);
    for path in &files {
        let v: InclusionVector = load(path);
        let outcome = run_inclusion(&v);
        let name = format!("{} ({})", path.display(), v.desc);
        match (v.want_err, outcome) {
            (false, Outcome::Accepted) => happy += 1,
            (true, Outcome::RejectedAtDecode) => at_decode += 1,
            (true, Outcome::Rejected(_)) => by_verifier += 1,
            (want_err, outcome) => panic!("{name}: wantErr {want_err} but {outcome:?}"),
        }
    }
    assert_eq!(happy, INCLUSION_HAPPY);
    // Truncated leaf hashes, empty roots and empty "garbage" proof elements.
    assert_eq!(at_decode, 26);
    assert_eq!(happy + at_decode + by_verifier, INCLUSION_FILES);
}

#[test]
fn consistency_vectors() {
    let files = json_files(&vectors_dir().join("consistency"));
    assert_eq!(files.len(), CONSISTENCY_FILES);
    let (mut happy, mut placeholder_happy, mut at_decode, mut by_verifier) = (0, 0, 0, 0);
    for path in &files {
        let v: ConsistencyVector = load(path);
        let name = format!("{} ({})", path.display(), v.desc);
        match (v.want_err, run_consistency(&v, false)) {
            (false, Outcome::Accepted) => happy += 1,
            (false, Outcome::RejectedAtDecode) => {
                assert_eq!(
                    run_consistency(&v, true),
                    Outcome::Accepted,
                    "{name} with stand-in roots"
                );
                placeholder_happy += 1;
            }
            (true, Outcome::RejectedAtDecode) => {
                at_decode += 1;
                // Placeholder roots must not be what makes these fail.
                assert_ne!(
                    run_consistency(&v, true),
                    Outcome::Accepted,
                    "{name} with stand-in roots"
                );
            }
            (true, Outcome::Rejected(_)) => by_verifier += 1,
            (want_err, outcome) => panic!("{name}: wantErr {want_err} but {outcome:?}"),
        }
    }
    assert_eq!(happy + placeholder_happy, CONSISTENCY_HAPPY);
    assert_eq!(placeholder_happy, 1);
    assert_eq!(at_decode, 26);
    assert_eq!(
        happy + placeholder_happy + at_decode + by_verifier,
        CONSISTENCY_FILES
    );
}

struct Reference {
    leaves: Vec<Hash>,
    /// `roots[n]` is the root of the tree of the first `n` leaves.
    roots: Vec<Hash>,
    tree: MemoryNodes,
}

fn reference() -> Reference {
    let constants: TreeConstants = load(&vectors_dir().join("tree-constants.json"));
    let leaves: Vec<Hash> = constants
        .leaf_inputs_hex
        .iter()
        .map(|h| leaf_hash(&hex::decode(h).unwrap()))
        .collect();
    let mut roots = vec![hex32(&constants.empty_root_hex)];
    roots.extend(
        constants
            .root_hashes_hex_by_tree_size_from_1
            .iter()
            .map(|h| hex32(h)),
    );
    assert_eq!(leaves.len(), 8);
    assert_eq!(roots.len(), 9);
    let mut tree = MemoryNodes::new();
    for leaf in &leaves {
        tree.append(*leaf).unwrap();
    }
    Reference {
        leaves,
        roots,
        tree,
    }
}

#[test]
fn tree_constants_match_hashing_and_stored_roots() {
    let r = reference();
    assert_eq!(r.roots[0], EMPTY_ROOT);
    assert_eq!(root(0, &r.tree).unwrap(), EMPTY_ROOT);
    // A one-leaf tree's root is its leaf hash: checks leaf hashing on its own.
    assert_eq!(r.leaves[0], r.roots[1]);
    for size in 1..=8u64 {
        assert_eq!(
            root(size, &r.tree).unwrap(),
            r.roots[size as usize],
            "size {size}"
        );
    }
    assert_eq!(r.tree.root().unwrap(), r.roots[8]);
}

#[test]
fn generated_proofs_equal_happy_path_vectors() {
    let r = reference();
    let mut inclusion_matches = 0;
    for path in json_files(&vectors_dir().join("inclusion")) {
        let v: InclusionVector = load(&path);
        let (Ok(leaf), Ok(want_root)) = (
            parse_hash(&base64(&v.leaf_hash)),
            parse_hash(&base64(&v.root)),
        ) else {
            continue;
        };
        let corresponds = !v.want_err
            && v.tree_size <= 8
            && v.leaf_idx < v.tree_size
            && r.leaves[v.leaf_idx as usize] == leaf
            && r.roots[v.tree_size as usize] == want_root;
        if corresponds {
            let proof = inclusion_proof(v.leaf_idx, v.tree_size, &r.tree).unwrap();
            assert_eq!(Ok(proof), decode_proof(&v.proof), "{}", path.display());
            inclusion_matches += 1;
        }
    }
    let mut consistency_matches = 0;
    for path in json_files(&vectors_dir().join("consistency")) {
        let v: ConsistencyVector = load(&path);
        let (Ok(root1), Ok(root2)) = (parse_hash(&base64(&v.root1)), parse_hash(&base64(&v.root2)))
        else {
            continue;
        };
        let corresponds = !v.want_err
            && v.size1 <= v.size2
            && v.size2 <= 8
            && r.roots[v.size1 as usize] == root1
            && r.roots[v.size2 as usize] == root2;
        if corresponds {
            let proof = consistency_proof(v.size1, v.size2, &r.tree).unwrap();
            assert_eq!(Ok(proof), decode_proof(&v.proof), "{}", path.display());
            consistency_matches += 1;
        }
    }
    // inclusion/{0..4}/happy-path.json and consistency/{0..4}/happy-path.json.
    assert_eq!(inclusion_matches, 5);
    assert_eq!(consistency_matches, 5);
}

#[test]
fn base64_decoder() {
    assert_eq!(base64(""), b"");
    assert_eq!(base64("Zg=="), b"f");
    assert_eq!(base64("Zm8="), b"fo");
    assert_eq!(base64("Zm9v"), b"foo");
    assert_eq!(base64("ZG9uJ3QgY2FyZSAy"), b"don't care 2");
    assert_eq!(
        base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        EMPTY_ROOT.to_vec()
    );
}
