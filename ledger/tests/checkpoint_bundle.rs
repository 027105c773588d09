//! Signed checkpoints (C2SP tlog-checkpoint + signed-note) and evidence
//! bundles for banks: exact text, strict parsing, consistency, the head
//! binding, and every way a tampered bundle is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use pledge_ledger::bundle::{ActivePledge, Bundle, BundleError, FreezeSeen, PledgeRecord};
use pledge_ledger::checkpoint::{
    Checkpoint, CheckpointError, SignedCheckpoint, key_id, ledger_origin, verify_consistent,
    verify_head_binding,
};
use pledge_ledger::cosigning::{Trust, TrustError, WitnessPolicy, cosign};
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::merkle::{self, ProofError};
use pledge_ledger::model::{PledgeStatus, ReceiptStatus};
use pledge_ledger::note::{self, NoteError, SIGNATURE_LINE_PREFIX};
use pledge_ledger::store::StoreError;
use pledge_ledger::view::LedgerRead;
use proptest::prelude::*;
use sha2::Digest as _;
use support::*;

/// Time the test checkpoints are made at.
const CP_TIME: u64 = T0 + 60_000;

fn origin() -> String {
    ledger_origin(LEDGER_ID)
}

fn node_public() -> PublicKey {
    crypto::public_key(&node_key())
}

/// The node's key, no witness required.
fn trust() -> Trust {
    Trust::log_key_only(node_public())
}

fn other_key() -> SigningKey {
    key(200)
}

/// The chain of the bundle tests:
///
/// ```text
///  0 genesis            4 pledge PL-A (R-1, bank-a)   8 pledge PL-2 (R-2, bank-b)
///  1 tank T-R-1         5 tank T-R-2                  9 release PL-A
///  2 certify C-R-1      6 certify C-R-2              10 pledge PL-B (R-1, bank-b)
///  3 issue R-1          7 issue R-2
/// ```
fn pledge_world() -> World {
    let mut w = World::new();
    w.receipt_of("R-1", 1_000_000);
    let maturity = w.now_ms + 90 * DAY_MS;
    assert_eq!(
        w.ok(
            pledge("PL-A", "R-1", "bank-a", maturity),
            &["trader-a", "bank-a"]
        )
        .seq,
        4
    );
    w.receipt_of("R-2", 2_000_000);
    w.ok(
        pledge("PL-2", "R-2", "bank-b", maturity),
        &["trader-a", "bank-b"],
    );
    assert_eq!(w.ok(release("PL-A"), &["bank-a"]).seq, 9);
    assert_eq!(
        w.ok(
            pledge("PL-B", "R-1", "bank-b", maturity),
            &["trader-a", "bank-b"]
        )
        .seq,
        10
    );
    w
}

fn signed_at(w: &World, size: u64) -> SignedCheckpoint {
    Checkpoint::from_store(&w.store(), size, CP_TIME, &origin())
        .unwrap()
        .sign(&node_key())
        .unwrap()
}

fn bundle_of(w: &World, receipt: &str) -> Bundle {
    Bundle::build(&w.store(), receipt, &signed_at(w, w.len())).unwrap()
}

/// A signed note over arbitrary text, signed by `key` under `name`.
fn note(text: &str, name: &str, key: &SigningKey) -> String {
    format!("{text}\n{}", sig_line(text, name, key))
}

fn sig_line(text: &str, name: &str, key: &SigningKey) -> String {
    let mut blob = key_id(name, &crypto::public_key(key)).to_vec();
    blob.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
    format!("{SIGNATURE_LINE_PREFIX}{name} {}\n", BASE64.encode(blob))
}

fn open(text: &str) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::verify_note(text, &origin(), &[node_public()])
}

// ----- checkpoints -----

#[test]
fn checkpoint_roundtrips_through_its_note() {
    let w = pledge_world();
    for size in [0, 1, 4, 11] {
        let signed = signed_at(&w, size);
        assert_eq!(open(&signed.to_text()).unwrap(), signed.checkpoint);
        assert_eq!(
            SignedCheckpoint::open(&signed.to_text(), &origin(), &[node_public()]).unwrap(),
            signed
        );
        assert_eq!(signed.checkpoint.size, size);
        assert_eq!(signed.checkpoint.root, w.store().tree_root(size).unwrap());
    }
    let empty = signed_at(&w, 0).checkpoint;
    assert_eq!(empty.root, merkle::EMPTY_ROOT);
    assert_eq!(empty.head_hash, crypto::Digest::ZERO);
    assert!(matches!(
        Checkpoint::from_store(&w.store(), 12, CP_TIME, &origin()),
        Err(CheckpointError::SizeBeyondStore { size: 12, len: 11 })
    ));
}

/// The checkpoint of `pledge_world()` at size 11, made at `CP_TIME` and
/// signed with the node key of seed 100 (docs/FORMAT.md §7, worked example).
const EXPECTED_NOTE: &str = "pledgeledger/zhoushan-test\n\
11\n\
rOvt1LJAhw0bMZFVmsFqDd6yJdUXqB+mddR2DOM2jrc=\n\
chain-head 8fcfa993b8af1f6f2cc025e6858167ba724afdd3d8946b9ed75620788594698e\n\
state-root 593cc1c1b8e3ef344fc56dbd39172caa64e83d8890b00ae45374f3e2720c993a\n\
time 1800000060000\n\
\n\
\u{2014} pledgeledger/zhoushan-test PHNR/42IUHC/x4ocErTkW9iUwasgBJnzubxkizJ+IGTuTkkrp+9qpusuqf/gw+t1w6Sk8gyfq9wQZUhozyN/QvOjRQ0=\n";

