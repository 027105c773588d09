//! `pledgectl info`, `head`, `entries`, `audit` and `export`: the chain itself.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pledge_client::audit::{self, Verdict};
use pledge_client::checkpoints::{
    TreeWitness, default_state_file, fork_between, read_checkpoint, remember,
};
use pledge_client::export::{ExportReader, write_record};
use pledge_client::time::format_rfc3339;
use pledge_client::{json, keys, pb};
use pledge_ledger::checkpoint::{Checkpoint, SignedCheckpoint, ledger_origin};
use pledge_ledger::cosigning::{ForkEvidence, Trust, WitnessPolicy};
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::entry::Entry;
use pledge_ledger::note::SignedNote;
use pledge_ledger::tx::Transaction;
use prost::Message;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use super::evidence::WitnessArgs;
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
    /// The ledger key, 64 hex digits: the key that sealed the genesis (a
    /// single node's key; in a registry of several nodes, the key the
    /// membership entries take over from, docs/FORMAT.md §3.1). Default:
    /// as the node reports it; pin it for an independent audit.
    #[arg(long, value_name = "HEX")]
    node_key: Option<String>,
    /// A signed checkpoint note (e.g. one a bank kept) the chain must agree with.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Where the last verified checkpoint is remembered between audits
    /// (default: $XDG_STATE_HOME/pledgectl/LEDGER-NODE_KEY.checkpoint,
    /// else ~/.local/state/pledgectl/...). The next audit checks the chain
    /// still agrees with it: the log only grew.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Once the audit has verified, write a trust file (docs/FORMAT.md
    /// §7.2) for `receipt prove`, `verify-bundle` and `checkpoint`: a `log`
    /// line for the ledger key and for each key the chain lets seal at its
    /// head (the voters of its last membership entry), then the witness
    /// policy given (or `quorum none`).
    #[arg(long, value_name = "FILE")]
    write_trust: Option<PathBuf>,
    /// The node's latest checkpoint and a `--checkpoint` given must meet it.
    #[command(flatten)]
    witnesses: WitnessArgs,
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
    let mut described = json!({
        "seq": entry.seq,
        "entry_hash": entry.hash().to_hex(),
        "time_ms": entry.time_ms,
        "signers": signers,
        "transaction": tx,
    });
    if let Some(refusal) = &entry.refusal {
        let fields: serde_json::Map<String, Value> = refusal
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        described["refused"] = json!({ "reason": refusal.reason, "fields": fields });
    }
    described
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
    let refused = match entry["refused"]["reason"].as_str() {
        Some(reason) => format!("REFUSED {reason}: "),
        None => String::new(),
    };
    format!(
        "#{:<6} {}  {refused}{operation:<18} {fields}  [signed by {}]",
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

/// Replays the chain and prints the verdict; then checks the chain against
/// the remembered checkpoint, a given one, and the node's latest, and
/// remembers the newest for next time.
pub async fn audit(ctx: &Context, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let node_key = match &args.node_key {
        Some(hex) => keys::parse_public_key(hex)?,
        None => audit::ledger_key_of(ctx.client().await?)
            .await
            .context("asking the node for its key (or give --node-key)")?,
    };
    // The sizes of the checkpoints to check, known before the replay so
    // that it computes the state root at each (from the checkpoints'
    // unverified text: they are verified after).
    let (claimed_ledger_id, node_latest) = match &args.file {
        Some(path) => (first_ledger_id(path)?, None),
        None => {
            let client = ctx.client().await?;
            // Fetched before the entries, so it never covers more than the stream.
            let latest = client.checkpoint().await.ok().map(|c| c.note);
            (client.node_info().await?.ledger_id, latest)
        }
    };
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| default_state_file(&claimed_ledger_id, &node_key));
    let mut state_roots_at = std::collections::BTreeSet::new();
    for text in [
        std::fs::read_to_string(&state).ok(),
        args.checkpoint
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok()),
        node_latest.clone(),
    ]
    .into_iter()
    .flatten()
    {
        state_roots_at.extend(unverified_size(&text));
    }
    let mut witness = TreeWitness::new();
    let mut ledger_id = String::new();
    let mut observe = |record: &[u8]| {
        if witness.size() == 0 {
            ledger_id = ledger_id_of(record);
        }
        witness.push(record);
    };
    let (verdict, state_roots) = match &args.file {
        Some(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let records = ExportReader::new(std::io::BufReader::new(file)).inspect(|record| {
                if let Ok(record) = record {
                    observe(record);
                }
            });
            let bar = progress_bar(None);
            let verdict = audit::audit_records_at(records, node_key, &state_roots_at, &mut |n| {
                bar.set_position(n)
            });
            bar.finish_and_clear();
            verdict?
        }
        None => {
            let client = ctx.client().await?;
            let size = client.head().await?.size;
            let bar = progress_bar(Some(size));
            let verdict = audit::audit_node_at(
                client,
                node_key,
                &state_roots_at,
                &mut |n| bar.set_position(n),
                &mut observe,
            )
            .await;
            bar.finish_and_clear();
            verdict?
        }
    };
    if !verdict.is_verified() {
        print_verdict(ctx, &verdict, &node_key.to_hex(), None);
        return Ok(ExitCode::from(EXIT_AUDIT_FAILED));
    }
    if ledger_id != claimed_ledger_id && witness.size() > 0 {
        anyhow::bail!(
            "the chain is of ledger {ledger_id:?}, but the node said {claimed_ledger_id:?}"
        );
    }
    // Checkpoints are signed by the ledger key or, in a registry of several
    // nodes, by a member whose key the chain lists (docs/FORMAT.md §7.2).
    let mut trust = args.witnesses.trust(node_key)?;
    if let Verdict::Verified { sealers, .. } = &verdict {
        trust
            .log_keys
            .extend(sealers.iter().filter(|k| **k != node_key));
    }
    let replayed = Replayed {
        tree: &witness,
        state_roots: &state_roots,
    };
    let agreed = check_checkpoints(&replayed, &ledger_id, &trust, &state, &args, node_latest);
    match agreed {
        Ok(newest) => {
            print_verdict(
                ctx,
                &verdict,
                &node_key.to_hex(),
                Some((&witness, newest.as_ref())),
            );
            if let Some(newest) = newest {
                remember(&state, &newest)?;
            }
            if let (Some(path), Verdict::Verified { sealers, .. }) = (&args.write_trust, &verdict) {
                let text = trust_file(&ledger_id, &node_key, sealers, &args.witnesses)?;
                std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Disagreement::Refused(reason)) => {
            let value = json!({"verified": false, "checkpoint_mismatch": reason, "node_key": node_key.to_hex()});
            ctx.out.either(
                &value,
                &format!("the chain does not agree with a signed checkpoint: {reason}"),
            );
            Ok(ExitCode::from(EXIT_AUDIT_FAILED))
        }
        Err(Disagreement::Fork(fork)) => {
            let value = json!({
                "verified": false, "node_key": node_key.to_hex(),
                "fork": {"reason": fork.reason, "first": fork.first.to_text(), "second": fork.second.to_text()},
            });
            ctx.out.either(&value, &fork.to_string());
            Ok(ExitCode::from(EXIT_AUDIT_FAILED))
        }
    }
}

