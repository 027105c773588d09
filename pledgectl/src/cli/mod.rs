//! The `pledgectl` command tree and the context its commands share.

mod alerts;
mod chain;
mod cluster;
mod drafts;
mod evidence;
mod keys;
mod output;
mod participant;
mod pledge;
mod price;
mod receipt;
mod regulator;
mod report;
mod tank;
mod tls;
mod write;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pledge_client::LedgerClient;
use tokio::sync::OnceCell;

pub use output::Output;

/// Exit code of a failure other than a refusal.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when the node refuses a request.
pub const EXIT_REFUSED: u8 = 2;
/// Exit code when an audit finds a bad entry.
pub const EXIT_AUDIT_FAILED: u8 = 3;

/// Command line of the oil receipt-pledge ledger: keys, receipts, pledges,
/// co-signed drafts, reads and audits.
///
/// Writes are signed with key files (`--key FILE`, repeatable) and submitted,
/// or written as a draft (`--draft-out FILE`) for the other parties to
/// `sign` and anyone to `submit`. Quantities are integer kg; money is an
/// integer amount of minor units with a currency; times are RFC 3339
/// (2027-03-31T00:00:00Z, 2027-03-31T08:00:00+08:00, 2027-03-31) or a
/// duration from now (+90d, +12h, +30m, +45s, +1d12h).
///
/// An `https://` node needs `--ca FILE` (the CA of its certificate); a node
/// running mutual TLS also wants `--cert FILE --cert-key FILE`, the
/// participant's client certificate (`pledgectl tls` makes development ones).
///
/// A cluster is reached through several members: `--node URL,URL,URL`.
/// pledgectl uses the first that answers and, when a member cannot take a
/// request now (no leader known, not the leader, an election, cut off) or
/// does not answer, resends the same request (a write: the same signed
/// envelope, which is always safe) to the leader or the next member, for
/// up to 30 s. Reads answer from what the member reached has applied;
/// `--at-least SEQ` waits (up to 2 s) until it has applied entry SEQ (e.g.
/// the entry a write just answered), `--linearizable` makes the read see
/// every write acknowledged before it, wherever it was made.
///
/// Exit codes: 0 success, 1 failure, 2 refused by the node (the gRPC code,
/// message and reason go to stderr), 3 the audit found a bad entry.
#[derive(Debug, Parser)]
#[command(name = "pledgectl", version, max_term_width = 100)]
pub struct Cli {
    /// The node's gRPC endpoint; for a cluster, several members'
    /// endpoints separated by commas.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PLEDGE_NODE",
        default_value = "http://127.0.0.1:50051",
        value_name = "URL[,URL...]"
    )]
    pub node: String,

    /// Reads: answer only once the member has applied entry SEQ (waiting,
    /// bounded, for it), e.g. the entry a write of yours was answered with.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "SEQ"
    )]
    pub at_least: Option<u64>,

    /// Reads: linearizable, reflecting every write acknowledged before the
    /// read (the member confirms the leader's commit position first; a
    /// member cut off from the majority refuses rather than answer stale).
    #[arg(long, global = true, help_heading = "Global options")]
    pub linearizable: bool,

    /// Print JSON for scripts instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// The ledger id to sign transactions for (default: asked from the node).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PLEDGE_LEDGER_ID",
        value_name = "ID"
    )]
    pub ledger_id: Option<String>,

    /// TLS: the node's CA and this participant's certificate.
    #[command(flatten)]
    pub tls: tls::TlsArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate and inspect key files.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Admit, recover, revoke (the quorum), rotate keys (each its own) and look up participants.
    #[command(subcommand)]
    Participant(participant::ParticipantCommand),
    /// Register tanks, certify stock, re-gauge, appoint custodians; look up tanks.
    #[command(subcommand)]
    Tank(tank::TankCommand),
    /// Issue, transfer, split and cancel receipts; look them up.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// Register, release and enforce pledges; look them up.
    #[command(subcommand)]
    Pledge(pledge::PledgeCommand),
    /// Assess grades' prices (price reporter), which value pledged receipts.
    #[command(subcommand)]
    Price(price::PriceCommand),
    /// Freeze a receipt under a court order (regulator).
    Freeze(regulator::OrderArgs),
    /// Lift a freeze (the freezing regulator, or the quorum).
    Unfreeze(regulator::OrderArgs),
    /// The node's identity: ledger id, node key, genesis hash, version.
    Info,
    /// The registry's members (status; add, promote, remove: the quorum).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// The chain head: size, head hash, Merkle root.
    Head,
    /// Print entries from a sequence number, optionally following new ones.
    Entries(chain::EntriesArgs),
    /// Replay the chain (from the node or an export file) and check everything.
    Audit(chain::AuditArgs),
    /// Alerts you may see (a double pledge attempt, a tank short, a loan past
    /// maturity, ...), from an index, optionally following new ones.
    Alerts(alerts::AlertsArgs),
    /// The regulator's report: per tank its stock, pledged and missing kg;
    /// per holder its pledged share of each tank; per bank its exposure and
    /// collateral value (docs/REPORT.md).
    Report(report::ReportArgs),
    /// The node's latest signed checkpoint (tree size, Merkle root, chain head).
    Checkpoint(evidence::CheckpointArgs),
    /// Verify a receipt's evidence bundle offline with only the node's key.
    VerifyBundle(evidence::VerifyBundleArgs),
    /// Write every entry of the chain to an export file.
    Export(chain::ExportArgs),
    /// Add signatures to a draft file, in place.
    Sign(drafts::SignArgs),
    /// Show what a draft file says (decoded from its bytes) and who signed it.
    ShowDraft(drafts::ShowArgs),
    /// Submit a draft file.
    Submit(drafts::SubmitArgs),
    /// Create a development CA and issue node and participant certificates.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
}