#[test]
fn checkpoint_text_is_exactly_as_specified() {
    let w = pledge_world();
    let signed = signed_at(&w, 11);
    assert_eq!(signed.to_text(), EXPECTED_NOTE);
    let cp = &signed.checkpoint;
    assert_eq!(cp.root, w.store().tree_root(11).unwrap());
    assert_eq!(cp.head_hash, w.store().entry(10).unwrap().hash());
    // The key id is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[..4], the first 4
    // bytes of the signature blob; the rest is Ed25519 over the text.
    let blob_b64 = EXPECTED_NOTE.rsplit(' ').next().unwrap().trim_end();
    let blob = BASE64.decode(blob_b64).unwrap();
    assert_eq!(blob.len(), 68);
    assert_eq!(blob[..4], key_id(&origin(), &node_public()));
    let mut preimage = origin().into_bytes();
    preimage.extend_from_slice(&[0x0a, 0x01]);
    preimage.extend_from_slice(&node_public().0);
    let digest = sha2::Sha256::digest(&preimage);
    assert_eq!(blob[..4], digest[..4]);
    let text = &EXPECTED_NOTE[..EXPECTED_NOTE.find("\n\n").unwrap() + 1];
    let signature = ed25519_dalek::Signature::from_slice(&blob[4..]).unwrap();
    node_public()
        .verifying_key()
        .unwrap()
        .verify_strict(text.as_bytes(), &signature)
        .unwrap();
    assert_eq!(hex::encode(&blob[..4]), "3c7351ff");
    assert_eq!(
        node_public().to_hex(),
        "2bc2800b3316e009209ffd757dab19ccf0ae84bc7ae90654e1e81712d270f653"
    );
}

#[test]
fn tampered_note_text_fails() {
    let w = pledge_world();
    let text = signed_at(&w, 11).to_text();
    let cp = signed_at(&w, 11).checkpoint;
    let other_head = "00".repeat(32);
    for (from, to) in [
        ("\n11\n", "\n12\n"),
        ("time 1800000060000", "time 1800000060001"),
        (cp.head_hash.to_hex().as_str(), other_head.as_str()),
    ] {
        let tampered = text.replacen(from, to, 1);
        assert_ne!(tampered, text);
        assert!(
            matches!(
                open(&tampered),
                Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
            ),
            "{from:?} -> {to:?}: {:?}",
            open(&tampered)
        );
    }
    // Another root, re-encoded canonically.
    let tampered = text.replace(&BASE64.encode(cp.root), &BASE64.encode([0u8; 32]));
    assert!(matches!(
        open(&tampered),
        Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
    ));
    // A CR anywhere.
    assert!(matches!(
        open(&text.replacen('\n', "\r\n", 1)),
        Err(CheckpointError::Note(NoteError::ControlCharacter {
            byte: b'\r',
            ..
        }))
    ));
    // No signature block.
    let body = signed_at(&w, 11).checkpoint.note_text();
    assert!(matches!(
        open(&body),
        Err(CheckpointError::Note(NoteError::NoSignatureBlock))
    ));
}

