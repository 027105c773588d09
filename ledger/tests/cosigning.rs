//! Signed notes, witness cosignatures and the witness policy: known answers
//! from the C2SP specifications and Go's reference implementation, the
//! quorum met and not met, and forks detected with both checkpoints as
//! evidence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use pledge_ledger::checkpoint::{Checkpoint, SignedCheckpoint, ledger_origin};
use pledge_ledger::cosigning::cosignature::{self, cosigned_message};
use pledge_ledger::cosigning::fork::{self, Comparison};
use pledge_ledger::cosigning::{QuorumError, Witness, WitnessPolicy, cosign};
use pledge_ledger::crypto::{self, Digest};
use pledge_ledger::merkle::{self, MemoryNodes};
use pledge_ledger::note::{self, NoteSignature, SignedNote};

// ----- known answers -----

/// The example of Go's `golang.org/x/mod/sumdb/note` package documentation
/// (the reference implementation of C2SP signed-note): the signer key
/// `PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz`
/// (base64 of 0x01 ‖ seed), its text and its exact signature line.
const GO_SIGNER_KEY: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER_KEY: &str = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn a_signed_note_matches_go_s_reference_example_byte_for_byte() {
    let seed: [u8; 32] = BASE64.decode(GO_SIGNER_KEY).unwrap()[1..]
        .try_into()
        .unwrap();
    let key = SigningKey::from_bytes(&seed);
    let public = crypto::public_key(&key);
    assert_eq!(BASE64.decode(GO_VERIFIER_KEY).unwrap()[1..], public.0);
    assert_eq!(
        hex::encode(note::key_id("PeterNeumann", 0x01, &public)),
        "c74f20a3"
    );
    let line = NoteSignature::ed25519(GO_TEXT, "PeterNeumann", &key);
    assert_eq!(line.to_line(), GO_LINE);
    let parsed = SignedNote::parse(&format!("{GO_TEXT}\n{GO_LINE}")).unwrap();
    parsed.verify_ed25519("PeterNeumann", &public).unwrap();
    assert_eq!(parsed.text(), GO_TEXT);
}

/// The checkpoint and cosignature of the C2SP tlog-cosignature
/// specification's example (its witness key is not published, so the
/// signature itself cannot be checked; its key id, timestamp and message
/// layout can).
const C2SP_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\n\
                               CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const C2SP_LOG_LINE: &str = "\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
const C2SP_WITNESS_LINE: &str = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

