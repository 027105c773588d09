//! Report rows as `GetReport` sends them (ledger_service.proto): the one
//! conversion the node and every verifier of its answer use. Figures above
//! 2⁶⁴ − 1 saturate.

use pb::report_row::Row;
use pledge_proto::v1 as pb;

use super::{BankRow, HolderRow, ReportRow, ReportScope, TankRow};

/// The header row: the size the report reflects and its scope.
pub fn header(size: u64, scope: &ReportScope) -> pb::ReportRow {
    let warehouse_id = match scope {
        ReportScope::All => String::new(),
        ReportScope::Warehouse(id) => id.clone(),
    };
    pb::ReportRow {
        row: Some(Row::Header(pb::ReportHeader { size, warehouse_id })),
    }
}

/// A row as sent.
pub fn row(row: &ReportRow) -> pb::ReportRow {
    let row = match row {
        ReportRow::Tank(tank) => Row::Tank(tank_row(tank)),
        ReportRow::Holder(holder) => Row::Holder(holder_row(holder)),
        ReportRow::Bank(bank) => Row::Bank(bank_row(bank)),
    };
    pb::ReportRow { row: Some(row) }
}

fn tank_row(tank: &TankRow) -> pb::TankReportRow {
    pb::TankReportRow {
        tank_id: tank.tank_id.clone(),
        warehouse_id: tank.warehouse_id.clone(),
        product: tank.product.clone(),
        capacity_kg: tank.capacity_kg,
        certified_kg: tank.certified_kg,
        measured_kg: tank.measured_kg,
        receipted_kg: tank.receipted_kg,
        pledged_kg: tank.pledged_kg,
        shortfall_kg: tank.shortfall_kg,
    }
}

fn holder_row(holder: &HolderRow) -> pb::HolderReportRow {
    pb::HolderReportRow {
        holder_id: holder.holder_id.clone(),
        tank_id: holder.tank_id.clone(),
        held_kg: holder.held_kg,
        pledged_kg: holder.pledged_kg,
        pledged_share_bp: saturate(holder.pledged_share_bp),
    }
}

fn bank_row(bank: &BankRow) -> pb::BankReportRow {
    pb::BankReportRow {
        bank_id: bank.bank_id.clone(),
        currency: bank.currency.clone(),
        active_pledges: bank.active_pledges,
        exposure_minor: saturate(bank.exposure_minor),
        collateral_value_minor: saturate(bank.collateral_value_minor),
        unpriced_pledges: bank.unpriced_pledges,
        unpriced_exposure_minor: saturate(bank.unpriced_exposure_minor),
    }
}

fn saturate(figure: u128) -> u64 {
    u64::try_from(figure).unwrap_or(u64::MAX)
}