#[test]
fn only_the_node_key_under_the_origin_counts() {
    let w = pledge_world();
    let signed = signed_at(&w, 11);
    let body = signed.checkpoint.note_text();
    // Signed by another key under the right name.
    assert!(matches!(
        open(&note(&body, &origin(), &other_key())),
        Err(CheckpointError::Note(NoteError::NotSigned { .. }))
    ));
    // The node's key under another name.
    assert!(matches!(
        open(&note(&body, "pledgeledger/elsewhere", &node_key())),
        Err(CheckpointError::Note(NoteError::NotSigned { .. }))
    ));
    // A witness cosignature is allowed and ignored, before or after.
    let witness = sig_line(&body, "witness.example/w1", &other_key());
    let cosigned = format!("{}{witness}", signed.to_text());
    assert_eq!(open(&cosigned).unwrap(), signed.checkpoint);
    let first = format!(
        "{body}\n{witness}{}",
        sig_line(&body, &origin(), &node_key())
    );
    assert_eq!(open(&first).unwrap(), signed.checkpoint);
    // A line claiming the node's key with a bad signature fails the note.
    let forged = sig_line("something else\n", &origin(), &node_key());
    assert!(matches!(
        open(&format!("{body}\n{forged}")),
        Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
    ));
    // Expecting another node key.
    assert!(matches!(
        Checkpoint::verify_note(
            &signed.to_text(),
            &origin(),
            &[crypto::public_key(&other_key())]
        ),
        Err(CheckpointError::Note(NoteError::NotSigned { .. }))
    ));
    // Malformed signature lines are refused, whoever they claim to be.
    for bad in [
        "-- pledgeledger/zhoushan-test AAAA\n",
        "— pledgeledger/zhoushan-test\n",
        "— a+b AAAAAAAA\n",
        "— w not-base64!\n",
        "— w AAAA\n",
    ] {
        assert!(
            matches!(
                open(&format!("{}{bad}", signed.to_text())),
                Err(CheckpointError::Note(NoteError::MalformedSignatureLine {
                    line: 2,
                    ..
                }))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn parsing_is_strict() {
    let o = origin();
    let root = BASE64.encode([5u8; 32]);
    let head = "ab".repeat(32);
    let state = "cd".repeat(32);
    let good = format!("{o}\n7\n{root}\nchain-head {head}\nstate-root {state}\ntime 9\n");
    let cp = open(&note(&good, &o, &node_key())).unwrap();
    assert_eq!((cp.size, cp.root, cp.time_ms), (7, [5; 32], 9));

    type Expect = fn(&CheckpointError) -> bool;
    let cases: Vec<(String, Expect)> = vec![
        (good.replace("\n7\n", "\n07\n"), |e| {
            matches!(
                e,
                CheckpointError::BadField {
                    field: "tree size",
                    ..
                }
            )
        }),
        (good.replace("\n7\n", "\n+7\n"), |e| {
            matches!(
                e,
                CheckpointError::BadField {
                    field: "tree size",
                    ..
                }
            )
        }),
        (good.replace("\n7\n", "\n18446744073709551616\n"), |e| {
            matches!(
                e,
                CheckpointError::BadField {
                    field: "tree size",
                    ..
                }
            )
        }),
        (good.replace("time 9", "time 09"), |e| {
            matches!(e, CheckpointError::BadField { field: "time", .. })
        }),
        (good.replace(&root, &BASE64.encode([5u8; 31])), |e| {
            matches!(
                e,
                CheckpointError::BadField {
                    field: "root hash",
                    ..
                }
            )
        }),
        (good.replace(&root, root.trim_end_matches('=')), |e| {
            matches!(
                e,
                CheckpointError::BadField {
                    field: "root hash",
                    ..
                }
            )
        }),
        (good.replace(&head, &head.to_uppercase()), |e| {
            matches!(
                e,
                CheckpointError::BadField {
                    field: "chain-head",
                    ..
                }
            )
        }),
        (good.replace("time 9\n", "time 9\nwitness x\n"), |e| {
            matches!(e, CheckpointError::UnexpectedLine { .. })
        }),
        (good.replace("time 9\n", ""), |e| {
            matches!(e, CheckpointError::MissingLine { field: "time" })
        }),
        (good.replace("time 9", "clock 9"), |e| {
            matches!(e, CheckpointError::UnexpectedLine { .. })
        }),
        (good.replace("\n7\n", "\n\n7\n"), |e| {
            matches!(e, CheckpointError::EmptyLine { .. })
        }),
        (good.replace(&o, "pledgeledger/other-ledger"), |e| {
            matches!(e, CheckpointError::OriginMismatch { .. })
        }),
        (good.replace("\n7\n", "\n0\n"), |e| {
            matches!(e, CheckpointError::BadEmptyCheckpoint)
        }),
    ];
    for (text, expected) in cases {
        // Signed with the node key under the origin, so only parsing can fail.
        let result = open(&note(&text, &o, &node_key()));
        match result {
            Err(ref e) if expected(e) => {}
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn checkpoints_of_a_growing_store_are_consistent() {
    let w = pledge_world();
    let n = w.len();
    let cps: Vec<Checkpoint> = (0..=n).map(|s| signed_at(&w, s).checkpoint).collect();
    for older in &cps {
        for newer in &cps[older.size as usize..] {
            let proof = match older.size {
                0 => Vec::new(),
                _ => merkle::consistency_proof(older.size, newer.size, &w.store()).unwrap(),
            };
            assert_eq!(
                verify_consistent(older, newer, &proof).map_err(|e| e.to_string()),
                Ok(()),
                "{} -> {}",
                older.size,
                newer.size
            );
        }
    }
    let proof = merkle::consistency_proof(4, 11, &w.store()).unwrap();
    assert!(matches!(
        verify_consistent(&cps[11], &cps[4], &proof),
        Err(CheckpointError::SizeRegressed {
            older: 11,
            newer: 4
        })
    ));
    let mut other_time = cps[11].clone();
    other_time.time_ms += 1;
    assert!(verify_consistent(&cps[11], &other_time, &[]).is_ok());
}

/// The same genesis and receipt, then a different history from entry 4 on,
/// sealed and signed with the real node key: a node rewriting its past.
fn rewritten_world() -> World {
    let mut w = World::new();
    w.receipt_of("R-1", 1_000_000);
    w.ok(transfer("R-1", "trader-b"), &["trader-a", "wh-1"]);
    for i in 0..6 {
        w.tank(&format!("T-X-{i}"), "wh-2");
    }
    w
}

#[test]
fn a_rewritten_history_is_not_consistent() {
    let real = pledge_world();
    let forged = rewritten_world();
    assert_eq!(forged.len(), real.len());
    // The shared prefix is consistent with both.
    let shared = signed_at(&real, 4).checkpoint;
    assert_eq!(shared, signed_at(&forged, 4).checkpoint);
    let forged_cp = signed_at(&forged, 11);
    assert!(open(&forged_cp.to_text()).is_ok(), "the node did sign it");
    let proof = merkle::consistency_proof(4, 11, &forged.store()).unwrap();
    assert!(verify_consistent(&shared, &forged_cp.checkpoint, &proof).is_ok());
    // But not with what the real ledger's checkpoint at 5 already showed.
    let real5 = signed_at(&real, 5).checkpoint;
    let proof = merkle::consistency_proof(5, 11, &forged.store()).unwrap();
    assert!(matches!(
        verify_consistent(&real5, &forged_cp.checkpoint, &proof),
        Err(CheckpointError::Inconsistent {
            older: 5,
            newer: 11,
            source: ProofError::RootMismatch { .. }
        })
    ));
    // Nor with the real proof.
    let proof = merkle::consistency_proof(5, 11, &real.store()).unwrap();
    assert!(matches!(
        verify_consistent(&real5, &forged_cp.checkpoint, &proof),
        Err(CheckpointError::Inconsistent { .. })
    ));
    // Two signed checkpoints of one size that differ: a fork.
    let real11 = signed_at(&real, 11).checkpoint;
    assert!(matches!(
        verify_consistent(&real11, &forged_cp.checkpoint, &[]),
        Err(CheckpointError::ForkAtSameSize { size: 11 })
    ));
}

#[test]
fn the_head_binds_chain_and_tree() {
    let w = pledge_world();
    let forged = rewritten_world();
    let cp = signed_at(&w, 11).checkpoint;
    let last = w.store().entry(10).unwrap();
    let proof = merkle::inclusion_proof(10, 11, &w.store()).unwrap();
    verify_head_binding(&cp, &last, &proof).unwrap();

    // Another entry as the head.
    let entry9 = w.store().entry(9).unwrap();
    let proof9 = merkle::inclusion_proof(9, 11, &w.store()).unwrap();
    assert!(matches!(
        verify_head_binding(&cp, &entry9, &proof9),
        Err(CheckpointError::HeadSeqMismatch {
            expected: 10,
            found: 9
        })
    ));
    // A checkpoint naming a head that is not entry 10's hash.
    let mut wrong_head = cp.clone();
    wrong_head.head_hash = entry9.hash();
    assert!(matches!(
        verify_head_binding(&wrong_head, &last, &proof),
        Err(CheckpointError::HeadHashMismatch { .. })
    ));
    // Linear-fake: a forged chain head (a valid, sealed entry 10 of another
    // history) presented with the real tree's root. The hashes agree with
    // the checkpoint's chain-head, but the entry is not the tree's last leaf.
    let fake_last = forged.store().entry(10).unwrap();
    let mut mixed = cp.clone();
    mixed.head_hash = fake_last.hash();
    let fake_proof = merkle::inclusion_proof(10, 11, &forged.store()).unwrap();
    for p in [&proof, &fake_proof] {
        assert!(matches!(
            verify_head_binding(&mixed, &fake_last, p),
            Err(CheckpointError::HeadNotInTree { size: 11, .. })
        ));
    }
    assert!(matches!(
        verify_head_binding(&signed_at(&w, 0).checkpoint, &last, &[]),
        Err(CheckpointError::NothingToBind)
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_parser_never_panics(text in "\\PC*", raw in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = open(&text);
        let _ = Checkpoint::parse_text(&text);
        let lossy = String::from_utf8_lossy(&raw);
        let _ = open(&lossy);
        let _ = Checkpoint::parse_text(&lossy);
    }

    #[test]
    fn a_mutated_note_never_verifies(
        at in any::<prop::sample::Index>(),
        kind in 0u8..3,
        c in prop::sample::select(vec!['0', '1', 'a', 'A', '=', '+', '/', '\n', ' ', '—', 'x']),
    ) {
        let text = fixed_note();
        let mut chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len());
        match kind {
            0 => { chars.remove(i); }
            1 => chars.insert(i, c),
            _ => chars[i] = c,
        }
        let mutated: String = chars.into_iter().collect();
        if mutated != text {
            prop_assert!(open(&mutated).is_err(), "{mutated:?} verified");
        }
    }
}

fn fixed_bundle() -> &'static Bundle {
    static BUNDLE: std::sync::OnceLock<Bundle> = std::sync::OnceLock::new();
    BUNDLE.get_or_init(|| bundle_of(&pledge_world(), "R-1"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_mutated_bundle_never_verifies(
        entry in 0usize..6,
        at in any::<prop::sample::Index>(),
        digit in prop::sample::select(b"0123456789abcdefg".to_vec()),
    ) {
        let mut bundle = fixed_bundle().clone();
        let item = match bundle.entries.get_mut(entry) {
            Some(item) => item,
            None => &mut bundle.last_entry,
        };
        let mut bytes = item.record_hex.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != digit);
        bytes[i] = digit;
        item.record_hex = String::from_utf8(bytes).unwrap();
        prop_assert!(verify(&bundle).is_err());
    }

    #[test]
    fn bundle_json_never_panics(text in "\\PC{0,300}") {
        if let Ok(bundle) = Bundle::from_json(&text) {
            let _ = bundle.verify(&trust());
        }
    }
}

fn fixed_note() -> String {
    let cp = Checkpoint {
        origin: origin(),
        size: 11,
        root: [3; 32],
        head_hash: crypto::Digest([4; 32]),
        state_root: [6; 32],
        time_ms: CP_TIME,
    };
    cp.sign(&node_key()).unwrap().to_text()
}

// ----- bundles -----

#[test]
fn a_bundle_shows_the_active_pledge() {
    let w = pledge_world();
    let bundle = bundle_of(&w, "R-1");
    assert_eq!(
        bundle.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 3, 4, 9, 10]
    );
    assert_eq!(bundle.last_entry.seq, 10);
    let json = bundle.to_json().unwrap();
    let verdict = Bundle::from_json(&json).unwrap().verify(&trust()).unwrap();
    assert_eq!(verdict.tree_size, 11);
    assert_eq!(verdict.ledger_id, LEDGER_ID);
    assert_eq!(verdict.root, w.store().tree_root(11).unwrap());
    assert_eq!(verdict.receipt_id, "R-1");
    assert_eq!(verdict.holder, "trader-a");
    assert_eq!(verdict.warehouse, "wh-1");
    assert_eq!(verdict.quantity_kg, 1_000_000);
    assert_eq!(verdict.freeze, None);
    assert_eq!(
        verdict.status,
        ReceiptStatus::Pledged {
            pledge_id: "PL-B".into()
        }
    );
    assert_eq!(
        verdict.active_pledge,
        Some(ActivePledge {
            pledge_id: "PL-B".into(),
            pledgee: "bank-b".into(),
            registered_at: 10
        })
    );
    assert_eq!(
        verdict.pledge_registrations,
        [
            PledgeRecord {
                seq: 4,
                pledge_id: "PL-A".into(),
                receipt_id: "R-1".into(),
                pledgee: "bank-a".into(),
                status: PledgeStatus::Released { at: 9 }
            },
            PledgeRecord {
                seq: 10,
                pledge_id: "PL-B".into(),
                receipt_id: "R-1".into(),
                pledgee: "bank-b".into(),
                status: PledgeStatus::Active
            },
        ]
    );
    assert_eq!(verdict.lineage, ["R-1"]);
    assert_eq!(verdict.entry_seqs, [2, 3, 4, 9, 10]);
}

/// A bundle proves the receipt's state at the checkpoint from the node's
/// current objects: at a checkpoint older than the receipt's latest change
/// it cannot be built (the node waits for a newer checkpoint instead).
#[test]
fn a_bundle_is_built_only_at_a_checkpoint_of_the_current_state() {
    let w = pledge_world();
    assert!(matches!(
        Bundle::build(&w.store(), "R-1", &signed_at(&w, 5)),
        Err(BundleError::StateMoved { ref object, size: 5 }) if object == "R-1"
    ));
    assert!(matches!(
        Bundle::build(&w.store(), "R-2", &signed_at(&w, 5)),
        Err(BundleError::ReceiptNotAtSize { size: 5, .. })
    ));
    assert!(matches!(
        Bundle::build(&w.store(), "R-9", &signed_at(&w, 11)),
        Err(BundleError::ReceiptNotAtSize { .. })
    ));
    let forged = signed_at(&rewritten_world(), 11);
    assert!(matches!(
        Bundle::build(&w.store(), "R-1", &forged),
        Err(BundleError::CheckpointNotFromStore { size: 11 })
    ));
}

/// The node prunes the state map below the checkpoints it still proves at:
/// a bundle at a served checkpoint verifies, one at a pruned size is
/// refused with the floor (never built from a map that is gone).
#[test]
fn a_bundle_below_the_pruned_floor_is_refused_and_one_at_it_verifies() {
    let mut w = pledge_world();
    let at_9 = signed_at(&w, 9);
    let at_11 = signed_at(&w, 11);
    w.ledger.prune_state_map(9).unwrap();
    let kept = Bundle::build(&w.store(), "R-2", &at_9).unwrap();
    verify(&kept).unwrap();
    assert!(w.ledger.prune_state_map(11).unwrap() > 0);
    let refused = Bundle::build(&w.store(), "R-2", &at_9).unwrap_err();
    assert!(
        matches!(
            refused,
            BundleError::Store(StoreError::MapPruned { size: 9, floor: 11 })
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("no longer kept"), "{refused}");
    verify(&Bundle::build(&w.store(), "R-2", &at_11).unwrap()).unwrap();
    verify(&Bundle::build(&w.store(), "R-1", &at_11).unwrap()).unwrap();
}

fn verify(bundle: &Bundle) -> Result<(), BundleError> {
    bundle.verify(&trust()).map(|_| ())
}

#[test]
fn a_flipped_record_byte_fails() {
    let w = pledge_world();
    let mut bundle = bundle_of(&w, "R-1");
    let mut record = hex::decode(&bundle.entries[2].record_hex).unwrap();
    record[60] ^= 0x01; // inside tx_bytes (the header is 53 bytes)
    bundle.entries[2].record_hex = hex::encode(record);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::BadSeal { seq: 4 })
    ));

    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries[0].record_hex.push_str("00");
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::BadRecord { seq: 2, .. })
    ));
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries[0].record_hex.push('x');
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::BadHex {
            seq: 2,
            field: "record_hex"
        })
    ));
}

