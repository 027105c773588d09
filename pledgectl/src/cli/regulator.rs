//! `pledgectl freeze` and `unfreeze`: court orders (regulator writes).

use std::process::ExitCode;

use clap::Args;
use pledge_client::ops;

use super::Context;
use super::write::{self, WriteArgs};

/// A receipt and the order that freezes or unfreezes it.
#[derive(Debug, Args)]
pub struct OrderArgs {
    /// The receipt.
    #[arg(long)]
    receipt_id: String,
    /// Court order or case reference.
    #[arg(long, value_name = "REFERENCE")]
    order: String,
    #[command(flatten)]
    write: WriteArgs,
}

/// Freezes a receipt.
pub async fn freeze(ctx: &Context, args: OrderArgs) -> anyhow::Result<ExitCode> {
    let operation = ops::freeze_receipt(&args.receipt_id, &args.order);
    write::execute(ctx, args.write, operation).await
}

/// Lifts a freeze (signed by the regulator that froze the receipt, or by the quorum).
pub async fn unfreeze(ctx: &Context, args: OrderArgs) -> anyhow::Result<ExitCode> {
    let operation = ops::unfreeze_receipt(&args.receipt_id, &args.order);
    write::execute(ctx, args.write, operation).await
}
