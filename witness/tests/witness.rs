//! The witness's decisions, as a log submitting checkpoints sees them: it
//! cosigns a growing log, refuses a rewritten history or a second view of
//! the same size (keeping the evidence), never forgets what it cosigned,
//! and answers over HTTP as C2SP tlog-witness says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use ed25519_dalek::SigningKey;
use pledge_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use pledge_ledger::cosigning::add_checkpoint::{AddCheckpoint, parse_cosignatures};
use pledge_ledger::cosigning::cosignature::verify;
use pledge_ledger::cosigning::{Witness, WitnessPolicy};
use pledge_ledger::crypto::{self, Digest};
use pledge_ledger::merkle::{self, MemoryNodes};
use pledge_ledger::note::{NoteSignature, SignedNote};
use pledge_witness::decide::Logs;
use pledge_witness::store::WitnessStore;
use pledge_witness::{Answer, WitnessService};

const ORIGIN: &str = "pledgeledger/zhoushan-test";
const NOW_MS: u64 = 1_800_000_000_000;

fn node_key() -> SigningKey {
    SigningKey::from_bytes(&[100; 32])
}

fn witness_key() -> SigningKey {
    SigningKey::from_bytes(&[150; 32])
}

fn logs() -> Logs {
    BTreeMap::from([(ORIGIN.to_owned(), vec![crypto::public_key(&node_key())])])
}

/// A log over leaves `tag ‖ i`; `tag` tells two histories apart.
struct Log {
    tree: MemoryNodes,
    tag: u8,
}

impl Log {
    fn new(tag: u8, size: u64) -> Log {
        let mut log = Log {
            tree: MemoryNodes::new(),
            tag,
        };
        log.grow(size);
        log
    }

    fn grow(&mut self, to: u64) {
        for i in self.tree.size()..to {
            let mut leaf = vec![self.tag];
            leaf.extend_from_slice(&i.to_be_bytes());
            self.tree.append(merkle::leaf_hash(&leaf)).unwrap();
        }
    }

    fn checkpoint(&self, key: &SigningKey) -> SignedCheckpoint {
        let size = self.tree.size();
        Checkpoint {
            origin: ORIGIN.to_owned(),
            size,
            root: merkle::root(size, &self.tree).unwrap(),
            head_hash: if size == 0 {
                Digest::ZERO
            } else {
                Digest([self.tag; 32])
            },
            state_root: if size == 0 { [0; 32] } else { [self.tag; 32] },
            time_ms: NOW_MS,
        }
        .sign(key)
        .unwrap()
    }

    fn request(&self, old_size: u64) -> String {
        self.request_signed_by(old_size, &node_key())
    }

    /// The add-checkpoint request for the log's checkpoint signed by `key`.
    fn request_signed_by(&self, old_size: u64, key: &SigningKey) -> String {
        let size = self.tree.size();
        let proof = if old_size == 0 || old_size == size {
            Vec::new()
        } else {
            merkle::consistency_proof(old_size, size, &self.tree).unwrap()
        };
        AddCheckpoint {
            old_size,
            proof,
            checkpoint: self.checkpoint(key).to_text(),
        }
        .to_body()
    }
}

fn service(dir: &std::path::Path) -> WitnessService {
    let store = WitnessStore::open(dir, &logs()).unwrap();
    WitnessService::new("witness.bank-a.example", witness_key(), logs(), store).unwrap()
}

fn identity() -> Witness {
    Witness::new("witness.bank-a.example", crypto::public_key(&witness_key())).unwrap()
}

fn evidence_files(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir.join("evidence"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    files.sort();
    files
}

#[track_caller]
fn assert_status(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.body);
}

/// The witness cosigns `log`'s checkpoint offered as grown from `old_size`.
fn assert_cosigned(witness: &WitnessService, log: &Log, old_size: u64) {
    assert_status(&witness.add_checkpoint(&log.request(old_size), NOW_MS), 200);
}

