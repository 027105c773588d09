//! Explicit limits: one client flooding 10,000 requests does not starve
//! another, and is itself told RESOURCE_EXHAUSTED past its rate.

use std::time::Duration;

use pledge_tests::Node;
use tonic::Code;

use super::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[limits]\nrequests_per_second_per_connection = 2000\nmax_concurrent_requests = 64\n",
    )
    .unwrap();
    let node = Node::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let flooder = node.client().await;
    let patient = node.client().await; // its own connection

    let flood = tokio::spawn(async move {
        let requests: Vec<_> = (0..10_000)
            .map(|i| {
                let client = flooder.clone();
                tokio::spawn(async move { client.receipt(&format!("R-{i}")).await })
            })
            .collect();
        let mut limited = 0;
        for request in requests {
            if let Err(error) = request.await.unwrap()
                && error
                    .refusal()
                    .is_some_and(|r| r.code == Code::ResourceExhausted)
            {
                limited += 1;
            }
        }
        limited
    });

    let served = tokio::time::timeout(Duration::from_secs(120), async {
        for n in 0..10 {
            issue(&node, &patient, &format!("WR-{n}"), 1_000).await;
            patient.head().await.unwrap();
        }
    })
    .await;
    assert!(served.is_ok(), "the patient client was starved");
    let limited = flood.await.unwrap();
    assert!(
        limited > 0,
        "10,000 requests at once were never rate limited"
    );
    assert_eq!(patient.list_receipts(None, "", 0).await.unwrap().len(), 10);
}
