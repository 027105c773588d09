//! Explicit limits: one client flooding 10,000 requests does not starve
//! another, and is itself told RESOURCE_EXHAUSTED past its rate.

use std::time::Duration;

use pledge_tests::Node;
use tonic::Code;

use super::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[limits]\nrequests_per_second_per_connection = 2000\nmax_concurrent_requests = 64\n",
    )
    .unwrap();
    let node = Node::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let flooder = node.client().await;
    let patient = node.client().await; // its own connection

    let flood = tokio::spawn(async move {
        let requests: Vec<_> = (0..10_000)
            .map(|i| {
                let client = flooder.clone();
                tokio::spawn(async move { client.receipt(&format!("R-{i}")).await })
            })
            .collect();
        let mut limited = 0;
        for request in requests {
            if let Err(error) = request.await.unwrap()
                && error
                    .refusal()
                    .is_some_and(|r| r.code == Code::ResourceExhausted)
            {
                limited += 1;
            }
        }
        limited
    });

    let served = tokio::time::timeout(Duration::from_secs(120), async {
        for n in 0..10 {
            issue(&node, &patient, &format!("WR-{n}"), 1_000).await;
            patient.head().await.unwrap();
        }
    })
    .await;
    assert!(served.is_ok(), "the patient client was starved");
    let limited = flood.await.unwrap();
    assert!(
        limited > 0,
        "10,000 requests at once were never rate limited"
    );
    assert_eq!(patient.list_receipts(None, "", 0).await.unwrap().len(), 10);
}

/// A TCP connection to `node` from the loopback address `from`
/// (127.0.0.2 and up are loopback too: another "source").
async fn connect_from(node: &Node, from: &str) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(node.address.parse().unwrap()).await
}

/// Whether the node closed `stream` within `within`: a read ends (EOF or
/// reset) instead of waiting.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 64];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // the server's own preface / settings
        }
    }
}

fn node_config(dir: &std::path::Path, limits: &str) -> std::path::PathBuf {
    let config = dir.join("node.toml");
    std::fs::write(&config, format!("[limits]\n{limits}")).unwrap();
    config
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
    issue(&node, &patient, "WR-1", 1_000).await;
    patient.head().await.unwrap();

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
    issue(&node, &patient, "WR-1", 1_000).await;
    let fresh = pledge_client::LedgerClient::connect(&node.url())
        .await
        .unwrap();
    fresh.head().await.unwrap();
    drop(flood);
}
