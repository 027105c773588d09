//! Prometheus metrics, served as text on their own port (`metrics_listen`).
//!
//! | metric                          | kind      | what                                      |
//! |---------------------------------|-----------|-------------------------------------------|
//! | `pledge_entries_total`          | counter   | entries committed                         |
//! | `pledge_groups_total`           | counter   | group commits (one fdatasync each)        |
//! | `pledge_group_entries`          | histogram | entries per group                         |
//! | `pledge_commit_seconds`         | histogram | time to apply, seal and make a group durable |
//! | `pledge_refusals_total{reason}` | counter   | refused submissions by reason             |
//! | `pledge_chain_size`             | gauge     | entries in the chain (the head)           |
//! | `pledge_member_refusals_total{reason}` | counter | member-to-member connections or calls refused (cluster TLS) |
//! | `pledge_connections_refused_total{why}` | counter | connections closed before serving (`admission.rs`): `max_connections`, `max_connections_per_address`, `handshake_failed`, `handshake_timeout`, `preface_timeout` |
//! | `pledge_idle_connections_closed_total` | counter | connections closed after `idle_connection_timeout_ms` with no request in flight (`idle.rs`) |
//! | `pledge_restarts_after_store_failure_total` | counter | times this process started itself again once there was room after a store failure (`resume.rs`), counted across the restarts |
//! | `pledge_read_only`              | gauge     | 1 while the node runs read-only because it started on a full disk (`bootstrap.rs`), else 0 |
//! | `pledge_rate_limited_total{scope}` | counter | requests refused over a rate (`ratelimit.rs`): `address`, `participant` |
//! | `pledge_streams_refused_total{scope}` | counter | answer streams refused over a bound (`streams.rs`): `node`, `address`, `participant` |
//! | `pledge_open_streams`           | gauge     | answer streams open now                   |
//! | `pledge_state_compactions_total{outcome}` | counter | the state database's upkeep while running (docs/OPERATIONS.md §10): `switched`, each switch to a checked copy; `failed`, each upkeep step that failed (a copy dropped, a replaced database that could not be removed, reported once; a switch whose directory fsync failed after `CURRENT` named the copy, the node then going on with the copy; the size or free space not readable) |

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The label of a refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The ErrorInfo reason, e.g. RECEIPT_PLEDGED.
    pub reason: String,
}

/// The label of a connection closed before it was served.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WhyLabel {
    /// The bound it met, e.g. max_connections_per_address.
    pub why: &'static str,
}

/// The label of a request refused over a rate or a stream bound.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabel {
    /// Whose rate or bound: node, address or participant.
    pub scope: &'static str,
}

/// The label of a compaction's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `switched` or `failed`.
    pub outcome: &'static str,
}

