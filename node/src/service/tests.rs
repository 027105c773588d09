//! The service over a real pipeline and checkpointer, driven without a
//! network: what a caller gets when the state map a proof needs is gone.

use std::sync::Arc;
use std::time::Duration;

use pledge_ledger::crypto;
use pledge_ledger::demo;
use pledge_ledger::ledger::DiskLedger;
use pledge_ledger::testing::{self, DAY_MS, T0, TANK_CAPACITY_KG};
use pledge_proto::v1::{self as pb, ledger_service_server::LedgerService};
use tokio::sync::watch;
use tonic::{Code, Request};
use tonic_types::StatusExt;

use super::LedgerApi;
use crate::NodePublished;
use crate::checkpointer;
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::pipeline::{self, Sizes};

/// A node's service over a ledger holding receipt `R-1`, with checkpoints
/// signed every 50 ms, and the published snapshot it reads.
fn node_with_a_receipt(dir: &std::path::Path) -> (LedgerApi, Arc<NodePublished>) {
    let node_key = testing::node_key();
    let ledger_key = crypto::public_key(&node_key);
    let (mut ledger, _) = DiskLedger::open_dir_as(dir, node_key.clone(), ledger_key, 0).unwrap();
    let setup = [
        (testing::genesis(testing::LEDGER_ID), demo::QUORUM.to_vec()),
        (
            testing::transaction(
                testing::LEDGER_ID,
                "tx-tank",
                testing::register_tank("T-1", "wh-1", TANK_CAPACITY_KG),
            ),
            vec!["wh-1", demo::INSPECTOR],
        ),
        (
            testing::transaction(
                testing::LEDGER_ID,
                "tx-certify",
                testing::certify_stock("T-1", "C-1", 1_000_000, "trader-a", T0),
            ),
            vec!["wh-1", demo::INSPECTOR, "trader-a"],
        ),
        (
            testing::transaction(
                testing::LEDGER_ID,
                "tx-issue",
                testing::issue("R-1", "T-1", "C-1", 1_000_000, T0 + 180 * DAY_MS),
            ),
            vec!["wh-1"],
        ),
    ];
    for (tx, signers) in setup {
        let envelope = testing::sign(&tx, &signers).verify().unwrap();
        let results = ledger.append_group(&[envelope], T0).unwrap();
        assert!(results[0].is_ok(), "{:?}", results[0]);
    }
    let size = ledger.len();
    let (log, state, decider) = ledger.into_parts();
    let (heads_tx, heads) = watch::channel(size);
    let sizes = Sizes {
        max_group: 16,
        queue_depth: 16,
        attempts: pledge_ledger::ledger::AttemptPolicy::OFF,
        apply_wait: Duration::from_millis(5),
    };
    let metrics = Metrics::new();
    let running =
        pipeline::start(log, state, decider, sizes, heads_tx, None, metrics.clone()).unwrap();
    let (checkpoints_tx, checkpoints) = watch::channel(None);
    tokio::spawn(checkpointer::run(
        running.published.clone(),
        node_key,
        heads.clone(),
        checkpoints_tx,
        Duration::from_millis(50),
        None,
    ));
    let api = LedgerApi::new(
        running.published.clone(),
        running.sequencer,
        heads,
        Limits::default(),
        pb::NodeInfo::default(),
        checkpoints,
        metrics,
    );
    (api, running.published)
}

fn prove(receipt_id: &str) -> Request<pb::ProveReceiptRequest> {
    Request::new(pb::ProveReceiptRequest {
        receipt_id: receipt_id.into(),
        wait_ms: 5_000,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proof_at_a_checkpoint_below_the_map_floor_is_refused_state_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let (api, published) = node_with_a_receipt(dir.path());
    let bundle = api.prove_receipt(prove("R-1")).await.unwrap().into_inner();
    let size = bundle.tree_size;
    assert_eq!(size, 4, "the checkpoint covers the issue");

    // The floor passes the only checkpoint there is (as when a newer
    // checkpoint is served and the map at this size pruned meanwhile).
    published.map_floor().serve(size + 1);
    assert_eq!(published.map_floor().advance(), size + 1);

    let refused = api.prove_receipt(prove("R-1")).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let info = refused.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "STATE_PRUNED");
    assert_eq!(info.metadata["tree_size"], size.to_string());
    assert_eq!(info.metadata["floor"], (size + 1).to_string());
    assert!(refused.message().contains("no longer kept"), "{refused:?}");
}
