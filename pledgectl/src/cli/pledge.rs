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
        /// The margin level: the highest loan-to-value before the bank is
        /// warned, as a percentage (80%, 72.5%) or basis points (8000bp);
        /// at most 100%. Default: none.
        #[arg(long, value_name = "LEVEL", value_parser = parse_margin_level)]
        margin_level: Option<u32>,
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
            margin_level,
            write,
        } => {
            let amount = ops::money(amount_minor, &currency);
            let operation =
                ops::register_pledge(&pledge_id, &receipt_id, &bank, amount, &loan_ref, maturity);
            let operation = match margin_level {
                Some(bp) => ops::with_margin_level(operation, bp),
                None => operation,
            };
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

/// A margin level in basis points: `80%`, `72.5%`, `72.25%` or `8000bp`,
/// 1 ..= 10,000 basis points (0.01 % ..= 100 %).
pub fn parse_margin_level(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let bp = if let Some(bp) = text.strip_suffix("bp") {
        bp.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{text}`: basis points are a whole number, e.g. 8000bp"))?
    } else if let Some(percent) = text.strip_suffix('%') {
        percent_to_bp(percent.trim()).ok_or_else(|| {
            format!("`{text}`: a percentage with at most two decimals, e.g. 80% or 72.5%")
        })?
    } else {
        return Err(format!(
            "`{text}`: give a percentage (80%) or basis points (8000bp)"
        ));
    };
    match bp {
        1..=10_000 => Ok(bp),
        _ => Err(format!(
            "`{text}`: a margin level is 0.01% ..= 100% (1 ..= 10000bp)"
        )),
    }
}

/// `72.5` → 7250: whole percent and up to two decimals, exactly.
fn percent_to_bp(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.len() > 2 || !(fraction.is_empty() || digits(fraction)) {
        return None;
    }
    let hundredths = format!("{fraction:0<2}").parse::<u32>().ok()?;
    whole
        .parse::<u32>()
        .ok()?
        .checked_mul(100)?
        .checked_add(hundredths)
}

#[cfg(test)]
mod tests {
    use super::parse_margin_level;

    #[test]
    fn margin_levels_in_percent_or_basis_points() {
        assert_eq!(parse_margin_level("80%"), Ok(8_000));
        assert_eq!(parse_margin_level("72.5%"), Ok(7_250));
        assert_eq!(parse_margin_level("72.25%"), Ok(7_225));
        assert_eq!(parse_margin_level("8000bp"), Ok(8_000));
        assert_eq!(parse_margin_level("100%"), Ok(10_000));
        for bad in [
            "0%", "100.01%", "72.125%", "80", "abc%", "-5%", "10001bp", ".5%",
        ] {
            assert!(parse_margin_level(bad).is_err(), "{bad} accepted");
        }
    }
}
