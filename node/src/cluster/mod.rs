//! Cluster mode (docs/REPLICATION.md): this node is one member of a
//! replicated registry on openraft.
//!
//! ```text
//!  clients ──Submit──▶ LedgerApi ──(not the leader)──▶ ForwardSubmit to the leader's member service
//!                         │ (the leader)
//!                         ▼
//!                      Sequencer ──▶ sequencing::run: decide, raft.client_write(Group)
//!                                                         │ openraft: replicate, majority fdatasync, commit
//!                                                         ▼
//!  every member: LedgerMachine::apply ──▶ MemberChain: check, append, replay into the state ──▶ Published
//!  readers (any member) ◀── Published
//! ```
//!
//! The members are ledger data: the membership entry in force lists each
//! member's id, address and seal key (docs/FORMAT.md §3.1). The `[cluster]`
//! configuration lists the same members (with the client addresses and
//! timing the ledger does not hold) and a member refuses to start when the
//! two disagree. Every member starts from the same initial ledger
//! (`pledge-node cluster-init`), so each chain is byte-identical from entry
//! 0; each member seals the entries it sequences with its own key.

mod chain;
pub mod config;
pub mod init;
mod reads;
mod reconcile;
mod sequencing;
mod transport;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use openraft::error::{InitializeError, RaftError};
use openraft::{Raft, ServerState, SnapshotPolicy};
use pledge_cluster::log_store::RaftLog;
use pledge_cluster::network::Network;
use pledge_cluster::service::{Answer, Member, RaftServer, ReadIndexAnswer};
use pledge_cluster::state_machine::LedgerMachine;
use pledge_cluster::types::{MemberId, MemberNode, TypeConfig};
use pledge_ledger::chain::{ChainCursor, Sealers};
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::ledger::Decider;
use pledge_ledger::model::Membership;
use pledge_ledger::state::StateRead;
use pledge_ledger::store::DiskStateStore;
use pledge_ledger::store::StateStore;
use pledge_ledger::store::log::EntryLog;
use pledge_ledger::view::LedgerRead;
use pledge_proto::cluster::{self as cpb, raft_service_client::RaftServiceClient};
use pledge_proto::v1 as pb;
use tokio::sync::watch;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::NodePublished;
use crate::metrics::Metrics;
use crate::pipeline::{Sequencer, Sizes};
use crate::service::LedgerApi;
use crate::status;
use crate::views;
use config::ClusterConfig;

/// Snapshots larger than this are refused from another member.
const MAX_SNAPSHOT_BYTES: u64 = 1 << 34;
/// The longest the leader tries to confirm its leadership for another
/// member's read index (the asking member says how long it waits).
const READ_INDEX_BOUND: Duration = Duration::from_secs(10);

/// A started member: what the node serves from.
#[derive(Debug)]
pub struct Started {
    /// Submits writes (sequenced here when this member leads).
    pub sequencer: Sequencer,
    /// What readers read.
    pub published: Arc<NodePublished>,
    /// The member's view of the cluster, for the service.
    pub cluster: ClusterHandle,
}

