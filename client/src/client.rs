//! [`LedgerClient`]: one async method per RPC of `LedgerService`, over one
//! node or the members of a cluster.
//!
//! ```text
//!  LedgerClient ──call──▶ member in use ──answer──▶ caller
//!                              │ UNAVAILABLE (NO_LEADER, NOT_LEADER, ...), or no answer
//!                              ▼
//!                   failover::classify ──▶ the leader it names, the same member, or the next one
//!                              │ pause (doubling), the same request again, within the deadline
//!                              ▼
//!                        that member becomes the one in use (for every clone of the client)
//! ```
//!
//! Given several addresses ([`LedgerClient::connect_any`]) the client uses
//! one member at a time and moves on when it cannot answer; every refusal
//! that names the cluster's members teaches it their addresses. A single
//! node is one address and never refuses with a cluster reason: its
//! refusals reach the caller unchanged.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pledge_ledger::alerts::request::WatchRequest;
use pledge_ledger::envelope::Envelope;
use pledge_proto::v1::{self as pb, ledger_service_client::LedgerServiceClient};
use tokio_stream::{Stream, StreamExt};
use tonic::Status;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::error::{ClientError, Result};
use crate::failover::{self, Failover, Next};
use crate::keys::Signer;

/// Which receipts [`LedgerClient::list_receipts`] lists (at most one filter).
pub use pb::list_receipts_request::Filter as ReceiptFilter;

/// A stream of entries from [`LedgerClient::entries`].
pub type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::EntryRecord>> + Send>>;

/// A stream of alerts from [`LedgerClient::alerts`].
pub type AlertStream = Pin<Box<dyn Stream<Item = Result<pb::Alert>> + Send>>;

/// How many times [`LedgerClient::report`] asks for a report whose state
/// keeps moving.
pub const REPORT_ATTEMPTS: u32 = 3;

/// The node's default page size for `ListReceipts`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// How to reach a node.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to wait for the connection to open.
    pub connect_timeout: Duration,
    /// TLS settings, required for `https://` endpoints and refused for
    /// `http://` ones; see [`crate::tls::client_config`]. The same
    /// settings serve every member of a cluster.
    pub tls: Option<ClientTlsConfig>,
    /// How the client follows a cluster's leader and resends (see
    /// [`Failover`]; [`Failover::never`] turns it off).
    pub failover: Failover,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            tls: None,
            failover: Failover::default(),
        }
    }
}

/// A connection to a ledger node, or to the members of a cluster. Cheap to
/// clone: clones share the HTTP/2 channels and the member in use.
///
/// Every call is sent to the member in use; when that member cannot take
/// it now (a cluster refusal listed in `ledger_service.proto`: `NO_LEADER`,
/// `LEADER_UNREACHABLE`, `NOT_LEADER`, `LEADER_NOT_READY`, `NO_QUORUM`,
/// `LEADERSHIP_LOST`) or does not answer at all, the client resends the
/// same request to the leader the refusal names, or to the next member,
/// after a pause that doubles, until [`Failover::deadline`]. A node that is
/// busy (`RESOURCE_EXHAUSTED` with `RATE_LIMITED`, or `QUEUE_FULL`) is asked
/// again after the `retry_after_ms` it names, or the pause. For `Submit`
/// the same request is the same signed envelope: if the first attempt was
/// committed after all, the resend is answered with that entry
/// (`duplicate = true`), never sequenced twice.
#[derive(Debug, Clone)]
pub struct LedgerClient {
    members: Arc<Members>,
    /// The options every read of this handle carries.
    read: Option<pb::ReadOptions>,
}

/// The members this client knows and the one it uses.
#[derive(Debug)]
struct Members {
    options: ConnectOptions,
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    /// Client addresses, the given ones first, then those learned from
    /// refusals.
    addresses: Vec<String>,
    /// The member in use.
    current: String,
    /// Channels opened so far, by address.
    channels: HashMap<String, LedgerServiceClient<Channel>>,
}

