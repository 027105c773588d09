//! `pledge-bench`: measures the ledger against its targets (docs/PERFORMANCE.md).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pledge_bench::{
    attack, fixture, generate, logsync, machine::Machine, proofs, replay, run, stats,
};
use pledge_ledger::crypto::PublicKey;

/// Load generator and measurements for the oil receipt-pledge ledger.
///
/// Every command prints the machine it ran on. `run` checks itself and
/// exits non-zero if any answer or the chain is not as it must be.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pledge registrations over gRPC by concurrent clients, then a self-check.
    Run {
        /// The node's URL.
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        node: String,
        /// The node's development keys directory (`<data>/dev-keys`).
        #[arg(long, default_value = "pledge-data/dev-keys")]
        keys: PathBuf,
        /// Concurrent clients, each on its own connection.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Longest timed phase, e.g. 10s, 500ms, 2m.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        /// Operation mix in parts: fresh pledges, conflicting pledges, reads.
        #[arg(long, default_value = "fresh=90,conflict=5,read=5")]
        mix: run::Mix,
        /// Fresh receipts issued in the set-up (one fresh pledge each); the
        /// timed phase ends early if they run out.
        #[arg(long, default_value_t = 120_000)]
        receipts: usize,
        /// Requests in flight during the set-up.
        #[arg(long, default_value_t = 128)]
        setup_concurrency: usize,
    },
    /// Writes a valid chain of N entries straight through the ledger (no gRPC).
    Generate {
        /// Entries, genesis included.
        #[arg(long)]
        entries: u64,
        /// Store directory to create.
        #[arg(long)]
        out: PathBuf,
        /// Also write an export file of the chain.
        #[arg(long)]
        export: Option<PathBuf>,
        /// Entries per group commit.
        #[arg(long, default_value_t = 1000)]
        group: usize,
        /// Keep every version of the state map (in the state store's
        /// memory, which then grows with the chain; none of it reaches the
        /// disk); by default superseded versions are pruned after each
        /// group, as a node prunes them once a checkpoint at that size is
        /// served.
        #[arg(long)]
        keep_map_history: bool,
        /// Then compact the state database (as `pledge-node compact-state`
        /// does) and report the disk again.
        #[arg(long)]
        compact: bool,
        /// Compact the state while generating, as a node does while it
        /// runs (the suggested policy), and report the most disk per entry
        /// seen after any group past the first tenth.
        #[arg(long)]
        compact_online: bool,
    },
    /// Times the auditor's replay of a whole chain.
    Replay {
        /// An export file.
        #[arg(long, conflicts_with = "dir", required_unless_present = "dir")]
        file: Option<PathBuf>,
        /// A store directory (or its log directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The node's public key (hex); default: the key of generated chains.
        #[arg(long)]
        node_key: Option<String>,
        /// Verification threads; 0 replays one by one (the reference path;
        /// with --signatures-only, one thread).
        #[arg(long)]
        threads: Option<usize>,
        /// Only decode, hash and check every seal and party signature, in
        /// batches on the threads, a chunk at a time (no links, no rules):
        /// the signature work an audit cannot do without.
        #[arg(long)]
        signatures_only: bool,
    },
    /// Times the alert feed (docs/ALERTS.md §6) over an export: what a node
    /// spends deriving alerts at start, and its memory.
    Alerts {
        /// An export file.
        #[arg(long)]
        file: PathBuf,
        /// Feed at most this many entries.
        #[arg(long, default_value_t = u64::MAX)]
        limit: u64,
    },
    /// Times one durable append (write + fdatasync) to the entry log, into a
    /// file that grows against one preallocated with zeros, alternating.
    LogSync {
        /// A directory on the disk to measure (logs are created under it and removed).
        #[arg(long)]
        dir: PathBuf,
        /// Groups appended per run.
        #[arg(long, default_value_t = 2_000)]
        groups: usize,
        /// Records per group.
        #[arg(long, default_value_t = 1)]
        records: usize,
        /// Bytes per record (an entry of a pledge is about 350).
        #[arg(long, default_value_t = 350)]
        record_len: usize,
        /// Runs of each kind, alternating.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Bytes of zeros written ahead at a time (the node's setting: 4 MiB).
        #[arg(long, default_value_t = 4 * 1024 * 1024)]
        preallocate: u64,
    },
    /// Times inclusion and consistency proofs at the store's size.
    Proofs {
        /// The store directory.
        #[arg(long)]
        dir: PathBuf,
        /// Proofs of each kind.
        #[arg(long, default_value_t = 10_000)]
        samples: u64,
        /// The node's public key (hex); default: the key of generated chains.
        #[arg(long)]
        node_key: Option<String>,
    },
    /// A well-behaved client's read and write latency while a running node
    /// is attacked (streams, idle connections, slow-loris prefaces, a request
    /// flood), each attack next to a quiet run; node VmRSS before and after.
    /// Fails if the well-behaved client gets any error.
    Attack {
        /// The node's URL: `http://IP:PORT`, or `https://IP:PORT` with `--ca`
        /// (then the connection flood is connections that never send a TLS
        /// ClientHello).
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        node: String,
        /// The CA certificate (PEM) to trust for an `https://` node.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// The node's development keys directory (`<data>/dev-keys`).
        #[arg(long, default_value = "pledge-data/dev-keys")]
        keys: PathBuf,
        /// The node's process id (its VmRSS is read from /proc).
        #[arg(long)]
        node_pid: u32,
        /// The node's metrics address (host:port of `--metrics-listen`), to
        /// report what it refused.
        #[arg(long)]
        metrics: Option<String>,
        /// How long the client is measured in each phase.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        /// One read and one write start every interval.
        #[arg(long, default_value = "10ms", value_parser = parse_duration)]
        interval: Duration,
        /// Pause after an attack is torn down before the node's VmRSS is read.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        settle: Duration,
        /// The well-behaved client's source address.
        #[arg(long, default_value = "127.0.0.1")]
        client_from: IpAddr,
        /// The attackers' source address (another loopback address).
        #[arg(long, default_value = "127.0.0.2")]
        attacker_from: IpAddr,
        /// Stream flood: connections × following streams on each (0x0 skips).
        #[arg(long, default_value = "20x100", value_parser = attack::parse_product)]
        streams: (usize, usize),
        /// Connection flood: idle TCP connections (0 skips).
        #[arg(long, default_value_t = 2_000)]
        idle: usize,
        /// Slow-loris: connections sending the preface a byte a second (0 skips).
        #[arg(long, default_value_t = 500)]
        slowloris: usize,
        /// Request flood: connections × GetHead in flight on each (0x0 skips).
        #[arg(long, default_value = "32x4", value_parser = attack::parse_product)]
        requests: (usize, usize),
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pledge-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    println!("{}", Machine::current());
    match args.command {
        Command::Run {
            node,
            keys,
            clients,
            duration,
            mix,
            receipts,
            setup_concurrency,
        } => {
            let options = run::RunOptions {
                node,
                keys,
                clients,
                duration,
                mix,
                receipts,
                setup_concurrency,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let report = runtime.block_on(run::run(&options))?;
            Ok(print_run(&options, &report))
        }
        Command::Generate {
            entries,
            out,
            export,
            group,
            keep_map_history,
            compact,
            compact_online,
        } => {
            let options = generate::GenerateOptions {
                entries,
                out,
                export,
                group,
                keep_map_history,
                compact,
                compact_online,
            };
            let done = generate::generate(&options)?;
            let per = |bytes: u64| bytes as f64 / done.entries as f64;
            println!(
                "generated {} entries in {:.1} s: {:.0} entries/s (groups of {}, state map {})",
                done.entries,
                done.seconds,
                done.entries as f64 / done.seconds,
                options.group,
                if options.keep_map_history {
                    "history kept"
                } else {
                    "pruned after each group"
                }
            );
            let disk_line = |disk: &generate::DiskUse| {
                format!(
                    "{} bytes = {:.0} bytes/entry (entry log {:.0}, state and indexes {:.0})",
                    disk.total,
                    per(disk.total),
                    per(disk.log),
                    per(disk.state)
                )
            };
            println!("disk: {}", disk_line(&done.disk));
            if let Some(online) = done.online {
                println!(
                    "compacted while generating: {} times, {:.1} s of steps; after the groups \
                     past the first tenth, at most {:.0} bytes/entry with no copy in progress, \
                     {:.0} with one ({} of {} groups)",
                    online.switches,
                    online.seconds,
                    online.peak_between,
                    online.peak_copying,
                    online.groups_copying,
                    online.groups
                );
            }
            if let Some((seconds, disk)) = &done.compacted {
                println!(
                    "disk after compacting the state ({seconds:.1} s): {}",
                    disk_line(disk)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            file,
            dir,
            node_key,
            threads,
            signatures_only,
        } => {
            let key = node_key_arg(node_key.as_deref())?;
            let threads = threads.unwrap_or_else(|| Machine::current().cores);
            let source = match (&file, &dir) {
                (Some(file), _) => replay::Source::File(file),
                (None, Some(dir)) => replay::Source::Dir(dir),
                (None, None) => anyhow::bail!("give --file or --dir"),
            };
            if signatures_only {
                let done = replay::signatures_only(source, key, threads)?;
                println!(
                    "checked {} signatures of {} entries ({:.2} per entry) in {:.1} s on {} threads, reading not included: {:.0} signatures/s, {:.1} µs of one thread per signature; no links, no rules",
                    done.signatures,
                    done.entries,
                    done.signatures as f64 / done.entries.max(1) as f64,
                    done.seconds,
                    threads.max(1),
                    done.signatures as f64 / done.seconds,
                    done.seconds * threads.max(1) as f64 * 1e6 / done.signatures.max(1) as f64,
                );
                return Ok(ExitCode::SUCCESS);
            }
            let done = replay::replay(source, key, threads)?;
            println!(
                "replayed and verified {} entries in {:.1} s: {:.0} entries/s ({}), head hash {}",
                done.entries,
                done.seconds,
                done.entries as f64 / done.seconds,
                match threads {
                    0 => "one by one".to_owned(),
                    n => format!("batch verification on {n} threads"),
                },
                done.head_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Alerts { file, limit } => {
            let done = pledge_bench::alerts::derive(&file, limit)?;
            println!(
                "derived {} alerts from {} entries in {:.1} s ({:.0} entries/s); peak RSS {} MB before, {} MB with the feed's state",
                done.alerts,
                done.entries,
                done.seconds,
                done.entries as f64 / done.seconds,
                done.peak_kb_before / 1024,
                done.peak_kb_after / 1024
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::LogSync {
            dir,
            groups,
            records,
            record_len,
            rounds,
            preallocate,
        } => {
            let options = logsync::LogSyncOptions {
                dir,
                groups,
                records,
                record_len,
                rounds,
                preallocate,
            };
            let times = logsync::log_sync(&options)?;
            println!(
                "append_group + fdatasync, {} rounds of {} groups of {} × {} bytes each, alternating:",
                rounds, groups, records, record_len
            );
            println!("  file grows:          {}", stats::summary(&times.growing));
            println!(
                "  preallocated ({} KiB): {}",
                preallocate / 1024,
                stats::summary(&times.preallocated)
            );
            let p50 = |h: &hdrhistogram::Histogram<u64>| h.value_at_quantile(0.5) as f64;
            println!(
                "  p50 ratio (grows / preallocated): {:.2}",
                p50(&times.growing) / p50(&times.preallocated).max(1.0)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Proofs {
            dir,
            samples,
            node_key,
        } => {
            let key = node_key_arg(node_key.as_deref())?;
            let times = proofs::proofs(&dir, key, samples)?;
            println!(
                "store of {} entries opened (chain checked) in {:.1} s",
                times.size, times.open_seconds
            );
            println!("inclusion proofs:   {}", stats::summary(&times.inclusion));
            println!("consistency proofs: {}", stats::summary(&times.consistency));
            Ok(ExitCode::SUCCESS)
        }
        Command::Attack {
            node,
            ca,
            keys,
            node_pid,
            metrics,
            duration,
            interval,
            settle,
            client_from,
            attacker_from,
            streams,
            idle,
            slowloris,
            requests,
        } => {
            let node = node_url(node, ca.as_deref())?;
            let attacks = attacks(streams, idle, slowloris, requests);
            let options = attack::AttackOptions {
                node,
                keys,
                node_pid,
                metrics,
                duration,
                interval,
                settle,
                client_from,
                attacker_from,
                attacks,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            print_attack_header(&options);
            let phases = runtime.block_on(attack::attack(&options, print_phase))?;
            Ok(print_attack_verdict(&phases))
        }
    }
}

/// The attacks asked for, in the order they run; a size of 0 skips one.
fn attacks(
    streams: (usize, usize),
    idle: usize,
    slowloris: usize,
    requests: (usize, usize),
) -> Vec<attack::floods::Attack> {
    use attack::floods::Attack;
    let all = [
        Attack::StreamFlood {
            connections: streams.0,
            streams: streams.1,
        },
        Attack::ConnectionFlood { connections: idle },
        Attack::SlowLoris {
            connections: slowloris,
        },
        Attack::RequestFlood {
            connections: requests.0,
            in_flight: requests.1,
        },
    ];
    all.into_iter()
        .filter(|attack| match *attack {
            Attack::StreamFlood {
                connections,
                streams,
            } => connections * streams > 0,
            Attack::ConnectionFlood { connections } | Attack::SlowLoris { connections } => {
                connections > 0
            }
            Attack::RequestFlood {
                connections,
                in_flight,
            } => connections * in_flight > 0,
        })
        .collect()
}

fn print_attack_header(options: &attack::AttackOptions) {
    println!(
        "attack: node {} (pid {}), well-behaved client from {} (GetHead, then a fresh pledge, every {:?}), attackers from {}, {:?} per phase",
        options.node.url,
        options.node_pid,
        options.client_from,
        options.interval,
        options.attacker_from,
        options.duration
    );
    match options.node.tls {
        Some(_) => println!(
            "TLS: the connection flood's connections never send a ClientHello; slow-loris bytes are not a TLS record"
        ),
        None => println!(
            "no-ClientHello: not run: the node speaks plaintext (give an https:// node and --ca)"
        ),
    }
}

/// The node's URL with the TLS settings `--ca` gives: an `https://` node
/// needs the CA, a plaintext one must not be given one.
fn node_url(url: String, ca: Option<&Path>) -> anyhow::Result<attack::NodeUrl> {
    let tls = match (url.starts_with("https://"), ca) {
        (true, Some(ca)) => Some(pledge_client::tls::client_config(ca, None)?),
        (false, None) => None,
        (true, None) => anyhow::bail!("{url}: an https:// node needs --ca (its CA certificate)"),
        (false, Some(_)) => anyhow::bail!("{url}: --ca is for an https:// node"),
    };
    Ok(attack::NodeUrl { url, tls })
}

/// The table, then every error of the well-behaved client; failure if any.
fn print_attack_verdict(phases: &[attack::report::Phase]) -> ExitCode {
    println!();
    print!("{}", attack::report::table(phases));
    let errors = attack::report::client_errors(phases);
    for error in &errors {
        println!("WELL-BEHAVED CLIENT ERROR: {error}");
    }
    if errors.is_empty() {
        println!("every read and write of the well-behaved client was answered as expected");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_phase(phase: &attack::report::Phase) {
    let [before, peak, after] = phase.rss_kb.map(|kb| kb / 1024);
    println!("{} ({:.1} s):", phase.name, phase.sample.seconds);
    println!(
        "  read (GetHead):            {}",
        stats::summary(&phase.sample.read)
    );
    println!(
        "  write (pledge, durable):   {}",
        stats::summary(&phase.sample.write)
    );
    println!(
        "  new connection + GetHead: {}",
        stats::summary(&phase.sample.connect)
    );
    for (what, n) in &phase.sample.errors {
        println!("  CLIENT ERROR {what}: {n}");
    }
    println!("  node VmRSS: {before} MB before, {peak} MB peak, {after} MB after");
    if let Some(tally) = &phase.tally {
        for (what, n) in &tally.counts {
            println!("  attackers: {what}: {n}");
        }
        println!(
            "  attackers: peak open at once (≥ 1 s for TCP connections): {}",
            tally.held_peak
        );
    }
    for (counter, value) in &phase.node_counters {
        println!("  node: {counter} {value}");
    }
}

fn print_run(options: &run::RunOptions, report: &run::RunReport) -> ExitCode {
    let per_s = |n: u64| n as f64 / report.seconds;
    println!(
        "run: {} clients, {:.2} s{}, mix fresh={} conflict={} read={}",
        options.clients,
        report.seconds,
        if report.ran_out {
            " (the pre-signed work ran out: raise --receipts)"
        } else {
            ""
        },
        options.mix.fresh,
        options.mix.conflict,
        options.mix.read
    );
    println!(
        "pledges acknowledged (durable): {} = {:.0}/s; conflicts refused: {}; reads: {}; all requests: {:.0}/s",
        report.pledges,
        per_s(report.pledges),
        report.conflicts,
        report.reads,
        per_s(report.pledges + report.conflicts + report.reads)
    );
    println!("submit latency: {}", stats::summary(&report.pledge_latency));
    println!("read latency:   {}", stats::summary(&report.read_latency));
    println!(
        "refusals by code: FailedPrecondition RECEIPT_PLEDGED: {}",
        report.conflicts
    );
    for (what, n) in &report.unexpected {
        println!("UNEXPECTED {what}: {n}");
    }
    for problem in &report.self_check {
        println!("SELF-CHECK FAILED: {problem}");
    }
    if report.passed() {
        println!(
            "self-check passed: every refusal was a real conflict; the chain of {} entries replays and verifies and holds exactly the {} acknowledged pledges",
            report.chain_entries, report.pledges
        );
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn node_key_arg(hex_key: Option<&str>) -> anyhow::Result<PublicKey> {
    match hex_key {
        None => Ok(fixture::node_public_key()),
        Some(text) => Ok(pledge_client::keys::parse_public_key(text)?),
    }
}

/// Parses `10s`, `500ms`, `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len()),
    );
    let value: f64 = number.parse().map_err(|e| format!("{text:?}: {e}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}
