//! `pledgectl tank`: tanks, certified stock, re-gauges and custodians
//! (warehouse and inspector writes).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use pledge_client::{json, ops, pb};

use super::write::{self, WriteArgs};
use super::{Context, parse_time_arg};

/// Tank commands.
#[derive(Debug, Subcommand)]
pub enum TankCommand {
    /// Register one of the warehouse's tanks (signed by the warehouse and the
    /// inspector that calibrated it).
    Register {
        /// Tank id, unique ledger-wide, e.g. ZS-TF1/T-101.
        #[arg(long)]
        tank_id: String,
        /// The warehouse that owns the tank.
        #[arg(long)]
        warehouse: String,
        /// Calibrated capacity in kg.
        #[arg(long)]
        capacity_kg: u64,
        /// The product the tank holds, e.g. "VLSFO 0.5%S".
        #[arg(long)]
        product: String,
        /// Bonded facility code, as on the calibration certificate (A-Z 0-9 -).
        #[arg(long)]
        facility_code: String,
        /// The tank's number in the facility, as on the calibration certificate.
        #[arg(long)]
        tank_number: String,
        /// The inspector (participant id) that calibrated the tank.
        #[arg(long)]
        inspector: String,
        /// The calibration certificate's number.
        #[arg(long, value_name = "NUMBER")]
        calibration_certificate: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Certify a depositor's oil in a tank (signed by the tank's warehouse,
    /// the inspector and the depositor).
    CertifyStock {
        /// The tank gauged.
        #[arg(long)]
        tank_id: String,
        /// The inspector (participant id) that gauged the oil.
        #[arg(long)]
        inspector: String,
        /// The inspector's certificate number, unique per inspector.
        #[arg(long)]
        certificate: String,
        /// Gauged quantity in kg.
        #[arg(long)]
        quantity_kg: u64,
        /// The grade gauged: the tank's product.
        #[arg(long)]
        grade: String,
        /// When it was gauged: RFC 3339 or +/-DURATION (default: now).
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg, allow_hyphen_values = true)]
        gauged_at: Option<u64>,
        /// The participant whose oil it is.
        #[arg(long)]
        depositor: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Attest a tank's measured contents (signed by the inspector). Below
    /// what its receipts claim, the tank is in shortfall.
    Regauge {
        /// The tank.
        #[arg(long)]
        tank_id: String,
        #[command(flatten)]
        gauging: GaugingArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Appoint a successor custodian for a revoked warehouse's tank, with a
    /// re-gauge (signed by the quorum, the successor and the inspector).
    AppointCustodian {
        /// The tank.
        #[arg(long)]
        tank_id: String,
        /// The successor warehouse.
        #[arg(long)]
        warehouse: String,
        #[command(flatten)]
        gauging: GaugingArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Show a tank with its stock, last gauging, shortfall and live receipts
    /// (every page of them, unless --one-page).
    Show {
        /// The tank id.
        tank_id: String,
        /// Show one page of the live receipts only, with the token of the
        /// next page (`next_page_token`, empty after the last).
        #[arg(long)]
        one_page: bool,
        /// With --one-page: live receipt ids per page (0: the node's default
        /// of 1,000; at most 5,000).
        #[arg(long, default_value_t = 0, requires = "one_page")]
        page_size: u32,
        /// With --one-page: the `next_page_token` of the previous page.
        #[arg(long, default_value = "", requires = "one_page")]
        page_token: String,
    },
}

/// An inspector's measurement of a whole tank.
#[derive(Debug, Args)]
pub struct GaugingArgs {
    /// The inspector (participant id).
    #[arg(long)]
    inspector: String,
    /// The inspector's gauging report number.
    #[arg(long)]
    report: String,
    /// Measured quantity in kg.
    #[arg(long)]
    measured_kg: u64,
    /// When it was measured: RFC 3339 or +/-DURATION (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg, allow_hyphen_values = true)]
    pub(super) gauged_at: Option<u64>,
}

impl GaugingArgs {
    fn gauging(&self) -> pb::Gauging {
        let at = self.gauged_at.unwrap_or_else(pledge_client::time::now_ms);
        ops::gauging(&self.inspector, &self.report, self.measured_kg, at)
    }
}

/// Runs a tank command.
pub async fn run(ctx: &Context, command: TankCommand) -> anyhow::Result<ExitCode> {
    let (operation, args) = match command {
        TankCommand::Register {
            tank_id,
            warehouse,
            capacity_kg,
            product,
            facility_code,
            tank_number,
            inspector,
            calibration_certificate,
            write,
        } => (
            ops::register_tank(
                &tank_id,
                &warehouse,
                capacity_kg,
                &product,
                ops::physical_tank_id(&facility_code, &tank_number),
                &inspector,
                &calibration_certificate,
            ),
            write,
        ),
        TankCommand::CertifyStock {
            tank_id,
            inspector,
            certificate,
            quantity_kg,
            grade,
            gauged_at,
            depositor,
            write,
        } => (
            ops::certify_stock(&ops::StockCertificate {
                tank_id: &tank_id,
                inspector_id: &inspector,
                certificate_no: &certificate,
                quantity_kg,
                product_grade: &grade,
                gauged_at_ms: gauged_at.unwrap_or_else(pledge_client::time::now_ms),
                depositor_id: &depositor,
            }),
            write,
        ),
        TankCommand::Regauge {
            tank_id,
            gauging,
            write,
        } => (ops::regauge_tank(&tank_id, gauging.gauging()), write),
        TankCommand::AppointCustodian {
            tank_id,
            warehouse,
            gauging,
            write,
        } => (
            ops::appoint_custodian(&tank_id, &warehouse, gauging.gauging()),
            write,
        ),
        TankCommand::Show {
            tank_id,
            one_page,
            page_size,
            page_token,
        } => {
            let client = ctx.client().await?;
            let view = match one_page {
                true => client.tank_page(&tank_id, page_size, &page_token).await?,
                false => client.tank(&tank_id).await?,
            };
            ctx.out.value(&json::tank(&view));
            return Ok(ExitCode::SUCCESS);
        }
    };
    write::execute(ctx, args, operation).await
}
