//! `pledgectl info`, `head`, `entries`, `audit` and `export`: the chain itself.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pledge_client::audit::{self, Verdict};
use pledge_client::export::write_record;
use pledge_client::time::format_rfc3339;
use pledge_client::{json, keys, pb};
use pledge_ledger::entry::Entry;
use prost::Message;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use super::{Context, EXIT_AUDIT_FAILED};

/// Which entries to print.
#[derive(Debug, Args)]
pub struct EntriesArgs {
    /// First entry to print.
    #[arg(long, default_value_t = 0, value_name = "SEQ")]
    from: u64,
    /// Keep printing entries as they commit.
    #[arg(long)]
    follow: bool,
}

/// What to audit.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Audit this export file instead of the node's chain.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The node's public key that seals every entry, 64 hex digits
    /// (default: as the node reports it; pin it for an independent audit).
    #[arg(long, value_name = "HEX")]
    node_key: Option<String>,
}

/// Where to export.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The export file to write (u32 big-endian length ‖ record, per entry).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Prints the node's identity.
pub async fn info(ctx: &Context) -> anyhow::Result<ExitCode> {
    let info = ctx.client().await?.node_info().await?;
    ctx.out.value(&json::node_info(&info));
    Ok(ExitCode::SUCCESS)
}

/// Prints the chain head.
pub async fn head(ctx: &Context) -> anyhow::Result<ExitCode> {
    let head = ctx.client().await?.head().await?;
    ctx.out.value(&json::head(&head));
    Ok(ExitCode::SUCCESS)
}

/// Prints entries, one per line.
pub async fn entries(ctx: &Context, args: EntriesArgs) -> anyhow::Result<ExitCode> {
    let mut stream = ctx.client().await?.entries(args.from, args.follow).await?;
    while let Some(record) = stream.next().await {
        let entry = describe_entry(&record?);
        ctx.out.line(&entry, &entry_line(&entry));
    }
    Ok(ExitCode::SUCCESS)
}

/// An entry as JSON: seq, hash, time, signers and the decoded transaction.
pub fn describe_entry(record: &pb::EntryRecord) -> Value {
    let entry = match Entry::decode(&record.record) {
        Ok(entry) => entry,
        Err(error) => return json!({ "seq": record.seq, "error": error.to_string() }),
    };
    let tx = pb::Transaction::decode(entry.envelope.tx_bytes.as_slice())
        .map(|tx| json::transaction(&tx))
        .unwrap_or_else(|e| json!({ "error": e.to_string() }));
    let signers: Vec<&str> = entry
        .envelope
        .signatures
        .iter()
        .map(|s| s.signer.as_str())
        .collect();
    json!({
        "seq": entry.seq,
        "entry_hash": entry.hash().to_hex(),
        "time_ms": entry.time_ms,
        "signers": signers,
        "transaction": tx,
    })
}

/// One line of an entry: seq, time, operation, its fields, signers.
pub fn entry_line(entry: &Value) -> String {
    if let Some(error) = entry["error"].as_str() {
        return format!(
            "#{:<6} undecodable: {error}",
            entry["seq"].as_u64().unwrap_or(0)
        );
    }
    let tx = &entry["transaction"];
    let operation = tx["operation"].as_str().unwrap_or("?");
    let fields = match &tx[operation] {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array() && v.as_str() != Some(""))
            .map(|(k, v)| format!("{k}={}", field_text(v)))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let signers: Vec<&str> = entry["signers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!(
        "#{:<6} {}  {operation:<18} {fields}  [signed by {}]",
        entry["seq"].as_u64().unwrap_or(0),
        format_rfc3339(entry["time_ms"].as_u64().unwrap_or(0)),
        signers.join(", ")
    )
}

/// A field value on an entry line: quoted when it holds spaces.
fn field_text(value: &Value) -> String {
    match value.as_str() {
        Some(text) if text.contains(char::is_whitespace) => format!("{text:?}"),
        Some(text) => text.to_owned(),
        None => value.to_string(),
    }
}

/// Replays the chain and prints the verdict.
pub async fn audit(ctx: &Context, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let node_key = match &args.node_key {
        Some(hex) => keys::parse_public_key(hex)?,
        None => audit::node_key_of(ctx.client().await?)
            .await
            .context("asking the node for its key (or give --node-key)")?,
    };
    let verdict = match &args.file {
        Some(path) => {
            let bar = progress_bar(None);
            let verdict = audit::audit_file(path, node_key, &mut |n| bar.set_position(n));
            bar.finish_and_clear();
            verdict?
        }
        None => {
            let client = ctx.client().await?;
            let size = client.head().await?.size;
            let bar = progress_bar(Some(size));
            let verdict = audit::audit_node(client, node_key, &mut |n| bar.set_position(n)).await;
            bar.finish_and_clear();
            verdict?
        }
    };
    print_verdict(ctx, &verdict, &node_key.to_hex());
    Ok(match verdict.is_verified() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXIT_AUDIT_FAILED),
    })
}

fn print_verdict(ctx: &Context, verdict: &Verdict, node_key: &str) {
    let value = match verdict {
        Verdict::Verified { entries, head_hash } => json!({
            "verified": true, "entries": entries, "head_hash": head_hash.to_hex(), "node_key": node_key,
        }),
        Verdict::Bad {
            seq,
            reason,
            good_head_hash,
        } => json!({
            "verified": false, "bad_entry": seq, "reason": reason,
            "good_head_hash": good_head_hash.to_hex(), "node_key": node_key,
        }),
    };
    ctx.out.either(&value, &verdict.to_string());
}

/// A progress bar on stderr with entries/s, hidden when stderr is not a terminal.
fn progress_bar(len: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(len) => (
            ProgressBar::new(len),
            "{bar:40} {pos}/{len} entries  {per_sec}  eta {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {pos} entries  {per_sec}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Writes the node's chain to an export file.
pub async fn export(ctx: &Context, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    let mut stream = ctx.client().await?.entries(0, false).await?;
    let mut count: u64 = 0;
    let mut last = Vec::new();
    while let Some(record) = stream.next().await {
        let record = record?;
        anyhow::ensure!(
            record.seq == count,
            "the node sent entry {} where entry {count} was due",
            record.seq
        );
        write_record(&mut out, &record.record)
            .with_context(|| format!("writing {}", args.out.display()))?;
        last = record.record;
        count += 1;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
        .with_context(|| format!("syncing {}", args.out.display()))?;
    let head_hash = Entry::decode(&last)
        .map(|e| e.hash().to_hex())
        .unwrap_or_default();
    ctx.out.either(
        &json!({ "file": args.out.display().to_string(), "entries": count, "head_hash": head_hash }),
        &format!("exported {count} entries to {} (head hash {head_hash})", args.out.display()),
    );
    std::io::stdout().flush().ok();
    Ok(ExitCode::SUCCESS)
}