#[test]
fn a_wrong_proof_hash_fails() {
    let w = pledge_world();
    let mut bundle = bundle_of(&w, "R-1");
    let hash = &mut bundle.entries[1].inclusion_proof[0];
    let flipped = if hash.starts_with('0') { "1" } else { "0" };
    hash.replace_range(0..1, flipped);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotIncluded {
            seq: 3,
            source: ProofError::RootMismatch { tree_size: 11, .. }
        })
    ));
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries[1].inclusion_proof.pop();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotIncluded {
            seq: 3,
            source: ProofError::WrongProofLength { .. }
        })
    ));
    // The proof of another leaf.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries[1].inclusion_proof = bundle.entries[2].inclusion_proof.clone();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotIncluded { seq: 3, .. })
    ));
}

#[test]
fn a_dropped_history_entry_leaves_an_incoherent_lifecycle() {
    let w = pledge_world();
    // Without the pledge to bank-a, its release has nothing to release.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.retain(|e| e.seq != 4);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::UnknownPledge { seq: 9, ref pledge_id }) if pledge_id == "PL-A"
    ));
    // Without the release, bank-b's pledge would be a double pledge.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.retain(|e| e.seq != 9);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::Incoherent { seq: 10, .. })
    ));
    // Without the issue, nothing creates the receipt.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.retain(|e| e.seq != 3);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotAboutReceipt { seq: 4, .. })
    ));
    // Without the certification, the first holder is not shown.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.retain(|e| e.seq != 2);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::Incoherent { seq: 3, .. })
    ));
    // Entries out of order.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.swap(3, 4);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::OutOfOrder {
            previous: 10,
            seq: 9
        })
    ));
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.clear();
    assert!(matches!(verify(&bundle), Err(BundleError::EmptyHistory)));
}

