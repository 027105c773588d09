//! Building, signing and submitting the usual operations against a node.

use pledge_client::ops::{self, TxHeader};
use pledge_client::{ClientError, LedgerClient};
use pledge_ledger::testing;
use pledge_proto::v1::{self as pb, transaction::Operation};
use pledge_tests::{DEV_LEDGER_ID, Node};

pub const DAY_MS: u64 = 86_400_000;
/// The development ledger's inspector.
pub const INSPECTOR: &str = "insp-sgs";
/// The development ledger's quorum: both sign governance.
pub const QUORUM: &[&str] = &["admin", "regulator"];

/// The value of the counter `series` (name and labels) on a metrics page,
/// 0 when absent.
pub fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Signs `operation` with the demo keys of `signers` and submits it.
pub async fn submit(
    node: &Node,
    client: &LedgerClient,
    operation: Operation,
    signers: &[&str],
) -> Result<pb::SubmitResponse, ClientError> {
    let tx = TxHeader::new(DEV_LEDGER_ID, signers[0])
        .unwrap()
        .wrap(operation);
    let signers: Vec<_> = signers.iter().map(|id| node.signer(id)).collect();
    client
        .submit(&pledge_client::keys::sign(&tx, &signers))
        .await
}

/// The inspector's certificate of `kg` of trader-a's oil in T-101.
pub fn certify(cert: &str, kg: u64) -> Operation {
    ops::certify_stock(&ops::StockCertificate {
        tank_id: "T-101",
        inspector_id: INSPECTOR,
        certificate_no: cert,
        quantity_kg: kg,
        product_grade: "VLSFO 0.5%S",
        gauged_at_ms: now_ms(),
        depositor_id: "trader-a",
    })
}

/// A tank of `warehouse` at a physical place, calibrated by the inspector.
pub fn register_tank(tank_id: &str, warehouse: &str, facility: &str, number: &str) -> Operation {
    ops::register_tank(
        tank_id,
        warehouse,
        1_000_000,
        "MGO",
        ops::physical_tank_id(facility, number),
        INSPECTOR,
        &format!("CAL-{number}"),
    )
}

/// Certifies stock on wh-1's tank T-101 for trader-a (the warehouse, the
/// inspector and trader-a sign) and issues a receipt.
pub async fn issue(
    node: &Node,
    client: &LedgerClient,
    receipt_id: &str,
    kg: u64,
) -> pb::SubmitResponse {
    let cert = format!("SGS-{receipt_id}");
    submit(
        node,
        client,
        certify(&cert, kg),
        &["wh-1", INSPECTOR, "trader-a"],
    )
    .await
    .unwrap();
    let expires = now_ms() + 180 * DAY_MS;
    let terms = testing::issue_terms(receipt_id, "T-101", &cert, kg, expires);
    submit(node, client, ops::issue_receipt(terms), &["wh-1"])
        .await
        .unwrap()
}

/// trader-a pledges `receipt_id` to `bank`.
pub async fn pledge(
    node: &Node,
    client: &LedgerClient,
    pledge_id: &str,
    receipt_id: &str,
    holder: &str,
    bank: &str,
) -> Result<pb::SubmitResponse, ClientError> {
    let op = ops::register_pledge(
        pledge_id,
        receipt_id,
        bank,
        ops::money(300_000_000, "USD"),
        &format!("LOAN-{pledge_id}"),
        now_ms() + 90 * DAY_MS,
    );
    submit(node, client, op, &[holder, bank]).await
}

/// The refusal's code and ErrorInfo reason.
pub fn refusal(error: &ClientError) -> (tonic::Code, String, String) {
    let refusal = error
        .refusal()
        .unwrap_or_else(|| panic!("not a refusal: {error}"));
    let reason = refusal
        .info
        .as_ref()
        .map(|i| i.reason.clone())
        .unwrap_or_default();
    (refusal.code, reason, refusal.message.clone())
}

/// Streams every entry from the node and replays it, as an auditor would:
/// chain links, seals (under the node's key), signatures and rules.
pub async fn replay_from_node(client: &LedgerClient) -> pledge_ledger::replay::Replayer {
    use tokio_stream::StreamExt;
    let info = client.node_info().await.unwrap();
    let node_key = pledge_ledger::crypto::PublicKey::from_slice(&info.node_public_key).unwrap();
    let mut replayer = pledge_ledger::replay::Replayer::new(Some(node_key));
    let mut stream = client.entries(0, false).await.unwrap();
    while let Some(record) = stream.next().await {
        let record = record.unwrap();
        assert_eq!(record.seq, replayer.entries());
        replayer
            .push_record(&record.record)
            .unwrap_or_else(|e| panic!("audit failed: {e}"));
    }
    replayer
}

/// A TCP connection to `node` from the loopback address `from`
/// (127.0.0.2 and up are loopback too: another "source").
pub async fn connect_from(node: &Node, from: &str) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(node.address.parse().unwrap()).await
}

/// Whether the node closed `stream` within `within`: a read ends (EOF or
/// reset) instead of waiting.
pub async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 64];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // the server's own preface / settings
        }
    }
}

/// A node configuration file in `dir` with these `[limits]` lines.
pub fn node_config(dir: &std::path::Path, limits: &str) -> std::path::PathBuf {
    let config = dir.join("node.toml");
    std::fs::write(&config, format!("[limits]\n{limits}")).unwrap();
    config
}