#[test]
fn a_growing_log_is_cosigned_and_the_cosignature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let witness = service(dir.path());
    let mut log = Log::new(1, 5);
    let answer = witness.add_checkpoint(&log.request(0), NOW_MS);
    assert_status(&answer, 200);
    let lines = parse_cosignatures(&answer.body).unwrap();
    assert_eq!(lines.len(), 1);
    let text = log.checkpoint(&node_key()).note.text().to_owned();
    assert_eq!(verify(&lines[0], &text, &identity()), Ok(NOW_MS / 1000));

    log.grow(12);
    assert_cosigned(&witness, &log, 5);
    // The same checkpoint again (e.g. re-signed after a restart) is fine.
    assert_cosigned(&witness, &log, 12);

    // A policy naming this witness accepts the note with the cosignature.
    let mut note = SignedNote::parse(&log.checkpoint(&node_key()).to_text()).unwrap();
    let answer = witness.add_checkpoint(&log.request(12), NOW_MS + 1000);
    note.add_signature(parse_cosignatures(&answer.body).unwrap().remove(0))
        .unwrap();
    let policy = WitnessPolicy::parse(&format!(
        "witness {} {}\nquorum {}\n",
        identity().name,
        identity().key,
        identity().name
    ))
    .unwrap();
    assert_eq!(policy.check(&note).unwrap().names(), [identity().name]);
}

/// A registry of several nodes: each member signs its own checkpoints, and
/// the witness, given every member's key, follows them as one log.
#[test]
fn checkpoints_signed_by_different_members_are_cosigned_as_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let (member_a, member_b, stranger) = (
        node_key(),
        SigningKey::from_bytes(&[101; 32]),
        SigningKey::from_bytes(&[102; 32]),
    );
    let members: Logs = BTreeMap::from([(
        ORIGIN.to_owned(),
        vec![crypto::public_key(&member_a), crypto::public_key(&member_b)],
    )]);
    let store = WitnessStore::open(dir.path(), &members).unwrap();
    let witness =
        WitnessService::new("witness.bank-a.example", witness_key(), members, store).unwrap();
    let mut log = Log::new(1, 5);
    assert_status(
        &witness.add_checkpoint(&log.request_signed_by(0, &member_a), NOW_MS),
        200,
    );
    log.grow(9);
    assert_status(
        &witness.add_checkpoint(&log.request_signed_by(5, &member_b), NOW_MS),
        200,
    );
    log.grow(12);
    assert_status(
        &witness.add_checkpoint(&log.request_signed_by(9, &stranger), NOW_MS),
        403,
    );
    assert_status(
        &witness.add_checkpoint(&log.request_signed_by(9, &member_a), NOW_MS),
        200,
    );
}

#[test]
fn a_stale_old_size_gets_the_latest_size() {
    let dir = tempfile::tempdir().unwrap();
    let witness = service(dir.path());
    let mut log = Log::new(1, 5);
    assert_cosigned(&witness, &log, 0);
    log.grow(9);
    let answer = witness.add_checkpoint(&log.request(0), NOW_MS);
    assert_status(&answer, 409);
    assert_eq!(answer.content_type, "text/x.tlog.size");
    assert_eq!(answer.body, "5\n");
    assert!(evidence_files(dir.path()).is_empty());
}

#[test]
fn a_rewritten_history_is_refused_and_kept_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let witness = service(dir.path());
    let honest = Log::new(1, 8);
    assert_cosigned(&witness, &honest, 0);

    // The operator rewrites the history and re-signs with the node's own
    // key; the best proof it can give is one of the rewritten tree.
    let rewritten = Log::new(2, 10);
    let answer = witness.add_checkpoint(&rewritten.request(8), NOW_MS);
    assert_status(&answer, 422);
    let evidence = evidence_files(dir.path());
    assert_eq!(evidence.len(), 1);
    assert!(evidence[0].contains("status: 422"), "{}", evidence[0]);
    assert!(evidence[0].contains(&rewritten.checkpoint(&node_key()).to_text()));
    assert!(evidence[0].contains(&honest.checkpoint(&node_key()).note.text().to_owned()));

    // The witness still vouches for the honest history only.
    let mut grown = Log::new(1, 8);
    grown.grow(10);
    assert_cosigned(&witness, &grown, 8);
}

#[test]
fn a_second_view_of_the_same_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let witness = service(dir.path());
    assert_cosigned(&witness, &Log::new(1, 8), 0);
    let answer = witness.add_checkpoint(&Log::new(2, 8).request(8), NOW_MS);
    assert_status(&answer, 409);
    assert!(answer.body.contains("fork"), "{}", answer.body);
    assert_eq!(evidence_files(dir.path()).len(), 1);
}

