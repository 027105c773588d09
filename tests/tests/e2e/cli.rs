//! The lifecycle again, through the `pledgectl` binary, the way separate
//! parties work: drafts written by one party, signed by each, submitted by any.

use std::path::Path;
use std::process::{Command, Output};

use pledge_tests::{Node, binary};

fn ctl(node: &Node, args: &[&str]) -> Output {
    Command::new(binary("pledgectl"))
        .env("XDG_STATE_HOME", node.data_dir.join("auditor-state"))
        .args(["--node", &node.url()])
        .args(args)
        .output()
        .unwrap()
}

fn ok(node: &Node, args: &[&str]) -> String {
    let output = ctl(node, args);
    assert!(
        output.status.success(),
        "pledgectl {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn key(node: &Node, id: &str) -> String {
    node.data_dir
        .join("dev-keys")
        .join(format!("{id}.json"))
        .display()
        .to_string()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn the_lifecycle_through_pledgectl() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("node"));
    let work = dir.path();
    let wh1 = key(&node, "wh-1");
    let trader = key(&node, "trader-a");
    let inspector = key(&node, "insp-sgs");
    let (bank_a, bank_b) = (key(&node, "bank-a"), key(&node, "bank-b"));

    ok(
        &node,
        &[
            "tank",
            "certify-stock",
            "--tank-id",
            "T-101",
            "--inspector",
            "insp-sgs",
            "--certificate",
            "SGS-1",
            "--quantity-kg",
            "2000000",
            "--grade",
            "VLSFO 0.5%S",
            "--depositor",
            "trader-a",
            "--key",
            &wh1,
            "--key",
            &inspector,
            "--key",
            &trader,
        ],
    );
    ok(
        &node,
        &[
            "receipt",
            "issue",
            "--receipt-id",
            "WR-CLI",
            "--tank-id",
            "T-101",
            "--inspector",
            "insp-sgs",
            "--certificate",
            "SGS-1",
            "--grade",
            "VLSFO 0.5%S",
            "--quantity-kg",
            "2000000",
            "--customs",
            "bonded",
            "--customs-ref",
            "ZS-1",
            "--expires",
            "+180d",
            "--key",
            &wh1,
        ],
    );

    // The holder drafts the pledge; the bank signs it separately; the bank submits.
    let draft = path(work, "pledge-a.json");
    ok(
        &node,
        &[
            "pledge",
            "register",
            "--pledge-id",
            "PL-A",
            "--receipt-id",
            "WR-CLI",
            "--bank",
            "bank-a",
            "--amount-minor",
            "150000000",
            "--currency",
            "USD",
            "--loan-ref",
            "LN-1",
            "--maturity",
            "+90d",
            "--key",
            &trader,
            "--draft-out",
            &draft,
        ],
    );
    let unsigned = ctl(&node, &["submit", &draft]);
    assert_eq!(
        unsigned.status.code(),
        Some(2),
        "a draft missing the bank's signature must be refused"
    );
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("PERMISSION_DENIED"));
    ok(&node, &["sign", &draft, "--key", &bank_a]);
    ok(&node, &["submit", &draft]);

    // Bank B's pledge is refused, naming bank A's.
    let refused = ctl(
        &node,
        &[
            "pledge",
            "register",
            "--pledge-id",
            "PL-B",
            "--receipt-id",
            "WR-CLI",
            "--bank",
            "bank-b",
            "--amount-minor",
            "1",
            "--currency",
            "USD",
            "--loan-ref",
            "LN-2",
            "--maturity",
            "+90d",
            "--key",
            &trader,
            "--key",
            &bank_b,
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("FAILED_PRECONDITION")
            && stderr.contains("PL-A")
            && stderr.contains("bank-a"),
        "{stderr}"
    );

    let shown: serde_json::Value =
        serde_json::from_str(&ok(&node, &["--json", "receipt", "show", "WR-CLI"])).unwrap();
    assert!(shown.to_string().contains("PL-A"), "{shown}");
    ok(
        &node,
        &["pledge", "release", "--pledge-id", "PL-A", "--key", &bank_a],
    );
    let listed = ok(&node, &["receipt", "list", "--holder", "trader-a"]);
    assert!(listed.contains("WR-CLI"), "{listed}");

    // Export and audit, from the node and from the file; a tampered export is named.
    let audit = ok(&node, &["audit"]);
    assert!(audit.contains("verified"), "{audit}");
    let export = path(work, "chain.export");
    ok(&node, &["export", "--out", &export]);
    assert!(ok(&node, &["audit", "--file", &export]).contains("verified"));
    let mut bytes = std::fs::read(&export).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 1;
    std::fs::write(&export, bytes).unwrap();
    let tampered = ctl(&node, &["audit", "--file", &export]);
    assert_eq!(tampered.status.code(), Some(3));
    let verdict = String::from_utf8_lossy(&tampered.stdout).to_string()
        + &String::from_utf8_lossy(&tampered.stderr);
    assert!(verdict.contains("is bad"), "{verdict}");
}