/// Every metric of the node.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    entries: Counter,
    groups: Counter,
    group_entries: Histogram,
    commit_seconds: Histogram,
    refusals: Family<ReasonLabel, Counter>,
    connections_refused: Family<WhyLabel, Counter>,
    idle_connections_closed: Counter,
    restarts_after_store_failure: Counter,
    read_only: Gauge,
    rate_limited: Family<ScopeLabel, Counter>,
    chain_size: Gauge,
    member_refusals: Family<ReasonLabel, Counter>,
    streams_refused: Family<ScopeLabel, Counter>,
    open_streams: Gauge,
    state_compactions: Family<OutcomeLabel, Counter>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let entries = Counter::default();
        let groups = Counter::default();
        let group_entries = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let commit_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let refusals = Family::<ReasonLabel, Counter>::default();
        let chain_size = Gauge::default();
        let member_refusals = Family::<ReasonLabel, Counter>::default();
        let connections_refused = Family::<WhyLabel, Counter>::default();
        registry.register(
            "pledge_connections_refused",
            "Connections closed before they were served, by the bound they met",
            connections_refused.clone(),
        );
        let idle_connections_closed = Counter::default();
        registry.register(
            "pledge_idle_connections_closed",
            "Connections closed after the idle connection timeout with no request in flight",
            idle_connections_closed.clone(),
        );
        let restarts_after_store_failure = Counter::default();
        registry.register(
            "pledge_restarts_after_store_failure",
            "Times the node started itself again once there was room after a store failure",
            restarts_after_store_failure.clone(),
        );
        let read_only = Gauge::default();
        registry.register(
            "pledge_read_only",
            "1 while the node runs read-only because it started on a full disk, else 0",
            read_only.clone(),
        );
        let rate_limited = Family::<ScopeLabel, Counter>::default();
        registry.register(
            "pledge_rate_limited",
            "Requests refused over a rate, by whose rate",
            rate_limited.clone(),
        );
        let streams_refused = Family::<ScopeLabel, Counter>::default();
        registry.register(
            "pledge_streams_refused",
            "Answer streams refused over a bound, by whose bound",
            streams_refused.clone(),
        );
        let open_streams = Gauge::default();
        registry.register(
            "pledge_open_streams",
            "Answer streams open now",
            open_streams.clone(),
        );
        let state_compactions = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "pledge_state_compactions",
            "Compactions of the state database while running, by outcome (switched, failed)",
            state_compactions.clone(),
        );
        registry.register("pledge_entries", "Entries committed", entries.clone());
        registry.register(
            "pledge_groups",
            "Group commits, one fdatasync each",
            groups.clone(),
        );
        registry.register(
            "pledge_group_entries",
            "Entries per group commit",
            group_entries.clone(),
        );
        registry.register(
            "pledge_commit_seconds",
            "Time to apply, seal and make a group durable",
            commit_seconds.clone(),
        );
        registry.register(
            "pledge_refusals",
            "Refused submissions by reason",
            refusals.clone(),
        );
        registry.register(
            "pledge_chain_size",
            "Entries in the chain",
            chain_size.clone(),
        );
        registry.register(
            "pledge_member_refusals",
            "Member-to-member connections or calls refused, by reason",
            member_refusals.clone(),
        );
        Arc::new(Metrics {
            registry,
            entries,
            groups,
            group_entries,
            commit_seconds,
            refusals,
            connections_refused,
            idle_connections_closed,
            restarts_after_store_failure,
            read_only,
            rate_limited,
            chain_size,
            member_refusals,
            streams_refused,
            open_streams,
            state_compactions,
        })
    }

    /// A group of `entries` new entries was committed in `elapsed`.
    pub fn group_committed(&self, entries: usize, elapsed: Duration, chain_size: u64) {
        self.entries.inc_by(entries as u64);
        self.groups.inc();
        self.group_entries.observe(entries as f64);
        self.commit_seconds.observe(elapsed.as_secs_f64());
        self.chain_size
            .set(i64::try_from(chain_size).unwrap_or(i64::MAX));
    }

    /// A submission was refused for `reason`.
    pub fn refused(&self, reason: &str) {
        self.refusals
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// A connection or call on the member-to-member listener was refused
    /// for `reason` (e.g. TLS_HANDSHAKE, MEMBER_NOT_LISTED).
    pub fn member_refused(&self, reason: &str) {
        self.member_refusals
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// A connection was closed before it was served, for `why`.
    pub fn connection_refused(&self, why: &'static str) {
        self.connections_refused
            .get_or_create(&WhyLabel { why })
            .inc();
    }

    /// A connection had no request in flight for the idle timeout and was
    /// closed.
    pub fn idle_connection_closed(&self) {
        self.idle_connections_closed.inc();
    }

    /// The node had restarted itself `restarts` times after a store
    /// failure before this start.
    pub fn restarted_after_store_failure(&self, restarts: u64) {
        self.restarts_after_store_failure.inc_by(restarts);
    }

    /// The node started read-only (a full disk): it refuses writes until
    /// there is room and it has restarted itself.
    pub fn started_read_only(&self) {
        self.read_only.set(1);
    }

    /// A request was refused over the rate of `scope`.
    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited.get_or_create(&ScopeLabel { scope }).inc();
    }

    /// A stream was refused over the bound of `scope`.
    pub fn stream_refused(&self, scope: &'static str) {
        self.streams_refused
            .get_or_create(&ScopeLabel { scope })
            .inc();
    }

    /// Answer streams open now.
    pub fn set_open_streams(&self, open: usize) {
        self.open_streams
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// The state store's upkeep switched to a compacted copy of its
    /// database (`switched`), or one of its steps failed (`failed`: see
    /// the table above).
    pub fn state_compaction(&self, outcome: &'static str) {
        self.state_compactions
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// The chain size at start-up.
    pub fn set_chain_size(&self, size: u64) {
        self.chain_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// Serves `GET /metrics` (any path, in fact) as Prometheus text, one short
/// HTTP/1.1 exchange per connection.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read =
                tokio::time::timeout(Duration::from_secs(5), socket.read(&mut request)).await;
            if !matches!(read, Ok(Ok(n)) if n > 0) {
                return;
            }
            let body = metrics.render();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let metrics = Metrics::new();
        metrics.group_committed(3, Duration::from_millis(2), 10);
        metrics.refused("RECEIPT_PLEDGED");
        metrics.member_refused("TLS_HANDSHAKE");
        metrics.state_compaction("switched");
        metrics.state_compaction("switched");
        metrics.state_compaction("failed");
        let text = metrics.render();
        assert!(text.contains("pledge_entries_total 3"), "{text}");
        assert!(text.contains("pledge_chain_size 10"), "{text}");
        assert!(
            text.contains("pledge_refusals_total{reason=\"RECEIPT_PLEDGED\"} 1"),
            "{text}"
        );
        assert!(text.contains("pledge_group_entries_count 1"), "{text}");
        assert!(
            text.contains("pledge_member_refusals_total{reason=\"TLS_HANDSHAKE\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pledge_state_compactions_total{outcome=\"switched\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("pledge_state_compactions_total{outcome=\"failed\"} 1"),
            "{text}"
        );
    }
}
