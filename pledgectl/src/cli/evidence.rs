//! `pledgectl checkpoint`, `receipt prove` and `verify-bundle`: evidence a
//! bank can keep and show a third party, checked with only the node's key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use pledge_client::{audit, keys};
use pledge_ledger::bundle::{Bundle, BundleVerdict};
use pledge_ledger::checkpoint::{SignedCheckpoint, ledger_origin};
use pledge_ledger::crypto::PublicKey;
use serde_json::json;

use super::{Context, EXIT_AUDIT_FAILED};

/// Fetch the node's latest signed checkpoint.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Also write the signed note to FILE (e.g. to audit against it later).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The node key to verify it with, 64 hex digits (default: as the node reports it).
    #[arg(long, value_name = "HEX")]
    node_key: Option<String>,
}

/// Write the evidence bundle of a receipt.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The receipt.
    receipt_id: String,
    /// The bundle file to write (JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The node key to verify it with before writing (default: as the node reports it).
    #[arg(long, value_name = "HEX")]
    node_key: Option<String>,
}

/// Verify an evidence bundle offline.
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle file.
    file: PathBuf,
    /// The node's public key, 64 hex digits, obtained out of band (never from the bundle).
    #[arg(long, value_name = "HEX")]
    node_key: String,
}

async fn node_key(ctx: &Context, given: Option<&str>) -> anyhow::Result<PublicKey> {
    match given {
        Some(hex) => Ok(keys::parse_public_key(hex)?),
        None => audit::node_key_of(ctx.client().await?)
            .await
            .context("asking the node for its key (or give --node-key)"),
    }
}

/// Prints (and saves) the node's latest checkpoint after verifying its signature.
pub async fn checkpoint(ctx: &Context, args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let key = node_key(ctx, args.node_key.as_deref()).await?;
    let client = ctx.client().await?;
    let ledger_id = client.node_info().await?.ledger_id;
    let note = client.checkpoint().await?.note;
    let signed = SignedCheckpoint::open(&note, &ledger_origin(&ledger_id), &[key])
        .context("the node's checkpoint does not verify")?;
    if let Some(path) = &args.out {
        std::fs::write(path, signed.to_text())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let c = &signed.checkpoint;
    let value = json!({
        "origin": c.origin, "tree_size": c.size, "root": hex::encode(c.root),
        "chain_head": c.head_hash.to_hex(), "time_ms": c.time_ms, "note": signed.to_text(),
    });
    ctx.out.either(&value, signed.to_text().trim_end());
    Ok(ExitCode::SUCCESS)
}

/// Fetches a receipt's bundle, verifies it, writes it.
pub async fn prove(ctx: &Context, args: ProveArgs) -> anyhow::Result<ExitCode> {
    let key = node_key(ctx, args.node_key.as_deref()).await?;
    let answer = ctx.client().await?.prove_receipt(&args.receipt_id).await?;
    let bundle = Bundle::from_json(&answer.json)?;
    let verdict = bundle
        .verify(&key)
        .context("the node's bundle does not verify")?;
    std::fs::write(&args.out, &answer.json)
        .with_context(|| format!("writing {}", args.out.display()))?;
    print_verdict(ctx, &verdict);
    Ok(ExitCode::SUCCESS)
}

/// Verifies a bundle file with only the node's key.
pub fn verify_bundle(ctx: &Context, args: VerifyBundleArgs) -> anyhow::Result<ExitCode> {
    let key = keys::parse_public_key(&args.node_key)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let verified = Bundle::from_json(&text).and_then(|bundle| bundle.verify(&key));
    match verified {
        Ok(verdict) => {
            print_verdict(ctx, &verdict);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let value = json!({"verified": false, "reason": error.to_string()});
            ctx.out
                .either(&value, &format!("the bundle does not verify: {error}"));
            Ok(ExitCode::from(EXIT_AUDIT_FAILED))
        }
    }
}

fn print_verdict(ctx: &Context, verdict: &BundleVerdict) {
    let pledges: Vec<_> = verdict
        .pledge_registrations
        .iter()
        .map(|p| json!({"seq": p.seq, "pledge_id": p.pledge_id, "pledgee": p.pledgee, "status": format!("{:?}", p.status)}))
        .collect();
    let active = verdict.active_pledge.as_ref().map(|p| {
        json!({"pledge_id": p.pledge_id, "pledgee": p.pledgee, "registered_at": p.registered_at})
    });
    let value = json!({
        "verified": true, "ledger_id": verdict.ledger_id, "tree_size": verdict.tree_size,
        "root": hex::encode(verdict.root), "receipt_id": verdict.receipt_id, "holder": verdict.holder,
        "warehouse": verdict.warehouse, "quantity_kg": verdict.quantity_kg, "frozen": verdict.frozen,
        "status": format!("{:?}", verdict.status), "active_pledge": active, "pledges": pledges,
        "entries": verdict.entry_seqs,
    });
    let mut text = format!(
        "verified: receipt {} ({} kg, warehouse {}) held by {} at tree size {} (root {})",
        verdict.receipt_id,
        verdict.quantity_kg,
        verdict.warehouse,
        verdict.holder,
        verdict.tree_size,
        hex::encode(verdict.root)
    );
    match &verdict.active_pledge {
        Some(p) => text.push_str(&format!(
            "\nactive pledge: {} to {} since entry {}; no other pledge active",
            p.pledge_id, p.pledgee, p.registered_at
        )),
        None => text.push_str("\nno active pledge"),
    }
    for p in &verdict.pledge_registrations {
        text.push_str(&format!(
            "\n  entry {}: pledge {} to {} ({:?})",
            p.seq, p.pledge_id, p.pledgee, p.status
        ));
    }
    ctx.out.either(&value, &text);
}
