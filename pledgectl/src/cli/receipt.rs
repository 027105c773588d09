//! `pledgectl receipt`: the life of a warehouse receipt, and reads.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use pledge_client::{ReceiptFilter, json, ops, pb};
use serde_json::Value;

use super::write::{self, WriteArgs};
use super::{Context, chain, parse_time_arg};

/// Receipt commands.
#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Issue a receipt against a certificate to its depositor (signed by the warehouse).
    Issue(Box<IssueArgs>),
    /// Endorse a receipt to a new holder (signed by the holder and the warehouse).
    Transfer {
        /// The receipt.
        #[arg(long)]
        receipt_id: String,
        /// The new holder.
        #[arg(long, value_name = "PARTICIPANT")]
        to: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Split a receipt into parts with the same total (signed by the warehouse and the holder).
    Split {
        /// The receipt to split.
        #[arg(long)]
        receipt_id: String,
        /// A part as NEW_RECEIPT_ID=KG; give two or more.
        #[arg(long = "part", value_name = "ID=KG", value_parser = parse_part, required = true)]
        parts: Vec<(String, u64)>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Cancel a receipt when the oil leaves the tank (signed by the holder and the warehouse).
    Cancel {
        /// The receipt.
        #[arg(long)]
        receipt_id: String,
        /// Why, e.g. "delivered ex-tank".
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Show a receipt with its state and active pledge.
    Show {
        /// The receipt id.
        receipt_id: String,
    },
    /// List receipts, in id order, optionally filtered.
    List(ListArgs),
    /// The entries that changed a receipt, in order.
    History {
        /// The receipt id.
        receipt_id: String,
    },
    /// Write the receipt's evidence bundle (its entries with inclusion proofs
    /// and a signed checkpoint) for offline verification with `verify-bundle`.
    Prove(super::evidence::ProveArgs),
}

/// The terms of a new receipt.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Receipt id, unique ledger-wide for ever.
    #[arg(long)]
    receipt_id: String,
    /// The tank holding the oil.
    #[arg(long)]
    tank_id: String,
    /// The inspector (participant id) of the backing certificate.
    #[arg(long)]
    inspector: String,
    /// Number of the backing certificate.
    #[arg(long)]
    certificate: String,
    /// Product grade, e.g. "VLSFO 0.5%S".
    #[arg(long)]
    grade: String,
    /// Specification, e.g. "ISO 8217:2017 RMG 380".
    #[arg(long, default_value = "")]
    specification: String,
    /// Quantity in kg.
    #[arg(long)]
    quantity_kg: u64,
    /// Customs status of the oil.
    #[arg(long, value_enum)]
    customs: CustomsArg,
    /// Customs declaration reference.
    #[arg(long, value_name = "REFERENCE")]
    customs_ref: String,
    /// Expiry: RFC 3339 or +DURATION (e.g. +365d).
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    expires: u64,
    /// Allowed loss in storage, parts per million of the quantity.
    #[arg(long, default_value_t = 0)]
    loss_allowance_ppm: u32,
    /// Insurance policy reference.
    #[arg(long, value_name = "REFERENCE", default_value = "")]
    insurance_ref: String,
    #[command(flatten)]
    write: WriteArgs,
}

/// Customs status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CustomsArg {
    /// Held in bond.
    Bonded,
    /// Cleared by customs.
    DutyPaid,
}

/// Which receipts to list.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Start after this receipt id (the last id of the previous page).
    #[arg(long, value_name = "RECEIPT_ID", default_value = "")]
    after: String,
    /// Page size (0: the node's default of 100; at most 1000).
    #[arg(long, default_value_t = 0)]
    limit: u32,
    /// Follow the cursor and list every matching receipt.
    #[arg(long, conflicts_with = "after")]
    all: bool,
}

/// At most one filter.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct FilterArgs {
    /// Receipts held by this participant.
    #[arg(long)]
    holder: Option<String>,
    /// Receipts issued by this warehouse.
    #[arg(long)]
    warehouse: Option<String>,
    /// Receipts drawn on this tank.
    #[arg(long)]
    tank: Option<String>,
    /// Receipts under an active pledge to this bank.
    #[arg(long)]
    pledgee: Option<String>,
    /// Receipts with this status.
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
}

/// Receipt status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Live and unpledged.
    Active,
    /// Under an active pledge.
    Pledged,
    /// Cancelled (oil delivered out).
    Cancelled,
    /// Retired by a split.
    Split,
}

impl FilterArgs {
    fn filter(self) -> Option<ReceiptFilter> {
        let status = self.status.map(|s| {
            let status = match s {
                StatusArg::Active => pb::ReceiptStatus::Active,
                StatusArg::Pledged => pb::ReceiptStatus::Pledged,
                StatusArg::Cancelled => pb::ReceiptStatus::Cancelled,
                StatusArg::Split => pb::ReceiptStatus::Split,
            };
            ReceiptFilter::Status(status as i32)
        });
        self.holder
            .map(ReceiptFilter::HolderId)
            .or(self.warehouse.map(ReceiptFilter::WarehouseId))
            .or(self.tank.map(ReceiptFilter::TankId))
            .or(self.pledgee.map(ReceiptFilter::PledgeeId))
            .or(status)
    }
}