#[test]
fn a_checkpoint_signed_by_another_key_fails() {
    let w = pledge_world();
    let cp = signed_at(&w, 11).checkpoint;
    let mut bundle = bundle_of(&w, "R-1");
    bundle.checkpoint = cp.sign(&other_key()).unwrap().to_text();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::Trust(TrustError::Checkpoint(
            CheckpointError::Note(NoteError::NotSigned { .. })
        )))
    ));
    // The bundle naming the other key does not help: the verifier's key decides.
    bundle.node_public_key = crypto::public_key(&other_key()).to_hex();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NodeKeyNotTrusted { .. })
    ));
    // And verifying with the other key fails on the node's seals.
    assert!(matches!(
        bundle.verify(&Trust::log_key_only(crypto::public_key(&other_key()))),
        Err(BundleError::BadSeal { seq: 10 })
    ));
    // A checkpoint of another ledger.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.ledger_id = "other-ledger".into();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::Trust(TrustError::Checkpoint(
            CheckpointError::Note(NoteError::NotSigned { .. })
        )))
    ));
}

/// A registry of several nodes: the entries were sealed by one member (the
/// node key here), the checkpoint signed by another (`member_b`).
#[test]
fn a_bundle_signed_by_another_member_verifies_with_the_members_trust_file() {
    let w = pledge_world();
    let member_b = key(201);
    let signed = Checkpoint::from_store(&w.store(), w.len(), CP_TIME, &origin())
        .unwrap()
        .sign(&member_b)
        .unwrap();
    let bundle = Bundle::build(&w.store(), "R-1", &signed).unwrap();
    assert_eq!(
        bundle.node_public_key,
        crypto::public_key(&member_b).to_hex()
    );
    let trust_file = format!(
        "# the registry's voters\nlog {} member-1\nlog {} member-2\nquorum none\n",
        node_public().to_hex(),
        crypto::public_key(&member_b).to_hex()
    );
    let members = Trust::new(Vec::new(), WitnessPolicy::parse(&trust_file).unwrap());
    let verdict = bundle.verify(&members).unwrap();
    assert_eq!(verdict.tree_size, w.len());
    assert_eq!(verdict.entry_seqs, vec![2, 3, 4, 9, 10]);

    // Member 2's key alone: it sealed none of the entries.
    assert!(matches!(
        bundle.verify(&Trust::log_key_only(crypto::public_key(&member_b))),
        Err(BundleError::BadSeal { seq: 10 })
    ));
    // The ledger key alone, or with a key that is not a member's: the
    // checkpoint's signer is not accepted.
    for keys in [
        vec![node_public()],
        vec![node_public(), crypto::public_key(&other_key())],
    ] {
        assert!(matches!(
            bundle.verify(&Trust::new(keys, WitnessPolicy::none())),
            Err(BundleError::NodeKeyNotTrusted { .. })
        ));
    }
    // A bundle that names an accepted key but whose checkpoint another
    // key signed.
    let mut forged = bundle.clone();
    forged.node_public_key = node_public().to_hex();
    let only_first = Trust::new(
        vec![node_public(), crypto::public_key(&other_key())],
        WitnessPolicy::none(),
    );
    assert!(matches!(
        forged.verify(&only_first),
        Err(BundleError::Trust(_))
    ));
}

