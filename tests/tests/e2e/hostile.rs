//! Hostile input: each case expects one exact status code and proves nothing
//! changed (the head is the same before and after), and the node keeps
//! serving others.

use std::io::{Read, Write};

use pledge_client::keys::{Signer, sign};
use pledge_client::ops::{self, TxHeader};
use pledge_client::{ClientError, LedgerClient};
use pledge_ledger::envelope::Envelope;
use pledge_proto::v1::{self as pb, transaction::Operation};
use pledge_tests::{DEV_LEDGER_ID, Node};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::common::*;

/// Sends raw bytes as the body of a unary gRPC call.
#[derive(Debug, Clone, Default)]
struct RawCodec;

#[derive(Debug)]
struct RawEncoder;
#[derive(Debug)]
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

async fn raw_submit(node: &Node, body: Vec<u8>) -> tonic::Status {
    let channel = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(64 << 20);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/pledgeledger.v1.LedgerService/Submit",
    );
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .unwrap_err()
}

/// Submits `envelope` and checks the exact code, the reason when given, and
/// that the head did not move.
async fn refused_with(
    client: &LedgerClient,
    envelope: &Envelope,
    code: Code,
    reason: Option<&str>,
) {
    let before = client.head().await.unwrap();
    let error = client.submit(envelope).await.unwrap_err();
    let (found, found_reason, message) = refusal(&error);
    assert_eq!(found, code, "{message}");
    if let Some(reason) = reason {
        assert_eq!(found_reason, reason, "{message}");
    }
    assert_eq!(
        client.head().await.unwrap(),
        before,
        "a refusal changed the head"
    );
}

fn tx(op: Operation) -> pb::Transaction {
    TxHeader::new(DEV_LEDGER_ID, "hostile").unwrap().wrap(op)
}

fn signed(node: &Node, op: Operation, signers: &[&str]) -> Envelope {
    let signers: Vec<Signer> = signers.iter().map(|s| node.signer(s)).collect();
    sign(&tx(op), &signers)
}