/// The trust file an audit writes: the keys it verified the chain with, as
/// `log` lines, then the witness policy's other lines.
fn trust_file(
    ledger_id: &str,
    ledger_key: &PublicKey,
    sealers: &[PublicKey],
    witnesses: &WitnessArgs,
) -> anyhow::Result<String> {
    let mut text = format!(
        "# Keys that may sign {}'s checkpoints and seal its entries, as the audit\n\
         # replaying its chain from the ledger key found them (docs/FORMAT.md §7.2).\n\
         log {} ledger-key\n",
        ledger_origin(ledger_id),
        ledger_key.to_hex()
    );
    for key in sealers.iter().filter(|key| *key != ledger_key) {
        text.push_str(&format!("log {}\n", key.to_hex()));
    }
    let policy = witnesses.policy_text()?;
    let witness_lines: Vec<&str> = policy
        .lines()
        .filter(|line| {
            let statement = line.split('#').next().unwrap_or_default();
            matches!(
                statement.split_whitespace().next(),
                Some("witness" | "group" | "quorum")
            )
        })
        .collect();
    match policy.is_empty() {
        true => text.push_str("quorum none\n"),
        false => {
            text.push_str("# The witness policy.\n");
            text.push_str(&witness_lines.join("\n"));
            text.push('\n');
        }
    }
    Ok(text)
}

/// Why the audited chain is not held to the checkpoints.
enum Disagreement {
    /// A checkpoint is not believed, or the chain contradicts it.
    Refused(String),
    /// Two checkpoints the node signed cannot both be true: both notes are
    /// the evidence.
    Fork(Box<ForkEvidence>),
}

impl From<String> for Disagreement {
    fn from(reason: String) -> Disagreement {
        Disagreement::Refused(reason)
    }
}

/// What the replay established: the Merkle tree of the records, and the
/// state map's root at the sizes of the checkpoints to check.
struct Replayed<'a> {
    tree: &'a TreeWitness,
    state_roots: &'a audit::StateRoots,
}