#[test]
fn the_c2sp_cosignature_example_parses_as_specified() {
    let text = format!("{C2SP_CHECKPOINT}\n{C2SP_LOG_LINE}{C2SP_WITNESS_LINE}");
    let parsed = SignedNote::parse(&text).unwrap();
    assert_eq!(parsed.to_text(), text);
    let witness = &parsed.signatures()[1];
    assert_eq!(witness.name, "witness.example.com/w1");
    assert_eq!(hex::encode(witness.key_id), "8d66cf3f");
    assert_eq!(witness.signature.len(), cosignature::COSIGNATURE_LEN);
    let timestamp = u64::from_be_bytes(witness.signature[..8].try_into().unwrap());
    assert_eq!(timestamp, 1_679_315_147);
    // The spec's example of the signed message for this checkpoint.
    assert_eq!(
        cosigned_message(C2SP_CHECKPOINT, timestamp),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
         CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

/// Our own vector (docs/FORMAT.md §7.8): witness key seed 150, name
/// `witness.example.com/w1`, the C2SP example checkpoint, time 1679315147;
/// cross-checked with an independent implementation (Python `cryptography`).
const OUR_WITNESS_LINE: &str = "\u{2014} witness.example.com/w1 qOrBOwAAAABkGFDL9XTuSwxW83nQRVREoreBXkxYx+atfDRHCnjTD0DpikRoCZwgavGh7urqCf2N3IfGeDa2WM6cozrxEaArRqXPDA==\n";

#[test]
fn a_cosignature_is_exactly_as_specified() {
    let key = SigningKey::from_bytes(&[150; 32]);
    let line = cosign(
        C2SP_CHECKPOINT,
        "witness.example.com/w1",
        &key,
        1_679_315_147,
    )
    .unwrap();
    assert_eq!(line.to_line(), OUR_WITNESS_LINE);
    let witness = Witness::new("witness.example.com/w1", crypto::public_key(&key)).unwrap();
    let mut preimage = b"witness.example.com/w1\n\x04".to_vec();
    preimage.extend_from_slice(&witness.key.0);
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&preimage).into();
    assert_eq!(line.key_id, digest[..4]);
    assert_eq!(
        cosignature::verify(&line, C2SP_CHECKPOINT, &witness),
        Ok(1_679_315_147)
    );
    // A cosignature is not a log signature, and the reverse.
    let as_log = Witness::new("witness.example.com/w1", witness.key).unwrap();
    let plain = NoteSignature::ed25519(C2SP_CHECKPOINT, "witness.example.com/w1", &key);
    assert!(cosignature::verify(&plain, C2SP_CHECKPOINT, &as_log).is_err());
    let note = SignedNote::parse(&format!("{C2SP_CHECKPOINT}\n{OUR_WITNESS_LINE}")).unwrap();
    assert!(
        note.verify_ed25519("witness.example.com/w1", &witness.key)
            .is_err()
    );
}

// ----- the quorum -----

const ORIGIN_ID: &str = "zhoushan-test";

fn node_key() -> SigningKey {
    SigningKey::from_bytes(&[100; 32])
}

fn witness_keys() -> Vec<(String, SigningKey)> {
    [
        "w.bank-a.example",
        "w.bank-b.example",
        "w.regulator.example",
    ]
    .iter()
    .zip(150u8..)
    .map(|(name, seed)| ((*name).to_owned(), SigningKey::from_bytes(&[seed; 32])))
    .collect()
}

fn policy(rule: &str) -> WitnessPolicy {
    let mut text = String::new();
    for (name, key) in witness_keys() {
        text.push_str(&format!(
            "witness {name} {} http://127.0.0.1:1\n",
            crypto::public_key(&key)
        ));
    }
    text.push_str(rule);
    WitnessPolicy::parse(&text).unwrap()
}

/// A checkpoint over `size` leaves tagged `tag`, signed by the node and
/// cosigned by the witnesses at `cosigners` (indexes into `witness_keys`).
fn checkpoint(tag: u8, size: u64, cosigners: &[usize]) -> (SignedCheckpoint, MemoryNodes) {
    let mut tree = MemoryNodes::new();
    for i in 0..size {
        tree.append(merkle::leaf_hash(&[tag, i as u8])).unwrap();
    }
    let mut signed = Checkpoint {
        origin: ledger_origin(ORIGIN_ID),
        size,
        root: merkle::root(size, &tree).unwrap(),
        head_hash: Digest([tag; 32]),
        state_root: [tag; 32],
        time_ms: 1_800_000_000_000,
    }
    .sign(&node_key())
    .unwrap();
    let keys = witness_keys();
    let lines = cosigners.iter().map(|i| {
        let (name, key) = &keys[*i];
        cosign(signed.note.text(), name, key, 1_800_000_000).unwrap()
    });
    signed.add_signatures(lines.collect::<Vec<_>>()).unwrap();
    (signed, tree)
}

fn reopen(signed: &SignedCheckpoint) -> SignedCheckpoint {
    SignedCheckpoint::open(
        &signed.to_text(),
        &ledger_origin(ORIGIN_ID),
        &[crypto::public_key(&node_key())],
    )
    .unwrap()
}

#[test]
fn a_quorum_is_met_by_enough_cosignatures_and_names_those_missing_otherwise() {
    let two_of_three = policy(
        "group banks-and-regulator 2 w.bank-a.example w.bank-b.example w.regulator.example\n\
         quorum banks-and-regulator\n",
    );
    let (met, _) = checkpoint(1, 5, &[0, 2]);
    let cosigners = two_of_three.check(&reopen(&met).note).unwrap();
    assert_eq!(
        cosigners.names(),
        ["w.bank-a.example", "w.regulator.example"]
    );
    assert_eq!(cosigners.cosigned[0].1, 1_800_000_000);

    let (short, _) = checkpoint(1, 5, &[1]);
    let refusal = two_of_three.check(&reopen(&short).note).unwrap_err();
    assert_eq!(
        refusal,
        QuorumError::NotMet {
            rule: "2 of (w.bank-a.example, w.bank-b.example, w.regulator.example)".into(),
            missing: vec!["w.bank-a.example".into(), "w.regulator.example".into()],
            cosigned: vec!["w.bank-b.example".into()],
        }
    );
    assert!(
        refusal
            .to_string()
            .contains("cosignatures missing from w.bank-a.example, w.regulator.example"),
        "{refusal}"
    );

    // Nested groups: the regulator and any one bank.
    let nested = policy(
        "group banks any w.bank-a.example w.bank-b.example\n\
         group regulated all banks w.regulator.example\nquorum regulated\n",
    );
    assert!(nested.check(&checkpoint(1, 5, &[1, 2]).0.note).is_ok());
    assert!(nested.check(&checkpoint(1, 5, &[0, 1]).0.note).is_err());
    assert!(policy("quorum none\n").check(&short.note).is_ok());
}

#[test]
fn a_cosignature_that_does_not_verify_is_refused() {
    let all = policy("quorum w.bank-a.example\n");
    let (signed, _) = checkpoint(1, 5, &[0]);
    // The cosignature moved to a checkpoint it was not made for.
    let (other, _) = checkpoint(2, 5, &[]);
    let mut forged = other.clone();
    let line = signed.note.signatures()[1].clone();
    forged.add_signatures([line]).unwrap();
    assert!(matches!(
        all.check(&forged.note),
        Err(QuorumError::Cosignature(_))
    ));
    // A cosignature of a witness the policy does not know is ignored.
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let mut extra = other.clone();
    extra
        .add_signatures([cosign(other.note.text(), "w.bank-a.example", &stranger, 1).unwrap()])
        .unwrap();
    assert!(matches!(
        all.check(&extra.note),
        Err(QuorumError::NotMet { .. })
    ));
}

// ----- forks -----

#[test]
fn two_views_of_one_size_are_a_fork_shown_with_both_notes() {
    let (a, _) = checkpoint(1, 6, &[0]);
    let (b, _) = checkpoint(2, 6, &[1]);
    let evidence = fork::compare(&a, &b, None).unwrap_err();
    let shown = evidence.to_string();
    assert!(shown.starts_with("FORK"), "{shown}");
    assert!(shown.contains(&a.to_text()) && shown.contains(&b.to_text()));
    assert_eq!(fork::compare(&a, &a, None), Ok(Comparison::Consistent));
}

#[test]
fn different_sizes_need_a_proof_and_a_bad_one_is_a_fork() {
    let (small, _) = checkpoint(1, 4, &[]);
    let (large, tree) = checkpoint(1, 9, &[]);
    assert_eq!(
        fork::compare(&large, &small, None),
        Ok(Comparison::NeedsProof { from: 4, to: 9 })
    );
    let proof = merkle::consistency_proof(4, 9, &tree).unwrap();
    assert_eq!(
        fork::compare(&small, &large, Some(&proof)),
        Ok(Comparison::Consistent)
    );
    let (rewritten, rewritten_tree) = checkpoint(2, 9, &[]);
    let their_proof = merkle::consistency_proof(4, 9, &rewritten_tree).unwrap();
    let evidence = fork::compare(&small, &rewritten, Some(&their_proof)).unwrap_err();
    assert_eq!(evidence.first, small);
    assert_eq!(evidence.second, rewritten);
}
