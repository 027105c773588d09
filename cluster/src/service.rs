//! The member-to-member gRPC service: what other members call on this one.
//!
//! ```text
//!   AppendEntries, Vote ─────────▶ openraft (this member's Raft)
//!   SnapshotOffer ───────────────▶ this member's chain position
//!   InstallSnapshot (stream) ────▶ assembled, then openraft installs it (the chain appends the records)
//!   ReadIndex ───────────────────▶ the node: openraft confirms leadership with a majority, commit position
//!   ForwardSubmit ───────────────▶ the node's own submit path (this member is the leader)
//! ```
//!
//! Requests that do not convert are `INVALID_ARGUMENT` naming the field;
//! openraft refusing (not the leader, shutting down) is `UNAVAILABLE`; a
//! refused read index carries the node's reason (`NOT_LEADER`, `NO_QUORUM`)
//! so that the asking member can pass it on.
//!
//! Under mutual TLS the node's listener puts the member the caller's
//! certificate names in the request as an [`AuthenticatedMember`]; a
//! request that speaks for another member (the vote's leader or candidate,
//! the forwarding member) is then `PERMISSION_DENIED`: a member's
//! certificate lets it speak only for itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openraft::{LogId, Raft, Snapshot, Vote};
use pledge_ledger::chain::ChainCursor;
use pledge_proto::cluster::{self as pb, raft_service_server::RaftService};
use pledge_proto::v1 as api;
use tonic::{Request, Response, Status, Streaming};

use crate::types::{MemberId, StateSnapshot, TypeConfig};
use crate::wire::{
    IntoDomain, ToWire, WireError, chain_position, chain_position_to_pb, opt_log_id_to_pb,
    snapshot_meta,
};

/// A boxed future of a forwarded submission's answer.
pub type Answer<'a> =
    Pin<Box<dyn Future<Output = Result<api::SubmitResponse, Status>> + Send + 'a>>;

/// A boxed future of this member's read index.
pub type ReadIndexAnswer<'a> =
    Pin<Box<dyn Future<Output = Result<Option<LogId<MemberId>>, Status>> + Send + 'a>>;

/// What the node provides to the service: its chain position, its submit
/// path and its read index.
pub trait Member: Send + Sync + 'static {
    /// Where this member's chain stands.
    fn position(&self) -> ChainCursor;
    /// Sequences a submission another member forwarded (this member must
    /// be the leader; otherwise the answer says who is).
    fn submit(&self, request: pb::ForwardSubmitRequest) -> Answer<'_>;
    /// The Raft log position a linearizable read must see: this member,
    /// the leader, confirms with a majority that it still leads, trying for
    /// at most `within` (`None`: the node's own bound). Refused
    /// with the node's ErrorInfo reason when it cannot.
    fn read_index(&self, within: Option<Duration>) -> ReadIndexAnswer<'_>;
}

/// The service over this member's Raft and node.
pub struct RaftServer<M: Member> {
    raft: Raft<TypeConfig>,
    member: Arc<M>,
    max_snapshot_bytes: u64,
}

impl<M: Member> RaftServer<M> {
    /// The service; snapshots larger than `max_snapshot_bytes` are refused.
    pub fn new(raft: Raft<TypeConfig>, member: Arc<M>, max_snapshot_bytes: u64) -> Self {
        RaftServer {
            raft,
            member,
            max_snapshot_bytes,
        }
    }
}

impl<M: Member> std::fmt::Debug for RaftServer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftServer")
            .field("max_snapshot_bytes", &self.max_snapshot_bytes)
            .finish()
    }
}

/// The member a mutual-TLS connection's certificate names, set in the
/// request's extensions by the listener that checked it; absent on a
/// plaintext connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatedMember(pub MemberId);

/// Refuses a request that speaks for a member other than the one its
/// connection's certificate names.
fn check_sender(
    certified: Option<&AuthenticatedMember>,
    claimed: Option<MemberId>,
) -> Result<(), Status> {
    match (certified, claimed) {
        (Some(AuthenticatedMember(certified)), Some(claimed)) if *certified != claimed => {
            tracing::warn!(
                certified,
                claimed,
                "refused a member request speaking for another member"
            );
            Err(Status::permission_denied(format!(
                "this connection's certificate names member {certified}, but the request speaks \
                 for member {claimed}"
            )))
        }
        _ => Ok(()),
    }
}

/// The member a vote on the wire names (leader or candidate).
fn voter(vote: Option<&pb::Vote>) -> Option<MemberId> {
    vote?.leader_id.as_ref().map(|l| l.member_id)
}

fn bad(error: WireError) -> Status {
    Status::invalid_argument(error.to_string())
}

fn unavailable(error: impl std::fmt::Display) -> Status {
    Status::unavailable(error.to_string())
}

