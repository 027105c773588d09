//! Production safety at start: what a node others can reach refuses to do,
//! and that what a node creates only its own user may read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pledge_tests::{Node, refused_start};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_network_node_without_a_genesis_creates_no_development_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let data = data.to_str().unwrap();
    let stderr = refused_start(&["--data-dir", data, "--listen", "0.0.0.0:0", "--plaintext"]);
    assert!(
        stderr.contains("refusing to create a development ledger"),
        "{stderr}"
    );
    assert!(
        stderr.contains("non-loopback address 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(!Path::new(data).join("dev-keys").exists());
}

#[test]
fn what_the_node_creates_only_its_user_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    drop(Node::start(&data));
    let mut seen = 0;
    let mut pending = vec![data.clone()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            // The test harness writes the node's log, not the node.
            if path == data.join("node.log") {
                continue;
            }
            seen += 1;
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                pending.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
    assert!(data.join("ledger").is_dir() && data.join("node-key.json").is_file());
    assert!(seen > 5, "only {seen} files and directories looked at");
}

#[test]
fn a_node_key_others_may_read_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    drop(Node::start(&data));
    let key = data.join("node-key.json");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let stderr = refused_start(&args);
    assert!(stderr.contains("has mode 644"), "{stderr}");
    assert!(
        stderr.contains(&format!("chmod 600 {}", key.display())),
        "{stderr}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Node::start(&data).announced("transport").is_some());
}

#[test]
fn metrics_on_a_network_address_must_be_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let stderr = refused_start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "0.0.0.0:0",
    ]);
    assert!(
        stderr.contains("non-loopback address 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("--metrics-public"), "{stderr}");
    let node = Node::start_with(
        &data,
        &["--metrics-listen", "0.0.0.0:0", "--metrics-public"],
    );
    let metrics = node.announced("metrics").unwrap();
    assert!(metrics.starts_with("http://0.0.0.0:"), "{metrics}");
}
