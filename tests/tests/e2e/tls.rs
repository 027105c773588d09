//! TLS and mutual TLS with certificates made by `pledgectl tls`, and the
//! refusal to serve plaintext off loopback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pledge_client::{ClientError, LedgerClient, tls};
use pledge_tests::{Node, pledgectl, refused_start};
use tokio_stream::StreamExt;
use tonic::Code;

use super::common::*;

/// The CA certificate `pledgectl tls dev-ca` writes into its directory.
const CA_CERT: &str = "ca.pem";

/// Runs `pledgectl`, asserting success; its stdout.
fn ctl(args: &[&str]) -> String {
    let output = pledgectl(args);
    assert!(
        output.status.success(),
        "pledgectl {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A development CA in `dir/ca` and a node certificate for 127.0.0.1 in
/// `dir/node-tls`, both by `pledgectl tls`; the node's TLS flags.
fn ca_and_server(dir: &Path) -> (PathBuf, Vec<String>) {
    let (ca, server) = (dir.join("ca"), dir.join("node-tls"));
    ctl(&["tls", "dev-ca", "--out", text(&ca)]);
    ctl(&[
        "tls",
        "issue-server",
        "--ca-dir",
        text(&ca),
        "--host",
        "127.0.0.1",
        "--host",
        "localhost",
        "--out",
        text(&server),
    ]);
    let flags = vec![
        "--tls-cert".into(),
        server.join("server.pem").display().to_string(),
        "--tls-key".into(),
        server.join("server-key.pem").display().to_string(),
    ];
    (ca, flags)
}

/// Issues `participant`'s client certificate; (cert, key).
fn client_cert(ca: &Path, participant: &str) -> (PathBuf, PathBuf) {
    let out = ca.parent().unwrap().join("clients");
    ctl(&[
        "tls",
        "issue-client",
        "--ca-dir",
        text(ca),
        "--participant",
        participant,
        "--out",
        text(&out),
    ]);
    (
        out.join(format!("{participant}.pem")),
        out.join(format!("{participant}-key.pem")),
    )
}

/// Connects with `ca` trusted and, if given, a client certificate.
async fn connect(
    node: &Node,
    ca: &Path,
    identity: Option<&(PathBuf, PathBuf)>,
) -> Result<LedgerClient, ClientError> {
    let identity = identity.map(|(cert, key)| (cert.as_path(), key.as_path()));
    let config = tls::client_config(&ca.join(CA_CERT), identity).unwrap();
    node.connect(Some(config)).await
}

/// The error of connecting and reading the head, which must fail.
async fn refused(connected: Result<LedgerClient, ClientError>) -> ClientError {
    match connected {
        Err(error) => error,
        Ok(client) => client.head().await.unwrap_err(),
    }
}

fn start(dir: &Path, flags: &[String]) -> Node {
    // A node serving TLS is given its genesis, or told outright that a
    // development ledger is wanted.
    let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    flags.push("--dev-genesis");
    Node::start_with(&dir.join("node"), &flags)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_serves_the_first_writes_over_https_and_refuses_plaintext_and_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, flags) = ca_and_server(dir.path());
    let node = start(dir.path(), &flags);
    assert!(
        node.url().starts_with("https://127.0.0.1:"),
        "{}",
        node.url()
    );
    let transport = node.announced("transport").unwrap();
    assert!(transport.starts_with("TLS"), "{transport}");

    // The client library over https://.
    let client = connect(&node, &ca, None).await.unwrap();
    issue(&node, &client, "WR-1", 5_000_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();

    // pledgectl over https://, trusting the CA with --ca.
    let ca_file = ca.join(CA_CERT).display().to_string();
    let keys = node.data_dir.join("dev-keys");
    let key = |id: &str| keys.join(format!("{id}.json")).display().to_string();
    let (wh1, inspector, trader) = (key("wh-1"), key(INSPECTOR), key("trader-a"));
    let url = node.url();
    let https = ["--node", url.as_str(), "--ca", ca_file.as_str()];
    let certify = [
        "tank",
        "certify-stock",
        "--tank-id",
        "T-101",
        "--inspector",
        INSPECTOR,
        "--certificate",
        "SGS-CLI",
        "--quantity-kg",
        "1000",
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
    ];
    ctl(&[&https[..], &certify[..]].concat());
    let head: serde_json::Value =
        serde_json::from_str(&ctl(&[&https[..], &["--json", "head"][..]].concat())).unwrap();
    // genesis and the two demo tanks, certify, issue, pledge, certify.
    assert_eq!(head["size"], 3 + 4, "{head}");

    // Without --ca, pledgectl says what is missing.
    let missing = pledgectl(&["--node", url.as_str(), "head"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--ca"));

    // A plaintext client cannot talk to it.
    let plain = refused(LedgerClient::connect(&format!("http://{}", node.address)).await).await;
    assert!(matches!(plain, ClientError::Transport { .. }), "{plain:?}");

    // A client trusting another CA refuses the node's certificate.
    let other = dir.path().join("other");
    ctl(&["tls", "dev-ca", "--out", text(&other)]);
    let stranger = refused(connect(&node, &other, None).await).await;
    assert!(
        matches!(stranger, ClientError::Transport { .. }),
        "{stranger:?}"
    );
    assert_eq!(client.head().await.unwrap().size, 3 + 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_lets_a_connection_carry_only_what_its_participant_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, mut flags) = ca_and_server(dir.path());
    flags.push("--tls-client-ca".into());
    flags.push(ca.join(CA_CERT).display().to_string());
    let node = start(dir.path(), &flags);
    let transport = node.announced("transport").unwrap();
    assert!(transport.starts_with("mutual TLS"), "{transport}");

    // No client certificate: the handshake fails.
    let anonymous = refused(connect(&node, &ca, None).await).await;
    assert!(
        matches!(anonymous, ClientError::Transport { .. }),
        "{anonymous:?}"
    );

    let wh1 = connect(&node, &ca, Some(&client_cert(&ca, "wh-1")))
        .await
        .unwrap();
    issue(&node, &wh1, "WR-1", 2_000_000).await;
    issue(&node, &wh1, "WR-2", 1_000_000).await;

    // bank-a's certificate carries a pledge that bank-a signed.
    let bank_a = connect(&node, &ca, Some(&client_cert(&ca, "bank-a")))
        .await
        .unwrap();
    pledge(&node, &bank_a, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();

    // bank-b's certificate cannot carry one signed by trader-a and bank-a,
    // though the signatures are good; nothing is written.
    let bank_b = connect(&node, &ca, Some(&client_cert(&ca, "bank-b")))
        .await
        .unwrap();
    let before = bank_b.head().await.unwrap();
    let error = pledge(&node, &bank_b, "PL-2", "WR-2", "trader-a", "bank-a")
        .await
        .unwrap_err();
    let (code, reason, message) = refusal(&error);
    assert_eq!(
        (code, reason.as_str()),
        (Code::PermissionDenied, "CONNECTION_NOT_A_SIGNER")
    );
    assert!(message.contains("`bank-b`"), "{message}");
    assert_eq!(bank_b.head().await.unwrap(), before);

    // An auditor's certificate reads everything, through the library and pledgectl.
    let auditor_cert = client_cert(&ca, "auditor-1");
    let auditor = connect(&node, &ca, Some(&auditor_cert)).await.unwrap();
    let receipt = auditor.receipt("WR-1").await.unwrap();
    assert_eq!(
        receipt.active_pledge.unwrap().terms.unwrap().pledge_id,
        "PL-1"
    );
    let ca_file = ca.join(CA_CERT);
    let url = node.url();
    let head = ctl(&[
        "--node",
        url.as_str(),
        "--ca",
        text(&ca_file),
        "--cert",
        text(&auditor_cert.0),
        "--cert-key",
        text(&auditor_cert.1),
        "--json",
        "head",
    ]);
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    assert_eq!(head["size"], before.size, "{head}");

    // Alerts: the certificate names the watcher, no signature needed.
    // trader-a's 2,000 t pledged to bank-a is over half of T-101's stock.
    let watched = |client: &LedgerClient, signer: Option<pledge_client::keys::Signer>| {
        let client = client.clone();
        async move {
            let stream = client.alerts(0, false, signer.as_ref()).await?;
            stream.collect::<Result<Vec<_>, _>>().await
        }
    };
    let bank_a_alerts = watched(&bank_a, None).await.unwrap();
    let kinds: Vec<&str> = bank_a_alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["HOLDER_CONCENTRATION"], "{bank_a_alerts:#?}");
    assert!(
        watched(&bank_b, None).await.unwrap().is_empty(),
        "not bank-a's"
    );
    // auditor-1's certificate reads, but watches nothing: no such
    // participant on the ledger; the ledger's auditor sees everything.
    let stranger = watched(&auditor, None).await.unwrap_err();
    assert_eq!(refusal(&stranger).1, "UNKNOWN_SIGNER");
    let ledger_auditor = connect(&node, &ca, Some(&client_cert(&ca, "auditor")))
        .await
        .unwrap();
    assert_eq!(watched(&ledger_auditor, None).await.unwrap(), bank_a_alerts);
    let error = watched(&bank_b, Some(node.signer("bank-a")))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&error).1,
        "CONNECTION_NOT_THE_WATCHER",
        "a bank-b connection cannot watch as bank-a"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_revoked_on_the_ledger_loses_its_connections_reads_included() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, mut flags) = ca_and_server(dir.path());
    flags.push("--tls-client-ca".into());
    flags.push(ca.join(CA_CERT).display().to_string());
    let node = start(dir.path(), &flags);
    let admin = connect(&node, &ca, Some(&client_cert(&ca, "admin")))
        .await
        .unwrap();
    // trader-b reads while it is a participant in good standing.
    let trader_b_cert = client_cert(&ca, "trader-b");
    let trader_b = connect(&node, &ca, Some(&trader_b_cert)).await.unwrap();
    let before = trader_b.head().await.unwrap();
    let revoked = submit(
        &node,
        &admin,
        pledge_client::ops::revoke_participant("trader-b", "licence withdrawn", None),
        QUORUM,
    )
    .await
    .unwrap();
    // The same connection, and a new one, are refused, reads included.
    let mut refusal_seen = None;
    for _ in 0..50 {
        match trader_b.head().await {
            Err(error) => {
                refusal_seen = Some(error);
                break;
            }
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    let error = refusal_seen.expect("the revoked participant's reads are refused");
    let (code, reason, message) = refusal(&error);
    assert_eq!(
        (code, reason.as_str()),
        (Code::PermissionDenied, "CONNECTION_REVOKED")
    );
    assert!(
        message.contains(&format!("revoked at entry {}", revoked.seq)),
        "{message}"
    );
    let again = connect(&node, &ca, Some(&trader_b_cert)).await.unwrap();
    assert_eq!(
        refusal(&again.receipt("WR-X").await.unwrap_err()).1,
        "CONNECTION_REVOKED"
    );
    // Others still read.
    assert!(admin.head().await.unwrap().size > before.size);
}

#[test]
fn a_non_loopback_plaintext_listener_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let stderr = refused_start(&["--data-dir", text(&data), "--listen", "0.0.0.0:0"]);
    assert!(
        stderr.contains("refusing to serve plaintext gRPC on the non-loopback address 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("--plaintext"), "{stderr}");
    assert!(!data.join("ledger").exists(), "nothing is created");
}

#[test]
fn a_node_serving_tls_without_a_genesis_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, flags) = ca_and_server(dir.path());
    let data = dir.path().join("node");
    let mut args = vec!["--data-dir", text(&data), "--listen", "127.0.0.1:0"];
    args.extend(flags.iter().map(String::as_str));
    let stderr = refused_start(&args);
    assert!(
        stderr.contains("refusing to create a development ledger"),
        "{stderr}"
    );
    assert!(stderr.contains("serves TLS"), "{stderr}");
    assert!(stderr.contains("--genesis FILE"), "{stderr}");
    assert!(stderr.contains("--dev-genesis"), "{stderr}");
    assert!(!data.join("dev-keys").exists(), "no admin key written");
    assert!(!data.join("node-key.json").exists(), "nothing is created");
    assert!(!data.join("ledger").exists(), "nothing is created");
}

/// Waits up to ten seconds for `text` in the node's log.
fn wait_for_log(node: &Node, text: &str) {
    for _ in 0..500 {
        if node.log().contains(text) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{text:?} never appeared in the log:\n{}", node.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_certificate_for_new_connections_and_open_ones_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, flags) = ca_and_server(dir.path());
    let node = start(dir.path(), &flags);
    let before = connect(&node, &ca, None).await.unwrap();
    issue(&node, &before, "WR-1", 1_000).await;

    // A renewed certificate, from another CA, put where the old files were.
    let renewed = dir.path().join("renewed");
    let (renewed_ca, _) = ca_and_server(&renewed);
    for name in ["server.pem", "server-key.pem"] {
        std::fs::copy(
            renewed.join("node-tls").join(name),
            dir.path().join("node-tls").join(name),
        )
        .unwrap();
    }
    let pid = node.pid().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(hup.unwrap().success());
    wait_for_log(&node, "SIGHUP: TLS reloaded");

    // A new connection is given the renewed certificate: trusted under the
    // new CA only.
    let after = connect(&node, &renewed_ca, None).await.unwrap();
    assert_eq!(after.receipt("WR-1").await.unwrap().holder_id, "trader-a");
    refused(connect(&node, &ca, None).await).await;
    // The connection made before the reload goes on, reads and writes.
    issue(&node, &before, "WR-2", 1_000).await;
    // The explorer's HTTPS listener serves the same files: renewed too.
    let explorer = super::explorer::explorer_address(&node);
    let page = super::explorer::https_get(&explorer, &renewed_ca.join(CA_CERT), None, "/chain")
        .await
        .expect("the explorer is trusted under the renewed CA");
    assert!(String::from_utf8_lossy(&page).starts_with("HTTP/1.1 200"));
    let stale = super::explorer::https_get(&explorer, &ca.join(CA_CERT), None, "/chain").await;
    assert!(
        stale.is_err(),
        "the old certificate is still served: {stale:?}"
    );

    // Files that do not make a TLS server change nothing.
    std::fs::write(
        dir.path().join("node-tls").join("server-key.pem"),
        "not a key",
    )
    .unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for_log(&node, "SIGHUP: TLS was not reloaded");
    connect(&node, &renewed_ca, None)
        .await
        .unwrap()
        .head()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_that_never_finish_a_client_hello_are_closed_at_the_handshake_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, mut flags) = ca_and_server(dir.path());
    let config = node_config(
        dir.path(),
        "max_connections_per_address = 20\nhandshake_timeout_ms = 3000\n",
    );
    flags.extend(["--config", text(&config), "--metrics-listen", "127.0.0.1:0"].map(String::from));
    let node = start(dir.path(), &flags);

    // From another source: 15 connections that send nothing, and 5 that
    // send the first bytes of a TLS record (a handshake, 512 bytes
    // announced) and never the rest.
    let mut silent = Vec::new();
    for n in 0..20 {
        let mut stream = connect_from(&node, "127.0.0.2").await.unwrap();
        if n >= 15 {
            use tokio::io::AsyncWriteExt;
            stream
                .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
                .await
                .unwrap();
        }
        silent.push(stream);
    }
    // They hold their source's whole share, and nobody else's: a TLS
    // client from 127.0.0.1 connects and writes meanwhile.
    let meanwhile = connect(&node, &ca, None).await.unwrap();
    issue(&node, &meanwhile, "WR-HELLO", 1_000).await;

    // By the timeout (3 s, and some slack) every one of them is closed.
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(8)).await,
            "a connection without a finished ClientHello was held past the timeout"
        );
    }
    let metrics = node.metrics();
    assert!(
        metrics.contains("pledge_connections_refused_total{why=\"handshake_timeout\"} 20"),
        "{metrics}"
    );
    // Their source's share is free again.
    let mut again = connect_from(&node, "127.0.0.2").await.unwrap();
    assert!(!closed_within(&mut again, Duration::from_millis(300)).await);
}
