//! Explicit limits: a client flooding requests over many connections from
//! one address is held to that address's rate while a client from another
//! address is served; a participant is held to its rate from every address
//! together; idle, slow and surplus connections are closed before they are
//! served.

use std::time::{Duration, Instant};

use pledge_client::keys::sign;
use pledge_client::ops::{self, TxHeader};
use pledge_client::{ConnectOptions, Failover, LedgerClient};
use pledge_tests::{DEV_LEDGER_ID, Node};
use tonic::Code;

use super::common::*;

/// A client whose connection comes from the loopback address `from`
/// (127.0.0.2 and up are loopback too: another source), which gives every
/// refusal to its caller (the library would wait and resend a rate-limited
/// request; these tests count what the node refuses).
async fn client_from(node: &Node, from: &str) -> LedgerClient {
    let channel = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .local_address(Some(from.parse().unwrap()))
        .connect()
        .await
        .unwrap();
    let options = ConnectOptions {
        failover: Failover::never(),
        ..ConnectOptions::default()
    };
    LedgerClient::from_channel_with(channel, options)
}

/// Whether `error` is a RESOURCE_EXHAUSTED refusal with `reason` for the
/// bound or rate of `scope`.
/// The well-behaved client writes `count` receipts (`{prefix}0`, …) and reads
/// the head after each, all within `within`, while an attack goes on.
async fn served_meanwhile(
    node: &Node,
    client: &LedgerClient,
    prefix: &str,
    count: usize,
    within: Duration,
) {
    let served = tokio::time::timeout(within, async {
        for n in 0..count {
            issue(node, client, &format!("{prefix}{n}"), 1_000).await;
            client.head().await.unwrap();
        }
    })
    .await;
    assert!(
        served.is_ok(),
        "the well-behaved client was not served within {within:?}"
    );
}

fn exhausted(error: &pledge_client::ClientError, reason: &str, scope: &str) -> bool {
    error.refusal().is_some_and(|refusal| {
        refusal.code == Code::ResourceExhausted
            && refusal.info.as_ref().is_some_and(|info| {
                info.reason == reason
                    && info.metadata.get("scope").map(String::as_str) == Some(scope)
            })
    })
}

