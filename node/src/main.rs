//! `pledge-node`: the gRPC node of the oil receipt-pledge ledger.
//!
//! With no arguments it starts a development node on 127.0.0.1:50051 with
//! its data in `./pledge-data`, creating a node key, a development genesis
//! and demo participants' keys on first start.

mod admission;
mod alerts;
mod bootstrap;
mod checkpointer;
mod cluster;
mod config;
mod dev;
mod idle;
mod metrics;
mod pages;
mod pipeline;
mod ratelimit;
mod reads;
mod reload;
mod report;
mod resume;
mod revocation;
mod server;
mod service;
mod status;
mod streams;
mod tls;
mod views;
mod web;
mod witnesses;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pledge_ledger::store::DiskStateView;
use pledge_ledger::store::log::LogReader;

/// What the node's readers are served from.
type NodePublished = pipeline::Published<LogReader, DiskStateView>;
/// One snapshot of the node's ledger.
type NodeSnapshot = pledge_ledger::view::Snapshot<LogReader, DiskStateView>;

/// The oil receipt-pledge ledger node.
///
/// Serves the gRPC API (pledgeledger.v1.LedgerService, grpc.health.v1,
/// server reflection). Every acknowledged write is durable (fdatasync) before
/// the client hears of it.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML configuration file; flags override it.
    #[arg(long, env = "PLEDGE_NODE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (entry log, state, keys).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:50051 (port 0 picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Signed genesis envelope file (protobuf SignedEnvelope). Without it, and
    /// with no genesis in the data directory, a development genesis is created.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// The node's key file (JSON, see ledger/src/keyfile.rs); created if missing.
    #[arg(long)]
    node_key: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (plain HTTP), e.g. 127.0.0.1:9464.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Allow --metrics-listen on a non-loopback address (refused without it).
    #[arg(long)]
    metrics_public: bool,
    /// Create a development ledger (demo participants, their keys written to
    /// the data directory) even though the node serves TLS or a non-loopback
    /// address; without it such a node must be given --genesis.
    #[arg(long, conflicts_with = "genesis")]
    dev_genesis: bool,
    /// Witness policy file: each new checkpoint is sent to every witness in
    /// it that has a URL, and published with their cosignatures.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// Serve the read-only web explorer on this address (HTTPS with the TLS
    /// flags). A development node serves it at 127.0.0.1:8080 unless told
    /// otherwise.
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Do not serve the web explorer (a development node serves it by default).
    #[arg(long, conflicts_with = "http_listen")]
    no_http: bool,
    /// TLS: the server certificate chain (PEM, leaf first). Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS: the server's private key (PEM). Needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: require client certificates issued by this CA (PEM). A
    /// write is then accepted only from a connection whose certificate names
    /// one of the transaction's signers (URI SAN pledgeledger:participant:ID).
    #[arg(long, value_name = "FILE")]
    tls_client_ca: Option<PathBuf>,
    /// Serve plaintext gRPC even on a non-loopback address (behind a
    /// TLS-terminating proxy, say). Without it such an address is refused.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "tls_client_ca"])]
    plaintext: bool,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    /// Set by the node itself when it starts itself again after a store
    /// failure (resume.rs): how many times it has, for its metrics.
    #[arg(long, hide = true, default_value_t = 0)]
    restarts_after_store_failure: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

/// A local cluster (docs/REPLICATION.md): without a command, the node runs
/// as configured (a cluster member when the configuration has `[cluster]`).
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Creates the member directories (one initial ledger, copied) and a
    /// configuration file per member, on loopback.
    ClusterInit(cluster::init::InitArgs),
    /// Runs a local cluster until ctrl-c, creating it first if its
    /// directory does not exist.
    DevCluster(cluster::init::InitArgs),
    /// Compacts the state database of the data directory (`--data-dir`, or
    /// the configuration's) and exits: its live keys copied into a new
    /// database that replaces it (docs/OPERATIONS.md, "Compacting the
    /// state"). Refused while a node runs on the directory.
    CompactState,
}

