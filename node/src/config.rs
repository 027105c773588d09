//! Node configuration: a TOML file, overridden by command-line flags.
//!
//! ```toml
//! data_dir = "pledge-data"            # entry log, state database, keys
//! listen = "127.0.0.1:50051"
//! genesis_file = "pledge-data/genesis.bin"   # signed genesis envelope (protobuf)
//! node_key_file = "pledge-data/node-key.json"
//! metrics_listen = "127.0.0.1:9464"   # Prometheus text; absent = off
//! witness_policy_file = "witnesses.policy"  # witnesses to submit checkpoints to; absent = none
//! http_listen = "127.0.0.1:8080"      # web explorer (HTTPS with [tls]); absent = off,
//!                                     # except in a development node
//! no_http = false                     # turn the development node's explorer off
//! plaintext = false                   # allow plaintext gRPC on a non-loopback address
//! metrics_public = false              # allow metrics on a non-loopback address
//! dev_genesis = false                 # create a development ledger even with TLS or off loopback
//! log_filter = "info"                 # RUST_LOG syntax; RUST_LOG wins at start, SIGHUP applies this
//!
//! [tls]                               # absent = plaintext gRPC
//! cert_file = "tls/server.pem"        # PEM certificate chain, leaf first
//! key_file = "tls/server-key.pem"     # PEM private key
//! client_ca_file = "tls/ca.pem"       # optional: mutual TLS, client certificates from this CA
//!
//! [limits]
//! max_message_bytes = 1048576         # largest gRPC message accepted
//! max_concurrent_streams = 128        # HTTP/2 streams per connection
//! max_concurrent_requests = 256       # requests in flight per connection
//! max_group_entries = 1024            # entries per group commit
//! queue_depth = 8192                  # submissions waiting for the sequencer
//! state_apply_wait_ms = 5             # the state store's writer waits this long for more groups; 0 = none
//! state_compact_min_mb = 64           # the state database is compacted while running once its file is this large
//! state_compact_growth_percent = 0    # ... and has grown this much since the last compaction (25 suggested); 0 = never
//! request_timeout_ms = 30000          # per-request deadline
//! checkpoint_interval_ms = 1000       # least time between signed checkpoints
//! checkpoint_wait_ms = 10000          # longest GetCheckpoint / ProveReceipt wait for a checkpoint
//! read_wait_ms = 2000                 # longest wait of a read for its ReadOptions (at least entry N, linearizable)
//! witness_timeout_ms = 5000           # how long a checkpoint waits for each witness's cosignature
//! requests_per_second_per_address = 2000     # from one source IP, node-wide; 0 = no limit; SIGHUP reloads
//! requests_per_second_per_participant = 1000 # of one participant, node-wide; 0 = no limit; SIGHUP reloads
//! max_connections = 1024              # connections open at once (capped by the file-handle limit)
//! max_connections_per_address = 256   # from one source IP address (at most a quarter of max_connections)
//! handshake_timeout_ms = 10000        # accept → TLS handshake done and HTTP/2 preface in
//! idle_connection_timeout_ms = 300000 # a connection with no request in flight is closed after this; 0 = never
//! max_streams = 512                   # answer streams (StreamEntries) open at once, node-wide
//! max_streams_per_address = 64        # from one source address (at most a quarter of max_streams)
//! max_streams_per_participant = 64    # of one mutual-TLS participant (at most a quarter of max_streams)
//!
//! [alerts]                            # docs/ALERTS.md
//! enabled = true                      # derive alerts and serve WatchAlerts (costs memory: ALERTS.md §6)
//! expiry_warning_days = 30            # a pledged receipt's expiry is warned of this many days before
//! holder_share_bp = 5000              # a holder's pledged share of a tank above this (basis points) is an alert
//!
//! [cluster]                           # absent = a single node; see crate::cluster::config
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pledge_ledger::alerts::{AlertPolicy, DAY_MS};
use pledge_ledger::ledger::AttemptPolicy;
use pledge_ledger::store::CompactionPolicy;
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
    /// A witness policy file (docs/FORMAT.md §7.8): every witness in it with
    /// a URL is sent each new checkpoint to cosign. `None`: no witnesses.
    pub witness_policy_file: Option<PathBuf>,
    /// Where to serve the web explorer (with the `[tls]` files when set);
    /// `None`: off, except in a development node (see `web.rs`).
    pub http_listen: Option<SocketAddr>,
    /// Turns the development node's default web explorer off.
    pub no_http: bool,
    /// Plaintext gRPC was asked for explicitly: allows a non-loopback
    /// listen address without TLS.
    pub plaintext: bool,
    /// Metrics on a non-loopback address were asked for outright.
    pub metrics_public: bool,
    /// A development ledger (demo participants, their keys on disk) may be
    /// created even though the node serves TLS or a non-loopback address.
    pub dev_genesis: bool,
    /// The log filter (RUST_LOG syntax, e.g. `info,pledge_node=debug`);
    /// reloaded on SIGHUP (see `reload.rs`).
    pub log_filter: Option<String>,
    /// TLS on the gRPC listener; `None` serves plaintext.
    pub tls: Option<TlsFiles>,
    /// Explicit resource limits.
    pub limits: Limits,
    /// Alerts (docs/ALERTS.md).
    pub alerts: AlertsConfig,
    /// Cluster mode (docs/REPLICATION.md); `None` runs a single node.
    pub cluster: Option<crate::cluster::config::ClusterConfig>,
}

