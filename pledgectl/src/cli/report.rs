//! `pledgectl report`: the regulator's report (docs/REPORT.md) as a table,
//! CSV (`--csv`) or one JSON object a row (`--json`).

use std::process::ExitCode;

use clap::Args;
use pledge_client::pb;
use pledge_client::pb::report_row::Row;
use pledge_client::report::{csv_header, csv_line, row_json};

use super::Context;

/// Which tanks, and how to print.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only the tanks this warehouse holds, and the pledges on them.
    #[arg(long, value_name = "ID")]
    warehouse: Option<String>,
    /// Print CSV: a header line, then one line a row (docs/REPORT.md §3).
    /// The global `--json` prints one JSON object a row instead.
    #[arg(long)]
    csv: bool,
}

/// Prints the report of the node's published state.
pub async fn report(ctx: &Context, args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.csv && ctx.out.is_json() {
        anyhow::bail!("--csv and --json: choose one");
    }
    let client = ctx.client().await?;
    let rows = client
        .report(args.warehouse.as_deref().unwrap_or_default())
        .await?;
    if args.csv {
        println!("{}", csv_header());
        rows.iter().for_each(|row| println!("{}", csv_line(row)));
    } else if ctx.out.is_json() {
        rows.iter().for_each(|row| println!("{}", row_json(row)));
    } else {
        print!("{}", tables(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as three tables for people: tanks, holders, banks.
fn tables(rows: &[pb::ReportRow]) -> String {
    let mut out = String::new();
    let (mut tanks, mut holders, mut banks) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        match &row.row {
            Some(Row::Header(h)) => out.push_str(&heading(h)),
            Some(Row::Tank(t)) => tanks.push(tank_cells(t)),
            Some(Row::Holder(h)) => holders.push(holder_cells(h)),
            Some(Row::Bank(b)) => banks.push(bank_cells(b)),
            None => {}
        }
    }
    let tank_head = [
        "TANK",
        "WAREHOUSE",
        "PRODUCT",
        "CAPACITY",
        "CERTIFIED",
        "MEASURED",
        "RECEIPTED",
        "PLEDGED",
        "SHORTFALL",
    ];
    out.push_str(&format!("\nTanks (kg)\n{}", table(&tank_head, &tanks)));
    let holder_head = ["HOLDER", "TANK", "HELD", "PLEDGED", "PLEDGED SHARE"];
    out.push_str(&format!(
        "\nHolders (kg)\n{}",
        table(&holder_head, &holders)
    ));
    let bank_head = [
        "BANK",
        "CUR",
        "PLEDGES",
        "EXPOSURE",
        "COLLATERAL VALUE",
        "UNPRICED",
        "UNPRICED EXPOSURE",
    ];
    out.push_str(&format!(
        "\nBanks (active pledges; money in minor units)\n{}",
        table(&bank_head, &banks)
    ));
    out
}

fn heading(header: &pb::ReportHeader) -> String {
    let scope = match header.warehouse_id.as_str() {
        "" => "every tank".to_owned(),
        id => format!("the tanks of {id}"),
    };
    format!(
        "Report of {scope} at chain size {} (replay {} entries to recompute it)\n",
        header.size, header.size
    )
}

fn tank_cells(t: &pb::TankReportRow) -> Vec<String> {
    let measured = t.measured_kg.map_or("-".to_owned(), |kg| kg.to_string());
    vec![
        t.tank_id.clone(),
        t.warehouse_id.clone(),
        t.product.clone(),
        t.capacity_kg.to_string(),
        t.certified_kg.to_string(),
        measured,
        t.receipted_kg.to_string(),
        t.pledged_kg.to_string(),
        t.shortfall_kg.to_string(),
    ]
}

fn holder_cells(h: &pb::HolderReportRow) -> Vec<String> {
    vec![
        h.holder_id.clone(),
        h.tank_id.clone(),
        h.held_kg.to_string(),
        h.pledged_kg.to_string(),
        percent(h.pledged_share_bp),
    ]
}

fn bank_cells(b: &pb::BankReportRow) -> Vec<String> {
    vec![
        b.bank_id.clone(),
        b.currency.clone(),
        b.active_pledges.to_string(),
        b.exposure_minor.to_string(),
        b.collateral_value_minor.to_string(),
        b.unpriced_pledges.to_string(),
        b.unpriced_exposure_minor.to_string(),
    ]
}

/// Basis points as a percentage with two decimals: 6666 → `66.66 %`.
fn percent(bp: u64) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

/// Columns padded to their widest cell, two spaces apart; `(none)` for no rows.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "  (none)\n".to_owned();
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            let cells = rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()));
            cells.chain([head[i].len()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(head.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_print_as_percentages_and_columns_line_up() {
        assert_eq!(percent(6_666), "66.66 %");
        assert_eq!(percent(5), "0.05 %");
        let rows = vec![vec!["T-10".to_owned(), "1".to_owned()]];
        assert_eq!(table(&["TANK", "KG"], &rows), "  TANK  KG\n  T-10  1\n");
        assert_eq!(table(&["TANK"], &[]), "  (none)\n");
    }
}