/// Reads an InstallSnapshot stream into the vote and the snapshot.
async fn assemble(
    mut stream: Streaming<pb::SnapshotChunk>,
    limit: u64,
) -> Result<(Vote<MemberId>, Snapshot<TypeConfig>), Status> {
    use pb::snapshot_chunk::Part;
    let first = stream.message().await?.and_then(|c| c.part);
    let Some(Part::Header(header)) = first else {
        return Err(Status::invalid_argument(
            "a snapshot stream starts with its header",
        ));
    };
    let vote: Vote<MemberId> = header
        .vote
        .ok_or(WireError::Missing { field: "vote" })
        .and_then(IntoDomain::into_domain)
        .map_err(bad)?;
    let meta = header
        .meta
        .ok_or(WireError::Missing { field: "meta" })
        .map_err(bad)?;
    let position = chain_position(
        meta.chain
            .clone()
            .ok_or(WireError::Missing {
                field: "meta.chain",
            })
            .map_err(bad)?,
    )
    .map_err(bad)?;
    let tree_root: [u8; 32] = meta.tree_root.as_slice().try_into().map_err(|_| {
        bad(WireError::BadHashLength {
            field: "meta.tree_root",
            len: meta.tree_root.len(),
        })
    })?;
    let mut data = StateSnapshot {
        position,
        tree_root,
        state: Vec::new(),
        records_from: header.first_seq,
        records: Vec::new(),
    };
    let mut bytes = 0u64;
    while let Some(chunk) = stream.message().await? {
        match chunk.part {
            Some(Part::Records(batch)) if data.state.is_empty() => {
                bytes += batch.records.iter().map(|r| r.len() as u64).sum::<u64>();
                data.records.extend(batch.records);
            }
            Some(Part::State(piece)) => {
                bytes += piece.data.len() as u64;
                data.state.extend_from_slice(&piece.data);
            }
            _ => return Err(Status::invalid_argument("snapshot stream out of order")),
        }
        if bytes > limit {
            return Err(Status::resource_exhausted(format!(
                "snapshot larger than {limit} bytes"
            )));
        }
    }
    let meta = snapshot_meta(meta).map_err(bad)?;
    Ok((
        vote,
        Snapshot {
            meta,
            snapshot: Box::new(data),
        },
    ))
}

#[tonic::async_trait]
impl<M: Member> RaftService for RaftServer<M> {
    async fn append_entries(
        &self,
        request: Request<pb::AppendEntriesRequest>,
    ) -> Result<Response<pb::AppendEntriesResponse>, Status> {
        check_sender(
            request.extensions().get(),
            voter(request.get_ref().vote.as_ref()),
        )?;
        let request = request.into_inner().into_domain().map_err(bad)?;
        let answer = self
            .raft
            .append_entries(request)
            .await
            .map_err(unavailable)?;
        Ok(Response::new(answer.to_wire()))
    }

    async fn vote(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        check_sender(
            request.extensions().get(),
            voter(request.get_ref().vote.as_ref()),
        )?;
        let request = request.into_inner().into_domain().map_err(bad)?;
        let answer = self.raft.vote(request).await.map_err(unavailable)?;
        Ok(Response::new(answer.to_wire()))
    }

    async fn snapshot_offer(
        &self,
        request: Request<pb::SnapshotOfferRequest>,
    ) -> Result<Response<pb::SnapshotOfferResponse>, Status> {
        check_sender(
            request.extensions().get(),
            voter(request.get_ref().vote.as_ref()),
        )?;
        let position = self.member.position();
        Ok(Response::new(pb::SnapshotOfferResponse {
            chain: Some(chain_position_to_pb(&position)),
        }))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::SnapshotResponse>, Status> {
        let certified = request.extensions().get::<AuthenticatedMember>().copied();
        let (vote, snapshot) = assemble(request.into_inner(), self.max_snapshot_bytes).await?;
        check_sender(certified.as_ref(), vote.leader_id().voted_for())?;
        let answer = self
            .raft
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(unavailable)?;
        Ok(Response::new(pb::SnapshotResponse {
            vote: Some(answer.vote.to_wire()),
        }))
    }

    async fn forward_submit(
        &self,
        request: Request<pb::ForwardSubmitRequest>,
    ) -> Result<Response<api::SubmitResponse>, Status> {
        check_sender(
            request.extensions().get(),
            Some(request.get_ref().from_member_id),
        )?;
        self.member
            .submit(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn read_index(
        &self,
        request: Request<pb::ReadIndexRequest>,
    ) -> Result<Response<pb::ReadIndexResponse>, Status> {
        let within = match request.into_inner().wait_ms {
            0 => None,
            ms => Some(Duration::from_millis(u64::from(ms))),
        };
        let read_log_id = self.member.read_index(within).await?;
        Ok(Response::new(pb::ReadIndexResponse {
            read_log_id: opt_log_id_to_pb(&read_log_id),
            chain_size: self.member.position().next_seq,
        }))
    }
}