/// The `[tls]` section: PEM files of the node's TLS identity and, for
/// mutual TLS, of the CA that issues the clients' certificates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The server certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The server's private key.
    pub key_file: PathBuf,
    /// With it, every client must present a certificate issued by this CA
    /// (mutual TLS), and a write is accepted only from a connection whose
    /// certificate names one of the transaction's signers.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsFiles {
    /// The same files as the rustls builder shared by the gRPC listener
    /// and the explorer takes them (`pledge_explorer::tls::server_config`).
    pub fn for_rustls(&self) -> pledge_explorer::TlsFiles {
        pledge_explorer::TlsFiles {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            client_ca_file: self.client_ca_file.clone(),
        }
    }
}

/// How the gRPC listener is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// No TLS: loopback, or asked for with `plaintext`.
    Plaintext,
    /// TLS; clients are anonymous.
    Tls,
    /// TLS with client certificates bound to participant ids.
    MutualTls,
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
    /// How long the state store's writer waits, once a durable group
    /// arrives, for more to write in the same batch (off the
    /// acknowledgement path: readers see the groups meanwhile); 0 writes
    /// every batch as soon as it arrives.
    pub state_apply_wait_ms: u64,
    /// The state database is compacted while the node runs (its live keys
    /// copied into a new file, docs/OPERATIONS.md §10) once its file is at
    /// least this many MiB ...
    pub state_compact_min_mb: u64,
    /// ... and has grown by this percentage over its length right after
    /// the last compaction (over 0 if the node has not compacted it
    /// before); 0 (the default): never while running, since a copy in
    /// progress halves the node's rate at 64 clients (docs/PERFORMANCE.md).
    pub state_compact_growth_percent: u64,
    /// Per-request deadline.
    pub request_timeout_ms: u64,
    /// Least time between two signed checkpoints while entries arrive.
    pub checkpoint_interval_ms: u64,
    /// Longest time `GetCheckpoint` and `ProveReceipt` wait for a checkpoint
    /// covering the entries asked for.
    pub checkpoint_wait_ms: u64,
    /// Longest time a read waits for its `ReadOptions` to be met (an entry
    /// to be applied here, a linearizable read's index) before it is
    /// refused with NOT_CAUGHT_UP.
    pub read_wait_ms: u64,
    /// How long a new checkpoint waits for each witness's cosignature
    /// before it is published without it.
    pub witness_timeout_ms: u64,
    /// Requests a second accepted from one source IP address, over all
    /// its connections (0: no limit; see `ratelimit.rs`).
    pub requests_per_second_per_address: u32,
    /// Requests a second accepted from one participant (its mutual-TLS
    /// certificate, or the signers of its submissions), over all its
    /// connections and addresses (0: no limit).
    pub requests_per_second_per_participant: u32,
    /// Connections open at once, node-wide (see `admission.rs`); lowered
    /// at start to what the process's file-handle limit allows.
    pub max_connections: usize,
    /// Connections open at once from one source IP address.
    pub max_connections_per_address: usize,
    /// Time from accept to a finished TLS handshake and the HTTP/2
    /// connection preface.
    pub handshake_timeout_ms: u64,
    /// Time a connection may go with no request in flight (an open answer
    /// stream is in flight) before it is closed; 0: never (see `idle.rs`).
    pub idle_connection_timeout_ms: u64,
    /// Answer streams (`StreamEntries`) open at once, node-wide (see
    /// `streams.rs`).
    pub max_streams: usize,
    /// Answer streams open at once from one source address.
    pub max_streams_per_address: usize,
    /// Answer streams open at once for one mutual-TLS participant.
    pub max_streams_per_participant: usize,
    /// Attempt entries (refusals for a fraud-relevant reason, recorded on
    /// the chain: docs/FORMAT.md §3.2) one signer may cause per
    /// `attempt_window_ms`; beyond it such a refusal is answered as before
    /// but not recorded. 0 records none.
    pub attempts_per_signer: u32,
    /// The window of `attempts_per_signer`, ms (windows start at multiples
    /// of it since the Unix epoch).
    pub attempt_window_ms: u64,
}