#[test]
fn what_was_cosigned_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let witness = service(dir.path());
        assert_cosigned(&witness, &Log::new(1, 6), 0);
    }
    let witness = service(dir.path());
    let answer = witness.add_checkpoint(&Log::new(2, 7).request(0), NOW_MS);
    assert_status(&answer, 409);
    assert_eq!(answer.body, "6\n");
    // A second process on the same directory is refused.
    assert!(WitnessStore::open(dir.path(), &logs()).is_err());
}

/// The log's checkpoint in the five-line form written before checkpoints
/// carried the `state-root` line, signed by the node key, as a witness
/// stored it then.
fn pre_state_root_note(log: &Log) -> String {
    let current = log.checkpoint(&node_key()).checkpoint.note_text();
    let text: String = current
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("state-root "))
        .collect();
    let mut note = SignedNote::new(&text).unwrap();
    note.add_signature(NoteSignature::ed25519(&text, ORIGIN, &node_key()))
        .unwrap();
    note.to_text()
}

fn latest_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("latest")
        .join(format!("{}.checkpoint", hex::encode(ORIGIN)))
}

#[test]
fn a_checkpoint_stored_before_state_roots_is_still_what_the_witness_vouched_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("latest")).unwrap();
    let stored = pre_state_root_note(&Log::new(1, 6));
    assert_eq!(stored.split('\n').take_while(|l| !l.is_empty()).count(), 5);
    std::fs::write(latest_file(dir.path()), &stored).unwrap();
    let witness = service(dir.path());
    // Its size is the one the node must start from.
    let answer = witness.add_checkpoint(&Log::new(1, 9).request(0), NOW_MS);
    assert_status(&answer, 409);
    assert_eq!(answer.body, "6\n");
    // Another history of that size is refused, with the old note as evidence.
    let answer = witness.add_checkpoint(&Log::new(2, 9).request(6), NOW_MS);
    assert_status(&answer, 422);
    assert!(evidence_files(dir.path())[0].contains(&stored));
    // The same history grown is cosigned; the file takes the current form.
    assert_cosigned(&witness, &Log::new(1, 9), 6);
    let rewritten = std::fs::read_to_string(latest_file(dir.path())).unwrap();
    assert!(rewritten.contains("\nstate-root "), "{rewritten}");
}

#[test]
fn a_stored_checkpoint_that_does_not_verify_names_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("latest")).unwrap();
    let stored = pre_state_root_note(&Log::new(1, 6)).replacen("\n6\n", "\n7\n", 1);
    std::fs::write(latest_file(dir.path()), &stored).unwrap();
    let error = WitnessStore::open(dir.path(), &logs())
        .unwrap_err()
        .to_string();
    let file = latest_file(dir.path()).display().to_string();
    assert!(error.contains(&file), "{error}");
    assert!(error.contains("signature"), "{error}");
    assert!(error.contains("--log ORIGIN=KEY"), "{error}");
    assert!(error.contains("restore it from a backup"), "{error}");
}

#[test]
fn bad_requests_get_their_c2sp_status() {
    let dir = tempfile::tempdir().unwrap();
    let witness = service(dir.path());
    let log = Log::new(1, 4);
    let other_key = SigningKey::from_bytes(&[7; 32]);
    let foreign = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: log.checkpoint(&other_key).to_text(),
    };
    assert_status(&witness.add_checkpoint(&foreign.to_body(), NOW_MS), 403);

    let unknown = Checkpoint {
        origin: "pledgeledger/elsewhere".into(),
        ..log.checkpoint(&node_key()).checkpoint
    }
    .sign(&node_key())
    .unwrap();
    let unknown = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: unknown.to_text(),
    };
    assert_status(&witness.add_checkpoint(&unknown.to_body(), NOW_MS), 404);

    assert_status(&witness.add_checkpoint("garbage", NOW_MS), 400);
    let shrinking = AddCheckpoint {
        old_size: 9,
        proof: vec![],
        checkpoint: log.checkpoint(&node_key()).to_text(),
    };
    assert_status(&witness.add_checkpoint(&shrinking.to_body(), NOW_MS), 400);
    let with_proof = AddCheckpoint {
        old_size: 0,
        proof: vec![[0; 32]],
        checkpoint: log.checkpoint(&node_key()).to_text(),
    };
    assert_status(&witness.add_checkpoint(&with_proof.to_body(), NOW_MS), 400);
    assert!(evidence_files(dir.path()).is_empty());
}

