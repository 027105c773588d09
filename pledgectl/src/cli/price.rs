//! `pledgectl price`: price assessments of grades, which value pledged
//! receipts (a pledge's loan-to-value is shown by `pledge show`).

use std::process::ExitCode;

use clap::Subcommand;
use pledge_client::ops;

use super::write::{self, WriteArgs};
use super::{Context, parse_time_arg};

/// Price commands.
#[derive(Debug, Subcommand)]
pub enum PriceCommand {
    /// State the price per tonne of a grade at a time (signed by the price
    /// reporter). It must be newer than the grade's latest assessment in
    /// that currency.
    Assess {
        /// The price reporter (a participant with the price-reporter role).
        #[arg(long, value_name = "PARTICIPANT")]
        reporter: String,
        /// The grade, exactly as receipts carry it (e.g. "VLSFO 0.5%S").
        #[arg(long)]
        grade: String,
        /// Price per metric tonne in minor units of the currency (cents
        /// for USD), 1 ..= 10^12.
        #[arg(long, value_name = "MINOR_UNITS")]
        price_per_tonne_minor: u64,
        /// ISO 4217 currency, e.g. USD or CNY.
        #[arg(long)]
        currency: String,
        /// When the price was assessed: RFC 3339 or -DURATION (e.g. -2h);
        /// default now. Not in the future.
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg, allow_hyphen_values = true)]
        assessed_at: Option<u64>,
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// Runs a price command.
pub async fn run(ctx: &Context, command: PriceCommand) -> anyhow::Result<ExitCode> {
    let PriceCommand::Assess {
        reporter,
        grade,
        price_per_tonne_minor,
        currency,
        assessed_at,
        write,
    } = command;
    let assessed_at = assessed_at.unwrap_or_else(pledge_client::time::now_ms);
    let operation = ops::assess_price(
        &reporter,
        &grade,
        ops::money(price_per_tonne_minor, &currency),
        assessed_at,
    );
    write::execute(ctx, write, operation).await
}
