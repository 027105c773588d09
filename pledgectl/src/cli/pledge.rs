//! `pledgectl pledge`: pledges of receipts to banks.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use pledge_client::{json, ops, pb};

use super::write::{self, WriteArgs};
use super::{Context, parse_time_arg};

/// Pledge commands.
#[derive(Debug, Subcommand)]
pub enum PledgeCommand {
    /// Pledge a receipt to a bank (signed by the holder and the bank).
    Register {
        /// Pledge id, unique ledger-wide for ever.
        #[arg(long)]
        pledge_id: String,
        /// The receipt pledged.
        #[arg(long)]
        receipt_id: String,
        /// The bank taking the pledge.
        #[arg(long)]
        bank: String,
        /// Secured amount in minor units of the currency (cents for USD).
        #[arg(long)]
        amount_minor: u64,
        /// ISO 4217 currency, e.g. USD or CNY.
        #[arg(long)]
        currency: String,
        /// The loan's reference.
        #[arg(long, value_name = "REFERENCE")]
        loan_ref: String,
        /// Loan maturity: RFC 3339 or +DURATION (e.g. +90d).
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
        maturity: u64,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Release a pledge when the loan is repaid (signed by the bank).
    Release {
        /// The pledge.
        #[arg(long)]
        pledge_id: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Enforce a pledge on default: at or after maturity (signed by the
    /// bank), or earlier on a court/regulator order (the bank and a
    /// regulator sign) or with the holder's consent (the bank and the holder
    /// sign).
    Enforce {
        /// The pledge.
        #[arg(long)]
        pledge_id: String,
        /// The new holder of the receipt (default: the bank itself).
        #[arg(long, value_name = "PARTICIPANT")]
        transferee: Option<String>,
        /// On what grounds.
        #[arg(long, value_enum, default_value = "maturity")]
        grounds: GroundsArg,
        /// The order's reference (with --grounds order).
        #[arg(long, value_name = "REFERENCE", required_if_eq("grounds", "order"))]
        order: Option<String>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Show a pledge.
    Show {
        /// The pledge id.
        pledge_id: String,
    },
}

/// Grounds of an enforcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroundsArg {
    /// The loan has matured.
    Maturity,
    /// A court or regulator order; a regulator co-signs.
    Order,
    /// The holder consents and co-signs.
    HolderConsent,
}

impl From<GroundsArg> for pb::EnforcementGrounds {
    fn from(grounds: GroundsArg) -> pb::EnforcementGrounds {
        match grounds {
            GroundsArg::Maturity => pb::EnforcementGrounds::Maturity,
            GroundsArg::Order => pb::EnforcementGrounds::Order,
            GroundsArg::HolderConsent => pb::EnforcementGrounds::HolderConsent,
        }
    }
}

/// Runs a pledge command.
pub async fn run(ctx: &Context, command: PledgeCommand) -> anyhow::Result<ExitCode> {
    let (operation, args) = match command {
        PledgeCommand::Register {
            pledge_id,
            receipt_id,
            bank,
            amount_minor,
            currency,
            loan_ref,
            maturity,
            write,
        } => {
            let amount = ops::money(amount_minor, &currency);
            let operation =
                ops::register_pledge(&pledge_id, &receipt_id, &bank, amount, &loan_ref, maturity);
            (operation, write)
        }
        PledgeCommand::Release { pledge_id, write } => (ops::release_pledge(&pledge_id), write),
        PledgeCommand::Enforce {
            pledge_id,
            transferee,
            grounds,
            order,
            write,
        } => (
            ops::enforce_pledge(
                &pledge_id,
                transferee.as_deref(),
                grounds.into(),
                order.as_deref().unwrap_or_default(),
            ),
            write,
        ),
        PledgeCommand::Show { pledge_id } => {
            let view = ctx.client().await?.pledge(&pledge_id).await?;
            ctx.out.value(&json::pledge(&view));
            return Ok(ExitCode::SUCCESS);
        }
    };
    write::execute(ctx, args, operation).await
}
