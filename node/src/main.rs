//! `pledge-node`: the gRPC node of the oil receipt-pledge ledger.
//!
//! With no arguments it starts a development node on 127.0.0.1:50051 with
//! its data in `./pledge-data`, creating a node key, a development genesis
//! and demo participants' keys on first start.

mod bootstrap;
mod checkpointer;
mod config;
mod dev;
mod metrics;
mod ratelimit;
mod sequencer;
mod server;
mod service;
mod status;
mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

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
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_tracing(args.log_json);
    match run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pledge-node: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
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
    if args.metrics_listen.is_some() {
        config.metrics_listen = args.metrics_listen;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(config))?;
    Ok(ExitCode::SUCCESS)
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