#[test]
fn a_trust_file_lists_each_log_key_once_in_lower_case_hex() {
    let key = node_public().to_hex();
    let policy = WitnessPolicy::parse(&format!("log {key} member-1\nquorum none\n")).unwrap();
    assert_eq!(policy.log_keys(), &[node_public()]);
    for bad in [
        format!("log {key}\nlog {key}\nquorum none\n"),
        format!("log {}\nquorum none\n", key.to_uppercase()),
        format!("log {key} member-1 extra\nquorum none\n"),
        "log 00\nquorum none\n".to_owned(),
        "log\nquorum none\n".to_owned(),
    ] {
        assert!(WitnessPolicy::parse(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_checkpoint_whose_head_is_not_the_last_entry_fails() {
    let w = pledge_world();
    let mut cp = signed_at(&w, 11).checkpoint;
    cp.head_hash = w.store().entry(9).unwrap().hash();
    let mut bundle = bundle_of(&w, "R-1");
    bundle.checkpoint = cp.sign(&node_key()).unwrap().to_text();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HeadBinding(
            CheckpointError::HeadHashMismatch { .. }
        ))
    ));
    // A last entry that is not entry size − 1.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.last_entry = bundle.entries[3].clone();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HeadBinding(CheckpointError::HeadSeqMismatch {
            expected: 10,
            found: 9
        }))
    ));
}

#[test]
fn an_entry_of_another_receipt_fails() {
    let w = pledge_world();
    let other = bundle_of(&w, "R-2");
    let pledge_of_r2 = other.entries.iter().find(|e| e.seq == 8).unwrap().clone();
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.insert(3, pledge_of_r2);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotAboutReceipt {
            seq: 8,
            operation: "register_pledge"
        })
    ));
    // R-2's bundle is fine on its own.
    let verdict = other.verify(&trust()).unwrap();
    assert_eq!(
        verdict.active_pledge.map(|p| p.pledgee),
        Some("bank-b".to_owned())
    );
    // An entry that is no receipt's (a tank registration).
    let mut bundle = bundle_of(&w, "R-1");
    let mut entry = bundle.entries[0].clone();
    entry.seq = 1;
    entry.record_hex = hex::encode(w.store().record(1).unwrap());
    entry.inclusion_proof = merkle::inclusion_proof(1, 11, &w.store())
        .unwrap()
        .iter()
        .map(hex::encode)
        .collect();
    bundle.entries.insert(0, entry);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotAboutReceipt {
            seq: 1,
            operation: "register_tank"
        })
    ));
}

#[test]
fn a_split_part_carries_its_lineage() {
    let mut w = World::new();
    w.receipt_of("R-3", 1_000_000); // 1 tank, 2 certify, 3 issue
    w.ok(
        split("R-3", &[("R-3a", 400_000), ("R-3b", 600_000)]),
        &["trader-a", "wh-1"],
    ); // 4
    w.ok(transfer("R-3b", "trader-b"), &["trader-a", "wh-1"]); // 5
    w.ok(transfer("R-3a", "trader-b"), &["trader-a", "wh-1"]); // 6
    let maturity = w.now_ms + 90 * DAY_MS;
    w.ok(
        pledge("PL-3", "R-3a", "bank-a", maturity),
        &["trader-b", "bank-a"],
    ); // 7
    w.ok(freeze("R-3a"), &["regulator"]); // 8
    let bundle = bundle_of(&w, "R-3a");
    assert_eq!(
        bundle.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 3, 4, 6, 7, 8]
    );
    let verdict = bundle.verify(&trust()).unwrap();
    assert_eq!(verdict.lineage, ["R-3", "R-3a"]);
    assert_eq!(verdict.holder, "trader-b");
    assert_eq!(verdict.quantity_kg, 400_000);
    assert_eq!(
        verdict.freeze,
        Some(FreezeSeen {
            regulator: "regulator".into(),
            since: 8
        })
    );
    assert_eq!(
        verdict
            .active_pledge
            .map(|p| (p.pledge_id, p.pledgee, p.registered_at)),
        Some(("PL-3".to_owned(), "bank-a".to_owned(), 7))
    );
    // The sibling's transfer is not this part's history.
    let sibling = bundle_of(&w, "R-3b");
    let transfer_b = sibling.entries.iter().find(|e| e.seq == 5).unwrap().clone();
    let mut bundle = bundle_of(&w, "R-3a");
    bundle.entries.insert(3, transfer_b);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NotAboutReceipt {
            seq: 5,
            operation: "transfer_receipt"
        })
    ));
    // Without its own transfer, the pledge is signed by someone the history
    // does not show as holder.
    let mut bundle = bundle_of(&w, "R-3a");
    bundle.entries.retain(|e| e.seq != 6);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::Incoherent { seq: 7, .. })
    ));
}

#[test]
fn garbage_json_is_an_error() {
    assert!(matches!(
        Bundle::from_json("{}"),
        Err(BundleError::Json { .. })
    ));
    let w = pledge_world();
    let json = bundle_of(&w, "R-1").to_json().unwrap();
    let extra = json.replacen('{', "{\"extra\": 1,", 1);
    assert!(matches!(
        Bundle::from_json(&extra),
        Err(BundleError::Json { .. })
    ));
    let mut bundle = bundle_of(&w, "R-1");
    bundle.version = 1;
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::UnsupportedVersion { found: 1 })
    ));
    let _ = note::MAX_NOTE_BYTES;
}

#[test]
fn a_bundle_hiding_the_receipts_latest_change_is_refused() {
    let w = pledge_world();
    // Entry 10, the checkpoint's head, registers PL-B on R-1: without it the
    // entries would read "released, no active pledge".
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.retain(|e| e.seq != 10);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HeadEntryLeftOut { seq: 10 })
    ));
    // R-2's bundle need not carry entry 10: it does not concern R-2.
    assert!(verify(&bundle_of(&w, "R-2")).is_ok());
    // A transfer as the head, left out: the stale holder would be shown.
    let mut w = World::new();
    w.receipt_of("R-5", 1_000); // 1 tank, 2 certify, 3 issue
    w.ok(transfer("R-5", "trader-b"), &["trader-a", "wh-1"]); // 4
    let mut bundle = bundle_of(&w, "R-5");
    verify(&bundle).unwrap();
    bundle.entries.retain(|e| e.seq != 4);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HeadEntryLeftOut { seq: 4 })
    ));
}

