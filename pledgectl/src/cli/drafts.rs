//! `pledgectl sign`, `show-draft` and `submit`: drafts passed between parties.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use pledge_client::Draft;
use serde_json::json;

use super::Context;
use super::output::render;
use super::write::{self, load_signers};

/// A draft and the keys to sign it with.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The draft file; signatures are added in place.
    draft: PathBuf,
    /// Sign with this key file (repeatable).
    #[arg(long = "key", value_name = "FILE", required = true)]
    keys: Vec<PathBuf>,
}

/// A draft to show.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The draft file.
    draft: PathBuf,
}

/// A draft to submit.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The draft file, signed by every party the operation needs.
    draft: PathBuf,
}

/// Adds signatures to a draft and prints what was signed.
pub fn sign(ctx: &Context, args: SignArgs) -> anyhow::Result<ExitCode> {
    let mut draft = Draft::read(&args.draft)?;
    for signer in load_signers(&args.keys)? {
        draft.sign(&signer)?;
    }
    draft.write(&args.draft)?;
    print_draft(ctx, &draft, &format!("signed {}", args.draft.display()));
    Ok(ExitCode::SUCCESS)
}

/// Prints a draft's transaction, decoded from its bytes, and its signers.
pub fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let draft = Draft::read(&args.draft)?;
    print_draft(ctx, &draft, &args.draft.display().to_string());
    Ok(ExitCode::SUCCESS)
}

/// Submits a draft.
pub async fn submit(ctx: &Context, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let draft = Draft::read(&args.draft)?;
    let tx = draft.transaction().clone();
    write::submit(ctx, draft.into_envelope(), &tx).await
}

fn print_draft(ctx: &Context, draft: &Draft, title: &str) {
    let signers = draft.signers();
    let value = json!({ "signed_by": signers, "summary": draft.summary() });
    let signed = if signers.is_empty() {
        "nobody yet".to_owned()
    } else {
        signers.join(", ")
    };
    let tx = draft.transaction();
    let valid = format!(
        "valid from {} until {}",
        pledge_client::time::format_rfc3339(tx.not_before_ms),
        pledge_client::time::format_rfc3339(tx.not_after_ms)
    );
    let text = format!(
        "{title}\nsigned by: {signed}\n{valid}\n{}",
        render(&draft.summary())
    );
    ctx.out.either(&value, text.trim_end());
}