/// Opens the raft log and state machine over the opened ledger, joins the
/// cluster (initialising it on a first start), and starts sequencing.
pub async fn start(
    config: &ClusterConfig,
    data_dir: &std::path::Path,
    (log, state, decider): (EntryLog, DiskStateStore, Decider),
    ledger_key: PublicKey,
    sizes: Sizes,
    heads: watch::Sender<u64>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Started> {
    config.check()?;
    let tls = transport::MemberTls::load(config)?;
    let head = decider.head();
    let key = decider.node_key().clone();
    let membership = state.view().membership()?;
    check_membership(config, membership.as_ref(), &decider.node_public_key())?;
    let sealers = match &membership {
        Some(membership) => Sealers::listed(membership),
        None => Sealers::ledger_key(ledger_key),
    };
    let member_chain = chain::MemberChain::new(log, state, head, sealers, heads, metrics.clone());
    let published = member_chain.published();
    let records = Arc::new(member_chain.records());
    let raft_dir = data_dir.join("raft");
    let raft_log = RaftLog::open(&raft_dir)
        .with_context(|| format!("cannot open the raft log in {}", raft_dir.display()))?;
    let member_chain = Arc::new(Mutex::new(member_chain));
    chain::spawn_idle_upkeep(Arc::downgrade(&member_chain))
        .context("cannot start the state's upkeep thread")?;
    let machine = LedgerMachine::open(member_chain, &raft_dir)?;
    let network = Network::new(tls.as_ref().map(transport::MemberTls::client), records)
        .with_dial(dial_overrides(config));
    let raft = Raft::new(
        config.member_id,
        raft_config(config)?,
        network,
        raft_log,
        machine,
    )
    .await
    .context("cannot start Raft")?;
    initialize(&raft, config, membership.as_ref()).await?;
    let (sequencer, submissions) = crate::pipeline::queue(sizes.queue_depth);
    tokio::spawn(reconcile::run(
        raft.clone(),
        config.member_id,
        published.clone(),
        dial_overrides(config),
    ));
    tokio::spawn(sequencing::run(
        submissions,
        raft.clone(),
        config.member_id,
        published.clone(),
        key,
        sizes,
        quorum_stale_ms(config),
    ));
    Ok(Started {
        sequencer,
        published: published.clone(),
        cluster: ClusterHandle::new(raft, config.clone(), published, tls, metrics),
    })
}

/// This member's key must be the one the ledger's membership lists for it
/// (a member not yet listed waits to be added: it starts, but never
/// sequences). The configuration's member list only adds what the ledger
/// does not hold (client addresses, dial overrides); a difference between
/// the two is reported, and the ledger wins.
fn check_membership(
    config: &ClusterConfig,
    membership: Option<&Membership>,
    own_key: &PublicKey,
) -> anyhow::Result<()> {
    let Some(membership) = membership else {
        anyhow::bail!(
            "the ledger lists no members (no membership entry): a cluster starts from a ledger \
             whose membership entry names its members (pledge-node cluster-init writes one)"
        );
    };
    let listed: Vec<u64> = membership.members.iter().map(|m| m.id).collect();
    let mut configured: Vec<u64> = config.members.iter().map(|m| m.id).collect();
    configured.sort_unstable();
    if listed != configured {
        tracing::warn!(
            ?listed,
            ?configured,
            entry = membership.since,
            "[cluster] members differ from the ledger's membership entry; the ledger's apply"
        );
    }
    match membership.member(config.member_id) {
        Some(me) if me.public_key != *own_key => anyhow::bail!(
            "this node's key {own_key} is not the key the ledger's membership entry {} lists for \
             member {}: start each member with its own member key",
            membership.since,
            config.member_id
        ),
        _ => Ok(()),
    }
}

/// How long a leader may go without hearing from a majority before it takes
/// itself for cut off: the longest election timeout, after which the others
/// elect another.
fn quorum_stale_ms(config: &ClusterConfig) -> u64 {
    config.election_timeout_ms[1]
}

fn raft_config(config: &ClusterConfig) -> anyhow::Result<Arc<openraft::Config>> {
    let [low, high] = config.election_timeout_ms;
    let raft = openraft::Config {
        cluster_name: "pledge-ledger".into(),
        heartbeat_interval: config.heartbeat_interval_ms,
        election_timeout_min: low,
        election_timeout_max: high,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every_entries),
        max_in_snapshot_log_to_keep: config.keep_entries_after_snapshot,
        ..openraft::Config::default()
    };
    Ok(Arc::new(raft.validate().context("[cluster] timing")?))
}

fn dial_overrides(config: &ClusterConfig) -> BTreeMap<MemberId, String> {
    config
        .members
        .iter()
        .filter_map(|m| Some((m.id, config.dial_address(m.id)?)))
        .collect()
}

/// Every member initialises Raft with the voters of the ledger's
/// membership on its first start (safe in openraft: the vote decides);
/// later starts find it already there.
async fn initialize(
    raft: &Raft<TypeConfig>,
    config: &ClusterConfig,
    membership: Option<&Membership>,
) -> anyhow::Result<()> {
    let listed = membership.map(|m| m.members.as_slice()).unwrap_or_default();
    let is_voter = |m: &&pledge_ledger::model::Member| m.voter;
    if !listed
        .iter()
        .filter(is_voter)
        .any(|m| m.id == config.member_id)
    {
        // Not a first member: the leader adds it as a learner.
        return Ok(());
    }
    let members: BTreeMap<MemberId, MemberNode> = listed
        .iter()
        .filter(is_voter)
        .map(|m| {
            let address = config.dial_address(m.id).unwrap_or(m.address.clone());
            (m.id, MemberNode { address })
        })
        .collect();
    match raft.initialize(members).await {
        Ok(()) => {
            tracing::info!("initialised the cluster's membership");
            Ok(())
        }
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
        Err(error) => Err(anyhow::anyhow!("cannot initialise the cluster: {error}")),
    }
}