/// An endpoint for `address` with `options` applied; an `https://` address
/// needs TLS settings and an `http://` one must not have them, so that a
/// typo cannot silently drop TLS.
fn endpoint(address: &str, options: &ConnectOptions) -> Result<Endpoint> {
    let invalid = |reason: String| ClientError::InvalidEndpoint {
        endpoint: address.to_owned(),
        reason,
    };
    let mut target = Endpoint::from_shared(address.to_owned())
        .map_err(|e| invalid(e.to_string()))?
        .connect_timeout(options.connect_timeout);
    let https = target.uri().scheme_str() == Some("https");
    match (&options.tls, https) {
        (Some(tls), true) => {
            target = target
                .tls_config(tls.clone())
                .map_err(|e| invalid(e.to_string()))?;
        }
        (None, false) => {}
        (None, true) => {
            return Err(invalid(
                "an https:// endpoint needs TLS settings: the CA that issued the node's certificate".into(),
            ));
        }
        (Some(_), false) => {
            return Err(invalid(
                "TLS settings were given for a plaintext endpoint: use https://".into(),
            ));
        }
    }
    Ok(target)
}

impl Members {
    /// The member in use and its channel.
    fn current(&self) -> Result<(String, LedgerServiceClient<Channel>)> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let address = known.current.clone();
        if let Some(service) = known.channels.get(&address) {
            return Ok((address, service.clone()));
        }
        let channel = endpoint(&address, &self.options)?.connect_lazy();
        let service = LedgerServiceClient::new(channel);
        known.channels.insert(address.clone(), service.clone());
        Ok((address, service))
    }

    /// Takes in what a refusal from `from` taught, and moves to the member
    /// the request goes to next; `false` when there is none to go to.
    fn move_on(&self, from: &str, next: &Next, learned: Vec<String>) -> bool {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        for address in learned {
            self.learn(&mut known, address);
        }
        let target = match next {
            Next::Same => return true,
            Next::Leader(leader) => {
                self.learn(&mut known, leader.clone());
                known.addresses.contains(leader).then(|| leader.clone())
            }
            Next::Another => None,
        };
        let target = target.or_else(|| {
            let at = known.addresses.iter().position(|a| a == from);
            let count = known.addresses.len();
            let after = at.map_or(0, |i| i + 1);
            (0..count)
                .map(|step| known.addresses[(after + step) % count].clone())
                .find(|a| a != from)
        });
        match target {
            Some(address) => {
                known.current = address;
                true
            }
            None => false,
        }
    }

    /// Remembers a member's address if this client could reach it with
    /// its settings (the same scheme as its TLS settings say).
    fn learn(&self, known: &mut Known, address: String) {
        let usable = endpoint(&address, &self.options).is_ok();
        if usable && !known.addresses.contains(&address) {
            known.addresses.push(address);
        }
    }
}

