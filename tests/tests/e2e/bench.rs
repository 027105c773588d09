//! Smoke runs of `pledge-bench`: a second of load against a real node with
//! its self-check, and generate + replay + proofs on a small chain. These
//! check that the tool works and checks itself; they time nothing.

use std::process::{Command, Output};

use pledge_tests::{Node, binary};

fn bench(args: &[&str]) -> String {
    let output: Output = Command::new(binary("pledge-bench"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "pledge-bench {args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("machine: "), "{stdout}");
    stdout
}

#[test]
fn a_short_run_against_a_real_node_checks_itself() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let keys = dir.path().join("dev-keys");
    let stdout = bench(&[
        "run",
        "--node",
        &node.url(),
        "--keys",
        keys.to_str().unwrap(),
        "--clients",
        "4",
        "--duration",
        "1s",
        "--receipts",
        "200",
        "--setup-concurrency",
        "16",
    ]);
    assert!(stdout.contains("\nself-check passed: "), "{stdout}");
    assert!(stdout.contains("submit latency: n="), "{stdout}");
    assert!(!stdout.contains("UNEXPECTED"), "{stdout}");
}

#[test]
fn generate_replay_and_proofs_on_a_small_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let export = dir.path().join("chain.export");
    let (store, export) = (store.to_str().unwrap(), export.to_str().unwrap());
    let generated = bench(&[
        "generate",
        "--entries",
        "2000",
        "--out",
        store,
        "--export",
        export,
        "--group",
        "100",
        "--compact",
        "--compact-online",
    ]);
    assert!(generated.contains("generated 2000 entries"), "{generated}");
    // The node's policy starts at 64 MiB: a small chain is not compacted.
    assert!(
        generated.contains("compacted while generating: 0 times"),
        "{generated}"
    );
    assert!(generated.contains("bytes/entry"), "{generated}");
    assert!(
        generated.contains("disk after compacting the state ("),
        "{generated}"
    );
    for source in [["--file", export], ["--dir", store]] {
        let replayed = bench(&["replay", source[0], source[1]]);
        assert!(
            replayed.contains("replayed and verified 2000 entries"),
            "{replayed}"
        );
    }
    let one_by_one = bench(&["replay", "--file", export, "--threads", "0"]);
    assert!(one_by_one.contains("(one by one)"), "{one_by_one}");
    let signatures = bench(&["replay", "--file", export, "--signatures-only"]);
    assert!(
        signatures.contains(" signatures of 2000 entries ("),
        "{signatures}"
    );
    let proofs = bench(&["proofs", "--dir", store, "--samples", "200"]);
    assert!(proofs.contains("inclusion proofs:   n=200 "), "{proofs}");
    assert!(proofs.contains("consistency proofs: n=200 "), "{proofs}");
}

#[test]
fn log_sync_times_both_kinds_of_append() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = bench(&[
        "log-sync",
        "--dir",
        dir.path().to_str().unwrap(),
        "--groups",
        "20",
        "--rounds",
        "1",
        "--preallocate",
        "65536",
    ]);
    assert!(stdout.contains("file grows:          n=20 "), "{stdout}");
    assert!(stdout.contains("preallocated (64 KiB): n=20 "), "{stdout}");
    assert!(
        stdout.contains("p50 ratio (grows / preallocated): "),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "logs left behind"
    );
}
