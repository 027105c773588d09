//! `pledge-witness`: cosigns the checkpoints of the ledgers it follows, as
//! long as each one is consistent with the last it cosigned.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::keyfile::KeyFile;
use pledge_witness::decide::Logs;
use pledge_witness::store::WitnessStore;
use pledge_witness::{WitnessService, http};

/// A transparency-log witness (C2SP tlog-witness) for the oil receipt-pledge
/// ledger, run by a bank or the regulator with its own key.
///
/// Serves POST /add-checkpoint over HTTP/1.1. It cosigns a checkpoint only if
/// it is signed by the ledger's node key and consistent with the last one it
/// cosigned for that ledger; refused contradicting checkpoints are kept under
/// <data-dir>/evidence/.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The witness's name, as verifiers' policy files list it (a C2SP key
    /// name, e.g. witness.bank-a.example/w1).
    #[arg(long)]
    name: String,
    /// A ledger to follow: its checkpoint origin and an accepted node key,
    /// ORIGIN=HEX (e.g. pledgeledger/zhoushan-dev=2bc2…). Repeat the flag
    /// for several ledgers, or several keys of one ledger.
    #[arg(long = "log", value_name = "ORIGIN=KEY", required = true)]
    logs: Vec<String>,
    /// Where the latest cosigned checkpoints and the evidence are kept.
    #[arg(long, default_value = "pledge-witness-data")]
    data_dir: PathBuf,
    /// The witness's key file (JSON, see ledger/src/keyfile.rs); created
    /// with a fresh key if missing. Default: <data-dir>/witness-key.json.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Listen address (HTTP). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: SocketAddr,
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
            eprintln!("pledge-witness: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let logs = parse_logs(&args.logs)?;
    let key_path = args
        .key_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("witness-key.json"));
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let key = load_or_create_key(&key_path, &args.name)?;
    let store = WitnessStore::open(&args.data_dir, &logs)?;
    let witness = Arc::new(WitnessService::new(&args.name, key, logs.clone(), store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let address = listener.local_addr()?;
        announce(&witness, address, &args.data_dir, &logs);
        tokio::select! {
            () = http::serve(listener, witness) => {}
            () = stop_signal() => tracing::info!("stopping"),
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `ORIGIN=HEX` flags, grouped by origin.
fn parse_logs(flags: &[String]) -> anyhow::Result<Logs> {
    let mut logs: Logs = BTreeMap::new();
    for flag in flags {
        let (origin, key) = flag
            .split_once('=')
            .with_context(|| format!("--log {flag:?}: expected ORIGIN=KEY"))?;
        let key = crypto::decode_lower_hex(key)
            .and_then(|bytes| PublicKey::from_slice(&bytes))
            .with_context(|| {
                format!("--log {flag:?}: the key is not 64 lower-case hex digits of an Ed25519 key")
            })?;
        anyhow::ensure!(
            pledge_ledger::note::is_key_name(origin),
            "--log {flag:?}: {origin:?} is not a checkpoint origin"
        );
        logs.entry(origin.to_owned()).or_default().push(key);
    }
    Ok(logs)
}

fn load_or_create_key(path: &Path, name: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    if path.exists() {
        let file = KeyFile::read(path)?;
        return file
            .signing_key()
            .map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()));
    }
    let key = crypto::generate_signing_key()?;
    KeyFile::new(name, &key).write(path)?;
    Ok(key)
}

fn announce(witness: &WitnessService, address: SocketAddr, data_dir: &Path, logs: &Logs) {
    let identity = witness.identity();
    println!("pledge-witness listening on {address}");
    println!("  name:          {}", identity.name);
    println!("  public key:    {}", identity.key);
    println!(
        "  policy line:   witness {} {} http://{address}",
        identity.name, identity.key
    );
    println!("  state:         {}", data_dir.display());
    for (origin, keys) in logs {
        let keys: Vec<String> = keys.iter().map(PublicKey::to_hex).collect();
        println!("  follows:       {origin} (node key {})", keys.join(", "));
    }
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