/// Parses `ID=KG`.
fn parse_part(text: &str) -> Result<(String, u64), String> {
    let (id, kg) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write NEW_RECEIPT_ID=KG"))?;
    let kg = kg.parse().map_err(|e| format!("{text:?}: quantity: {e}"))?;
    Ok((id.to_owned(), kg))
}

/// Runs a receipt command.
pub async fn run(ctx: &Context, command: ReceiptCommand) -> anyhow::Result<ExitCode> {
    let (operation, args) = match command {
        ReceiptCommand::Issue(issue) => {
            let issue = *issue;
            (ops::issue_receipt(terms(&issue)), issue.write)
        }
        ReceiptCommand::Transfer {
            receipt_id,
            to,
            write,
        } => (ops::transfer_receipt(&receipt_id, &to), write),
        ReceiptCommand::Split {
            receipt_id,
            parts,
            write,
        } => (ops::split_receipt(&receipt_id, &parts), write),
        ReceiptCommand::Cancel {
            receipt_id,
            reason,
            write,
        } => (ops::cancel_receipt(&receipt_id, &reason), write),
        ReceiptCommand::Show { receipt_id } => {
            let view = ctx.client().await?.receipt(&receipt_id).await?;
            ctx.out.value(&json::receipt(&view));
            return Ok(ExitCode::SUCCESS);
        }
        ReceiptCommand::List(args) => return list(ctx, args).await,
        ReceiptCommand::History { receipt_id } => return history(ctx, &receipt_id).await,
        ReceiptCommand::Prove(args) => return super::evidence::prove(ctx, args).await,
    };
    write::execute(ctx, args, operation).await
}

fn terms(args: &IssueArgs) -> pb::IssueReceipt {
    let customs = match args.customs {
        CustomsArg::Bonded => pb::CustomsStatus::Bonded,
        CustomsArg::DutyPaid => pb::CustomsStatus::DutyPaid,
    };
    pb::IssueReceipt {
        receipt_id: args.receipt_id.clone(),
        tank_id: args.tank_id.clone(),
        inspector_id: args.inspector.clone(),
        certificate_no: args.certificate.clone(),
        product_grade: args.grade.clone(),
        specification: args.specification.clone(),
        quantity_kg: args.quantity_kg,
        customs_status: customs as i32,
        customs_reference: args.customs_ref.clone(),
        expires_at_ms: args.expires,
        loss_allowance_ppm: args.loss_allowance_ppm,
        insurance_reference: args.insurance_ref.clone(),
    }
}

async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<ExitCode> {
    let client = ctx.client().await?;
    let filter = args.filter.filter();
    let receipts = match args.all {
        true => client.list_all_receipts(filter, args.limit).await?,
        false => {
            client
                .list_receipts(filter, &args.after, args.limit)
                .await?
        }
    };
    if ctx.out.is_json() {
        let all: Vec<Value> = receipts.iter().map(json::receipt).collect();
        ctx.out.value(&Value::Array(all));
        return Ok(ExitCode::SUCCESS);
    }
    for view in &receipts {
        println!("{}", receipt_line(view));
    }
    if receipts.is_empty() {
        println!("(no receipts)");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per receipt: id, status, holder, kg, tank, pledgee.
fn receipt_line(view: &pb::ReceiptView) -> String {
    let terms = view.terms.clone().unwrap_or_default();
    let pledge = view
        .active_pledge
        .as_ref()
        .map(|p| {
            let id = p.terms.as_ref().map_or("", |t| t.pledge_id.as_str());
            format!(" pledged to {} ({id})", p.pledgee_id)
        })
        .unwrap_or_default();
    let frozen = if view.frozen.is_some() { " FROZEN" } else { "" };
    let short = if view.tank_shortfall.is_some() {
        " TANK-SHORTFALL"
    } else {
        ""
    };
    let custodian = if view.custodian_revoked {
        " CUSTODIAN-REVOKED"
    } else {
        ""
    };
    format!(
        "{:<20} {:<9} holder {:<12} {:>12} kg  tank {}{pledge}{frozen}{short}{custodian}",
        terms.receipt_id,
        json::receipt_status_name(view.status),
        view.holder_id,
        terms.quantity_kg,
        terms.tank_id,
    )
}

async fn history(ctx: &Context, receipt_id: &str) -> anyhow::Result<ExitCode> {
    let client = ctx.client().await?;
    let view = client.receipt(receipt_id).await?;
    let mut entries = Vec::with_capacity(view.history.len());
    for seq in &view.history {
        let record = client.entry(*seq).await?;
        let entry = chain::describe_entry(&record);
        if !ctx.out.is_json() {
            println!("{}", chain::entry_line(&entry));
        }
        entries.push(entry);
    }
    if ctx.out.is_json() {
        ctx.out.value(&Value::Array(entries));
    }
    Ok(ExitCode::SUCCESS)
}
