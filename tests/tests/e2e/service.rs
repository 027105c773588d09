//! What any gRPC client finds on the port: health checking, reflection, and
//! an entry stream that follows new commits.

use pledge_tests::Node;
use tokio_stream::StreamExt;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use super::common::*;

/// The service names a reflection client of protocol `$version` (`v1` or
/// `v1alpha`; the two differ only in their package) is told of.
macro_rules! list_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let response = responses.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection answer: {response:?}");
        };
        list.service
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<String>>()
    }};
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_reflection_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let channel = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "pledgeledger.v1.LedgerService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    let v1 = list_services!(v1, channel.clone());
    let v1alpha = list_services!(v1alpha, channel);
    for names in [v1, v1alpha] {
        assert!(
            names.contains(&"pledgeledger.v1.LedgerService".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"grpc.health.v1.Health".to_owned()),
            "{names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_following_entry_stream_receives_new_commits() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let size = client.head().await.unwrap().size;
    let mut stream = client.entries(0, true).await.unwrap();
    for seq in 0..size {
        assert_eq!(stream.next().await.unwrap().unwrap().seq, seq);
    }
    let committed = submit(
        &node,
        &client,
        register_tank("T-NEW", "wh-2", "ZS-TEST", "NEW"),
        &["wh-2", INSPECTOR],
    )
    .await
    .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("the stream follows")
        .unwrap()
        .unwrap();
    assert_eq!(next.seq, committed.seq);
    let past = client.entries(u64::MAX, false).await;
    let error = match past {
        Err(error) => error,
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
    };
    assert_eq!(refusal(&error).0, tonic::Code::OutOfRange);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_entries_groups_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(dir.path(), &["--metrics-listen", "127.0.0.1:0"]);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000).await;
    pledge(&node, &client, "PL-A", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    pledge(&node, &client, "PL-B", "WR-1", "trader-a", "bank-b")
        .await
        .unwrap_err();
    let text = node.metrics();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    // certify, issue, pledge, and the attempt entry recording PL-B's refusal
    assert!(text.contains("pledge_entries_total 4"), "{text}");
    assert!(
        text.contains("pledge_refusals_total{reason=\"RECEIPT_PLEDGED\"} 1"),
        "{text}"
    );
    let size = client.head().await.unwrap().size;
    assert!(
        text.contains(&format!("pledge_chain_size {size}")),
        "{text}"
    );
    assert!(text.contains("pledge_commit_seconds_bucket"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_node_meets_read_options_and_states_the_chain_size() {
    use pledge_proto::v1::{self as pb, ledger_service_client::LedgerServiceClient};
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let mut raw = LedgerServiceClient::connect(node.url()).await.unwrap();
    let head = raw
        .get_head(pb::GetHeadRequest { read: None })
        .await
        .unwrap();
    let stated = head
        .metadata()
        .get("pledge-chain-size")
        .expect("the chain size is stated");
    assert_eq!(stated.to_str().unwrap(), head.get_ref().size.to_string());
    let size = head.into_inner().size;

    // Linearizable and "at least the last entry" are met at once.
    let met = pb::ReadOptions {
        at_least_seq: size - 1,
        linearizable: true,
        wait_ms: 0,
    };
    let head = raw
        .get_head(pb::GetHeadRequest { read: Some(met) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(head.size, size);

    // An entry not yet written: waited for (bounded), then refused.
    let ahead = pb::ReadOptions {
        at_least_seq: size + 5,
        linearizable: false,
        wait_ms: 100,
    };
    let refused = raw
        .get_receipt(pb::GetReceiptRequest {
            receipt_id: "WR-NONE".into(),
            read: Some(ahead),
        })
        .await
        .unwrap_err();
    let client_view = pledge_client::ClientError::from(refused);
    let refusal = client_view.refusal().expect("a refusal");
    assert_eq!(refusal.code, tonic::Code::Unavailable, "{refusal:?}");
    let info = refusal.info.as_ref().expect("an ErrorInfo");
    assert_eq!(info.reason, "NOT_CAUGHT_UP");
    assert_eq!(info.metadata["chain_size"], size.to_string());
}
