//! Three members in one process, each with its raft log on disk and an
//! in-memory chain, talking over the real member-to-member gRPC service on
//! loopback: groups committed through the leader reach every member byte
//! for byte; the leader is stopped and another takes over; a wiped member
//! comes back by snapshot. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use openraft::{Config, Raft, ServerState, SnapshotPolicy};
use pledge_cluster::log_store::RaftLog;
use pledge_cluster::network::Network;
use pledge_cluster::service::{Answer, Member, RaftServer, ReadIndexAnswer};
use pledge_cluster::state_machine::LedgerMachine;
use pledge_cluster::types::{Group, MemberId, MemberNode, TypeConfig};
use pledge_ledger::chain::ChainCursor;
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_proto::cluster::{self as pb, raft_service_server::RaftServiceServer};
use support::{MemoryChain, SharedRecords};
use tokio::task::JoinHandle;

const BOUND: Duration = Duration::from_secs(20);

struct Node {
    id: MemberId,
    raft: Raft<TypeConfig>,
    chain: Arc<Mutex<MemoryChain>>,
    server: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

struct ChainMember(Arc<Mutex<MemoryChain>>);

impl Member for ChainMember {
    fn position(&self) -> ChainCursor {
        self.0.lock().unwrap().cursor
    }

    fn submit(&self, _: pb::ForwardSubmitRequest) -> Answer<'_> {
        Box::pin(async { Err(tonic::Status::unimplemented("no ledger in this test")) })
    }

    fn read_index(&self, _: Option<Duration>) -> ReadIndexAnswer<'_> {
        Box::pin(async { Err(tonic::Status::unimplemented("no reads in this test")) })
    }
}

fn config() -> Arc<Config> {
    let config = Config {
        heartbeat_interval: 100,
        election_timeout_min: 400,
        election_timeout_max: 800,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(8),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Config::default()
    };
    Arc::new(config.validate().unwrap())
}

async fn start(id: MemberId, address: SocketAddr) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(Mutex::new(MemoryChain::default()));
    let log = RaftLog::open(&dir.path().join("raft")).unwrap();
    let machine = LedgerMachine::open(chain.clone(), &dir.path().join("raft")).unwrap();
    let network = Network::new(None, Arc::new(SharedRecords(chain.clone())));
    let raft = Raft::new(id, config(), network, log, machine)
        .await
        .unwrap();
    let service = RaftServer::new(raft.clone(), Arc::new(ChainMember(chain.clone())), 1 << 30);
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(RaftServiceServer::new(service))
            .serve_with_incoming(incoming)
            .await;
    });
    Node {
        id,
        raft,
        chain,
        server,
        _dir: dir,
    }
}

async fn stop(node: Node) {
    node.server.abort();
    let _ = node.raft.shutdown().await;
}

fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The next group after the chain's head: `count` entries sealed by `member`.
fn next_group(head: ChainCursor, count: u64, member: u8) -> Group {
    let key = SigningKey::from_bytes(&[member; 32]);
    let party = SigningKey::from_bytes(&[9; 32]);
    let mut prev = head.head_hash;
    let entries = (head.next_seq..head.next_seq + count)
        .map(|seq| {
            let envelope = EnvelopeBuilder::from_bytes(format!("\x12\x06tx{seq:04}").into_bytes())
                .sign("bank-a", &party)
                .build();
            let time = head.head_time_ms.max(1_700_000_000_000) + seq;
            let sealed = Entry::seal_new_sealed(seq, prev, time, envelope, &key);
            prev = sealed.hash;
            sealed
        })
        .collect();
    Group {
        first_seq: head.next_seq,
        entries,
    }
}

async fn leader_among(nodes: &[&Node]) -> MemberId {
    let deadline = Instant::now() + BOUND;
    loop {
        for node in nodes {
            let metrics = node.raft.metrics().borrow().clone();
            if metrics.state == ServerState::Leader {
                return node.id;
            }
        }
        assert!(Instant::now() < deadline, "no leader within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn write_groups(leader: &Node, groups: usize) {
    for _ in 0..groups {
        let head = leader.chain.lock().unwrap().cursor;
        let group = next_group(head, 3, leader.id as u8);
        tokio::time::timeout(BOUND, leader.raft.client_write(group))
            .await
            .expect("a write was not committed in time")
            .unwrap();
    }
}

/// Waits until every node has `size` entries, then checks their records match.
async fn converged(nodes: &[&Node], size: u64) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + BOUND;
    while nodes
        .iter()
        .any(|n| n.chain.lock().unwrap().cursor.next_seq < size)
    {
        assert!(
            Instant::now() < deadline,
            "members did not reach {size} entries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = nodes[0].chain.lock().unwrap().records.clone();
    for node in &nodes[1..] {
        assert_eq!(
            node.chain.lock().unwrap().records,
            first,
            "member {} differs",
            node.id
        );
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_replicate_survive_a_leader_stop_and_reach_a_wiped_member_by_snapshot() {
    let addresses: Vec<SocketAddr> = (0..3).map(|_| free_address()).collect();
    let members: BTreeMap<MemberId, MemberNode> = (1..=3)
        .map(|id| {
            let address = format!("http://{}", addresses[id as usize - 1]);
            (id, MemberNode { address })
        })
        .collect();
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        nodes.push(start(id, addresses[id as usize - 1]).await);
    }
    nodes[0].raft.initialize(members).await.unwrap();

    let refs: Vec<&Node> = nodes.iter().collect();
    let leader = leader_among(&refs).await;
    write_groups(&nodes[leader as usize - 1], 10).await;
    let before = converged(&refs, 30).await;

    // stop the leader: another takes over and goes on
    let stopped = nodes.remove(leader as usize - 1);
    let stopped_id = stopped.id;
    stop(stopped).await;
    let started = Instant::now();
    let survivors: Vec<&Node> = nodes.iter().collect();
    let new_leader = leader_among(&survivors).await;
    assert_ne!(new_leader, stopped_id);
    let leader_node = nodes.iter().find(|n| n.id == new_leader).unwrap();
    write_groups(leader_node, 10).await;
    eprintln!(
        "first write on the new leader {:?} after the stop",
        started.elapsed()
    );
    let after = converged(&survivors, 60).await;
    assert_eq!(after[..30], before[..], "committed entries changed");

    // the stopped member comes back wiped: the log it lacks was purged
    // behind a snapshot, so it catches up by snapshot
    let wiped = start(stopped_id, addresses[stopped_id as usize - 1]).await;
    nodes.push(wiped);
    let everyone: Vec<&Node> = nodes.iter().collect();
    let leader_node = nodes.iter().find(|n| n.id == new_leader).unwrap();
    write_groups(leader_node, 2).await;
    let all = converged(&everyone, 66).await;
    assert_eq!(all[..60], after[..]);
    let wiped = nodes.iter().find(|n| n.id == stopped_id).unwrap();
    let snapshot = wiped.raft.metrics().borrow().snapshot;
    assert!(
        snapshot.is_some(),
        "the wiped member caught up without a snapshot"
    );
    for node in nodes {
        stop(node).await;
    }
}
