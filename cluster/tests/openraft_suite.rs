//! openraft's own storage conformance suite (`openraft::testing::Suite`)
//! run against the raft log on disk and the ledger state machine, over an
//! in-memory chain.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::{Arc, Mutex};

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use pledge_cluster::log_store::RaftLog;
use pledge_cluster::state_machine::LedgerMachine;
use pledge_cluster::types::{MemberId, TypeConfig};
use support::MemoryChain;

struct Builder;

impl StoreBuilder<TypeConfig, RaftLog, LedgerMachine<MemoryChain>, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, RaftLog, LedgerMachine<MemoryChain>), StorageError<MemberId>>
    {
        let dir = tempfile::tempdir().unwrap();
        let log = RaftLog::open(&dir.path().join("raft")).unwrap();
        let chain = Arc::new(Mutex::new(MemoryChain::default()));
        let machine = LedgerMachine::open(chain, &dir.path().join("raft")).unwrap();
        Ok((dir, log, machine))
    }
}

#[test]
fn the_raft_log_and_the_ledger_machine_pass_openraft_s_suite() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    type Storage = LedgerMachine<MemoryChain>;
    Suite::<TypeConfig, RaftLog, Storage, Builder, tempfile::TempDir>::test_all(Builder).unwrap();
}