/// Serves the member-to-member service until the node stops.
pub async fn serve_members(
    listen: SocketAddr,
    cluster: ClusterHandle,
    api: LedgerApi,
    published: Arc<NodePublished>,
    bounds: crate::admission::Bounds,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen for members on {listen}"))?;
    let address = listener.local_addr()?;
    let inner = &cluster.inner;
    let gate = transport::MemberGate::new(
        inner.config.clone(),
        published.clone(),
        inner.raft.clone(),
        inner.metrics.clone(),
    );
    let member = Arc::new(ForwardTarget {
        api,
        published,
        cluster: cluster.clone(),
    });
    let service = RaftServer::new(cluster.raft().clone(), member, MAX_SNAPSHOT_BYTES);
    let service = cpb::raft_service_server::RaftServiceServer::new(service)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let router = tonic::transport::Server::builder()
        .layer(crate::idle::TrackRequestsLayer)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            service, gate,
        ));
    transport::serve(
        listener,
        bounds,
        inner.tls.clone(),
        router,
        inner.metrics.clone(),
    );
    Ok(address)
}

/// What the member service calls into: the node's own submit path and
/// read index.
struct ForwardTarget {
    api: LedgerApi,
    published: Arc<NodePublished>,
    cluster: ClusterHandle,
}

impl Member for ForwardTarget {
    fn position(&self) -> ChainCursor {
        self.published.load().head()
    }

    fn submit(&self, request: cpb::ForwardSubmitRequest) -> Answer<'_> {
        Box::pin(async move {
            let inner = request
                .request
                .ok_or_else(|| status::bad_request("`request` is missing".into()))?;
            self.api.submit_here(tonic::Request::new(inner)).await
        })
    }

    fn read_index(&self, within: Option<Duration>) -> ReadIndexAnswer<'_> {
        let within = within.map_or(READ_INDEX_BOUND, |asked| asked.min(READ_INDEX_BOUND));
        Box::pin(self.cluster.own_read_index(within))
    }
}

/// Where a submission goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// This member leads: sequence here.
    Here,
    /// Forward to this member.
    Leader(MemberId),
    /// No leader is known (an election, or cut off from the majority).
    NoLeader,
}

/// This member's view of the cluster, shared by the request handlers.
#[derive(Clone)]
pub struct ClusterHandle {
    inner: Arc<Inner>,
}

struct Inner {
    raft: Raft<TypeConfig>,
    config: ClusterConfig,
    published: Arc<NodePublished>,
    peers: Mutex<HashMap<MemberId, RaftServiceClient<Channel>>>,
    tls: Option<transport::MemberTls>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("member_id", &self.inner.config.member_id)
            .finish()
    }
}

impl ClusterHandle {
    fn new(
        raft: Raft<TypeConfig>,
        config: ClusterConfig,
        published: Arc<NodePublished>,
        tls: Option<transport::MemberTls>,
        metrics: Arc<Metrics>,
    ) -> ClusterHandle {
        ClusterHandle {
            inner: Arc::new(Inner {
                raft,
                config,
                published,
                peers: Mutex::default(),
                tls,
                metrics,
            }),
        }
    }

    /// This member's Raft.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Where a submission received now goes.
    pub fn route(&self) -> Route {
        let leader = self.inner.raft.metrics().borrow().current_leader;
        match leader {
            Some(id) if id == self.inner.config.member_id => Route::Here,
            Some(id) => Route::Leader(id),
            None => Route::NoLeader,
        }
    }

    /// Sends a submission to the leader and relays its answer unchanged.
    pub async fn forward(
        &self,
        leader: MemberId,
        request: pb::SubmitRequest,
    ) -> Result<pb::SubmitResponse, Status> {
        let mut client = self.peer(leader)?;
        let forwarded = cpb::ForwardSubmitRequest {
            request: Some(request),
            from_member_id: self.inner.config.member_id,
            client_participant: String::new(),
        };
        match client.forward_submit(forwarded).await {
            Ok(answer) => Ok(answer.into_inner()),
            Err(refusal) if is_transport(&refusal) => {
                self.forget(leader);
                Err(self.unavailable(
                    "LEADER_UNREACHABLE",
                    format!(
                        "the leader (member {leader}) could not be reached: {}; retry",
                        refusal.message()
                    ),
                    Some(leader),
                ))
            }
            Err(refusal) => Err(refusal),
        }
    }

    fn peer(&self, id: MemberId) -> Result<RaftServiceClient<Channel>, Status> {
        let mut peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = peers.get(&id) {
            return Ok(client.clone());
        }
        let listed = || {
            let ledger = self.inner.published.load().membership().ok().flatten()?;
            ledger.member(id).map(|m| m.address.clone())
        };
        let address = self
            .inner
            .config
            .dial_address(id)
            .or_else(listed)
            .ok_or_else(|| {
                self.unavailable("NO_LEADER", format!("member {id} is not listed"), None)
            })?;
        let endpoint = transport::endpoint(self.inner.tls.as_ref(), id, address)?;
        let client = RaftServiceClient::new(endpoint.connect_lazy());
        peers.insert(id, client.clone());
        Ok(client)
    }