/// Whether `error` is a rate-limit refusal of `scope`.
fn rate_limited(error: &pledge_client::ClientError, scope: &str) -> bool {
    exhausted(error, "RATE_LIMITED", scope)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_address_gets_its_rate_whatever_its_connections_and_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(
        dir.path(),
        "requests_per_second_per_address = 100\nrequests_per_second_per_participant = 0\n",
    );
    let node = Node::start_with(
        &dir.path().join("node"),
        &["--config", config.to_str().unwrap()],
    );
    let patient = client_from(&node, "127.0.0.1").await;
    // 32 connections from one address: together they get one address's rate.
    let mut flooders = Vec::new();
    for _ in 0..32 {
        flooders.push(client_from(&node, "127.0.0.2").await);
    }

    let started = Instant::now();
    let flood = tokio::spawn(async move {
        let requests: Vec<_> = (0..4_000)
            .map(|i| {
                let client = flooders[i % flooders.len()].clone();
                tokio::spawn(async move { client.receipt(&format!("R-{i}")).await })
            })
            .collect();
        let (mut served, mut limited) = (0u64, 0u64);
        for request in requests {
            match request.await.unwrap() {
                Err(error) if rate_limited(&error, "address") => limited += 1,
                _ => served += 1, // NOT_FOUND: answered by the service
            }
        }
        (served, limited)
    });

    // The client from another address is not starved.
    served_meanwhile(&node, &patient, "WR-", 10, Duration::from_secs(120)).await;
    let (served, limited) = flood.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    // A second's burst, then 100 a second (and a little for rounding).
    let allowed = 100.0 + 100.0 * elapsed + 5.0;
    assert!(
        limited > 0,
        "4,000 requests at once were never rate limited"
    );
    assert!(
        (served as f64) <= allowed,
        "{served} requests served from one address in {elapsed:.1} s over 32 connections: \
         more than one address's rate ({allowed:.0})"
    );
    assert_eq!(patient.list_receipts(None, "", 0).await.unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_gets_its_rate_from_every_address_together_and_retries_cost_it_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(
        dir.path(),
        "requests_per_second_per_address = 0\nrequests_per_second_per_participant = 1\n",
    );
    let node = Node::start_with(
        &dir.path().join("node"),
        &["--config", config.to_str().unwrap()],
    );
    let clients = [
        client_from(&node, "127.0.0.2").await,
        client_from(&node, "127.0.0.3").await,
    ];
    let fresh = |id: &str| {
        let tx = TxHeader::new(DEV_LEDGER_ID, id)
            .unwrap()
            .wrap(ops::freeze_receipt("WR-NONE", "order"));
        sign(&tx, &[node.signer(id)])
    };
    let committed = {
        let signers = ["wh-1", INSPECTOR, "trader-a"].map(|id| node.signer(id));
        let tx = TxHeader::new(DEV_LEDGER_ID, "wh-1")
            .unwrap()
            .wrap(certify("SGS-RETRIED", 1_000));
        sign(&tx, &signers)
    };
    let started = Instant::now();
    clients[0].submit(&committed).await.unwrap();

    // One envelope a second for trader-a, wherever it submits from: ten
    // fresh ones at once from two addresses are mostly refused before the
    // rules see them (the others are refused by the rules: no such receipt).
    let answers: Vec<_> = (0..10)
        .map(|n| {
            let (client, envelope) = (clients[n % 2].clone(), fresh("trader-a"));
            tokio::spawn(async move { client.submit(&envelope).await })
        })
        .collect();
    let mut admitted = 0;
    for answer in answers {
        match answer.await.unwrap() {
            Err(error) if rate_limited(&error, "participant") => {}
            _ => admitted += 1,
        }
    }
    let refilled = started.elapsed().as_secs_f64().ceil() as usize;
    assert!(
        admitted <= refilled,
        "{admitted} of 10 admitted in under {refilled} s at one a second"
    );

    // Retrying a committed envelope is answered from the chain and costs
    // its signers nothing: trader-a's empty bucket does not refuse it.
    for _ in 0..10 {
        let answer = clients[1].submit(&committed).await.unwrap();
        assert!(answer.duplicate);
    }

    // Another participant is not held by trader-a's rate.
    let other = clients[1].submit(&fresh("trader-b")).await;
    assert!(
        !other
            .as_ref()
            .is_err_and(|e| rate_limited(e, "participant")),
        "{other:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_are_capped_and_closed_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(
        dir.path(),
        "max_connections = 80\nmax_connections_per_address = 20\nhandshake_timeout_ms = 5000\n",
    );
    let node = Node::start_with(
        &dir.path().join("node"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let patient = node.client().await;

    // 30 idle connections from one source: 20 are held (until the
    // handshake timeout), 10 are closed at once.
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(connect_from(&node, "127.0.0.2").await.unwrap());
    }
    let mut closed_at_once = 0;
    for stream in &mut idle {
        // 20 × 100 ms stays well inside the 5 s handshake timeout.
        if closed_within(stream, Duration::from_millis(100)).await {
            closed_at_once += 1;
        }
    }
    assert_eq!(closed_at_once, 10, "the per-address share is 20");
    // A slow-loris preface from a third address: a byte at a time.
    let mut slow = connect_from(&node, "127.0.0.3").await.unwrap();
    {
        use tokio::io::AsyncWriteExt;
        slow.write_all(b"PRI * HTTP/2").await.unwrap();
    }
    // Meanwhile a well-behaved client is served.
    served_meanwhile(&node, &patient, "WR-", 1, Duration::from_secs(30)).await;

    // By the handshake timeout every idle or slow connection is closed.
    for stream in idle.iter_mut().chain(std::iter::once(&mut slow)) {
        assert!(
            closed_within(stream, Duration::from_secs(8)).await,
            "a connection without an HTTP/2 preface was held past the timeout"
        );
    }
    // Their slots are free again: that source gets its share back.
    for _ in 0..20 {
        let mut stream = connect_from(&node, "127.0.0.2").await.unwrap();
        assert!(!closed_within(&mut stream, Duration::from_millis(100)).await);
    }
    let metrics = node.metrics();
    assert!(
        metrics
            .contains("pledge_connections_refused_total{why=\"max_connections_per_address\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pledge_connections_refused_total{why=\"preface_timeout\"}"),
        "{metrics}"
    );
}

/// CPU seconds `pid` has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[tokio::test(flavor = "multi_thread")]
async fn few_file_handles_mean_fewer_connections_not_a_spinning_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = Node::start_wrapped(
        &["prlimit", "--nofile=200:200", "--"],
        &data,
        &["--metrics-listen", "127.0.0.1:0"],
    );
    assert!(
        node.log()
            .contains("max_connections lowered to fit the file-handle limit"),
        "{}",
        node.log()
    );
    let patient = node.client().await;
    // 300 connections from one source, held open: far past the handles.
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(stream) = connect_from(&node, "127.0.0.2").await {
            flood.push(stream);
        }
    }
    let before = cpu_seconds(node.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_seconds(node.pid()) - before;
    assert!(
        used < 1.0,
        "the node used {used} CPU seconds in 2 s while flooded"
    );
    // A client from another source gets in during the flood.
    served_meanwhile(&node, &patient, "WR-", 1, Duration::from_secs(30)).await;
    let fresh = pledge_client::LedgerClient::connect(&node.url())
        .await
        .unwrap();
    fresh.head().await.unwrap();
    drop(flood);
}

/// Whether `error` is a refusal of a stream over the bound of `scope`.
fn too_many_streams(error: &pledge_client::ClientError, scope: &str) -> bool {
    exhausted(error, "TOO_MANY_STREAMS", scope)
}

/// The value of the metric line that starts with `name` (labels included).
fn metric(node: &Node, name: &str) -> f64 {
    let page = node.metrics();
    let line = page
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no metric {name} in\n{page}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn following_streams_are_bounded_per_address_and_node_wide_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(
        dir.path(),
        "max_streams = 40\nmax_streams_per_address = 10\n\
         requests_per_second_per_address = 0\nrequests_per_second_per_participant = 0\n",
    );
    let node = Node::start_with(
        &dir.path().join("node"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let patient = client_from(&node, "127.0.0.1").await;

    // Four addresses each open their share of following streams and never
    // read them; a fifth stream from the first address is refused.
    let mut held = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let client = client_from(&node, from).await;
        let mut streams = Vec::new();
        for _ in 0..10 {
            streams.push(client.entries(0, true).await.unwrap());
        }
        held.push((client, streams));
    }
    let over_share = held[0].0.entries(0, true).await.err().expect("refused");
    assert!(too_many_streams(&over_share, "address"), "{over_share:?}");
    let stranger = client_from(&node, "127.0.0.6").await;
    let over_node = stranger.entries(0, true).await.err().expect("refused");
    assert!(too_many_streams(&over_node, "node"), "{over_node:?}");
    assert_eq!(metric(&node, "pledge_open_streams "), 40.0);
    assert!(metric(&node, "pledge_streams_refused_total{scope=\"address\"}") >= 1.0);
    assert!(metric(&node, "pledge_streams_refused_total{scope=\"node\"}") >= 1.0);

    // The well-behaved client's writes and reads go on meanwhile.
    served_meanwhile(&node, &patient, "WR-S", 5, Duration::from_secs(60)).await;

    // Streams that end give their slots back.
    drop(held.remove(0));
    let reopened = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stranger.entries(0, true).await {
                Ok(stream) => return stream,
                Err(error) => {
                    assert!(too_many_streams(&error, "node"), "{error:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
    .await;
    assert!(reopened.is_ok(), "closed streams kept their slots");
}

/// The HTTP/2 connection preface and an empty SETTINGS frame: what a
/// client sends before its first request.
const HTTP2_START: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_are_closed_but_open_streams_and_steady_clients_are_not() {
    use tokio::io::AsyncWriteExt;
    use tokio_stream::StreamExt;
    const IDLE: Duration = Duration::from_secs(3);
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), "idle_connection_timeout_ms = 3000\n");
    let node = Node::start_with(
        &dir.path().join("node"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    // A follower whose only request is its open stream.
    let follower = client_from(&node, "127.0.0.2").await;
    let mut following = follower.entries(0, true).await.unwrap();
    // A client that asks for the head every half timeout.
    let steady = client_from(&node, "127.0.0.3").await;
    let steady = tokio::spawn(async move {
        for _ in 0..6 {
            steady.head().await.unwrap();
            tokio::time::sleep(IDLE / 2).await;
        }
    });
    // A connection that sent its preface and settings, then nothing.
    let mut idle = connect_from(&node, "127.0.0.4").await.unwrap();
    idle.write_all(HTTP2_START).await.unwrap();

    assert!(
        !closed_within(&mut idle, IDLE / 2).await,
        "closed before the idle timeout"
    );
    assert!(
        closed_within(&mut idle, IDLE + Duration::from_secs(5)).await,
        "a connection with no request was held past the idle timeout"
    );
    steady.await.unwrap(); // every head answered: never cut mid-way
    let closed = "pledge_idle_connections_closed_total";
    assert_eq!(metric(&node, closed), 1.0, "only the idle one is closed");

    // The well-behaved client is served, and the follower's stream, open
    // for more than twice the timeout, carries the new entries.
    let patient = client_from(&node, "127.0.0.1").await;
    served_meanwhile(&node, &patient, "WR-I", 1, Duration::from_secs(30)).await;
    let head = patient.head().await.unwrap().size;
    drop(patient);
    let followed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(record) = following.next().await {
            if record.unwrap().seq + 1 == head {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(followed, Ok(true), "the following stream was cut");
    assert_eq!(metric(&node, closed), 1.0);
}
