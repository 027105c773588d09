//! The regulator's report (`GetReport`, docs/REPORT.md) as text for tools:
//! CSV with one header line and one record per row, or one JSON object per
//! row. Both keep the node's row order, so two tools printing the same
//! report print the same bytes.
//!
//! The CSV's columns are the union of every row kind's figures
//! ([`CSV_COLUMNS`]); a row leaves the columns of other kinds empty, as it
//! does `measured_kg` for a tank never re-gauged. Values are quoted as
//! RFC 4180 says when they hold a comma, a quote or a line break (only a
//! tank's product can). Lines end with `\n`.

use pb::report_row::Row;
use pledge_proto::v1 as pb;
use serde_json::Value;

/// The CSV's columns, in order.
pub const CSV_COLUMNS: [&str; 21] = [
    "kind",
    "size",
    "warehouse_id",
    "tank_id",
    "product",
    "holder_id",
    "bank_id",
    "currency",
    "capacity_kg",
    "certified_kg",
    "measured_kg",
    "receipted_kg",
    "pledged_kg",
    "shortfall_kg",
    "held_kg",
    "pledged_share_bp",
    "active_pledges",
    "exposure_minor",
    "collateral_value_minor",
    "unpriced_pledges",
    "unpriced_exposure_minor",
];

/// The columns holding text; every other holds an integer (or nothing).
const TEXT_COLUMNS: [&str; 7] = [
    "kind",
    "warehouse_id",
    "tank_id",
    "product",
    "holder_id",
    "bank_id",
    "currency",
];

/// The CSV header line.
pub fn csv_header() -> String {
    CSV_COLUMNS.join(",")
}

/// A row as one CSV line, without its line end.
pub fn csv_line(row: &pb::ReportRow) -> String {
    let mut record = vec![String::new(); CSV_COLUMNS.len()];
    for (column, value) in named_values(row) {
        if let Some(at) = CSV_COLUMNS.iter().position(|c| *c == column) {
            record[at] = csv_field(&value);
        }
    }
    record.join(",")
}

/// A row as one JSON object: `kind` and its figures (`measured_kg` null
/// when the tank was never re-gauged).
pub fn row_json(row: &pb::ReportRow) -> Value {
    let mut object = serde_json::Map::new();
    for (column, value) in named_values(row) {
        let value = match (TEXT_COLUMNS.contains(&column), value.parse::<u64>()) {
            (true, _) => Value::from(value),
            (false, Ok(number)) => Value::from(number),
            (false, Err(_)) => Value::Null,
        };
        object.insert(column.to_owned(), value);
    }
    Value::Object(object)
}

/// The row kind: `header`, `tank`, `holder` or `bank` (`unknown` for a
/// row a newer node added).
pub fn kind(row: &pb::ReportRow) -> &'static str {
    match &row.row {
        Some(Row::Header(_)) => "header",
        Some(Row::Tank(_)) => "tank",
        Some(Row::Holder(_)) => "holder",
        Some(Row::Bank(_)) => "bank",
        None => "unknown",
    }
}

/// The row's columns and values, as text ("" for an unset figure).
pub fn named_values(row: &pb::ReportRow) -> Vec<(&'static str, String)> {
    let mut values = vec![("kind", kind(row).to_owned())];
    match &row.row {
        Some(Row::Header(h)) => values.extend([
            ("size", h.size.to_string()),
            ("warehouse_id", h.warehouse_id.clone()),
        ]),
        Some(Row::Tank(t)) => values.extend(tank_values(t)),
        Some(Row::Holder(h)) => values.extend([
            ("tank_id", h.tank_id.clone()),
            ("holder_id", h.holder_id.clone()),
            ("held_kg", h.held_kg.to_string()),
            ("pledged_kg", h.pledged_kg.to_string()),
            ("pledged_share_bp", h.pledged_share_bp.to_string()),
        ]),
        Some(Row::Bank(b)) => values.extend(bank_values(b)),
        None => {}
    }
    values
}

fn tank_values(t: &pb::TankReportRow) -> [(&'static str, String); 9] {
    [
        ("warehouse_id", t.warehouse_id.clone()),
        ("tank_id", t.tank_id.clone()),
        ("product", t.product.clone()),
        ("capacity_kg", t.capacity_kg.to_string()),
        ("certified_kg", t.certified_kg.to_string()),
        (
            "measured_kg",
            t.measured_kg.map(|kg| kg.to_string()).unwrap_or_default(),
        ),
        ("receipted_kg", t.receipted_kg.to_string()),
        ("pledged_kg", t.pledged_kg.to_string()),
        ("shortfall_kg", t.shortfall_kg.to_string()),
    ]
}

fn bank_values(b: &pb::BankReportRow) -> [(&'static str, String); 7] {
    [
        ("bank_id", b.bank_id.clone()),
        ("currency", b.currency.clone()),
        ("active_pledges", b.active_pledges.to_string()),
        ("exposure_minor", b.exposure_minor.to_string()),
        (
            "collateral_value_minor",
            b.collateral_value_minor.to_string(),
        ),
        ("unpriced_pledges", b.unpriced_pledges.to_string()),
        (
            "unpriced_exposure_minor",
            b.unpriced_exposure_minor.to_string(),
        ),
    ]
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    match value.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", value.replace('"', "\"\"")),
        false => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tank(measured_kg: Option<u64>) -> pb::ReportRow {
        pb::ReportRow {
            row: Some(Row::Tank(pb::TankReportRow {
                tank_id: "T-1".into(),
                warehouse_id: "wh-1".into(),
                product: "Fuel oil, \"380\"".into(),
                capacity_kg: 9,
                certified_kg: 8,
                measured_kg,
                receipted_kg: 7,
                pledged_kg: 6,
                shortfall_kg: 0,
            })),
        }
    }

    #[test]
    fn a_tank_row_fills_its_columns_and_quotes_its_product() {
        assert_eq!(
            csv_line(&tank(None)),
            "tank,,wh-1,T-1,\"Fuel oil, \"\"380\"\"\",,,,9,8,,7,6,0,,,,,,,"
        );
        // measured_kg is column 10; the quoted product holds one comma.
        assert_eq!(csv_line(&tank(Some(5))).split(',').nth(11), Some("5"));
        assert_eq!(csv_header().split(',').count(), CSV_COLUMNS.len());
    }

    #[test]
    fn json_keeps_numbers_as_numbers_and_an_unmeasured_tank_as_null() {
        let unmeasured = row_json(&tank(None));
        assert_eq!(unmeasured["measured_kg"], Value::Null);
        assert_eq!(unmeasured["capacity_kg"], json!(9));
        assert_eq!(unmeasured["product"], json!("Fuel oil, \"380\""));
        assert_eq!(row_json(&tank(Some(5)))["measured_kg"], json!(5));
    }
}
