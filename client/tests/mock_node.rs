//! The client library and `pledgectl` against a stand-in node: a tonic
//! server over the ledger's own sequencer (`Ledger<MemoryStore>`), enough
//! to exercise every path of the client until the real node's end-to-end
//! tests exist. Refusals carry the ledger's rejection as the node does:
//! the gRPC code of its kind and an `ErrorInfo` with its reason and fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use pledge_client::keys::{self, Signer};
use pledge_client::ops::{self, TxHeader};
use pledge_client::{ClientError, LedgerClient, audit, export, pb};
use pledge_ledger::crypto;
use pledge_ledger::envelope::Envelope;
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::ledger::Ledger;
use pledge_ledger::store::{MemoryStore, Store};
use pledge_ledger::{Rejection, RejectionKind};
use pledge_proto::v1::ledger_service_server::{LedgerService, LedgerServiceServer};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

const LEDGER_ID: &str = "zhoushan-test";
const T0: u64 = 1_800_000_000_000;
const DAY_MS: u64 = 86_400_000;
/// Receipts the stand-in lists (synthetic, to exercise paging).
const LISTED: usize = 250;

/// (id, role, key seed)
const PARTIES: &[(&str, pb::Role, u8)] = &[
    ("admin", pb::Role::Admin, 1),
    ("wh-1", pb::Role::Warehouse, 2),
    ("trader-a", pb::Role::Holder, 4),
    ("bank-a", pb::Role::Bank, 6),
    ("bank-b", pb::Role::Bank, 7),
];

fn signer(id: &str) -> Signer {
    let (_, _, seed) = PARTIES.iter().find(|(p, _, _)| *p == id).unwrap();
    Signer::new(id, SigningKey::from_bytes(&[*seed; 32]))
}

fn node_key() -> SigningKey {
    SigningKey::from_bytes(&[100; 32])
}

struct StandIn {
    ledger: Mutex<Ledger<MemoryStore>>,
}