fn main() -> ExitCode {
    let args = Args::parse();
    keep_new_files_private();
    let log_filter = reload::init_tracing(args.log_json);
    match run(args, log_filter) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pledge-node: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args, log_filter: reload::LogFilter) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(Command::ClusterInit(init)) => {
            return cluster::init::init(init).map(|()| ExitCode::SUCCESS);
        }
        Some(Command::DevCluster(init)) => {
            return cluster::init::dev_cluster(init).map(|()| ExitCode::SUCCESS);
        }
        Some(Command::CompactState) | None => {}
    }
    let mut config = match &args.config {
        Some(path) => config::Config::read(path)?,
        None => config::Config::default(),
    };
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if args.genesis.is_some() {
        config.genesis_file = args.genesis;
    }
    if args.node_key.is_some() {
        config.node_key_file = args.node_key;
    }
    if args.witness_policy.is_some() {
        config.witness_policy_file = args.witness_policy;
    }
    if args.metrics_listen.is_some() {
        config.metrics_listen = args.metrics_listen;
    }
    if args.http_listen.is_some() {
        config.http_listen = args.http_listen;
    }
    config.no_http |= args.no_http;
    config.metrics_public |= args.metrics_public;
    config.dev_genesis |= args.dev_genesis;
    apply_tls_flags(&mut config, args.tls_cert, args.tls_key, args.tls_client_ca)?;
    config.plaintext |= args.plaintext;
    if let Some(Command::CompactState) = args.command {
        return compact_state(&config.ledger_dir()).map(|()| ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    reload::apply_configured_filter(&log_filter, &config)?;
    let restarts = args.restarts_after_store_failure;
    let stopped = runtime.block_on(server::serve(config, args.config, log_filter, restarts))?;
    // Every task (and the stores they hold) ends before a restart.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match stopped {
        server::Stopped::Signal => Ok(ExitCode::SUCCESS),
        server::Stopped::ToResumeWrites(bound) => Err(resume::restart_in_place(&bound)),
    }
}

/// `pledge-node compact-state`: compacts the state in `ledger_dir` and
/// says what it saved.
fn compact_state(ledger_dir: &std::path::Path) -> anyhow::Result<()> {
    let [log, state] = pledge_ledger::ledger::DiskLedger::paths(ledger_dir);
    anyhow::ensure!(
        log.is_dir(),
        "no ledger in {}: is the data directory right?",
        ledger_dir.display()
    );
    let started = std::time::Instant::now();
    let done = pledge_ledger::ledger::DiskLedger::compact_state(ledger_dir).map_err(|error| {
        anyhow::anyhow!("cannot compact the state in {}: {error}", state.display())
    })?;
    println!(
        "compacted {} in {:.1} s: {} keys, {:.1} MB of keys and values; the state's files {:.1} MB before, {:.1} MB after",
        state.display(),
        started.elapsed().as_secs_f64(),
        done.keys,
        megabytes(done.live_bytes),
        megabytes(done.bytes_before),
        megabytes(done.bytes_after),
    );
    Ok(())
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// How long the node's tasks get to end once it has stopped serving.
const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(2);

/// `--tls-cert`/`--tls-key` replace the `[tls]` files (they come as a
/// pair); `--tls-client-ca` adds or replaces the client CA.
fn apply_tls_flags(
    config: &mut config::Config,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let (Some(cert_file), Some(key_file)) = (cert, key) {
        let client_ca_file = config.tls.take().and_then(|tls| tls.client_ca_file);
        config.tls = Some(config::TlsFiles {
            cert_file,
            key_file,
            client_ca_file,
        });
    }
    if let Some(ca) = client_ca {
        let Some(tls) = config.tls.as_mut() else {
            anyhow::bail!("--tls-client-ca needs the server's own --tls-cert and --tls-key");
        };
        tls.client_ca_file = Some(ca);
    }
    Ok(())
}

/// Everything the node creates (data directory, entry log, state database,
/// keys, cluster directories) is its own user's only: directories 0700,
/// files 0600, whatever the umask it was started with.
fn keep_new_files_private() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}