fn submit_request(envelope: &Envelope) -> Vec<u8> {
    pb::SubmitRequest {
        envelope: Some(envelope.to_proto()),
    }
    .encode_to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_truncated_and_oversized_requests() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let before = client.head().await.unwrap();

    // Raw bytes that are not a SubmitRequest: refused with the reason, the
    // message type and what failed.
    let garbage = raw_submit(&node, vec![0xff, 0xff, 0xff, 0x07, 0x01]).await;
    assert_eq!(garbage.code(), Code::InvalidArgument, "{garbage:?}");
    let valid = submit_request(&signed(&node, ops::release_pledge("P"), &["bank-a"]));
    let truncated = raw_submit(&node, valid[..valid.len() - 7].to_vec()).await;
    assert_eq!(truncated.code(), Code::InvalidArgument, "{truncated:?}");
    // Field 1 (the envelope, a message) sent as a varint.
    let wrong_type = raw_submit(&node, vec![0x08, 0x07]).await;
    for refused in [garbage, truncated, wrong_type] {
        let error = ClientError::from(refused);
        let info = error.refusal().and_then(|r| r.info.clone()).unwrap();
        assert_eq!(info.reason, "MALFORMED_REQUEST", "{error}");
        assert_eq!(info.metadata["message_type"], "SubmitRequest", "{error}");
        assert!(!info.metadata["error"].is_empty(), "{error}");
    }
    let wrong_type = ClientError::from(raw_submit(&node, vec![0x08, 0x07]).await);
    let info = wrong_type.refusal().and_then(|r| r.info.clone()).unwrap();
    assert!(
        info.metadata["error"].contains("SubmitRequest.envelope"),
        "{wrong_type}"
    );
    let oversized = raw_submit(&node, vec![0u8; 2 << 20]).await;
    assert_eq!(oversized.code(), Code::OutOfRange, "{oversized:?}");
    // A valid envelope whose transaction bytes are garbage.
    let garbage_tx =
        pledge_ledger::envelope::EnvelopeBuilder::from_bytes(vec![0xde, 0xad, 0xbe, 0xef])
            .sign("bank-a", &node.signer("bank-a").key)
            .build();
    refused_with(
        &client,
        &garbage_tx,
        Code::InvalidArgument,
        Some("MALFORMED"),
    )
    .await;
    // A signed transaction with a field this node does not know: field 99,
    // a varint (key 99 << 3 = 0x318, written 0x98 0x06).
    let mut unknown_field = tx(ops::release_pledge("P")).encode_to_vec();
    unknown_field.extend([0x98, 0x06, 0x01]);
    let unknown_field = pledge_ledger::envelope::EnvelopeBuilder::from_bytes(unknown_field)
        .sign("bank-a", &node.signer("bank-a").key)
        .build();
    refused_with(
        &client,
        &unknown_field,
        Code::InvalidArgument,
        Some("UNKNOWN_FIELD"),
    )
    .await;
    let error = client.submit(&unknown_field).await.unwrap_err();
    let info = error.refusal().and_then(|r| r.info.clone()).unwrap();
    assert_eq!(info.metadata["field"], "99", "{error}");
    assert_eq!(info.metadata["path"], "99", "{error}");
    assert_eq!(client.head().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ids_text_and_quantities() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let long = "R".repeat(65);
    let cases: Vec<(Operation, &str)> = vec![
        (ops::transfer_receipt("", "trader-b"), "empty id"),
        (ops::transfer_receipt(&long, "trader-b"), "over-long id"),
        (ops::transfer_receipt("R 1", "trader-b"), "space in id"),
        (
            ops::transfer_receipt("R\u{202e}1", "trader-b"),
            "bidi override in id",
        ),
        (
            ops::cancel_receipt("R-1", "delivered\u{0007}"),
            "control character in text",
        ),
        (
            ops::cancel_receipt("R-1", "ex-tank \u{202e}gnp.exe"),
            "bidi override in text",
        ),
        (certify("C-1", 0), "zero quantity"),
        (
            certify("C-1", 10_000_000_000_000),
            "a ten-million-tonne parcel",
        ),
        (
            ops::register_pledge(
                "P",
                "R",
                "bank-a",
                ops::money(0, "USD"),
                "L",
                now_ms() + DAY_MS,
            ),
            "zero amount",
        ),
        (
            ops::register_pledge(
                "P",
                "R",
                "bank-a",
                ops::money(5, "usd"),
                "L",
                now_ms() + DAY_MS,
            ),
            "bad currency",
        ),
        (
            ops::split_receipt("R-1", &[("a", u64::MAX), ("b", 2)]),
            "split parts overflow u64",
        ),
    ];
    for (op, what) in cases {
        let envelope = signed(&node, op, &["wh-1"]);
        let before = client.head().await.unwrap();
        let error = client.submit(&envelope).await.unwrap_err();
        assert_eq!(refusal(&error).0, Code::InvalidArgument, "{what}: {error}");
        assert_eq!(client.head().await.unwrap(), before, "{what}");
    }
    // Quantities beyond the tank's capacity: a rule, not a decode error. The
    // parties are authenticated, so the refusal is recorded as an attempt
    // entry (docs/FORMAT.md §3.2): the head grows by that entry alone.
    let overflow = signed(
        &node,
        certify("C-big", 200_000_000),
        &["wh-1", INSPECTOR, "trader-a"],
    );
    let before = client.head().await.unwrap();
    let error = client.submit(&overflow).await.unwrap_err();
    let (code, reason, message) = refusal(&error);
    assert_eq!(
        (code, reason.as_str()),
        (Code::FailedPrecondition, "CAPACITY_EXCEEDED"),
        "{message}"
    );
    let attempt = error
        .refusal()
        .and_then(|r| r.info.as_ref())
        .and_then(|i| i.metadata.get("attempt_entry").cloned());
    assert_eq!(attempt, Some(before.size.to_string()), "{message}");
    assert_eq!(client.head().await.unwrap().size, before.size + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_that_do_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 10_000).await;

    let split = ops::split_receipt("WR-1", &[("a", 6_000), ("b", 3_000)]);
    let mismatch = signed(&node, split, &["wh-1", "trader-a"]);
    refused_with(
        &client,
        &mismatch,
        Code::FailedPrecondition,
        Some("SPLIT_MISMATCH"),
    )
    .await;

    let stranger = Signer::new(
        "mallory",
        pledge_ledger::crypto::generate_signing_key().unwrap(),
    );
    let unknown = sign(&tx(ops::freeze_receipt("WR-1", "order")), &[stranger]);
    refused_with(
        &client,
        &unknown,
        Code::Unauthenticated,
        Some("UNKNOWN_SIGNER"),
    )
    .await;

    let mut other_bytes = signed(&node, ops::freeze_receipt("WR-1", "order"), &["regulator"]);
    other_bytes.tx_bytes = tx(ops::freeze_receipt("WR-1", "other order")).encode_to_vec();
    refused_with(
        &client,
        &other_bytes,
        Code::Unauthenticated,
        Some("BAD_SIGNATURE"),
    )
    .await;

    let mut unsigned = signed(&node, ops::freeze_receipt("WR-1", "order"), &["regulator"]);
    unsigned.signatures.clear();
    refused_with(
        &client,
        &unsigned,
        Code::Unauthenticated,
        Some("NO_SIGNATURE"),
    )
    .await;

    let wrong_role = signed(&node, ops::freeze_receipt("WR-1", "order"), &["bank-a"]);
    refused_with(
        &client,
        &wrong_role,
        Code::PermissionDenied,
        Some("MISSING_SIGNATURE"),
    )
    .await;

    let mut twice = signed(&node, ops::freeze_receipt("WR-1", "order"), &["regulator"]);
    twice.signatures.push(twice.signatures[0].clone());
    refused_with(&client, &twice, Code::InvalidArgument, Some("MALFORMED")).await;

    // Validity windows: not open yet, closed, longer than the ledger allows.
    let windows = [
        (3, 4, Code::FailedPrecondition, "TX_NOT_YET_VALID"),
        (-4, -3, Code::FailedPrecondition, "TX_EXPIRED"),
        (-1, 60, Code::InvalidArgument, "VALIDITY_TOO_LONG"),
    ];
    for (from_day, to_day, code, reason) in windows {
        let at = |days: i64| now_ms().saturating_add_signed(days * DAY_MS as i64);
        let window = pb::Transaction {
            not_before_ms: at(from_day),
            not_after_ms: at(to_day),
            ..tx(ops::freeze_receipt("WR-1", "order"))
        };
        let envelope = sign(&window, &[node.signer("regulator")]);
        refused_with(&client, &envelope, code, Some(reason)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_signatures_are_refused_before_any_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, "[limits]\nmax_message_bytes = 4194304\n").unwrap();
    let node = Node::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let client = node.client().await;
    let mut envelope = signed(&node, ops::freeze_receipt("WR-1", "order"), &["regulator"]);
    let one = envelope.signatures[0].clone();
    envelope.signatures = (0..10_000)
        .map(|i| pledge_ledger::envelope::PartySignature {
            signer: format!("s{i}"),
            ..one.clone()
        })
        .collect();
    refused_with(&client, &envelope, Code::InvalidArgument, Some("MALFORMED")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_and_http1_on_the_grpc_port_leave_the_node_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let before = client.head().await.unwrap();
    for payload in [
        b"\x00\x01\x02garbage\xff\xfe".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\xff\xff\xff\xff".to_vec(),
    ] {
        let address = node.address.clone();
        tokio::task::spawn_blocking(move || {
            let mut socket = std::net::TcpStream::connect(address).unwrap();
            socket
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let _ = socket.write_all(&payload);
            let mut answer = Vec::new();
            let _ = socket.read_to_end(&mut answer);
        })
        .await
        .unwrap();
    }
    assert_eq!(client.head().await.unwrap(), before);
    issue(&node, &client, "WR-after", 1_000).await;
    let stream_past = client.entries(u64::MAX, false).await;
    let error = match stream_past {
        Err(error) => error,
        Ok(mut stream) => tokio_stream::StreamExt::next(&mut stream)
            .await
            .unwrap()
            .unwrap_err(),
    };
    assert!(
        matches!(&error, ClientError::Refused(r) if r.code == Code::OutOfRange),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_anyone_can_provoke_are_counted_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(dir.path(), &["--metrics-listen", "127.0.0.1:0"]);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 10_000).await;
    let stranger = Signer::new(
        "mallory",
        pledge_ledger::crypto::generate_signing_key().unwrap(),
    );
    const FLOOD: usize = 40;
    for _ in 0..FLOOD {
        let unknown = sign(
            &tx(ops::freeze_receipt("WR-1", "order")),
            std::slice::from_ref(&stranger),
        );
        let error = client.submit(&unknown).await.unwrap_err();
        assert_eq!(refusal(&error).1, "UNKNOWN_SIGNER");
    }
    // A known participant's refusal is still worth its line.
    let split = ops::split_receipt("WR-1", &[("a", 6_000), ("b", 3_000)]);
    let mismatch = signed(&node, split, &["wh-1", "trader-a"]);
    client.submit(&mismatch).await.unwrap_err();

    let metrics = node.metrics();
    assert!(
        metrics.contains(&format!(
            "pledge_refusals_total{{reason=\"UNKNOWN_SIGNER\"}} {FLOOD}"
        )),
        "{metrics}"
    );
    let log = node.log();
    assert!(log.contains("SPLIT_MISMATCH"), "{log}");
    assert!(!log.contains("UNKNOWN_SIGNER"), "{log}");
}
