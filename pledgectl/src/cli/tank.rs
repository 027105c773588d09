//! `pledgectl tank`: tanks and certified stock (warehouse writes).

use std::process::ExitCode;

use clap::Subcommand;
use pledge_client::{json, ops};

use super::Context;
use super::write::{self, WriteArgs};

/// Tank commands.
#[derive(Debug, Subcommand)]
pub enum TankCommand {
    /// Register one of the warehouse's tanks (signed by the warehouse).
    Register {
        /// Tank id, unique ledger-wide, e.g. ZS-TF1/T-101.
        #[arg(long)]
        tank_id: String,
        /// The warehouse that owns the tank.
        #[arg(long)]
        warehouse: String,
        /// Capacity in kg.
        #[arg(long)]
        capacity_kg: u64,
        /// The product the tank holds, e.g. "VLSFO 0.5%S".
        #[arg(long)]
        product: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Record inspected stock of a depositor's oil (signed by the tank's warehouse).
    CertifyStock {
        /// The tank gauged.
        #[arg(long)]
        tank_id: String,
        /// Inspection agency, e.g. "SGS Zhoushan".
        #[arg(long)]
        agency: String,
        /// Certificate number, unique per agency.
        #[arg(long)]
        certificate: String,
        /// Gauged quantity in kg.
        #[arg(long)]
        quantity_kg: u64,
        /// The participant whose oil it is.
        #[arg(long)]
        depositor: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Show a tank with its stock and live receipts.
    Show {
        /// The tank id.
        tank_id: String,
    },
}

/// Runs a tank command.
pub async fn run(ctx: &Context, command: TankCommand) -> anyhow::Result<ExitCode> {
    let (operation, args) = match command {
        TankCommand::Register {
            tank_id,
            warehouse,
            capacity_kg,
            product,
            write,
        } => (
            ops::register_tank(&tank_id, &warehouse, capacity_kg, &product),
            write,
        ),
        TankCommand::CertifyStock {
            tank_id,
            agency,
            certificate,
            quantity_kg,
            depositor,
            write,
        } => (
            ops::certify_stock(&tank_id, &agency, &certificate, quantity_kg, &depositor),
            write,
        ),
        TankCommand::Show { tank_id } => {
            let view = ctx.client().await?.tank(&tank_id).await?;
            ctx.out.value(&json::tank(&view));
            return Ok(ExitCode::SUCCESS);
        }
    };
    write::execute(ctx, args, operation).await
}