#[test]
fn upper_case_hex_is_refused() {
    let w = pledge_world();
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries[1].record_hex = bundle.entries[1].record_hex.to_uppercase();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::BadHex {
            field: "record_hex",
            ..
        })
    ));
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries[1].inclusion_proof[0] = bundle.entries[1].inclusion_proof[0].to_uppercase();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::BadHex {
            field: "inclusion_proof",
            ..
        })
    ));
    let mut bundle = bundle_of(&w, "R-1");
    bundle.node_public_key = bundle.node_public_key.to_uppercase();
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::NodeKeyNotTrusted { .. })
    ));
}

#[test]
fn a_bundle_needs_the_verifiers_witness_quorum() {
    let w = pledge_world();
    let witness_a = key(210);
    let witness_b = key(211);
    let policy = WitnessPolicy::parse(&format!(
        "witness w.bank-a.example {}\nwitness w.regulator.example {}\n\
         group both all w.bank-a.example w.regulator.example\nquorum both\n",
        crypto::public_key(&witness_a).to_hex(),
        crypto::public_key(&witness_b).to_hex()
    ))
    .unwrap();
    let trust = Trust::new(vec![node_public()], policy);
    let mut signed = signed_at(&w, w.len());
    let mut bundle = Bundle::build(&w.store(), "R-1", &signed).unwrap();
    let error = bundle.verify(&trust).unwrap_err();
    assert!(matches!(
        error,
        BundleError::Trust(TrustError::Quorum { size: 11, .. })
    ));
    let message = error.to_string();
    assert!(
        message.contains("missing from w.bank-a.example, w.regulator.example"),
        "{message}"
    );
    // One of two is not enough, and the message says whose is missing.
    add_cosignature(&mut signed, "w.bank-a.example", &witness_a, 1_800_000_000);
    bundle.checkpoint = signed.to_text();
    let message = bundle.verify(&trust).unwrap_err().to_string();
    assert!(
        message.contains("missing from w.regulator.example"),
        "{message}"
    );
    assert!(
        message.contains("cosigned by w.bank-a.example"),
        "{message}"
    );
    // Both: the verdict names them.
    add_cosignature(
        &mut signed,
        "w.regulator.example",
        &witness_b,
        1_800_000_001,
    );
    bundle.checkpoint = signed.to_text();
    let verdict = bundle.verify(&trust).unwrap();
    assert!(verdict.witnessed);
    assert_eq!(
        verdict.cosigners.names(),
        ["w.bank-a.example", "w.regulator.example"]
    );
    // A cosignature that does not verify (another witness key under the
    // name) refuses the bundle outright.
    let mut forged = signed_at(&w, w.len());
    add_cosignature(&mut forged, "w.bank-a.example", &witness_b, 1_800_000_000);
    bundle.checkpoint = forged.to_text();
    assert!(bundle.verify(&trust).is_err());
}

/// Adds witness `name`'s cosignature, made with `key` at `time_s`.
fn add_cosignature(signed: &mut SignedCheckpoint, name: &str, key: &SigningKey, time_s: u64) {
    let line = cosign(signed.note.text(), name, key, time_s).unwrap();
    signed.add_signatures([line]).unwrap();
}

// ----- the committed state: bundles that cannot leave entries out -----

#[test]
fn an_omitted_earlier_transfer_is_refused() {
    let mut w = World::new();
    w.receipt_of("R-5", 1_000); // 1 tank, 2 certify, 3 issue
    w.ok(transfer("R-5", "trader-b"), &["trader-a", "wh-1"]); // 4
    w.receipt_of("R-6", 1_000); // 5, 6, 7: the head concerns another receipt
    let mut bundle = bundle_of(&w, "R-5");
    assert_eq!(verify_verdict(&bundle).holder, "trader-b");
    bundle.entries.retain(|e| e.seq != 4);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HistoryIncomplete {
            ref receipt_id,
            committed_len: 2,
            committed_latest: 4,
            given_len: 1,
            given_latest: Some(3),
        }) if receipt_id == "R-5"
    ));
}

#[test]
fn an_omitted_earlier_pledge_episode_is_refused() {
    let w = pledge_world();
    // Without the pledge to bank-a and its release, the entries still tell a
    // coherent story (issue, then PL-B): the committed history says four.
    let mut bundle = bundle_of(&w, "R-1");
    bundle.entries.retain(|e| e.seq != 4 && e.seq != 9);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HistoryIncomplete {
            committed_len: 4,
            given_len: 2,
            ..
        })
    ));
    let verdict = verify_verdict(&bundle_of(&w, "R-1"));
    assert_eq!((verdict.history_len, verdict.latest_entry), (4, 10));
    assert_eq!(verdict.pledge_registrations.len(), 2);
}

#[test]
fn a_stale_or_forged_state_is_refused() {
    let mut w = World::new();
    w.receipt_of("R-5", 1_000);
    let before = bundle_of(&w, "R-5");
    w.ok(transfer("R-5", "trader-b"), &["trader-a", "wh-1"]);
    let after = bundle_of(&w, "R-5");
    verify(&after).unwrap();
    // The state as it was (a valid proof under the older root) does not
    // hold under the newer checkpoint's root.
    let mut stale = after.clone();
    stale.state = before.state.clone();
    assert!(matches!(
        verify(&stale),
        Err(BundleError::StateNotProven { ref object, .. }) if object == "R-5"
    ));
    // Nor does an altered preimage, nor an altered proof.
    let mut forged = after.clone();
    let preimage = &mut forged.state.receipts[0].preimage_hex;
    let last = preimage.pop().unwrap();
    preimage.push(if last == '0' { '1' } else { '0' });
    assert!(matches!(
        verify(&forged),
        Err(BundleError::StateNotProven { .. })
    ));
    let mut forged = after.clone();
    forged.state.tank.map_proof.push("00".repeat(32));
    assert!(matches!(
        verify(&forged),
        Err(BundleError::StateNotProven { .. })
    ));
    let mut upper = after.clone();
    upper.state.tank.preimage_hex = upper.state.tank.preimage_hex.to_uppercase();
    assert!(matches!(
        verify(&upper),
        Err(BundleError::BadStateHex {
            field: "preimage_hex"
        })
    ));
    // A state left out entirely.
    let mut missing = after;
    missing.state.receipts.clear();
    assert!(matches!(
        verify(&missing),
        Err(BundleError::StateMismatch {
            field: "lineage",
            ..
        })
    ));
}