impl LedgerClient {
    /// Connects to `endpoint`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(endpoint: &str) -> Result<LedgerClient> {
        LedgerClient::connect_with(endpoint, ConnectOptions::default()).await
    }

    /// Connects with explicit options (timeouts, TLS, failover). An
    /// `https://` endpoint needs `options.tls`; an `http://` one must not
    /// have it, so that a typo cannot silently drop TLS.
    pub async fn connect_with(endpoint: &str, options: ConnectOptions) -> Result<LedgerClient> {
        LedgerClient::connect_any(&[endpoint], options).await
    }

    /// Connects to the first of `endpoints` (members of one cluster) that
    /// answers, and keeps the others to fail over to. Every endpoint is
    /// checked first: one that is malformed, or whose scheme does not match
    /// the TLS settings, is an error even if an earlier one connects.
    pub async fn connect_any<S: AsRef<str>>(
        endpoints: &[S],
        options: ConnectOptions,
    ) -> Result<LedgerClient> {
        let addresses: Vec<String> = endpoints.iter().map(|e| e.as_ref().to_owned()).collect();
        let targets = addresses
            .iter()
            .map(|a| endpoint(a, &options))
            .collect::<Result<Vec<_>>>()?;
        let mut last = ClientError::input("endpoints", "no node endpoint was given");
        for (address, target) in addresses.iter().zip(targets) {
            match target.connect().await {
                Ok(channel) => {
                    let mut channels = HashMap::new();
                    channels.insert(address.clone(), LedgerServiceClient::new(channel));
                    let known = Known {
                        addresses: dedup(addresses.clone()),
                        current: address.clone(),
                        channels,
                    };
                    return Ok(LedgerClient::over(known, options));
                }
                Err(error) => last = error.into(),
            }
        }
        Err(last)
    }

    /// A client over a channel set up by the caller (tests, custom stacks).
    /// It knows no other member to fail over to until a refusal names one
    /// (reached with default, plaintext settings).
    pub fn from_channel(channel: Channel) -> LedgerClient {
        LedgerClient::from_channel_with(channel, ConnectOptions::default())
    }

    /// [`LedgerClient::from_channel`] with `options` (of which only the
    /// [`Failover`] applies: the channel is already set up).
    pub fn from_channel_with(channel: Channel, options: ConnectOptions) -> LedgerClient {
        let mut channels = HashMap::new();
        channels.insert(String::new(), LedgerServiceClient::new(channel));
        let known = Known {
            channels,
            ..Known::default()
        };
        LedgerClient::over(known, options)
    }

    fn over(known: Known, options: ConnectOptions) -> LedgerClient {
        LedgerClient {
            members: Arc::new(Members {
                options,
                known: Mutex::new(known),
            }),
            read: None,
        }
    }

    /// This client (sharing its channels) with every read carrying
    /// `options` (docs/REPLICATION.md §8): e.g. `at_least_seq: seq` to read
    /// one's own write at any member, or `linearizable: true`. Without
    /// options a read answers from what the member has applied.
    pub fn with_read(&self, options: pb::ReadOptions) -> LedgerClient {
        LedgerClient {
            members: self.members.clone(),
            read: Some(options),
        }
    }

    /// The address of the member in use ("" for a client made with
    /// [`LedgerClient::from_channel`]).
    pub fn member(&self) -> String {
        let known = self.members.known.lock().unwrap_or_else(|p| p.into_inner());
        known.current.clone()
    }

    /// Every member address this client knows, the given ones first.
    pub fn known_members(&self) -> Vec<String> {
        let known = self.members.known.lock().unwrap_or_else(|p| p.into_inner());
        known.addresses.clone()
    }

    /// Sends one request, following the leader and resending the same
    /// request as [`Failover`] says; `attempt` makes one attempt at one
    /// member.
    async fn call<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut(LedgerServiceClient<Channel>) -> Fut,
        Fut: Future<Output = std::result::Result<T, Status>>,
    {
        let policy = &self.members.options.failover;
        let started = Instant::now();
        let mut pause = policy.first_backoff;
        loop {
            let (address, service) = self.members.current()?;
            let limit = policy.attempt_timeout;
            let (status, timed_out) = match tokio::time::timeout(limit, attempt(service)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(status)) => (status, false),
                Err(_) => {
                    let message =
                        format!("no answer from {address} within {} ms", limit.as_millis());
                    (Status::unavailable(message), true)
                }
            };
            let give_up = |status: Status| match timed_out {
                true => ClientError::Transport {
                    message: status.message().to_owned(),
                },
                false => ClientError::from(status),
            };
            let Some(verdict) = failover::classify(&status, &address) else {
                return Err(give_up(status));
            };
            let wait = verdict.wait.unwrap_or(pause);
            if started.elapsed() + wait >= policy.deadline
                || !self
                    .members
                    .move_on(&address, &verdict.next, verdict.members)
            {
                return Err(give_up(status));
            }
            tokio::time::sleep(wait).await;
            pause = (pause * 2).min(policy.max_backoff);
        }
    }

    /// Submits a signed envelope; answers once the entry is durable (in a
    /// cluster: committed on a majority). A refusal by the rules is
    /// [`ClientError::Refused`]. When a cluster member cannot take the
    /// write now (`NO_LEADER`, `NOT_LEADER`, `NO_QUORUM`, ...; or
    /// `LEADERSHIP_LOST`: the outcome is unknown) the client resends the
    /// same envelope at the leader or the next member, as [`Failover`]
    /// says; a resend of an envelope that was committed after all is
    /// answered with its entry and `duplicate = true`.
    pub async fn submit(&self, envelope: &Envelope) -> Result<pb::SubmitResponse> {
        let request = pb::SubmitRequest {
            envelope: Some(envelope.to_proto()),
        };
        self.call(|mut service| {
            let request = request.clone();
            async move { Ok(service.submit(request).await?.into_inner()) }
        })
        .await
    }

    /// The ledger id, node key, genesis hash and node version.
    pub async fn node_info(&self) -> Result<pb::NodeInfo> {
        self.call(|mut service| async move {
            Ok(service
                .get_node_info(pb::GetNodeInfoRequest {})
                .await?
                .into_inner())
        })
        .await
    }

    /// The chain head (at least as fresh as [`LedgerClient::with_read`] asks).
    pub async fn head(&self) -> Result<pb::Head> {
        let request = pb::GetHeadRequest { read: self.read };
        self.call(|mut service| async move { Ok(service.get_head(request).await?.into_inner()) })
            .await
    }

    /// One receipt with its state, active pledge and history.
    pub async fn receipt(&self, receipt_id: &str) -> Result<pb::ReceiptView> {
        let request = pb::GetReceiptRequest {
            receipt_id: receipt_id.to_owned(),
            read: self.read,
        };
        self.call(|mut service| {
            let request = request.clone();
            async move { Ok(service.get_receipt(request).await?.into_inner()) }
        })
        .await
    }

    /// One page of receipts matching `filter`, in id order, after the
    /// exclusive cursor `after` ("" for the first page). `limit` 0 means the
    /// node's default.
    pub async fn list_receipts(
        &self,
        filter: Option<ReceiptFilter>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<pb::ReceiptView>> {
        let request = pb::ListReceiptsRequest {
            filter,
            after_receipt_id: after.to_owned(),
            limit,
            read: self.read,
        };
        self.call(|mut service| {
            let request = request.clone();
            async move {
                let stream = service.list_receipts(request).await?.into_inner();
                stream
                    .collect::<std::result::Result<Vec<_>, Status>>()
                    .await
            }
        })
        .await
    }

    /// Every receipt matching `filter`, following the cursor page by page.
    pub async fn list_all_receipts(
        &self,
        filter: Option<ReceiptFilter>,
        page_size: u32,
    ) -> Result<Vec<pb::ReceiptView>> {
        let page_size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size
        };
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let page = self
                .list_receipts(filter.clone(), &after, page_size)
                .await?;
            let full = page.len() >= page_size as usize;
            let last = page.last().map(receipt_id).unwrap_or_default().to_owned();
            all.extend(page);
            if !full {
                return Ok(all);
            }
            if last <= after {
                return Err(ClientError::bad_answer(format!(
                    "ListReceipts did not advance past cursor {after:?}"
                )));
            }
            after = last;
        }
    }

    /// One pledge.
    pub async fn pledge(&self, pledge_id: &str) -> Result<pb::PledgeView> {
        let request = pb::GetPledgeRequest {
            pledge_id: pledge_id.to_owned(),
            read: self.read,
        };
        self.call(|mut service| {
            let request = request.clone();
            async move { Ok(service.get_pledge(request).await?.into_inner()) }
        })
        .await
    }

    /// One tank with its stock and every live receipt id: the pages of
    /// `GetTank` followed to the end, their ids gathered in order (the other
    /// fields as of the last page).
    pub async fn tank(&self, tank_id: &str) -> Result<pb::TankView> {
        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let mut page = self.tank_page(tank_id, 0, &token).await?;
            ids.append(&mut page.live_receipt_ids);
            if page.next_page_token.is_empty() {
                page.live_receipt_ids = ids;
                return Ok(page);
            }
            if page.next_page_token <= token {
                return Err(ClientError::bad_answer(format!(
                    "GetTank did not advance past page token {token:?}"
                )));
            }
            token = std::mem::take(&mut page.next_page_token);
        }
    }

    /// One tank with one page of its live receipt ids, from `page_token`
    /// ("" for the first page; then the previous page's `next_page_token`).
    /// `page_size` 0 means the node's default.
    pub async fn tank_page(
        &self,
        tank_id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<pb::TankView> {
        let request = pb::GetTankRequest {
            tank_id: tank_id.to_owned(),
            page_size,
            page_token: page_token.to_owned(),
            read: self.read,
        };
        self.call(|mut service| {
            let request = request.clone();
            async move { Ok(service.get_tank(request).await?.into_inner()) }
        })
        .await
    }

    /// One participant.
    pub async fn participant(&self, participant_id: &str) -> Result<pb::ParticipantView> {
        let request = pb::GetParticipantRequest {
            participant_id: participant_id.to_owned(),
            read: self.read,
        };
        self.call(|mut service| {
            let request = request.clone();
            async move { Ok(service.get_participant(request).await?.into_inner()) }
        })
        .await
    }

    /// Entries from `from_seq` as stored (body ‖ seal). With `follow` the
    /// stream stays open and yields entries as they commit.
    pub async fn entries(&self, from_seq: u64, follow: bool) -> Result<EntryStream> {
        let request = pb::StreamEntriesRequest { from_seq, follow };
        let stream =
            self.call(|mut service| async move {
                Ok(service.stream_entries(request).await?.into_inner())
            })
            .await?;
        Ok(Box::pin(stream.map(|item| item.map_err(ClientError::from))))
    }

    /// Alerts from index `from_index` that the watcher may see
    /// (docs/ALERTS.md). `signer` names the watcher and signs the request
    /// (with the node's ledger id and the clock, afresh for each try); `None`:
    /// the participant named by this connection's client certificate. With
    /// `follow` the stream stays open and yields alerts as entries commit; a
    /// watcher resumes from the last index it saw plus one.
    pub async fn alerts(
        &self,
        from_index: u64,
        follow: bool,
        signer: Option<&Signer>,
    ) -> Result<AlertStream> {
        let ledger_id = match signer {
            Some(_) => self.node_info().await?.ledger_id,
            None => String::new(),
        };
        // Signed here once to report a bad id as the caller's error; again
        // for each try, so that no node sees one signed request twice.
        watch_alerts_request(&ledger_id, from_index, follow, signer)?;
        let stream = self
            .call(|mut service| {
                let request = watch_alerts_request(&ledger_id, from_index, follow, signer)
                    .map_err(|e| Status::invalid_argument(e.to_string()));
                async move { Ok(service.watch_alerts(request?).await?.into_inner()) }
            })
            .await?;
        Ok(Box::pin(stream.map(|item| item.map_err(ClientError::from))))
    }

    /// The regulator's report (docs/REPORT.md) of every tank, or of the
    /// tanks `warehouse_id` holds (empty: every tank), as the node sends
    /// it: the header row first. Collected whole; asked again (at most
    /// [`REPORT_ATTEMPTS`] times) when the node's state moved while it
    /// computed it (`STATE_MOVED`), so that the rows are one consistent
    /// report at the header's size.
    pub async fn report(&self, warehouse_id: &str) -> Result<Vec<pb::ReportRow>> {
        let request = pb::GetReportRequest {
            warehouse_id: warehouse_id.to_owned(),
            read: self.read,
        };
        let mut attempts = 1;
        loop {
            let answer = self
                .call(|mut service| {
                    let request = request.clone();
                    async move {
                        let stream = service.get_report(request).await?.into_inner();
                        stream
                            .collect::<std::result::Result<Vec<_>, Status>>()
                            .await
                    }
                })
                .await;
            match answer {
                Err(error) if attempts < REPORT_ATTEMPTS && state_moved(&error) => attempts += 1,
                answer => return answer,
            }
        }
    }

    /// The node's latest signed checkpoint.
    pub async fn checkpoint(&self) -> Result<pb::SignedCheckpoint> {
        self.call(|mut service| async move {
            Ok(service
                .get_checkpoint(pb::GetCheckpointRequest::default())
                .await?
                .into_inner())
        })
        .await
    }

    /// The first published checkpoint that covers at least `min_size`
    /// entries, waiting for it at most `wait_ms` (0: the node's limit).
    pub async fn checkpoint_covering(
        &self,
        min_size: u64,
        wait_ms: u32,
    ) -> Result<pb::SignedCheckpoint> {
        let request = pb::GetCheckpointRequest {
            min_tree_size: min_size,
            wait_ms,
        };
        self.call(
            |mut service| async move { Ok(service.get_checkpoint(request).await?.into_inner()) },
        )
        .await
    }

    /// An inclusion proof of entry `seq` in the tree of `tree_size` entries
    /// (0: the current size).
    pub async fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<pb::InclusionProof> {
        let request = pb::GetInclusionProofRequest { seq, tree_size };
        self.call(|mut service| async move {
            Ok(service.get_inclusion_proof(request).await?.into_inner())
        })
        .await
    }

    /// A consistency proof between two tree sizes (`to_size` 0: the current size).
    pub async fn consistency_proof(
        &self,
        from_size: u64,
        to_size: u64,
    ) -> Result<pb::ConsistencyProof> {
        let request = pb::GetConsistencyProofRequest { from_size, to_size };
        self.call(|mut service| async move {
            Ok(service.get_consistency_proof(request).await?.into_inner())
        })
        .await
    }

    /// The evidence bundle of a receipt (JSON, docs/FORMAT.md §7).
    pub async fn prove_receipt(&self, receipt_id: &str) -> Result<pb::ReceiptBundle> {
        let request = pb::ProveReceiptRequest {
            receipt_id: receipt_id.to_owned(),
            wait_ms: 0,
        };
        self.call(|mut service| {
            let request = request.clone();
            async move { Ok(service.prove_receipt(request).await?.into_inner()) }
        })
        .await
    }

    /// The one entry `seq`, as stored.
    pub async fn entry(&self, seq: u64) -> Result<pb::EntryRecord> {
        let request = pb::GetEntryRequest { seq };
        self.call(|mut service| async move { Ok(service.get_entry(request).await?.into_inner()) })
            .await
    }
}

