//! openraft's network over the member-to-member gRPC service: one
//! [`Peer`] per member this one sends to, connecting lazily and again after
//! a failure.
//!
//! ```text
//!   openraft ──append_entries / vote──▶ Peer ──raft.proto──▶ the member's RaftService
//!   openraft ──full_snapshot──▶ Peer: SnapshotOffer (the receiver's chain size), then
//!                                     InstallSnapshot: header, the records it lacks, the state
//! ```
//!
//! With TLS settings every member is dialled at an `https://` address with
//! this member's certificate (mutual TLS), without them at an `http://` one;
//! an address of the other kind is `Unreachable`, never dialled the wrong way.
//! A connection that cannot be made is `Unreachable` (openraft backs off);
//! a call that fails on the way is a `NetworkError`; an answer that does not
//! convert is a `NetworkError` naming the field.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, Snapshot, Vote};
use pledge_proto::cluster::{self as pb, raft_service_client::RaftServiceClient};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::state_machine::ChainFault;
use crate::types::{MemberId, MemberNode, TypeConfig};
use crate::wire::{IntoDomain, ToWire, WireError, chain_position_to_pb, snapshot_meta_to_pb};

/// Records per message of a snapshot stream.
const RECORDS_PER_MESSAGE: u64 = 1024;
/// Bytes of state per message of a snapshot stream.
const STATE_PER_MESSAGE: usize = 1 << 20;

/// Reads the member's own chain records, to send a snapshot's.
pub trait ChainRecords: Send + Sync + 'static {
    /// Records `[from, to)`.
    fn records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, ChainFault>;
}

/// Makes a [`Peer`] for each member openraft replicates to.
#[derive(Clone)]
pub struct Network {
    tls: Option<ClientTlsConfig>,
    chain: Arc<dyn ChainRecords>,
    dial: BTreeMap<MemberId, String>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Network {
    /// A network that dials members with `tls` (mutual TLS when it carries
    /// a client identity; plaintext when `None`) and reads snapshot records
    /// from `chain`.
    pub fn new(tls: Option<ClientTlsConfig>, chain: Arc<dyn ChainRecords>) -> Network {
        Network {
            tls,
            chain,
            dial: BTreeMap::new(),
        }
    }

    /// Dials the members in `dial` at the address given there instead of
    /// the one Raft's membership lists (a member reached at another address
    /// from here: NAT, a second network, a test's fault proxy).
    pub fn with_dial(mut self, dial: BTreeMap<MemberId, String>) -> Network {
        self.dial = dial;
        self
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: MemberId, node: &MemberNode) -> Peer {
        Peer {
            target,
            address: self
                .dial
                .get(&target)
                .cloned()
                .unwrap_or_else(|| node.address.clone()),
            tls: self.tls.clone(),
            chain: self.chain.clone(),
            client: None,
        }
    }
}

/// The connection to one member.
pub struct Peer {
    target: MemberId,
    address: String,
    tls: Option<ClientTlsConfig>,
    chain: Arc<dyn ChainRecords>,
    client: Option<RaftServiceClient<Channel>>,
}

impl Peer {
    async fn client(&mut self) -> Result<RaftServiceClient<Channel>, Unreachable> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        if self.tls.is_some() != self.address.starts_with("https://") {
            let speaks = if self.tls.is_some() {
                "mutual TLS"
            } else {
                "plaintext"
            };
            return Err(Unreachable::new(&std::io::Error::other(format!(
                "member {}'s address {} does not match how this member speaks to members ({speaks})",
                self.target, self.address
            ))));
        }
        let mut endpoint = Endpoint::from_shared(self.address.clone())
            .map_err(|e| Unreachable::new(&e))?
            .tcp_nodelay(true)
            .connect_timeout(std::time::Duration::from_secs(1));
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| Unreachable::new(&e))?;
        }
        let channel = endpoint.connect().await.map_err(|e| Unreachable::new(&e))?;
        let client = RaftServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        self.client = Some(client.clone());
        Ok(client)
    }

    /// A failed call: drop the connection so the next call makes a new one.
    fn failed(&mut self, status: &tonic::Status) -> NetworkError {
        self.client = None;
        NetworkError::new(status)
    }

    async fn send_snapshot(
        &mut self,
        vote: Vote<MemberId>,
        snapshot: Snapshot<TypeConfig>,
    ) -> Result<SnapshotResponse<MemberId>, StreamingError<TypeConfig, Fatal<MemberId>>> {
        let mut client = self.client().await?;
        let offer = pb::SnapshotOfferRequest {
            vote: Some(vote.to_wire()),
        };
        let offered = client
            .snapshot_offer(offer)
            .await
            .map_err(|s| self.failed(&s))?
            .into_inner();
        let receiver_size = offered.chain.map(|c| c.size).unwrap_or_default();
        let messages = snapshot_messages(vote, &snapshot, receiver_size, self.chain.as_ref())
            .map_err(|e| NetworkError::new(&e))?;
        let answer = client
            .install_snapshot(tokio_stream::iter(messages))
            .await
            .map_err(|s| self.failed(&s))?
            .into_inner();
        let vote = answer
            .vote
            .ok_or(WireError::Missing { field: "vote" })
            .and_then(IntoDomain::into_domain)
            .map_err(|e| NetworkError::new(&e))?;
        Ok(SnapshotResponse::new(vote))
    }
}