#[test]
fn the_witness_answers_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let witness = std::sync::Arc::new(service(dir.path()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(pledge_witness::http::serve(listener, witness));

    let body = Log::new(1, 3).request(0);
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    write!(
        socket,
        "POST /add-checkpoint HTTP/1.1\r\nhost: w\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cosignatures = answer.split("\r\n\r\n").nth(1).unwrap();
    assert!(parse_cosignatures(cosignatures).is_ok(), "{cosignatures}");
}

/// Cosigns `log`'s checkpoint with `witness` (which must accept it) and
/// returns the note with the cosignature added.
fn cosigned(witness: &WitnessService, log: &Log, old_size: u64) -> SignedCheckpoint {
    let answer = witness.add_checkpoint(&log.request(old_size), NOW_MS);
    assert_status(&answer, 200);
    let mut checkpoint = log.checkpoint(&node_key());
    checkpoint
        .add_signatures(parse_cosignatures(&answer.body).unwrap())
        .unwrap();
    checkpoint
}

#[test]
fn a_split_view_gets_one_view_per_witness_and_is_caught_by_whoever_holds_both() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bank_a = WitnessService::new(
        "witness.bank-a.example",
        witness_key(),
        logs(),
        WitnessStore::open(dir_a.path(), &logs()).unwrap(),
    )
    .unwrap();
    let regulator_key = SigningKey::from_bytes(&[151; 32]);
    let regulator = WitnessService::new(
        "witness.regulator.example",
        regulator_key.clone(),
        logs(),
        WitnessStore::open(dir_b.path(), &logs()).unwrap(),
    )
    .unwrap();
    // Both witnesses saw the common history up to 6 entries.
    let common = Log::new(1, 6);
    cosigned(&bank_a, &common, 0);
    cosigned(&regulator, &common, 0);

    // The operator shows bank A one continuation and the regulator another.
    let mut view_a = Log::new(1, 6);
    view_a.grow(9);
    let mut view_b = Log::new(1, 6);
    view_b.tag = 2;
    view_b.grow(9);
    let seen_by_a = cosigned(&bank_a, &view_a, 6);
    let seen_by_b = cosigned(&regulator, &view_b, 6);

    // At most one view per witness: neither takes the other view.
    assert_status(&bank_a.add_checkpoint(&view_b.request(9), NOW_MS), 409);
    assert_status(&regulator.add_checkpoint(&view_a.request(9), NOW_MS), 409);

    // Under a 2-of-2 policy neither view is believed…
    let regulator_id = Witness::new(
        "witness.regulator.example",
        crypto::public_key(&regulator_key),
    )
    .unwrap();
    let witnesses = format!(
        "witness {} {}\nwitness {} {}\n",
        identity().name,
        identity().key,
        regulator_id.name,
        regulator_id.key
    );
    let both = WitnessPolicy::parse(&format!(
        "{witnesses}group both all {} {}\nquorum both\n",
        identity().name,
        regulator_id.name
    ))
    .unwrap();
    for (view, missing) in [
        (&seen_by_a, &regulator_id.name),
        (&seen_by_b, &identity().name),
    ] {
        let refusal = both.check(&view.note).unwrap_err().to_string();
        assert!(
            refusal.contains(&format!("cosignatures missing from {missing}")),
            "{refusal}"
        );
    }
    // …and a client holding both cosigned checkpoints sees the fork, with
    // both notes as evidence.
    let fork = *pledge_ledger::cosigning::fork::compare(&seen_by_a, &seen_by_b, None).unwrap_err();
    let shown = fork.to_string();
    assert!(shown.starts_with("FORK"), "{shown}");
    assert!(shown.contains(&seen_by_a.to_text()), "{shown}");
    assert!(shown.contains(&seen_by_b.to_text()), "{shown}");
}