    fn forget(&self, id: MemberId) {
        let mut peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.remove(&id);
    }

    /// UNAVAILABLE with the leader (if known) and every member's client
    /// address in the ErrorInfo, so a client can go elsewhere.
    pub fn unavailable(&self, reason: &str, message: String, leader: Option<MemberId>) -> Status {
        let config = &self.inner.config;
        let mut metadata = vec![(
            "member_addresses".to_string(),
            config
                .members
                .iter()
                .map(|m| m.client_address.as_str())
                .filter(|a| !a.is_empty())
                .collect::<Vec<_>>()
                .join(","),
        )];
        if let Some(leader) = leader.and_then(|id| config.member(id)) {
            metadata.push(("leader_id".into(), leader.id.to_string()));
            metadata.push(("leader_address".into(), leader.client_address.clone()));
        }
        status::status(Code::Unavailable, message, reason, metadata)
    }

    /// UNAVAILABLE: no leader is known.
    pub fn no_leader(&self) -> Status {
        let last = self.inner.raft.metrics().borrow().current_leader;
        self.unavailable(
            "NO_LEADER",
            "this member knows no leader (an election is under way, or it is cut off from the majority); retry, or try another member".into(),
            last,
        )
    }

    /// The cluster section of GetNodeInfo.
    pub fn info(&self, chain_size: u64) -> pb::ClusterInfo {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let config = &self.inner.config;
        let role = match metrics.state {
            ServerState::Leader => pb::MemberRole::Leader,
            ServerState::Follower => pb::MemberRole::Follower,
            ServerState::Candidate => pb::MemberRole::Candidate,
            ServerState::Learner | ServerState::Shutdown => pb::MemberRole::Learner,
        };
        let raft_members = metrics.membership_config.membership();
        let voters: Vec<MemberId> = raft_members.voter_ids().collect();
        let matched = metrics.replication.clone().unwrap_or_default();
        let ledger = self.inner.published.load().membership().ok().flatten();
        let listed = |id: MemberId| ledger.as_ref().and_then(|m| m.member(id));
        let ids: std::collections::BTreeSet<MemberId> = config
            .members
            .iter()
            .map(|m| m.id)
            .chain(raft_members.nodes().map(|(id, _)| *id))
            .chain(ledger.iter().flat_map(|m| m.members.iter().map(|m| m.id)))
            .collect();
        let members = ids
            .into_iter()
            .map(|id| {
                let configured = config.member(id);
                pb::ClusterMember {
                    member_id: id,
                    name: listed(id)
                        .map(|m| m.name.clone())
                        .or(configured.map(|m| m.name.clone()))
                        .unwrap_or_default(),
                    address: config
                        .dial_address(id)
                        .or(listed(id).map(|m| m.address.clone()))
                        .unwrap_or_default(),
                    client_address: configured
                        .map(|m| m.client_address.clone())
                        .unwrap_or_default(),
                    voter: voters.contains(&id),
                    in_raft: raft_members.nodes().any(|(node, _)| *node == id),
                    matched_index: match id == config.member_id {
                        true => metrics.last_log_index,
                        false => matched.get(&id).copied().flatten().map(|l| l.index),
                    },
                    public_key: listed(id)
                        .map(|m| m.public_key.0.to_vec())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let leader_address = metrics
            .current_leader
            .and_then(|id| config.member(id))
            .map(|l| l.client_address.clone())
            .unwrap_or_default();
        let leader_ready = role == pb::MemberRole::Leader
            && sequencing::not_ready(&metrics, config.member_id, quorum_stale_ms(config)).is_none();
        pb::ClusterInfo {
            member_id: config.member_id,
            role: role.into(),
            term: metrics.current_term,
            leader_id: metrics.current_leader.unwrap_or(0),
            leader_address,
            members,
            applied_index: metrics.last_applied.map(|l| l.index),
            chain_size,
            leader_ready,
            ledger_members: ledger
                .as_ref()
                .map(|m| m.members.iter().map(views::member_spec).collect())
                .unwrap_or_default(),
            membership_entry: ledger.as_ref().map_or(0, |m| m.since),
        }
    }
}

/// The call never reached the leader's handler.
fn is_transport(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown) && status.details().is_empty()
}