/// The messages of one snapshot stream: the header, the records the
/// receiver lacks (from its size to the snapshot's), the state in pieces.
fn snapshot_messages(
    vote: Vote<MemberId>,
    snapshot: &Snapshot<TypeConfig>,
    receiver_size: u64,
    chain: &dyn ChainRecords,
) -> Result<Vec<pb::SnapshotChunk>, ChainFault> {
    use pb::snapshot_chunk::Part;
    let data = &snapshot.snapshot;
    let mut meta = snapshot_meta_to_pb(&snapshot.meta);
    meta.chain = Some(chain_position_to_pb(&data.position));
    meta.tree_root = data.tree_root.to_vec();
    let first_seq = receiver_size.min(data.position.next_seq);
    let mut messages = vec![pb::SnapshotChunk {
        part: Some(Part::Header(pb::SnapshotHeader {
            vote: Some(vote.to_wire()),
            meta: Some(meta),
            first_seq,
        })),
    }];
    let mut from = first_seq;
    while from < data.position.next_seq {
        let to = (from + RECORDS_PER_MESSAGE).min(data.position.next_seq);
        let records = chain.records(from, to)?;
        messages.push(pb::SnapshotChunk {
            part: Some(Part::Records(pb::RecordBatch { records })),
        });
        from = to;
    }
    for piece in data.state.chunks(STATE_PER_MESSAGE) {
        messages.push(pb::SnapshotChunk {
            part: Some(Part::State(pb::StateChunk {
                data: piece.to_vec(),
            })),
        });
    }
    Ok(messages)
}

type RpcResult<T> = Result<T, RPCError<MemberId, MemberNode, RaftError<MemberId>>>;

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<MemberId>> {
        let mut client = self.client().await?;
        let answer = client.append_entries(rpc.to_wire()).await;
        let answer = answer.map_err(|s| self.failed(&s))?.into_inner();
        answer
            .into_domain()
            .map_err(|e| NetworkError::new(&e).into())
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<MemberId>,
        _option: RPCOption,
    ) -> RpcResult<VoteResponse<MemberId>> {
        let mut client = self.client().await?;
        let answer = client.vote(rpc.to_wire()).await;
        let answer = answer.map_err(|s| self.failed(&s))?.into_inner();
        answer
            .into_domain()
            .map_err(|e| NetworkError::new(&e).into())
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<MemberId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<MemberId>, StreamingError<TypeConfig, Fatal<MemberId>>> {
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            answer = self.send_snapshot(vote, snapshot) => answer,
        }
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("target", &self.target)
            .field("address", &self.address)
            .finish()
    }
}