impl Limits {
    /// When the state database is compacted while running; `None`: never.
    pub fn compaction_policy(&self) -> Option<CompactionPolicy> {
        (self.state_compact_growth_percent > 0).then_some(CompactionPolicy {
            min_bytes: self.state_compact_min_mb.saturating_mul(1 << 20),
            growth_percent: self.state_compact_growth_percent,
        })
    }

    /// The sequencer's attempt policy.
    pub fn attempt_policy(&self) -> AttemptPolicy {
        AttemptPolicy {
            per_signer: self.attempts_per_signer,
            window_ms: self.attempt_window_ms.max(1),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 1024 * 1024,
            max_concurrent_streams: 128,
            max_concurrent_requests: 256,
            max_group_entries: 1024,
            queue_depth: 8192,
            state_apply_wait_ms: 5,
            state_compact_min_mb: CompactionPolicy::DEFAULT.min_bytes >> 20,
            state_compact_growth_percent: 0,
            request_timeout_ms: 30_000,
            checkpoint_interval_ms: 1_000,
            checkpoint_wait_ms: 10_000,
            read_wait_ms: 2_000,
            witness_timeout_ms: 5_000,
            requests_per_second_per_address: 2_000,
            requests_per_second_per_participant: 1_000,
            max_connections: 1024,
            max_connections_per_address: 256,
            handshake_timeout_ms: 10_000,
            idle_connection_timeout_ms: 300_000,
            max_streams: 512,
            max_streams_per_address: 64,
            max_streams_per_participant: 64,
            attempts_per_signer: 20,
            attempt_window_ms: 3_600_000,
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
            witness_policy_file: None,
            http_listen: None,
            no_http: false,
            plaintext: false,
            metrics_public: false,
            dev_genesis: false,
            log_filter: None,
            tls: None,
            limits: Limits::default(),
            alerts: AlertsConfig::default(),
            cluster: None,
        }
    }
}

/// The `[alerts]` section: whether the node derives alerts, and the policy
/// it derives them with (docs/ALERTS.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Derive alerts and serve `WatchAlerts`.
    pub enabled: bool,
    /// A pledged receipt's expiry is warned of this many days before.
    pub expiry_warning_days: u32,
    /// A holder's pledged share of a tank above this many basis points is
    /// an alert.
    pub holder_share_bp: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let policy = AlertPolicy::default();
        AlertsConfig {
            enabled: true,
            expiry_warning_days: (policy.expiry_warning_ms / DAY_MS) as u32,
            holder_share_bp: policy.holder_share_bp,
        }
    }
}