/// What the commands share: the output mode and a lazily opened connection.
#[derive(Debug)]
pub struct Context {
    node: String,
    read: Option<pledge_client::pb::ReadOptions>,
    ledger_id: Option<String>,
    tls: tls::TlsArgs,
    client: OnceCell<LedgerClient>,
    /// How results are printed.
    pub out: Output,
}

impl Context {
    /// The connection to the node (or to the first member of the
    /// cluster that answers), opened on first use; reads carry
    /// `--at-least` / `--linearizable`.
    pub async fn client(&self) -> anyhow::Result<&LedgerClient> {
        self.client
            .get_or_try_init(|| async {
                let nodes = node_list(&self.node)?;
                let options = self.tls.connect_options(&nodes[0])?;
                let client = LedgerClient::connect_any(&nodes, options)
                    .await
                    .with_context(|| format!("connecting to {}", self.node))?;
                Ok(match &self.read {
                    Some(read) => client.with_read(*read),
                    None => client,
                })
            })
            .await
    }

    /// The ledger id: `--ledger-id`, or the node's.
    pub async fn ledger_id(&self) -> anyhow::Result<String> {
        match &self.ledger_id {
            Some(id) => Ok(id.clone()),
            None => Ok(self.client().await?.node_info().await?.ledger_id),
        }
    }
}

/// `--node`'s comma-separated endpoints, each once, all of one scheme (the
/// TLS options serve them all).
fn node_list(text: &str) -> anyhow::Result<Vec<String>> {
    let mut nodes: Vec<String> = Vec::new();
    for node in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !nodes.iter().any(|n| n == node) {
            nodes.push(node.to_owned());
        }
    }
    let Some(first) = nodes.first() else {
        anyhow::bail!("--node names no endpoint");
    };
    let https = first.starts_with("https://");
    if let Some(odd) = nodes.iter().find(|n| n.starts_with("https://") != https) {
        anyhow::bail!(
            "--node mixes https:// and http:// endpoints ({first}, {odd}): the members of one cluster share one scheme"
        );
    }
    Ok(nodes)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let read =
        (cli.at_least.is_some() || cli.linearizable).then(|| pledge_client::pb::ReadOptions {
            at_least_seq: cli.at_least.unwrap_or(0),
            linearizable: cli.linearizable,
            wait_ms: 0,
        });
    let ctx = Context {
        node: cli.node,
        read,
        ledger_id: cli.ledger_id,
        tls: cli.tls,
        client: OnceCell::new(),
        out: Output::new(cli.json),
    };
    match cli.command {
        Command::Keys(command) => keys::run(&ctx, command),
        Command::Participant(command) => participant::run(&ctx, command).await,
        Command::Tank(command) => tank::run(&ctx, command).await,
        Command::Receipt(command) => receipt::run(&ctx, command).await,
        Command::Pledge(command) => pledge::run(&ctx, command).await,
        Command::Price(command) => price::run(&ctx, command).await,
        Command::Freeze(args) => regulator::freeze(&ctx, args).await,
        Command::Unfreeze(args) => regulator::unfreeze(&ctx, args).await,
        Command::Info => chain::info(&ctx).await,
        Command::Cluster(command) => cluster::run(&ctx, command).await,
        Command::Head => chain::head(&ctx).await,
        Command::Entries(args) => chain::entries(&ctx, args).await,
        Command::Audit(args) => chain::audit(&ctx, args).await,
        Command::Alerts(args) => alerts::alerts(&ctx, args).await,
        Command::Report(args) => report::report(&ctx, args).await,
        Command::Checkpoint(args) => evidence::checkpoint(&ctx, args).await,
        Command::VerifyBundle(args) => evidence::verify_bundle(&ctx, args),
        Command::Export(args) => chain::export(&ctx, args).await,
        Command::Sign(args) => drafts::sign(&ctx, args),
        Command::ShowDraft(args) => drafts::show(&ctx, args),
        Command::Submit(args) => drafts::submit(&ctx, args).await,
        Command::Tls(command) => tls::run(&ctx, command),
    }
}

/// Parses a time argument (RFC 3339, `+90d` or `-1h`) into ms since the epoch.
pub fn parse_time_arg(text: &str) -> Result<u64, String> {
    pledge_client::time::parse_time(text, pledge_client::time::now_ms()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