impl Replayed<'_> {
    /// Whether the checkpoint states the replayed chain and state.
    fn check(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        self.tree.check(checkpoint)?;
        match self.state_roots.get(&checkpoint.size) {
            Some(root) if *root == checkpoint.state_root => Ok(()),
            Some(root) => Err(format!(
                "the checkpoint of size {} commits to state root {}, but the replayed state's root is {}: the node's state commitment is false",
                checkpoint.size,
                hex::encode(checkpoint.state_root),
                hex::encode(root)
            )),
            None => Err(format!(
                "the replay did not compute the state at size {}",
                checkpoint.size
            )),
        }
    }
}

/// The ledger id the first record of an export file names.
fn first_ledger_id(path: &std::path::Path) -> anyhow::Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let first = ExportReader::new(std::io::BufReader::new(file)).next();
    Ok(match first {
        Some(Ok(record)) => ledger_id_of(&record),
        _ => String::new(),
    })
}

/// The size a checkpoint note states, read without verifying it.
fn unverified_size(text: &str) -> Option<u64> {
    let note = SignedNote::parse(text).ok()?;
    Checkpoint::parse_text(note.text()).ok().map(|c| c.size)
}

/// Checks the remembered, the given and the node's latest checkpoint against
/// the audited chain and state; returns the newest of them (the one to
/// remember). The given and the node's latest must meet the witness policy
/// of `trust`; the remembered one met it when it was remembered.
fn check_checkpoints(
    witness: &Replayed<'_>,
    ledger_id: &str,
    trust: &Trust,
    state: &std::path::Path,
    args: &AuditArgs,
    node_latest: Option<String>,
) -> Result<Option<SignedCheckpoint>, Disagreement> {
    let mut all = Vec::new();
    let log_key_only = Trust::new(trust.log_keys.clone(), WitnessPolicy::none());
    all.extend(read_checkpoint(state, ledger_id, &log_key_only).map_err(|e| e.to_string())?);
    if let Some(path) = &args.checkpoint {
        let given = read_checkpoint(path, ledger_id, trust).map_err(|e| e.to_string())?;
        all.push(given.ok_or_else(|| format!("{} does not exist", path.display()))?);
    }
    if let Some(note) = node_latest {
        let origin = ledger_origin(ledger_id);
        let cosigned = trust
            .open(&note, &origin)
            .map_err(|e| format!("the node's checkpoint: {e}"))?;
        all.push(cosigned.signed);
    }
    let (agreeing, disagreeing): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|c| witness.check(&c.checkpoint).is_ok());
    if let Some(bad) = disagreeing.first() {
        let fork = agreeing
            .iter()
            .find_map(|good| fork_between(witness.tree, bad, good));
        return Err(match fork {
            Some(fork) => Disagreement::Fork(Box::new(fork)),
            None => Disagreement::Refused(witness.check(&bad.checkpoint).err().unwrap_or_default()),
        });
    }
    Ok(all.into_iter().max_by_key(|c| c.checkpoint.size))
}

fn ledger_id_of(record: &[u8]) -> String {
    let tx = Entry::decode(record)
        .ok()
        .and_then(|e| Transaction::decode(&e.envelope.tx_bytes).ok());
    tx.map(|tx| tx.ledger_id).unwrap_or_default()
}

fn print_verdict(
    ctx: &Context,
    verdict: &Verdict,
    node_key: &str,
    tree: Option<(&TreeWitness, Option<&SignedCheckpoint>)>,
) {
    let root = tree
        .and_then(|(w, _)| w.root(w.size()))
        .map(hex::encode)
        .unwrap_or_default();
    let checkpoint = tree.and_then(|(_, c)| c).map(|c| c.checkpoint.size);
    let value = match verdict {
        Verdict::Verified {
            entries, head_hash, ..
        } => json!({
            "verified": true, "entries": entries, "head_hash": head_hash.to_hex(), "node_key": node_key,
            "tree_root": root, "checkpoint_size": checkpoint,
        }),
        Verdict::Bad {
            seq,
            reason,
            reason_code,
            good_head_hash,
        } => json!({
            "verified": false, "bad_entry": seq, "reason": reason, "reason_code": reason_code,
            "good_head_hash": good_head_hash.to_hex(), "node_key": node_key,
        }),
    };
    let mut text = verdict.to_string();
    if verdict.is_verified() {
        text.push_str(&format!(", Merkle root {root}"));
        match checkpoint {
            Some(size) => text.push_str(&format!(
                "; agrees with the signed checkpoint of size {size}"
            )),
            None => text.push_str("; no signed checkpoint to compare with"),
        }
    }
    ctx.out.either(&value, &text);
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
