//! The regulator's report through a real node: `GetReport`'s rows equal the
//! report computed from a replay of the node's streamed chain at the
//! header's size; `pledgectl report --csv` and `--json` carry the same
//! figures; a bad warehouse id is refused naming the field.

use std::process::{Command, Output};

use pledge_client::ops;
use pledge_client::pb::report_row::Row;
use pledge_client::{LedgerClient, report as text};
use pledge_ledger::report::{self, ReportScope};
use pledge_proto::v1 as pb;
use pledge_tests::{Node, binary};
use serde_json::Value;
use tonic::Code;

use super::common::*;

/// The demo genesis's price reporter `price-desk` assesses the grade at
/// USD 612.50/t.
async fn assess_usd(node: &Node, client: &LedgerClient) {
    let op = ops::assess_price(
        "price-desk",
        "VLSFO 0.5%S",
        ops::money(61_250, "USD"),
        now_ms(),
    );
    submit(node, client, op, &["price-desk"]).await.unwrap();
}

/// WR-R1 (1,000 t) pledged to bank-a for USD 3,000,000.00 (priced);
/// WR-R2 (500 t) pledged to bank-b for CNY 1,000,000.00 (no CNY price);
/// T-101 re-gauged 100 t short of its receipts.
async fn build_lifecycle(node: &Node, client: &LedgerClient) {
    assess_usd(node, client).await;
    issue(node, client, "WR-R1", 1_000_000).await;
    issue(node, client, "WR-R2", 500_000).await;
    pledge(node, client, "PL-R1", "WR-R1", "trader-a", "bank-a")
        .await
        .unwrap();
    let cny = ops::register_pledge(
        "PL-R2",
        "WR-R2",
        "bank-b",
        ops::money(100_000_000, "CNY"),
        "LOAN-PL-R2",
        now_ms() + 90 * DAY_MS,
    );
    submit(node, client, cny, &["trader-a", "bank-b"])
        .await
        .unwrap();
    let receipted = client.tank("T-101").await.unwrap().receipted_kg;
    let gauged = ops::gauging(INSPECTOR, "SGS-RG-R", receipted - 100_000, now_ms());
    submit(
        node,
        client,
        ops::regauge_tank("T-101", gauged),
        &[INSPECTOR],
    )
    .await
    .unwrap();
}

fn ctl(node: &Node, args: &[&str]) -> Output {
    Command::new(binary("pledgectl"))
        .args(["--node", &node.url()])
        .args(args)
        .output()
        .unwrap()
}