impl AlertsConfig {
    /// The policy alerts are derived with.
    pub fn policy(&self) -> AlertPolicy {
        AlertPolicy {
            expiry_warning_ms: u64::from(self.expiry_warning_days) * DAY_MS,
            holder_share_bp: self.holder_share_bp,
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

    /// The transport these settings ask for, or why they cannot be served:
    /// plaintext on a non-loopback address needs `plaintext` said outright,
    /// and `plaintext` with TLS settings is a contradiction.
    pub fn transport(&self) -> anyhow::Result<Transport> {
        match (&self.tls, self.plaintext) {
            (Some(_), true) => {
                anyhow::bail!("both TLS settings and plaintext were given: choose one")
            }
            (Some(tls), false) if tls.client_ca_file.is_some() => Ok(Transport::MutualTls),
            (Some(_), false) => Ok(Transport::Tls),
            (None, _) if self.plaintext || self.listen.ip().is_loopback() => {
                Ok(Transport::Plaintext)
            }
            (None, _) => anyhow::bail!(
                "refusing to serve plaintext gRPC on the non-loopback address {}: give TLS \
                 settings ([tls] cert_file and key_file, or --tls-cert and --tls-key), or \
                 --plaintext to accept unencrypted connections from the network",
                self.listen
            ),
        }
    }

    /// Metrics are plain HTTP and show the ledger's activity: on a
    /// non-loopback address they need `metrics_public` said outright.
    pub fn check_metrics_exposure(&self) -> anyhow::Result<()> {
        match self.metrics_listen {
            Some(address) if !address.ip().is_loopback() && !self.metrics_public => {
                anyhow::bail!(
                    "refusing to serve metrics on the non-loopback address {address}: they are \
                     plain HTTP and show the ledger's activity to anyone who asks; serve them on \
                     loopback behind your scraper's proxy, or give --metrics-public \
                     (metrics_public = true) to serve them to the network"
                )
            }
            _ => Ok(()),
        }
    }

    /// Whether this node may create a development ledger: one whose demo
    /// participants' keys (an admin quorum among them) are written to disk.
    /// Only a plaintext node on loopback may, unless `dev_genesis` asks for
    /// it outright: a node others can reach is given its genesis.
    pub fn check_development_ledger_allowed(&self) -> anyhow::Result<()> {
        let private = self.tls.is_none() && self.listen.ip().is_loopback();
        if private || self.dev_genesis {
            return Ok(());
        }
        anyhow::bail!(
            "refusing to create a development ledger (demo participants whose keys, an admin \
             quorum among them, would be written to {}) on a node that serves {}: give the \
             ledger's signed genesis (--genesis FILE, or genesis_file in the configuration), \
             or --dev-genesis (dev_genesis = true) to create a development ledger anyway",
            self.data_dir.join("dev-keys").display(),
            if self.tls.is_some() {
                "TLS".to_owned()
            } else {
                format!("the non-loopback address {}", self.listen)
            }
        )
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
    fn a_tls_section_with_a_client_ca_means_mutual_tls() {
        let config: Config = toml::from_str(
            "listen = \"0.0.0.0:50051\"\n[tls]\ncert_file = \"s.pem\"\nkey_file = \"k.pem\"\n\
             client_ca_file = \"ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(config.transport().unwrap(), Transport::MutualTls);
        let tls = config.tls.as_ref().unwrap();
        assert_eq!(tls.client_ca_file.as_deref(), Some(Path::new("ca.pem")));
    }

    #[test]
    fn plaintext_is_refused_off_loopback_unless_asked_for() {
        let mut config = Config {
            listen: "0.0.0.0:0".parse().unwrap(),
            ..Config::default()
        };
        let refusal = config.transport().unwrap_err().to_string();
        assert!(
            refusal.contains("non-loopback address 0.0.0.0:0"),
            "{refusal}"
        );
        assert!(refusal.contains("--plaintext"), "{refusal}");
        config.plaintext = true;
        assert_eq!(config.transport().unwrap(), Transport::Plaintext);
        assert_eq!(Config::default().transport().unwrap(), Transport::Plaintext);
    }

    /// The default configuration serving TLS (files not read).
    fn with_tls() -> Config {
        Config {
            tls: Some(TlsFiles {
                cert_file: "s.pem".into(),
                key_file: "k.pem".into(),
                client_ca_file: None,
            }),
            ..Config::default()
        }
    }

    #[test]
    fn plaintext_and_tls_together_are_refused() {
        let config = Config {
            plaintext: true,
            ..with_tls()
        };
        assert!(config.transport().is_err());
    }

    #[test]
    fn metrics_off_loopback_need_to_be_asked_for() {
        let mut config = Config {
            metrics_listen: Some("0.0.0.0:9464".parse().unwrap()),
            ..Config::default()
        };
        let refusal = config.check_metrics_exposure().unwrap_err().to_string();
        assert!(refusal.contains("0.0.0.0:9464"), "{refusal}");
        assert!(refusal.contains("--metrics-public"), "{refusal}");
        config.metrics_public = true;
        config.check_metrics_exposure().unwrap();
        config.metrics_listen = Some("127.0.0.1:9464".parse().unwrap());
        config.metrics_public = false;
        config.check_metrics_exposure().unwrap();
    }

    #[test]
    fn a_development_ledger_only_for_a_private_node_unless_asked_for() {
        Config::default()
            .check_development_ledger_allowed()
            .unwrap();
        let tls = with_tls();
        let refusal = tls
            .check_development_ledger_allowed()
            .unwrap_err()
            .to_string();
        assert!(refusal.contains("serves TLS"), "{refusal}");
        assert!(refusal.contains("--genesis FILE"), "{refusal}");
        let open = Config {
            listen: "0.0.0.0:50051".parse().unwrap(),
            plaintext: true,
            ..Config::default()
        };
        let refusal = open
            .check_development_ledger_allowed()
            .unwrap_err()
            .to_string();
        assert!(
            refusal.contains("non-loopback address 0.0.0.0:50051"),
            "{refusal}"
        );
        let asked = Config {
            dev_genesis: true,
            ..tls
        };
        asked.check_development_ledger_allowed().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("listen_addr = \"x\"").is_err());
    }
}
