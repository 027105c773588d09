//! Signals: SIGTERM stops the node within a bound even with a following
//! stream open; SIGHUP reloads the log filter, the rate limit and the stream bounds from the
//! configuration file and the node keeps serving.

use std::process::Command;
use std::time::{Duration, Instant};

use pledge_client::keys::{Signer, sign};
use pledge_client::ops::{self, TxHeader};
use pledge_client::{ConnectOptions, Failover, LedgerClient};
use pledge_tests::{DEV_LEDGER_ID, Node};
use tokio_stream::StreamExt;
use tonic::Code;

use super::common::*;

fn signal(node: &Node, name: &str) {
    let pid = node.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Sends SIGHUP and waits up to ten seconds for one more `SIGHUP: reloaded`
/// in the node's log.
fn reload(node: &Node) {
    let reloaded = || node.log().matches("SIGHUP: reloaded").count();
    let before = reloaded();
    signal(node, "HUP");
    for _ in 0..500 {
        if reloaded() > before {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("SIGHUP did not reload:\n{}", node.log());
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
async fn sigterm_with_a_following_stream_open_stops_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let mut entries = client.entries(0, true).await.unwrap();
    let size = client.head().await.unwrap().size;
    for _ in 0..size {
        entries.next().await.unwrap().unwrap();
    }
    let asked = Instant::now();
    let status = tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    // The drain bound is five seconds; a stream that held the stop would
    // hold it for ever (the harness gives up after 30 s).
    assert!(took < Duration::from_secs(15), "stopped after {took:?}");
    let ended = tokio::time::timeout(Duration::from_secs(5), entries.next())
        .await
        .expect("the stream ended");
    let Some(Err(error)) = ended else {
        panic!("the following stream ended without saying why: {ended:?}");
    };
    let (code, reason, _) = refusal(&error);
    assert_eq!(code, Code::Unavailable);
    assert_eq!(reason, "SHUTTING_DOWN");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_log_filter_and_rate_limit_and_the_node_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, "log_filter = \"info\"\n").unwrap();
    let data = dir.path().join("node");
    let node = Node::start_with(&data, &["--config", config.to_str().unwrap()]);
    // This client gives every refusal to its caller; `patient` is the
    // library's default, which waits as a rate limit tells it and resends.
    let never = ConnectOptions {
        failover: Failover::never(),
        ..ConnectOptions::default()
    };
    let client = LedgerClient::connect_with(&node.url(), never)
        .await
        .unwrap();
    let patient = node.client().await;
    let stranger = Signer::new(
        "mallory",
        pledge_ledger::crypto::generate_signing_key().unwrap(),
    );
    let unknown = || {
        let tx = TxHeader::new(DEV_LEDGER_ID, "signals")
            .unwrap()
            .wrap(ops::freeze_receipt("WR-1", "order"));
        sign(&tx, std::slice::from_ref(&stranger))
    };
    client.submit(&unknown()).await.unwrap_err();

    std::fs::write(
        &config,
        "log_filter = \"info,pledge_node=debug\"\n[limits]\nrequests_per_second_per_address = 1\n",
    )
    .unwrap();
    signal(&node, "HUP");
    wait_for_log(&node, "SIGHUP: reloaded");
    assert!(
        !node.log().contains("UNKNOWN_SIGNER"),
        "debug lines before the reload"
    );
    // The new filter: a stranger's refusal is a debug line.
    client.submit(&unknown()).await.unwrap_err();
    // The new rate: one request a second from this address.
    let mut limited = 0;
    for _ in 0..5 {
        if let Err(error) = client.head().await
            && refusal(&error).0 == Code::ResourceExhausted
        {
            limited += 1;
        }
    }
    assert!(limited >= 3, "only {limited} of 5 requests rate limited");
    // The library's client waits the retry_after_ms it is told and is served.
    for _ in 0..3 {
        patient.head().await.unwrap();
    }
    wait_for_log(&node, "UNKNOWN_SIGNER");

    // A file that does not parse changes nothing; the node serves on.
    std::fs::write(&config, "log_filter = [\n").unwrap();
    signal(&node, "HUP");
    wait_for_log(&node, "SIGHUP: the configuration was not reloaded");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client.head().await.unwrap();

    // Nor does a filter that does not parse: the rate stays one a second.
    std::fs::write(
        &config,
        "log_filter = \"pledge_node=loudest\"\n[limits]\nrequests_per_second_per_address = 0\n",
    )
    .unwrap();
    signal(&node, "HUP");
    wait_for_log(&node, "does not parse");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client.head().await.unwrap();
    let error = client.head().await.unwrap_err();
    assert_eq!(refusal(&error).0, Code::ResourceExhausted);

    // The answer-stream bounds: two following streams from this address,
    // then one allowed. Both go on; a third is refused, naming the new
    // limit; once one ends, there is room for one again.
    std::fs::write(&config, "[limits]\nrequests_per_second_per_address = 0\n").unwrap();
    reload(&node);
    let first = client.entries(0, true).await.unwrap();
    let mut second = client.entries(0, true).await.unwrap();
    std::fs::write(
        &config,
        "[limits]\nrequests_per_second_per_address = 0\nmax_streams_per_address = 1\n",
    )
    .unwrap();
    reload(&node);
    let error = match client.entries(0, true).await {
        Ok(mut third) => third.next().await.expect("an answer").unwrap_err(),
        Err(error) => error,
    };
    let (code, reason, message) = refusal(&error);
    assert_eq!(
        (code, reason.as_str()),
        (Code::ResourceExhausted, "TOO_MANY_STREAMS")
    );
    assert!(message.contains("limit of 1"), "{message}");
    second.next().await.unwrap().unwrap();
    drop(first);
    drop(second);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(mut stream) = client.entries(0, true).await
            && let Some(Ok(_)) = stream.next().await
        {
            again = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again.is_some(),
        "no room for a stream once the others ended"
    );
}
