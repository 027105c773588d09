//! `pledgectl checkpoint`, `receipt prove` and `verify-bundle`: evidence a
//! bank can keep and show a third party, checked with the node keys it
//! accepts (`--node-key`, or the `log` lines of its trust file: in a
//! registry of several nodes, every voter's key) and its witness policy.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use pledge_client::evidence::{read_policy, verdict_json, verdict_text};
use pledge_client::{audit, keys};
use pledge_ledger::bundle::{Bundle, BundleVerdict};
use pledge_ledger::cosigning::{CosignedCheckpoint, Trust, WitnessPolicy};
use pledge_ledger::crypto::PublicKey;
use serde_json::json;

use super::{Context, EXIT_AUDIT_FAILED};

/// The witnesses a checkpoint must be cosigned by, and the node keys the
/// trust file lists.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness policy, or trust, file (docs/FORMAT.md §7.2, §7.8):
    /// which witnesses must have cosigned a checkpoint for it to be
    /// believed, and (`log` lines) the node keys accepted besides
    /// `--node-key`. Without it a checkpoint rests on the node's key alone,
    /// and the output says so.
    #[arg(
        long,
        visible_alias = "trust",
        value_name = "FILE",
        env = "PLEDGE_WITNESS_POLICY"
    )]
    witness_policy: Option<PathBuf>,
}

impl WitnessArgs {
    /// What the verifier trusts: `node_key`, the file's `log` keys and its
    /// witness policy, if a file is given.
    pub fn trust(&self, node_key: PublicKey) -> anyhow::Result<Trust> {
        Ok(Trust::new(vec![node_key], self.policy()?))
    }

    fn policy(&self) -> anyhow::Result<WitnessPolicy> {
        Ok(match &self.witness_policy {
            Some(path) => read_policy(path)?,
            None => WitnessPolicy::none(),
        })
    }

    /// The policy file's text, empty when none is given.
    pub fn policy_text(&self) -> anyhow::Result<String> {
        match &self.witness_policy {
            Some(path) => {
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
            }
            None => Ok(String::new()),
        }
    }
}

/// The node keys a checkpoint or an entry may be signed with.
#[derive(Debug, Args)]
pub struct NodeKeyArgs {
    /// A node key to accept, 64 hex digits (repeat it, or separate keys with
    /// commas, for every voter of a registry of several nodes). Default:
    /// the trust file's `log` keys; without those, the keys the node reports
    /// (its ledger key and the voters of the membership it applied).
    #[arg(long, value_name = "HEX", value_delimiter = ',')]
    node_key: Vec<String>,
}

/// Fetch the node's latest signed checkpoint.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Also write the signed note to FILE (e.g. to audit against it later).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    keys: NodeKeyArgs,
    /// Wait (up to the node's limit) for a checkpoint covering at least this many entries.
    #[arg(long, value_name = "SIZE", default_value_t = 0)]
    min_size: u64,
    #[command(flatten)]
    witnesses: WitnessArgs,
}

/// Write the evidence bundle of a receipt.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The receipt.
    receipt_id: String,
    /// The bundle file to write (JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The keys to verify it with before writing.
    #[command(flatten)]
    keys: NodeKeyArgs,
    #[command(flatten)]
    witnesses: WitnessArgs,
}

/// Verify an evidence bundle offline.
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle file.
    file: PathBuf,
    /// The node keys accepted, obtained out of band (never from the
    /// bundle): `--node-key` and the trust file's `log` lines; at least one.
    #[command(flatten)]
    keys: NodeKeyArgs,
    #[command(flatten)]
    witnesses: WitnessArgs,
}

impl NodeKeyArgs {
    fn given(&self) -> anyhow::Result<Vec<PublicKey>> {
        self.node_key
            .iter()
            .map(|hex| Ok(keys::parse_public_key(hex)?))
            .collect()
    }

    /// The trust of a verifier offline: the keys given and the trust
    /// file's, at least one.
    fn offline_trust(&self, witnesses: &WitnessArgs) -> anyhow::Result<Trust> {
        let trust = Trust::new(self.given()?, witnesses.policy()?);
        anyhow::ensure!(
            !trust.log_keys.is_empty(),
            "no node key to verify with: give --node-key or a trust file with `log` lines"
        );
        Ok(trust)
    }

    /// The trust of a verifier talking to a node: as offline, or, when no
    /// key is given at all, the keys the node reports.
    async fn trust(&self, ctx: &Context, witnesses: &WitnessArgs) -> anyhow::Result<Trust> {
        let policy = witnesses.policy()?;
        let mut keys = self.given()?;
        if keys.is_empty() && policy.log_keys().is_empty() {
            keys = audit::signing_keys_of(ctx.client().await?)
                .await
                .context("asking the node for its keys (or give --node-key)")?;
        }
        Ok(Trust::new(keys, policy))
    }
}

/// Prints (and saves) the node's latest checkpoint after verifying its
/// signature and the witness quorum.
pub async fn checkpoint(ctx: &Context, args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let trust = args.keys.trust(ctx, &args.witnesses).await?;
    let client = ctx.client().await?;
    let ledger_id = client.node_info().await?.ledger_id;
    let cosigned = client
        .trusted_checkpoint(&trust, &ledger_id, args.min_size, 0)
        .await
        .context("the node's checkpoint is not believed")?;
    let signed = &cosigned.signed;
    if let Some(path) = &args.out {
        std::fs::write(path, signed.to_text())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let c = &signed.checkpoint;
    let value = json!({
        "origin": c.origin, "tree_size": c.size, "root": hex::encode(c.root),
        "chain_head": c.head_hash.to_hex(), "state_root": hex::encode(c.state_root),
        "time_ms": c.time_ms, "note": signed.to_text(),
        "witnessed": cosigned.witnessed, "cosigners": cosigned.cosigners.names(),
    });
    let text = format!(
        "{}\n{}",
        signed.to_text().trim_end(),
        witnesses_line(&cosigned)
    );
    ctx.out.either(&value, &text);
    Ok(ExitCode::SUCCESS)
}

fn witnesses_line(cosigned: &CosignedCheckpoint) -> String {
    match cosigned.witnessed {
        true => format!(
            "witness quorum met: cosigned by {}",
            cosigned.cosigners.names().join(", ")
        ),
        false => "no witness policy given: this checkpoint rests on the node's key alone".into(),
    }
}

/// Fetches a receipt's bundle (bound by the node to a checkpoint covering
/// the receipt's latest entry), verifies it, writes it.
pub async fn prove(ctx: &Context, args: ProveArgs) -> anyhow::Result<ExitCode> {
    let trust = args.keys.trust(ctx, &args.witnesses).await?;
    let (json, verdict) = ctx
        .client()
        .await?
        .prove_receipt_trusted(&args.receipt_id, &trust)
        .await
        .context("the node's bundle does not verify")?;
    std::fs::write(&args.out, &json).with_context(|| format!("writing {}", args.out.display()))?;
    print_verdict(ctx, &verdict);
    Ok(ExitCode::SUCCESS)
}

/// Verifies a bundle file with the node's key and the witness policy.
pub fn verify_bundle(ctx: &Context, args: VerifyBundleArgs) -> anyhow::Result<ExitCode> {
    let trust = args.keys.offline_trust(&args.witnesses)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let verified = Bundle::from_json(&text).and_then(|bundle| bundle.verify(&trust));
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
    ctx.out
        .either(&verdict_json(verdict), &verdict_text(verdict));
}