fn ctl_ok(node: &Node, args: &[&str]) -> String {
    let output = ctl(node, args);
    assert!(
        output.status.success(),
        "pledgectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn tank_row<'a>(rows: &'a [pb::ReportRow], id: &str) -> &'a pb::TankReportRow {
    rows.iter()
        .find_map(|row| match &row.row {
            Some(Row::Tank(tank)) if tank.tank_id == id => Some(tank),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no row of tank {id}"))
}

fn bank_row<'a>(rows: &'a [pb::ReportRow], id: &str) -> &'a pb::BankReportRow {
    rows.iter()
        .find_map(|row| match &row.row {
            Some(Row::Bank(bank)) if bank.bank_id == id => Some(bank),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no row of bank {id}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nodes_report_is_the_report_of_its_replayed_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    build_lifecycle(&node, &client).await;

    let rows = client.report("").await.unwrap();
    let Some(Row::Header(header)) = &rows[0].row else {
        panic!("the first row is not the header: {:?}", rows[0]);
    };
    assert_eq!(header.size, client.head().await.unwrap().size);

    // StreamEntries → replay → report, at the header's size.
    let replayer = replay_from_node(&client).await;
    assert_eq!(replayer.entries(), header.size);
    let replayed = report::report(replayer.state(), header.size, ReportScope::All).unwrap();
    let mut expected = vec![report::wire::header(header.size, &ReportScope::All)];
    expected.extend(replayed.iter().map(report::wire::row));
    assert_eq!(rows, expected);

    // The figures the lifecycle set, by hand.
    let tank = tank_row(&rows, "T-101");
    assert_eq!(tank.shortfall_kg, 100_000);
    assert_eq!(tank.measured_kg, Some(tank.receipted_kg - 100_000));
    assert_eq!(tank.certified_kg, tank.receipted_kg - 100_000);
    assert!(tank.pledged_kg >= 1_500_000);
    let bank_a = bank_row(&rows, "bank-a");
    // 1,000 t × USD 612.50 = USD 612,500.00.
    assert_eq!(
        (
            bank_a.currency.as_str(),
            bank_a.exposure_minor,
            bank_a.collateral_value_minor
        ),
        ("USD", 300_000_000, 61_250_000)
    );
    let bank_b = bank_row(&rows, "bank-b");
    assert_eq!(
        (
            bank_b.currency.as_str(),
            bank_b.unpriced_pledges,
            bank_b.unpriced_exposure_minor
        ),
        ("CNY", 1, 100_000_000)
    );
    assert_eq!(bank_b.collateral_value_minor, 0);

    // One warehouse's report: its tanks only, the same figures.
    let wh2 = client.report("wh-2").await.unwrap();
    let wh2_replayed = report::report(
        replayer.state(),
        header.size,
        ReportScope::Warehouse("wh-2".into()),
    )
    .unwrap();
    assert_eq!(wh2.len(), wh2_replayed.len() + 1);
    assert_eq!(
        wh2[1..],
        wh2_replayed
            .iter()
            .map(report::wire::row)
            .collect::<Vec<_>>()[..]
    );
    assert!(
        wh2.iter()
            .all(|r| !matches!(&r.row, Some(Row::Tank(t)) if t.tank_id == "T-101"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pledgectl_prints_the_same_figures_as_csv_json_and_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    build_lifecycle(&node, &client).await;
    let rows = client.report("").await.unwrap();

    // CSV: the header line, then one line a row, as the library renders them.
    let csv = ctl_ok(&node, &["report", "--csv"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(text::csv_header().as_str()));
    let printed: Vec<&str> = lines.collect();
    let rendered: Vec<String> = rows.iter().map(text::csv_line).collect();
    assert_eq!(printed, rendered);
    // Parsed by its columns: T-101's shortfall, bank-a's collateral value.
    let column = |name: &str| text::CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let cells = |prefix: &str| -> Vec<String> {
        let line = printed.iter().find(|l| l.starts_with(prefix)).unwrap();
        line.split(',').map(str::to_owned).collect()
    };
    let t101 = cells("tank,,wh-1,T-101,");
    assert_eq!(t101[column("shortfall_kg")], "100000");
    let bank_a = cells("bank,,,,,,bank-a,USD,");
    assert_eq!(bank_a[column("collateral_value_minor")], "61250000");

    // JSON: one object a row, the same figures.
    let json = ctl_ok(&node, &["--json", "report"]);
    let objects: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<Value> = rows.iter().map(text::row_json).collect();
    assert_eq!(objects, expected);
    let tank = objects
        .iter()
        .find(|o| o["kind"] == "tank" && o["tank_id"] == "T-101")
        .unwrap();
    assert_eq!(tank["shortfall_kg"], 100_000);

    // The table for people names the size and the tank.
    let Some(Row::Header(header)) = &rows[0].row else {
        panic!("no header");
    };
    let table = ctl_ok(&node, &["report"]);
    assert!(
        table.contains(&format!("at chain size {}", header.size)),
        "{table}"
    );
    assert!(table.contains("T-101"), "{table}");

    // --csv with --json: refused before asking the node.
    assert!(!ctl(&node, &["--json", "report", "--csv"]).status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_warehouse_id_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    for bad in ["wh 1", &"w".repeat(65)] {
        let error = client.report(bad).await.unwrap_err();
        let (code, _, message) = refusal(&error);
        assert_eq!(code, Code::InvalidArgument, "{message}");
        assert!(message.contains("warehouse_id"), "{message}");
    }
    let error = client.report("wh-404").await.unwrap_err();
    let (code, _, message) = refusal(&error);
    assert_eq!(code, Code::NotFound, "{message}");
    assert!(message.contains("wh-404"), "{message}");
    let output = ctl(&node, &["report", "--warehouse", "wh 1"]);
    assert_eq!(output.status.code(), Some(2), "refused: exit code 2");
    assert!(String::from_utf8_lossy(&output.stderr).contains("warehouse_id"));
}