/// The addresses in order, each once.
fn state_moved(error: &ClientError) -> bool {
    let info = error.refusal().and_then(|r| r.info.as_ref());
    info.is_some_and(|info| info.reason == "STATE_MOVED")
}

fn dedup(addresses: Vec<String>) -> Vec<String> {
    let mut unique = Vec::with_capacity(addresses.len());
    for address in addresses {
        if !unique.contains(&address) {
            unique.push(address);
        }
    }
    unique
}

fn receipt_id(view: &pb::ReceiptView) -> &str {
    view.terms
        .as_ref()
        .map(|t| t.receipt_id.as_str())
        .unwrap_or_default()
}

/// A watch request from `signer`, signed now (docs/ALERTS.md §4); unsigned
/// without one.
fn watch_alerts_request(
    ledger_id: &str,
    from_index: u64,
    follow: bool,
    signer: Option<&Signer>,
) -> Result<pb::WatchAlertsRequest> {
    let Some(signer) = signer else {
        return Ok(pb::WatchAlertsRequest {
            from_index,
            follow,
            ..Default::default()
        });
    };
    let request = WatchRequest {
        ledger_id: ledger_id.to_owned(),
        participant_id: signer.id.clone(),
        from_index,
        follow,
        time_ms: crate::time::now_ms(),
    };
    let signature = request.sign(&signer.key).map_err(|e| {
        ClientError::bad_answer(format!("cannot sign a watch request as {}: {e}", signer.id))
    })?;
    Ok(pb::WatchAlertsRequest {
        from_index,
        follow,
        participant_id: request.participant_id,
        time_ms: request.time_ms,
        signature: signature.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn refusal(endpoint: &str, tls: Option<ClientTlsConfig>) -> String {
        let options = ConnectOptions {
            tls,
            ..ConnectOptions::default()
        };
        match LedgerClient::connect_with(endpoint, options).await {
            Err(error @ ClientError::InvalidEndpoint { .. }) => error.to_string(),
            other => panic!("expected InvalidEndpoint, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn https_needs_tls_settings_and_http_refuses_them() {
        let missing = refusal("https://127.0.0.1:1", None).await;
        assert!(missing.contains("needs TLS settings"), "{missing}");
        let stray = refusal("http://127.0.0.1:1", Some(ClientTlsConfig::new())).await;
        assert!(stray.contains("use https://"), "{stray}");
    }
}
