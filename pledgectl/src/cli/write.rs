//! The one path of every write: build the transaction, then sign and submit
//! it, or write it as a draft for the other parties.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use pledge_client::keys::{self, Signer};
use pledge_client::ops::TxHeader;
use pledge_client::{Draft, json, pb};
use pledge_proto::v1::transaction::Operation;
use serde_json::json;

use super::{Context, parse_time_arg};

/// How a write is signed and where it goes.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Sign with this key file; repeat for each party whose key you hold.
    #[arg(long = "key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,

    /// Write a draft to FILE (signed by the --key files given, if any)
    /// instead of submitting; the other parties add theirs with
    /// `pledgectl sign FILE --key K`, and anyone runs `pledgectl submit FILE`.
    #[arg(long, value_name = "FILE")]
    pub draft_out: Option<PathBuf>,

    /// Transaction id (default: SIGNER-UNIX_MS-RANDOM_HEX, from the first --key).
    /// Give the id of an earlier attempt to retry it safely.
    #[arg(long, value_name = "ID")]
    pub tx_id: Option<String>,

    /// The transaction is valid until TIME (RFC 3339 or +DURATION, e.g. +7d
    /// for a draft the other parties sign over days; at most the ledger's
    /// longest window, 30 days on the development ledger). Default: +1d.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub valid_until: Option<u64>,

    /// The transaction is valid from TIME (default: five minutes ago).
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub valid_from: Option<u64>,
}

/// Builds the transaction for `operation`, then submits it or writes a draft.
pub async fn execute(
    ctx: &Context,
    args: WriteArgs,
    operation: Operation,
) -> anyhow::Result<ExitCode> {
    if args.keys.is_empty() && args.draft_out.is_none() {
        anyhow::bail!("give --key FILE to sign and submit, or --draft-out FILE to write a draft");
    }
    let signers = load_signers(&args.keys)?;
    let ledger_id = ctx.ledger_id().await?;
    let author = signers.first().map_or("draft", |s| s.id.as_str());
    let mut header = TxHeader::new(&ledger_id, author)?;
    if let Some(tx_id) = &args.tx_id {
        header = header.with_tx_id(tx_id);
    }
    let not_before = args.valid_from.unwrap_or(header.not_before_ms);
    let not_after = args.valid_until.unwrap_or(header.not_after_ms);
    header = header.valid_between(not_before, not_after);
    let tx = header.wrap(operation);
    match args.draft_out {
        Some(path) => write_draft(ctx, &tx, &signers, path),
        None => submit(ctx, keys::sign(&tx, &signers), &tx).await,
    }
}

/// Reads every key file.
pub fn load_signers(paths: &[PathBuf]) -> anyhow::Result<Vec<Signer>> {
    paths
        .iter()
        .map(|path| {
            Signer::from_file(path).with_context(|| format!("reading key {}", path.display()))
        })
        .collect()
}

fn write_draft(
    ctx: &Context,
    tx: &pb::Transaction,
    signers: &[Signer],
    path: PathBuf,
) -> anyhow::Result<ExitCode> {
    let mut draft = Draft::new(tx);
    for signer in signers {
        draft.sign(signer)?;
    }
    draft.write(&path)?;
    let signed = draft.signers().join(", ");
    ctx.out.either(
        &json!({ "draft": path.display().to_string(), "tx_id": tx.tx_id, "signed_by": draft.signers(), "summary": draft.summary() }),
        &format!(
            "draft {} written: {} (tx {}), signed by {}",
            path.display(),
            operation_name(tx),
            tx.tx_id,
            if signed.is_empty() { "nobody yet" } else { &signed }
        ),
    );
    Ok(ExitCode::SUCCESS)
}

/// Submits an envelope and prints the committed entry.
pub async fn submit(
    ctx: &Context,
    envelope: pledge_ledger::envelope::Envelope,
    tx: &pb::Transaction,
) -> anyhow::Result<ExitCode> {
    let answer = ctx.client().await?.submit(&envelope).await?;
    let mut value = json::submit_response(&answer);
    value["tx_id"] = tx.tx_id.clone().into();
    value["operation"] = operation_name(tx).into();
    let what = if answer.duplicate {
        "already committed"
    } else {
        "committed"
    };
    let since = match answer.since.is_empty() {
        true => String::new(),
        false => format!("; since then {}", answer.since),
    };
    ctx.out.either(
        &value,
        &format!(
            "{what}: {} as entry {} at {} (tx {}, entry hash {}){since}",
            operation_name(tx),
            answer.seq,
            pledge_client::time::format_rfc3339(answer.time_ms),
            tx.tx_id,
            hex::encode(&answer.entry_hash)
        ),
    );
    Ok(ExitCode::SUCCESS)
}

fn operation_name(tx: &pb::Transaction) -> &'static str {
    tx.operation
        .as_ref()
        .map_or("nothing", |op| json::operation(op).0)
}