#[test]
fn a_split_parts_bundle_proves_its_parents_history_too() {
    let mut w = World::new();
    w.receipt_of("R-7", 1_000); // 3 issue
    w.ok(
        pledge("PL-7", "R-7", "bank-a", w.now_ms + 90 * DAY_MS),
        &["trader-a", "bank-a"],
    ); // 4
    w.ok(release("PL-7"), &["bank-a"]); // 5
    w.ok(
        split("R-7", &[("R-7a", 400), ("R-7b", 600)]),
        &["trader-a", "wh-1"],
    ); // 6
    let bundle = bundle_of(&w, "R-7a");
    let verdict = verify_verdict(&bundle);
    assert_eq!(verdict.lineage, ["R-7", "R-7a"]);
    assert_eq!(verdict.pledge_registrations.len(), 1);
    // The parent's pledge episode left out: the parent's committed history
    // (issue, pledge, release, split) is four entries.
    let mut bundle = bundle;
    bundle.entries.retain(|e| e.seq != 4 && e.seq != 5);
    assert!(matches!(
        verify(&bundle),
        Err(BundleError::HistoryIncomplete { ref receipt_id, committed_len: 4, .. })
            if receipt_id == "R-7"
    ));
}

#[test]
fn a_tank_in_shortfall_is_shown() {
    let mut w = World::new();
    w.receipt_of("R-8", 1_000_000);
    assert_eq!(
        verify_verdict(&bundle_of(&w, "R-8")).tank_shortfall_since,
        None
    );
    let gauged = w.regauge("T-R-8", 900_000);
    let verdict = verify_verdict(&bundle_of(&w, "R-8"));
    assert_eq!(verdict.tank_id, "T-R-8");
    assert_eq!(verdict.tank_shortfall_since, Some(gauged.seq));
}

fn verify_verdict(bundle: &Bundle) -> pledge_ledger::bundle::BundleVerdict {
    bundle.verify(&trust()).unwrap()
}

// ----- state map vectors (docs/vectors/statemap-v1.json, FORMAT.md §7.9) -----

fn statemap_vectors_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/statemap-v1.json")
}

/// The vectors as the ledger computes them for `pledge_world()` at size 11.
fn statemap_vectors() -> serde_json::Value {
    use pledge_ledger::statemap::{Kind, leaf, map_key};
    let w = pledge_world();
    let store = w.store();
    let objects = store.objects().unwrap();
    let hex_list = |hashes: &[[u8; 32]]| hashes.iter().map(hex::encode).collect::<Vec<_>>();
    let mut leaves = Vec::new();
    for receipt in objects.receipts.values() {
        let pledge = receipt
            .active_pledge()
            .and_then(|id| objects.pledges.get(id));
        let preimage = leaf::receipt_preimage(receipt, pledge);
        let proof = store.state_proof(Kind::Receipt, receipt.id(), 11).unwrap();
        leaves.push(serde_json::json!({
            "kind": "receipt", "id": receipt.id(),
            "key": hex::encode(map_key(Kind::Receipt, receipt.id())),
            "preimage": hex::encode(&preimage),
            "value": hex::encode(leaf::value_of(&preimage)),
            "siblings": hex_list(&proof.siblings),
        }));
    }
    for tank in objects.tanks.values() {
        let preimage = leaf::tank_preimage(tank);
        let proof = store.state_proof(Kind::Tank, &tank.id, 11).unwrap();
        leaves.push(serde_json::json!({
            "kind": "tank", "id": tank.id,
            "key": hex::encode(map_key(Kind::Tank, &tank.id)),
            "preimage": hex::encode(&preimage),
            "value": hex::encode(leaf::value_of(&preimage)),
            "siblings": hex_list(&proof.siblings),
        }));
    }
    let absent = store.state_proof(Kind::Receipt, "R-9", 11).unwrap();
    serde_json::json!({
        "description": "FORMAT.md 7.9: the state map of the worked example of 7.7 (pledge_world() at size 11)",
        "size": 11,
        "state_root": hex::encode(store.state_root(11).unwrap()),
        "leaves": leaves,
        "absent": {
            "kind": "receipt", "id": "R-9",
            "key": hex::encode(map_key(Kind::Receipt, "R-9")),
            "siblings": hex_list(&absent.siblings),
            "leaf": absent.leaf.map(|(k, v)| serde_json::json!({"key": hex::encode(k), "value": hex::encode(v)})),
        },
    })
}

/// The vectors file matches the ledger (set `PLEDGE_WRITE_VECTORS=1` to
/// write it after a deliberate format change), and every vector checks
/// by the rules of FORMAT.md §7.9 alone.
#[test]
fn state_map_vectors_match_the_document() {
    use pledge_ledger::statemap::proof::MapProof;
    use pledge_ledger::statemap::{leaf, tree};
    let expected = statemap_vectors();
    let path = statemap_vectors_path();
    if std::env::var_os("PLEDGE_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        stored, expected,
        "docs/vectors/statemap-v1.json is out of date"
    );

    let hash = |v: &serde_json::Value| -> [u8; 32] {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let root = hash(&stored["state_root"]);
    assert_eq!(root, signed_at(&pledge_world(), 11).checkpoint.state_root);
    let mut all = std::collections::BTreeMap::new();
    for item in stored["leaves"].as_array().unwrap() {
        let preimage = hex::decode(item["preimage"].as_str().unwrap()).unwrap();
        let value: [u8; 32] = sha2::Sha256::digest(&preimage).into();
        assert_eq!(value, hash(&item["value"]));
        assert_eq!(leaf::value_of(&preimage), value);
        let key = hash(&item["key"]);
        let proof = MapProof {
            siblings: item["siblings"]
                .as_array()
                .unwrap()
                .iter()
                .map(hash)
                .collect(),
            leaf: Some((key, value)),
        };
        proof.verify_present(&root, &key, &value).unwrap();
        all.insert(key, value);
    }
    assert_eq!(all.len(), 4, "R-1, R-2, T-R-1, T-R-2");
    assert_eq!(tree::root_of(&all), root);
    let absent = &stored["absent"];
    let proof = MapProof {
        siblings: absent["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash)
            .collect(),
        leaf: absent["leaf"]
            .as_object()
            .map(|l| (hash(&l["key"]), hash(&l["value"]))),
    };
    proof.verify_absent(&root, &hash(&absent["key"])).unwrap();
}
