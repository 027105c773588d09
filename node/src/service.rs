//! The gRPC `LedgerService`: decode and verify at the edge, hand writes to
//! the sequencer, answer reads from the store.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use pledge_ledger::bundle::{Bundle, BundleError};
use pledge_ledger::checkpoint::SignedCheckpoint;
use pledge_ledger::crypto::KeyCache;
use pledge_ledger::envelope::{Envelope, VerifiedEnvelope};
use pledge_ledger::ledger::Committed;
use pledge_ledger::merkle;
use pledge_ledger::model::{Pledge, PledgeStatus};
use pledge_ledger::rules::valuation::{self, PledgeValuation};
use pledge_ledger::state::StateRead;
use pledge_ledger::store::{ReceiptFilter, StoreError};
use pledge_ledger::text::check_id;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{
    self as pb, ledger_service_server::LedgerService, list_receipts_request::Filter,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

use crate::alerts::{AlertLog, AlertStreamer, SeenRequests};
use crate::checkpointer::Latest;
use crate::cluster::{ClusterHandle, Route};
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::pipeline::Sequencer;
use crate::ratelimit::RateLimit;
use crate::reads::{ReadGate, stated};
use crate::streams::{STREAM_BUFFER, StreamBounds, StreamSlot, StreamSlots};
use crate::{NodePublished, NodeSnapshot};
use crate::{pages, status, views};

/// Default and largest page of `ListReceipts`.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
/// Entries read from the published snapshot at a time when streaming (the
/// channel holds at most `streams::STREAM_BUFFER` of them).
const STREAM_BATCH: u64 = 16;

/// Whether a submission's signers are still to be held to their rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signers {
    ToCharge,
    /// Forwarded by the member it was submitted to, which did.
    Charged,
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The service state shared by every request.
#[derive(Debug, Clone)]
pub struct LedgerApi {
    published: Arc<NodePublished>,
    sequencer: Sequencer,
    heads: watch::Receiver<u64>,
    limits: Limits,
    info: pb::NodeInfo,
    checkpoints: Latest,
    metrics: Arc<Metrics>,
    keys: Arc<KeyCache>,
    cluster: Option<ClusterHandle>,
    /// Turns true when the node begins to stop: following streams end.
    stopping: watch::Receiver<bool>,
    /// The signers' rates, for submissions over a connection that names
    /// no participant (`ratelimit.rs`); `None`: not limited here.
    rate_limit: Option<RateLimit>,
    /// Slots for answer streams, bounded node-wide and per asker.
    streams: StreamSlots,
    /// The alerts derived so far; `None`: this node derives none.
    alerts: Option<AlertLog>,
    /// Signed watch requests seen, so that none is used twice.
    seen_watch_requests: Arc<SeenRequests>,
}

impl LedgerApi {
    /// The node's answer-stream slots, for SIGHUP to apply new bounds.
    pub fn stream_slots(&self) -> StreamSlots {
        self.streams.clone()
    }

    /// A service over the published snapshot and the write pipeline.
    pub fn new(
        published: Arc<NodePublished>,
        sequencer: Sequencer,
        heads: watch::Receiver<u64>,
        limits: Limits,
        info: pb::NodeInfo,
        checkpoints: Latest,
        metrics: Arc<Metrics>,
    ) -> LedgerApi {
        let streams = StreamSlots::new(StreamBounds::of(&limits), metrics.clone());
        LedgerApi {
            published,
            sequencer,
            heads,
            limits,
            info,
            checkpoints,
            metrics,
            keys: Arc::new(KeyCache::new()),
            cluster: None,
            stopping: watch::channel(false).1,
            rate_limit: None,
            streams,
            alerts: None,
            seen_watch_requests: Arc::default(),
        }
    }

    /// Serves `WatchAlerts` from `alerts`.
    pub fn with_alerts(mut self, alerts: AlertLog) -> LedgerApi {
        self.alerts = Some(alerts);
        self
    }

    /// Holds each submission's signers to their rate (`ratelimit.rs`).
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> LedgerApi {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Following streams end (UNAVAILABLE, SHUTTING_DOWN) once `stopping`
    /// turns true, so that they do not hold the node's stop.
    pub fn with_stopping(mut self, stopping: watch::Receiver<bool>) -> LedgerApi {
        self.stopping = stopping;
        self
    }

    /// Cluster mode: submissions go to the leader, GetNodeInfo shows the cluster.
    pub fn with_cluster(mut self, cluster: ClusterHandle) -> LedgerApi {
        self.cluster = Some(cluster);
        self
    }

    /// Routes a submission: sequenced here (a single node, or the
    /// cluster's leader), forwarded to the leader after the checks every
    /// member makes, or refused when no leader is known.
    async fn route_submission(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<pb::SubmitResponse, Status> {
        let Some(cluster) = &self.cluster else {
            return self.submit_envelope(request, Signers::ToCharge).await;
        };
        match cluster.route() {
            Route::Here => self.submit_envelope(request, Signers::ToCharge).await,
            Route::NoLeader => Err(cluster.no_leader()),
            Route::Leader(leader) => {
                let peer_certs = request.peer_certs();
                let inner = request.into_inner();
                let certs = peer_certs.as_deref().map(Vec::as_slice);
                let verified = self.verify_at_edge(certs, inner.envelope.clone())?;
                self.charge_signers(peer_certs.is_some(), &verified)?;
                cluster.forward(leader, inner).await
            }
        }
    }

    /// A submission another member forwarded: this member sequences it
    /// (its signers were held to their rate where it was submitted).
    pub async fn submit_here(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<pb::SubmitResponse, Status> {
        self.submit_envelope(request, Signers::Charged).await
    }

    /// Decodes and verifies the envelope, and under mutual TLS checks that
    /// the connection's participant signed it.
    fn verify_at_edge<C: AsRef<[u8]>>(
        &self,
        peer_certs: Option<&[C]>,
        envelope: Option<pb::SignedEnvelope>,
    ) -> Result<VerifiedEnvelope, Status> {
        let raw = envelope.ok_or_else(|| status::bad_request("`envelope` is missing".into()))?;
        let envelope = Envelope::try_from(raw).map_err(|e| status::envelope(&e.into()))?;
        let verified = envelope
            .verify_with(&self.keys)
            .map_err(|e| status::envelope(&e))?;
        crate::tls::check_carrier(peer_certs, verified.signers())?;
        Ok(verified)
    }

    /// Decode, verify, sequence. The transaction's validity window, and
    /// retries, are the rules' business (in the sequencer).
    async fn submit_envelope(
        &self,
        request: Request<pb::SubmitRequest>,
        signers: Signers,
    ) -> Result<pb::SubmitResponse, Status> {
        let peer_certs = request.peer_certs();
        let envelope = request.into_inner().envelope;
        let verified = self.verify_at_edge(peer_certs.as_deref().map(Vec::as_slice), envelope)?;
        if signers == Signers::ToCharge {
            self.charge_signers(peer_certs.is_some(), &verified)?;
        }
        tracing::Span::current()
            .record("tx_id", verified.tx.tx_id.as_str())
            .record("operation", verified.tx.operation.name());
        let answer = self
            .sequencer
            .submit(verified)
            .await
            .map_err(|e| status::sequencer(&e))?;
        match answer.result {
            Ok(committed) => Ok(committed_response(committed)),
            Err(rejection) => {
                log_refusal(&rejection);
                Err(status::refusal(&rejection, answer.attempt))
            }
        }
    }

    /// Holds the signers of a verified envelope to their rate, unless the
    /// connection has a client certificate (its participant was held to
    /// it already, and signed this) or the transaction is committed (a
    /// retry, answered from the chain: anyone may resend a committed
    /// envelope, so it must not cost its signers). With no rate per
    /// participant, nothing is looked up.
    fn charge_signers(
        &self,
        connection_certified: bool,
        verified: &VerifiedEnvelope,
    ) -> Result<(), Status> {
        let Some(rate_limit) = &self.rate_limit else {
            return Ok(());
        };
        if connection_certified || rate_limit.rates().per_participant == 0 {
            return Ok(());
        }
        let committed = self.read()?.transaction(&verified.tx.tx_id).map_err(|e| {
            self.sequencer.store_failed();
            status::store_on_write(&e)
        })?;
        if committed.is_some() {
            return Ok(());
        }
        rate_limit.admit_signers(verified.signers(), std::time::Instant::now())
    }

    /// The latest published checkpoint once it covers `min_size` entries,
    /// waiting at most `wait_ms` (0: the node's limit, which also caps it).
    async fn checkpoint_covering(
        &self,
        min_size: u64,
        wait_ms: u32,
    ) -> Result<Arc<SignedCheckpoint>, Status> {
        let head = *self.heads.borrow();
        if min_size > head {
            return Err(past_head(
                format!("no checkpoint can cover {min_size} entries: the chain has {head}"),
                head,
            ));
        }
        let limit = self.limits.checkpoint_wait_ms;
        let wait = match u64::from(wait_ms) {
            0 => limit,
            asked => asked.min(limit),
        };
        let mut checkpoints = self.checkpoints.clone();
        let covering = |latest: &Option<Arc<SignedCheckpoint>>| {
            latest
                .as_ref()
                .is_some_and(|c| c.checkpoint.size >= min_size)
        };
        let waited =
            tokio::time::timeout(Duration::from_millis(wait), checkpoints.wait_for(covering)).await;
        match waited {
            Ok(Ok(latest)) => latest.clone().ok_or_else(shutting_down),
            Ok(Err(_)) => Err(shutting_down()),
            Err(_) => {
                let latest = self
                    .checkpoints
                    .borrow()
                    .as_ref()
                    .map_or(0, |c| c.checkpoint.size);
                Err(status::status(
                    Code::Unavailable,
                    format!(
                        "no checkpoint covering {min_size} entries was published within {wait} ms \
                         (the latest covers {latest}); checkpoints follow the chain about every \
                         {} ms: retry",
                        self.limits.checkpoint_interval_ms
                    ),
                    "CHECKPOINT_PENDING",
                    vec![
                        ("min_tree_size".into(), min_size.to_string()),
                        ("latest_tree_size".into(), latest.to_string()),
                    ],
                ))
            }
        }
    }

    /// The published snapshot: reads take no lock and wait for no writer.
    fn read(&self) -> Result<Arc<NodeSnapshot>, Status> {
        Ok(self.published.load())
    }

    /// The published snapshot once it meets the read's options (at least
    /// entry N, linearizable), waiting at most the node's read limit.
    async fn read_fresh(
        &self,
        options: Option<&pb::ReadOptions>,
    ) -> Result<Arc<NodeSnapshot>, Status> {
        let gate = ReadGate {
            heads: &self.heads,
            cluster: self.cluster.as_ref(),
            limit_ms: self.limits.read_wait_ms,
        };
        gate.meet(options).await?;
        self.read()
    }

    fn receipt_view(&self, store: &impl LedgerRead, id: &str) -> Result<pb::ReceiptView, Status> {
        let receipt = store
            .receipt(id)
            .map_err(|e| status::store(&e))?
            .ok_or_else(|| status::not_found("receipt", id))?;
        let pledge = match receipt.active_pledge() {
            Some(pledge_id) => store.pledge(pledge_id).map_err(|e| status::store(&e))?,
            None => None,
        };
        let history = store.receipt_history(id).map_err(|e| status::store(&e))?;
        let standing = tank_standing(store, &receipt.terms.tank_id)?;
        let valuation = match &pledge {
            Some(pledge) => collateral_valuation(store, pledge)?,
            None => None,
        };
        Ok(views::receipt(
            &receipt,
            pledge.as_ref().map(|p| (p, valuation.as_ref())),
            history,
            &standing,
        ))
    }
}

/// An active pledge's collateral valued at the latest price of its grade
/// (`None` for an ended pledge: it secures nothing).
fn collateral_valuation(
    store: &impl StateRead,
    pledge: &Pledge,
) -> Result<Option<PledgeValuation>, Status> {
    if pledge.status != PledgeStatus::Active {
        return Ok(None);
    }
    valuation::pledge_valuation(store, pledge).map_err(|e| status::store(&e))
}

/// What a tank says about the receipts on it: shortfall, revoked custodian.
fn tank_standing(store: &impl StateRead, tank_id: &str) -> Result<views::TankStanding, Status> {
    let Some(tank) = store.tank(tank_id).map_err(|e| status::store(&e))? else {
        return Ok(views::TankStanding::default());
    };
    let warehouse = store
        .participant(&tank.warehouse_id)
        .map_err(|e| status::store(&e))?;
    let revoked_at = warehouse.and_then(|w| w.revoked_at);
    Ok(views::TankStanding::of(&tank, revoked_at))
}

/// A requested tree size, 0 meaning the current one; never past the head.
fn tree_size_within(requested: u64, size: u64) -> Result<u64, Status> {
    match requested {
        0 => Ok(size),
        n if n <= size => Ok(n),
        n => Err(past_head(
            format!("tree size {n} is past the head: the chain has {size} entries"),
            size,
        )),
    }
}

/// A position past the head; the metadata gives the chain's `size`, as on
/// every RPC that refuses with PAST_HEAD.
fn past_head(message: String, size: u64) -> Status {
    status::status(
        Code::OutOfRange,
        message,
        "PAST_HEAD",
        vec![("size".into(), size.to_string())],
    )
}

fn proof_error(error: &merkle::MerkleError<pledge_ledger::StoreError>) -> Status {
    match error {
        merkle::MerkleError::Storage(e) => status::store(e),
        other => status::bad_request(other.to_string()),
    }
}

pub(crate) fn shutting_down() -> Status {
    status::status(
        Code::Unavailable,
        "the node is shutting down".into(),
        "SHUTTING_DOWN",
        Vec::new(),
    )
}

/// Bundles built again when the receipt or its tank changed between the
/// checkpoint and the build.
const PROVE_ATTEMPTS: u32 = 3;

fn bundle_error(error: &BundleError, receipt_id: &str) -> Status {
    match error {
        BundleError::ReceiptNotAtSize { size, .. } => status::status(
            Code::NotFound,
            format!("receipt `{receipt_id}` is not in the checkpoint of size {size}"),
            "NOT_IN_CHECKPOINT",
            vec![("receipt".into(), receipt_id.into())],
        ),
        BundleError::Store(StoreError::MapPruned { size, floor }) => {
            status::map_pruned(*size, *floor)
        }
        BundleError::StateMoved { .. } => status::status(
            Code::Unavailable,
            format!("receipt `{receipt_id}` or its tank keeps changing: {error}; retry"),
            "STATE_MOVED",
            vec![("receipt".into(), receipt_id.into())],
        ),
        other => status::status(
            Code::Internal,
            other.to_string(),
            "BUNDLE_FAILED",
            Vec::new(),
        ),
    }
}

fn committed_response(committed: Committed) -> pb::SubmitResponse {
    pb::SubmitResponse {
        seq: committed.seq,
        entry_hash: committed.entry_hash.0.to_vec(),
        seal: committed.seal.to_vec(),
        time_ms: committed.time_ms,
        duplicate: committed.duplicate,
        since: committed.since.unwrap_or_default(),
    }
}

fn valid_id(field: &'static str, id: &str) -> Result<(), Status> {
    check_id(field, id).map_err(|e| status::bad_request(e.to_string()))
}

fn receipt_filter(filter: Option<Filter>) -> Result<ReceiptFilter, Status> {
    let checked = |field, id: String| valid_id(field, &id).map(|()| id);
    Ok(match filter {
        None => ReceiptFilter::All,
        Some(Filter::HolderId(id)) => ReceiptFilter::Holder(checked("holder_id", id)?),
        Some(Filter::WarehouseId(id)) => ReceiptFilter::Warehouse(checked("warehouse_id", id)?),
        Some(Filter::TankId(id)) => ReceiptFilter::Tank(checked("tank_id", id)?),
        Some(Filter::PledgeeId(id)) => ReceiptFilter::Pledgee(checked("pledgee_id", id)?),
        Some(Filter::Status(raw)) => {
            let name = pb::ReceiptStatus::try_from(raw)
                .ok()
                .and_then(views::status_name);
            ReceiptFilter::Status(
                name.ok_or_else(|| status::bad_request(format!("unknown receipt status {raw}")))?,
            )
        }
    })
}

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    #[tracing::instrument(skip_all, fields(tx_id, operation))]
    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let answer = self.route_submission(request).await;
        if let Err(refusal) = &answer {
            let reason = refusal.get_details_error_info().map(|info| info.reason);
            self.metrics.refused(reason.as_deref().unwrap_or("UNKNOWN"));
        }
        answer.map(Response::new)
    }

    async fn get_node_info(
        &self,
        _: Request<pb::GetNodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfo>, Status> {
        let mut info = self.info.clone();
        if let Some(cluster) = &self.cluster {
            info.cluster = Some(cluster.info(self.published.load().len()));
        }
        Ok(Response::new(info))
    }

    async fn get_head(
        &self,
        request: Request<pb::GetHeadRequest>,
    ) -> Result<Response<pb::Head>, Status> {
        let ledger = self.read_fresh(request.get_ref().read.as_ref()).await?;
        let store = &*ledger;
        let head = store.head();
        let root = store
            .tree_root(head.next_seq)
            .map_err(|e| status::store(&e))?;
        let answer = pb::Head {
            size: head.next_seq,
            head_hash: head.head_hash.0.to_vec(),
            head_time_ms: head.head_time_ms,
            tree_root: root.to_vec(),
        };
        Ok(stated(answer, head.next_seq))
    }

    #[tracing::instrument(skip_all)]
    async fn get_receipt(
        &self,
        request: Request<pb::GetReceiptRequest>,
    ) -> Result<Response<pb::ReceiptView>, Status> {
        let request = request.into_inner();
        let id = request.receipt_id;
        valid_id("receipt_id", &id)?;
        let ledger = self.read_fresh(request.read.as_ref()).await?;
        Ok(stated(self.receipt_view(&*ledger, &id)?, ledger.len()))
    }

    type ListReceiptsStream = ResponseStream<pb::ReceiptView>;

    #[tracing::instrument(skip_all)]
    async fn list_receipts(
        &self,
        request: Request<pb::ListReceiptsRequest>,
    ) -> Result<Response<Self::ListReceiptsStream>, Status> {
        let request = request.into_inner();
        let filter = receipt_filter(request.filter)?;
        let limit = pages::size("limit", request.limit, DEFAULT_PAGE, MAX_PAGE)?;
        if !request.after_receipt_id.is_empty() {
            valid_id("after_receipt_id", &request.after_receipt_id)?;
        }
        let (views, size) = {
            let ledger = self.read_fresh(request.read.as_ref()).await?;
            let store = &*ledger;
            let receipts = store
                .receipts(&filter, &request.after_receipt_id, limit)
                .map_err(|e| status::store(&e))?;
            let views = receipts
                .iter()
                .map(|r| self.receipt_view(store, r.id()))
                .collect::<Result<Vec<_>, _>>()?;
            (views, store.len())
        };
        let stream: Self::ListReceiptsStream =
            Box::pin(tokio_stream::iter(views.into_iter().map(Ok)));
        Ok(stated(stream, size))
    }

    async fn get_pledge(
        &self,
        request: Request<pb::GetPledgeRequest>,
    ) -> Result<Response<pb::PledgeView>, Status> {
        let request = request.into_inner();
        let id = request.pledge_id;
        valid_id("pledge_id", &id)?;
        let ledger = self.read_fresh(request.read.as_ref()).await?;
        let store = &*ledger;
        let pledge = store.pledge(&id).map_err(|e| status::store(&e))?;
        let pledge = pledge.ok_or_else(|| status::not_found("pledge", &id))?;
        let receipt = store
            .receipt(&pledge.terms.receipt_id)
            .map_err(|e| status::store(&e))?;
        let standing = match receipt {
            Some(receipt) => tank_standing(store, &receipt.terms.tank_id)?,
            None => views::TankStanding::default(),
        };
        let valuation = collateral_valuation(store, &pledge)?;
        Ok(stated(
            views::pledge(&pledge, &standing, valuation.as_ref()),
            store.len(),
        ))
    }

    async fn get_tank(
        &self,
        request: Request<pb::GetTankRequest>,
    ) -> Result<Response<pb::TankView>, Status> {
        let request = request.into_inner();
        let id = request.tank_id;
        valid_id("tank_id", &id)?;
        let ledger = self.read_fresh(request.read.as_ref()).await?;
        let store = &*ledger;
        let tank = store
            .tank(&id)
            .map_err(|e| status::store(&e))?
            .ok_or_else(|| status::not_found("tank", &id))?;
        let page_size = pages::size(
            "page_size",
            request.page_size,
            pages::DEFAULT_TANK_PAGE,
            pages::MAX_TANK_PAGE,
        )?;
        let after = pages::position(&request.page_token)?;
        let live = pages::live_receipts_on_tank(store, &id, after, page_size)?;
        let standing = tank_standing(store, &id)?;
        Ok(stated(views::tank(&tank, live, &standing), store.len()))
    }

    async fn get_participant(
        &self,
        request: Request<pb::GetParticipantRequest>,
    ) -> Result<Response<pb::ParticipantView>, Status> {
        let request = request.into_inner();
        let id = request.participant_id;
        valid_id("participant_id", &id)?;
        let ledger = self.read_fresh(request.read.as_ref()).await?;
        let store = &*ledger;
        let participant = store.participant(&id).map_err(|e| status::store(&e))?;
        let participant = participant.ok_or_else(|| status::not_found("participant", &id))?;
        let governance = store.governance().map_err(|e| status::store(&e))?;
        let member = governance.is_some_and(|g| g.quorum_members.contains(&id));
        Ok(stated(
            views::participant(&participant, member),
            store.len(),
        ))
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::SignedCheckpoint>, Status> {
        let request = request.into_inner();
        let latest = self
            .checkpoint_covering(request.min_tree_size, request.wait_ms)
            .await?;
        let checkpoint = &latest.checkpoint;
        Ok(Response::new(pb::SignedCheckpoint {
            note: latest.to_text(),
            tree_size: checkpoint.size,
            tree_root: checkpoint.root.to_vec(),
            head_hash: checkpoint.head_hash.0.to_vec(),
            time_ms: checkpoint.time_ms,
            state_root: checkpoint.state_root.to_vec(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn prove_receipt(
        &self,
        request: Request<pb::ProveReceiptRequest>,
    ) -> Result<Response<pb::ReceiptBundle>, Status> {
        let request = request.into_inner();
        let id = request.receipt_id;
        valid_id("receipt_id", &id)?;
        // The bundle proves the receipt's and its tank's current state: it
        // needs a checkpoint covering the latest entry of both; should one
        // of them change in between, the next checkpoint is waited for.
        let mut attempts = 0;
        let (bundle, checkpoint) = loop {
            let latest_entry = {
                let ledger = self.read()?;
                let receipt = ledger.receipt(&id).map_err(|e| status::store(&e))?;
                let receipt = receipt.ok_or_else(|| status::not_found("receipt", &id))?;
                let tank = ledger
                    .tank(&receipt.terms.tank_id)
                    .map_err(|e| status::store(&e))?;
                receipt.updated_at.max(tank.map_or(0, |t| t.updated_at))
            };
            let checkpoint = self
                .checkpoint_covering(latest_entry + 1, request.wait_ms)
                .await?;
            // The state map at the checkpoint's size is kept while the
            // bundle is built; a checkpoint already superseded and pruned
            // meanwhile is replaced by the next one.
            let size = checkpoint.checkpoint.size;
            let Some(_kept) = self.published.map_floor().pin(size) else {
                match attempts < PROVE_ATTEMPTS {
                    true => attempts += 1,
                    false => {
                        return Err(status::map_pruned(size, self.published.map_floor().floor()));
                    }
                }
                continue;
            };
            let ledger = self.read()?;
            match Bundle::build(&*ledger, &id, &checkpoint) {
                Err(BundleError::StateMoved { .. }) if attempts < PROVE_ATTEMPTS => attempts += 1,
                built => break (built.map_err(|e| bundle_error(&e, &id))?, checkpoint),
            }
        };
        let json = bundle.to_json().map_err(|e| bundle_error(&e, &id))?;
        Ok(Response::new(pb::ReceiptBundle {
            json,
            tree_size: checkpoint.checkpoint.size,
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let request = request.into_inner();
        let ledger = self.read()?;
        let store = &*ledger;
        let tree_size = tree_size_within(request.tree_size, store.len())?;
        if request.seq >= tree_size {
            return Err(past_head(
                format!(
                    "entry {} is not in a tree of {tree_size} entries",
                    request.seq
                ),
                store.len(),
            ));
        }
        let hashes =
            merkle::inclusion_proof(request.seq, tree_size, store).map_err(|e| proof_error(&e))?;
        let record = store.record(request.seq).map_err(|e| status::store(&e))?;
        Ok(Response::new(pb::InclusionProof {
            seq: request.seq,
            tree_size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            record,
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let request = request.into_inner();
        let ledger = self.read()?;
        let store = &*ledger;
        let to_size = tree_size_within(request.to_size, store.len())?;
        if request.from_size == 0 || request.from_size > to_size {
            return Err(status::bad_request(format!(
                "from_size must be in 1..={to_size}, got {}",
                request.from_size
            )));
        }
        let hashes = merkle::consistency_proof(request.from_size, to_size, store)
            .map_err(|e| proof_error(&e))?;
        Ok(Response::new(pb::ConsistencyProof {
            from_size: request.from_size,
            to_size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
        }))
    }

    async fn get_entry(
        &self,
        request: Request<pb::GetEntryRequest>,
    ) -> Result<Response<pb::EntryRecord>, Status> {
        let seq = request.into_inner().seq;
        let ledger = self.read()?;
        let size = ledger.len();
        if seq >= size {
            return Err(past_head(
                format!("entry {seq} is past the head: the chain has {size} entries"),
                size,
            ));
        }
        let record = ledger.record(seq).map_err(|e| status::store(&e))?;
        Ok(Response::new(pb::EntryRecord { seq, record }))
    }

    type StreamEntriesStream = ResponseStream<pb::EntryRecord>;

    #[tracing::instrument(skip_all)]
    async fn stream_entries(
        &self,
        request: Request<pb::StreamEntriesRequest>,
    ) -> Result<Response<Self::StreamEntriesStream>, Status> {
        let slot = self.streams.open_for(&request)?;
        let request = request.into_inner();
        let size = *self.heads.borrow();
        if request.from_seq > size {
            return Err(past_head(
                format!(
                    "from_seq {} is past the head: the chain has {size} entries",
                    request.from_seq
                ),
                size,
            ));
        }
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let streamer = EntryStreamer {
            published: self.published.clone(),
            heads: self.heads.clone(),
            next: request.from_seq,
            follow: request.follow,
            stopping: self.stopping.clone(),
            sender,
            _slot: slot,
        };
        tokio::spawn(streamer.run());
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    type WatchAlertsStream = ResponseStream<pb::Alert>;

    #[tracing::instrument(skip_all)]
    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let log = self.alerts.clone().ok_or_else(crate::alerts::alerts_off)?;
        let ledger = self.read()?;
        let watcher = crate::alerts::watcher_of(
            &request,
            &*ledger,
            &self.seen_watch_requests,
            crate::pipeline::now_ms(),
        )?;
        let address = request.remote_addr().map(|peer| peer.ip());
        let slot = self.streams.open(address, Some(watcher.id()))?;
        let request = request.into_inner();
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let streamer = AlertStreamer {
            log,
            watcher,
            next: request.from_index,
            follow: request.follow,
            until_entries: *self.heads.borrow(),
            stopping: self.stopping.clone(),
            sender,
            _slot: slot,
        };
        tokio::spawn(streamer.run());
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    type GetReportStream = ResponseStream<pb::ReportRow>;

    #[tracing::instrument(skip_all)]
    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<Self::GetReportStream>, Status> {
        let slot = self.streams.open_for(&request)?;
        let request = request.into_inner();
        let ledger = self.read_fresh(request.read.as_ref()).await?;
        let scope = crate::report::scope_of(&request, &ledger)?;
        let size = ledger.len();
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let streamer = crate::report::ReportStreamer {
            ledger,
            scope,
            stopping: self.stopping.clone(),
            sender,
            _slot: slot,
        };
        tokio::spawn(streamer.run());
        let stream: Self::GetReportStream = Box::pin(ReceiverStream::new(receiver));
        Ok(stated(stream, size))
    }
}

/// Sends entries from `next` on, then (when following) new ones as the
/// head moves, until the client goes away.
struct EntryStreamer {
    published: Arc<NodePublished>,
    heads: watch::Receiver<u64>,
    next: u64,
    follow: bool,
    stopping: watch::Receiver<bool>,
    sender: mpsc::Sender<Result<pb::EntryRecord, Status>>,
    /// Given back when the stream ends.
    _slot: StreamSlot,
}

impl EntryStreamer {
    async fn run(mut self) {
        loop {
            let size = *self.heads.borrow_and_update();
            while self.next < size {
                let batch = match self.read_batch(size) {
                    Ok(batch) => batch,
                    Err(status) => {
                        let _ = self.sender.send(Err(status)).await;
                        return;
                    }
                };
                for record in batch {
                    if self.sender.send(Ok(record)).await.is_err() {
                        return;
                    }
                }
            }
            if !self.follow {
                return;
            }
            tokio::select! {
                changed = self.heads.changed() => if changed.is_err() {
                    return;
                },
                // The client went away while the head stood still: end now,
                // giving back the stream's slot.
                () = self.sender.closed() => return,
                () = stopped(self.stopping.clone()) => {
                    // A client that stopped reading gets the end of the
                    // stream without the reason rather than holding the stop.
                    let _ = self.sender.try_send(Err(shutting_down()));
                    return;
                }
            }
        }
    }

    fn read_batch(&mut self, size: u64) -> Result<Vec<pb::EntryRecord>, Status> {
        let ledger = self.published.load();
        let end = size.min(self.next + STREAM_BATCH);
        let mut batch = Vec::with_capacity((end - self.next) as usize);
        for seq in self.next..end {
            let record = ledger.record(seq).map_err(|e| status::store(&e))?;
            batch.push(pb::EntryRecord { seq, record });
        }
        self.next = end;
        Ok(batch)
    }
}

/// Resolves once the node is stopping; never, when no stop was wired.
pub async fn stopped(mut stopping: watch::Receiver<bool>) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A refusal of an authenticated party is worth a log line. One whose
/// signers the ledger does not know (or no longer trusts) is anyone's to
/// send, as often as they like: it is counted
/// (`pledge_refusals_total{reason}`) and logged at debug level only, so
/// that nobody can fill the node's log with it.
fn log_refusal(rejection: &pledge_ledger::Rejection) {
    if rejection.kind() == pledge_ledger::RejectionKind::Unauthenticated {
        tracing::debug!(reason = %rejection.reason(), %rejection, "refused");
    } else {
        tracing::info!(reason = %rejection.reason(), %rejection, "refused");
    }
}

#[cfg(test)]
mod tests;
