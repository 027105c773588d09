//! Node configuration: a TOML file, overridden by command-line flags.
//!
//! ```toml
//! data_dir = "pledge-data"            # entry log, state database, keys
//! listen = "127.0.0.1:50051"
//! genesis_file = "pledge-data/genesis.bin"   # signed genesis envelope (protobuf)
//! node_key_file = "pledge-data/node-key.json"
//! metrics_listen = "127.0.0.1:9464"   # Prometheus text; absent = off
//!
//! [limits]
//! max_message_bytes = 1048576         # largest gRPC message accepted
//! max_concurrent_streams = 128        # HTTP/2 streams per connection
//! max_concurrent_requests = 256       # requests in flight per connection
//! max_group_entries = 1024            # entries per group commit
//! queue_depth = 8192                  # submissions waiting for the sequencer
//! client_time_window_ms = 300000      # accepted |client time - node time|
//! request_timeout_ms = 30000          # per-request deadline
//! checkpoint_interval_ms = 1000       # least time between signed checkpoints
//! requests_per_second_per_connection = 50000  # 0 = no limit
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the node needs to start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory of the entry log, the state database and the keys.
    pub data_dir: PathBuf,
    /// gRPC listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The signed genesis envelope; `None` means `<data_dir>/genesis.bin`.
    pub genesis_file: Option<PathBuf>,
    /// The node's key file; `None` means `<data_dir>/node-key.json`.
    pub node_key_file: Option<PathBuf>,
    /// Where to serve Prometheus metrics (plain HTTP); `None` turns them off.
    pub metrics_listen: Option<SocketAddr>,
    /// Explicit resource limits.
    pub limits: Limits,
}

/// Resource limits. Every one is explicit so an operator can see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest gRPC message accepted, bytes.
    pub max_message_bytes: usize,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Requests in flight per connection.
    pub max_concurrent_requests: usize,
    /// Entries per group commit.
    pub max_group_entries: usize,
    /// Submissions queued for the sequencer before RESOURCE_EXHAUSTED.
    pub queue_depth: usize,
    /// Accepted distance between a transaction's client time and the node's.
    pub client_time_window_ms: u64,
    /// Per-request deadline.
    pub request_timeout_ms: u64,
    /// Least time between two signed checkpoints while entries arrive.
    pub checkpoint_interval_ms: u64,
    /// Requests per second accepted from one connection (0: no limit).
    pub requests_per_second_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 1024 * 1024,
            max_concurrent_streams: 128,
            max_concurrent_requests: 256,
            max_group_entries: 1024,
            queue_depth: 8192,
            client_time_window_ms: 5 * 60 * 1000,
            request_timeout_ms: 30_000,
            checkpoint_interval_ms: 1_000,
            requests_per_second_per_connection: 50_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("pledge-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            genesis_file: None,
            node_key_file: None,
            metrics_listen: None,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Reads a TOML configuration file.
    pub fn read(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }

    /// The genesis envelope file.
    pub fn genesis_path(&self) -> PathBuf {
        self.genesis_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("genesis.bin"))
    }

    /// The node key file.
    pub fn node_key_path(&self) -> PathBuf {
        self.node_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("node-key.json"))
    }

    /// The ledger store directory.
    pub fn ledger_dir(&self) -> PathBuf {
        self.data_dir.join("ledger")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let config: Config =
            toml::from_str("listen = \"127.0.0.1:0\"\n[limits]\nqueue_depth = 7\n").unwrap();
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.limits.queue_depth, 7);
        assert_eq!(
            config.limits.max_group_entries,
            Limits::default().max_group_entries
        );
        assert_eq!(config.data_dir, PathBuf::from("pledge-data"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("listen_addr = \"x\"").is_err());
    }
}