fn refusal(rejection: &Rejection) -> Status {
    let code = match rejection.kind() {
        RejectionKind::InvalidArgument => tonic::Code::InvalidArgument,
        RejectionKind::Unauthenticated => tonic::Code::Unauthenticated,
        RejectionKind::PermissionDenied => tonic::Code::PermissionDenied,
        RejectionKind::AlreadyExists => tonic::Code::AlreadyExists,
        RejectionKind::NotFound => tonic::Code::NotFound,
        _ => tonic::Code::FailedPrecondition,
    };
    let fields: std::collections::HashMap<_, _> = rejection.fields().into_iter().collect();
    let details = ErrorDetails::with_error_info(rejection.reason(), "pledgeledger.v1", fields);
    Status::with_error_details(code, rejection.to_string(), details)
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl LedgerService for StandIn {
    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let raw = request.into_inner().envelope.unwrap_or_default();
        let envelope =
            Envelope::try_from(raw).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let verified = envelope
            .verify()
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        let mut ledger = self.ledger.lock().unwrap();
        let now = ledger.store().head().head_time_ms + 1000;
        let mut results = ledger
            .append_group(&[verified], now)
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let committed = results.remove(0).map_err(|r| refusal(&r))?;
        Ok(Response::new(pb::SubmitResponse {
            seq: committed.seq,
            entry_hash: committed.entry_hash.0.to_vec(),
            seal: committed.seal.to_vec(),
            time_ms: committed.time_ms,
            duplicate: committed.duplicate,
        }))
    }

    async fn get_node_info(
        &self,
        _: Request<pb::GetNodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfo>, Status> {
        let ledger = self.ledger.lock().unwrap();
        Ok(Response::new(pb::NodeInfo {
            ledger_id: LEDGER_ID.into(),
            node_public_key: ledger.node_public_key().0.to_vec(),
            genesis_hash: ledger.store().entry(0).unwrap().hash().0.to_vec(),
            version: "stand-in".into(),
        }))
    }

    async fn get_head(&self, _: Request<pb::GetHeadRequest>) -> Result<Response<pb::Head>, Status> {
        let ledger = self.ledger.lock().unwrap();
        let head = ledger.store().head();
        Ok(Response::new(pb::Head {
            size: head.next_seq,
            head_hash: head.head_hash.0.to_vec(),
            head_time_ms: head.head_time_ms,
            tree_root: ledger.store().tree_root(head.next_seq).unwrap().to_vec(),
        }))
    }

    async fn get_receipt(
        &self,
        request: Request<pb::GetReceiptRequest>,
    ) -> Result<Response<pb::ReceiptView>, Status> {
        let id = request.into_inner().receipt_id;
        Err(refusal(&Rejection::ReceiptNotFound { id }))
    }

    type ListReceiptsStream = Boxed<pb::ReceiptView>;

    async fn list_receipts(
        &self,
        request: Request<pb::ListReceiptsRequest>,
    ) -> Result<Response<Self::ListReceiptsStream>, Status> {
        let request = request.into_inner();
        let limit = match request.limit {
            0 => 100,
            n => n.min(1000) as usize,
        };
        let page: Vec<Result<pb::ReceiptView, Status>> = (0..LISTED)
            .map(|i| format!("R-{i:04}"))
            .filter(|id| *id > request.after_receipt_id)
            .take(limit)
            .map(|id| {
                Ok(pb::ReceiptView {
                    terms: Some(pb::IssueReceipt {
                        receipt_id: id,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(page))))
    }

    async fn get_pledge(
        &self,
        _: Request<pb::GetPledgeRequest>,
    ) -> Result<Response<pb::PledgeView>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    async fn get_tank(
        &self,
        _: Request<pb::GetTankRequest>,
    ) -> Result<Response<pb::TankView>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    async fn get_participant(
        &self,
        _: Request<pb::GetParticipantRequest>,
    ) -> Result<Response<pb::ParticipantView>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    type StreamEntriesStream = Boxed<pb::EntryRecord>;

    async fn stream_entries(
        &self,
        request: Request<pb::StreamEntriesRequest>,
    ) -> Result<Response<Self::StreamEntriesStream>, Status> {
        let from = request.into_inner().from_seq;
        let ledger = self.ledger.lock().unwrap();
        let store = ledger.store();
        let records: Vec<Result<pb::EntryRecord, Status>> = (from..store.len())
            .map(|seq| {
                Ok(pb::EntryRecord {
                    seq,
                    record: store.record(seq).unwrap(),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(records))))
    }
}

/// Starts a stand-in node on 127.0.0.1:0 holding a genesis; returns its URL.
async fn start_node() -> String {
    let specs = PARTIES
        .iter()
        .map(|(id, role, _)| ops::participant_spec(id, id, &[*role], &signer(id).public_key()))
        .collect();
    let mut header = TxHeader::new(LEDGER_ID, "admin")
        .unwrap()
        .with_tx_id("genesis");
    header.client_time_ms = T0;
    let genesis = keys::sign(&header.wrap(ops::genesis(specs)), &[signer("admin")]);
    let mut ledger = Ledger::new(MemoryStore::new(), node_key());
    ledger
        .append_group(&[genesis.verify().unwrap()], T0)
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let service = StandIn {
        ledger: Mutex::new(ledger),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(LedgerServiceServer::new(service))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

async fn submit(
    client: &LedgerClient,
    op: pb::transaction::Operation,
    by: &[&str],
) -> Result<pb::SubmitResponse, ClientError> {
    let signers: Vec<Signer> = by.iter().map(|id| signer(id)).collect();
    let tx = TxHeader::new(LEDGER_ID, by[0]).unwrap().wrap(op);
    client.submit(&keys::sign(&tx, &signers)).await
}

/// Tank, stock and receipt R-1 of 1,000 t held by trader-a.
async fn receipt(client: &LedgerClient) {
    let steps = [
        ops::register_tank("T-1", "wh-1", 50_000_000, "VLSFO 0.5%S"),
        ops::certify_stock("T-1", "SGS Zhoushan", "C-1", 1_000_000, "trader-a"),
        ops::issue_receipt(pb::IssueReceipt {
            receipt_id: "R-1".into(),
            tank_id: "T-1".into(),
            inspection_agency: "SGS Zhoushan".into(),
            certificate_no: "C-1".into(),
            product_grade: "VLSFO 0.5%S".into(),
            specification: "ISO 8217:2017 RMG 380".into(),
            quantity_kg: 1_000_000,
            customs_status: pb::CustomsStatus::Bonded as i32,
            customs_reference: "ZS-2026-000123".into(),
            expires_at_ms: T0 + 3650 * DAY_MS,
            loss_allowance_ppm: 3_000,
            insurance_reference: "PICC-OIL-77".into(),
        }),
    ];
    for op in steps {
        submit(client, op, &["wh-1"]).await.unwrap();
    }
}

fn pledge_op(pledge_id: &str, bank: &str) -> pb::transaction::Operation {
    ops::register_pledge(
        pledge_id,
        "R-1",
        bank,
        ops::money(450_000_000, "USD"),
        "LOAN",
        T0 + 3000 * DAY_MS,
    )
}

#[tokio::test]
async fn writes_refusals_and_retries() {
    let client = LedgerClient::connect(&start_node().await).await.unwrap();
    assert_eq!(client.node_info().await.unwrap().ledger_id, LEDGER_ID);
    receipt(&client).await;

    let tx = TxHeader::new(LEDGER_ID, "trader-a")
        .unwrap()
        .wrap(pledge_op("PL-1", "bank-a"));
    let envelope = keys::sign(&tx, &[signer("trader-a"), signer("bank-a")]);
    let first = client.clone().submit(&envelope).await.unwrap();
    assert_eq!(first.seq, 4);
    assert!(!first.duplicate);
    let retry = client.submit(&envelope).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.seq, first.seq);

    let error = submit(
        &client,
        pledge_op("PL-2", "bank-b"),
        &["trader-a", "bank-b"],
    )
    .await
    .unwrap_err();
    let refusal = error
        .refusal()
        .unwrap_or_else(|| panic!("not a refusal: {error}"));
    assert_eq!(refusal.code, tonic::Code::FailedPrecondition);
    let info = refusal.info.as_ref().unwrap();
    assert_eq!(info.reason, "RECEIPT_PLEDGED");
    assert_eq!(info.domain, "pledgeledger.v1");
    assert!(
        info.metadata.values().any(|v| v == "R-1"),
        "{:?}",
        info.metadata
    );

    let error = client.receipt("R-9").await.unwrap_err();
    assert_eq!(error.refusal().unwrap().code, tonic::Code::NotFound);
    assert_eq!(client.head().await.unwrap().size, 5);
}

#[tokio::test]
async fn paging_follows_the_cursor() {
    let client = LedgerClient::connect(&start_node().await).await.unwrap();
    let page = client.list_receipts(None, "R-0010", 5).await.unwrap();
    let ids: Vec<_> = page
        .iter()
        .map(|r| r.terms.clone().unwrap().receipt_id)
        .collect();
    assert_eq!(ids, ["R-0011", "R-0012", "R-0013", "R-0014", "R-0015"]);
    for page_size in [1000, 100, 7] {
        let all = client.list_all_receipts(None, page_size).await.unwrap();
        assert_eq!(all.len(), LISTED, "page size {page_size}");
    }
}

#[tokio::test]
async fn audits_of_the_stream_and_of_an_export_agree() {
    let client = LedgerClient::connect(&start_node().await).await.unwrap();
    receipt(&client).await;
    let key = audit::node_key_of(&client).await.unwrap();
    assert_eq!(key, crypto::public_key(&node_key()));
    let verdict = audit::audit_node(&client, key, &mut |_| {}).await.unwrap();
    let head = client.head().await.unwrap();
    assert_eq!(
        verdict.to_string(),
        format!(
            "verified 4 entries, head hash {}",
            hex::encode(&head.head_hash)
        )
    );

    let mut file = Vec::new();
    let mut stream = client.entries(0, false).await.unwrap();
    while let Some(entry) = stream.next().await {
        export::write_record(&mut file, &entry.unwrap().record).unwrap();
    }
    let records = export::ExportReader::new(file.as_slice());
    let from_file = audit::audit_records(records, key, &mut |_| {}).unwrap();
    assert_eq!(from_file, verdict);
    assert_eq!(client.entry(2).await.unwrap().seq, 2);
}

#[tokio::test]
async fn an_unreachable_node_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = LedgerClient::connect(&format!("http://{addr}"))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error}");
    assert!(matches!(
        LedgerClient::connect("not a url").await.unwrap_err(),
        ClientError::InvalidEndpoint { .. }
    ));
}

// ----- pledgectl, the binary -----

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn pledgectl(node: &str, args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pledgectl"))
        .arg("--node")
        .arg(node)
        .args(args)
        .env_remove("PLEDGE_LEDGER_ID")
        .output()
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn key_files(dir: &Path) -> impl Fn(&str) -> String {
    for (id, _, _) in PARTIES {
        KeyFile::new(id, &signer(id).key)
            .write(&dir.join(format!("{id}.json")))
            .unwrap();
    }
    let dir = dir.to_owned();
    move |id| dir.join(format!("{id}.json")).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pledgectl_cosigns_is_refused_exports_and_audits() {
    let node = start_node().await;
    let client = LedgerClient::connect(&node).await.unwrap();
    receipt(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_files(dir.path());
    let draft = dir.path().join("pledge.json").display().to_string();
    let pledge = |id: &'static str, bank: &'static str| {
        vec![
            "pledge",
            "register",
            "--pledge-id",
            id,
            "--receipt-id",
            "R-1",
            "--bank",
            bank,
            "--amount-minor",
            "450000000",
            "--currency",
            "USD",
            "--loan-ref",
            "LOAN-1",
            "--maturity",
            "2099-01-01T00:00:00Z",
        ]
    };

    // The trader writes a draft; the bank signs it; the trader submits it.
    let mut args = pledge("PL-1", "bank-a");
    let trader = key("trader-a");
    args.extend(["--key", &trader, "--draft-out", &draft]);
    let run = pledgectl(&node, &args).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bank = key("bank-a");
    let run = pledgectl(&node, &["sign", &draft, "--key", &bank]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = pledgectl(&node, &["--json", "submit", &draft]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answer: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answer["seq"], 4);
    assert_eq!(answer["operation"], "register_pledge");

    // A second pledge of the same receipt is refused with exit code 2.
    let mut args = pledge("PL-2", "bank-b");
    let bank_b = key("bank-b");
    args.extend(["--key", &trader, "--key", &bank_b]);
    let run = pledgectl(&node, &args).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("FAILED_PRECONDITION"), "{}", run.stderr);
    assert!(run.stderr.contains("RECEIPT_PLEDGED"), "{}", run.stderr);

    // Export, then audit the file with a pinned node key, then tamper with it.
    let export = dir.path().join("chain.bin");
    let export_path = export.display().to_string();
    let run = pledgectl(&node, &["export", "--out", &export_path]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let node_key = crypto::public_key(&node_key()).to_hex();
    let run = pledgectl(
        &node,
        &["audit", "--file", &export_path, "--node-key", &node_key],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("verified 5 entries, head hash "),
        "{}",
        run.stdout
    );
    let run = pledgectl(&node, &["audit"]).await;
    assert!(
        run.stdout.starts_with("verified 5 entries"),
        "{}{}",
        run.stdout,
        run.stderr
    );

    let mut bytes = std::fs::read(&export).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0x01;
    std::fs::write(&export, &bytes).unwrap();
    let run = pledgectl(
        &node,
        &["audit", "--file", &export_path, "--node-key", &node_key],
    )
    .await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("entry 4 is bad: "), "{}", run.stdout);

    let run = pledgectl(&node, &["entries", "--from", "3"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert!(run.stdout.contains("register_pledge"), "{}", run.stdout);
}
