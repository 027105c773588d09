//! What the attacked node shows from outside: its resident memory (VmRSS in
//! /proc) and, when it serves a metrics page, its counters.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The node's counters that say what it refused or held during an attack.
pub const ATTACK_COUNTERS: &[&str] = &[
    "pledge_connections_refused_total",
    "pledge_streams_refused_total",
    "pledge_rate_limited_total",
];

/// The gauge of answer streams open now.
pub const OPEN_STREAMS: &str = "pledge_open_streams";

/// The process's resident memory in kB.
pub fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss(&status).with_context(|| format!("no VmRSS line in {path}"))
}

/// The `VmRSS:  123456 kB` value of a /proc status file, in kB.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The node's metrics page (`GET /metrics`) at `address` (host:port).
pub async fn metrics_page(address: &str) -> anyhow::Result<String> {
    let fetch = async {
        let mut socket = tokio::net::TcpStream::connect(address).await?;
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: node\r\nconnection: close\r\n\r\n")
            .await?;
        let mut page = String::new();
        socket.read_to_string(&mut page).await?;
        anyhow::Ok(page)
    };
    tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .with_context(|| format!("metrics at {address}: no answer within 10 s"))?
        .with_context(|| format!("metrics at {address}"))
}

/// Every sample of a Prometheus text page: `name{labels}` → value.
pub fn samples(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|line| line.starts_with("pledge_"))
        .filter_map(|line| line.rsplit_once(' '))
        .filter_map(|(name, value)| Some((name.to_owned(), value.trim().parse().ok()?)))
        .collect()
}

/// The samples whose name starts with one of `names` and that grew from
/// `before` to `after`, with how much.
pub fn growth(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    names: &[&str],
) -> Vec<(String, f64)> {
    after
        .iter()
        .filter(|(name, _)| names.iter().any(|n| name.starts_with(n)))
        .map(|(name, value)| {
            (
                name.clone(),
                value - before.get(name).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, grew)| *grew > 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kb() {
        let status = "Name:\tpledge-node\nVmPeak:\t  900000 kB\nVmRSS:\t  151234 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss(status), Some(151_234));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        let own = rss_kb(std::process::id()).unwrap();
        assert!(own > 0);
    }

    #[test]
    fn counters_that_grew_are_found_by_name() {
        let before = samples(
            "# TYPE pledge_connections_refused_total counter\n\
             pledge_connections_refused_total{why=\"preface_timeout\"} 3\n\
             pledge_open_streams 0\n",
        );
        let after = samples(
            "pledge_connections_refused_total{why=\"preface_timeout\"} 10\n\
             pledge_connections_refused_total{why=\"max_connections_per_address\"} 244\n\
             pledge_rate_limited_total{scope=\"address\"} 0\n\
             pledge_open_streams 64\n",
        );
        assert_eq!(after[OPEN_STREAMS], 64.0);
        assert_eq!(
            growth(&before, &after, ATTACK_COUNTERS),
            vec![
                (
                    "pledge_connections_refused_total{why=\"max_connections_per_address\"}"
                        .to_owned(),
                    244.0
                ),
                (
                    "pledge_connections_refused_total{why=\"preface_timeout\"}".to_owned(),
                    7.0
                ),
            ]
        );
    }
}
