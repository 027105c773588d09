//! Votes, log ids, memberships, and the AppendEntries and Vote RPCs.

use std::collections::{BTreeMap, BTreeSet};

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use openraft::{LeaderId, LogId, Membership, Vote};
use pledge_proto::cluster as pb;

use super::{FromWire, IntoDomain, ToWire, WireError, required};
use crate::types::{MemberId, MemberNode, TypeConfig};

impl ToWire for LeaderId<MemberId> {
    type Wire = pb::LeaderId;

    fn to_wire(&self) -> pb::LeaderId {
        let leader = self;
        pb::LeaderId {
            term: leader.term,
            member_id: leader.node_id,
        }
    }
}

impl FromWire for LeaderId<MemberId> {
    type Wire = pb::LeaderId;

    fn from_wire(leader: pb::LeaderId) -> Result<Self, WireError> {
        Ok(LeaderId::new(leader.term, leader.member_id))
    }
}

impl ToWire for Vote<MemberId> {
    type Wire = pb::Vote;

    fn to_wire(&self) -> pb::Vote {
        let vote = self;
        pb::Vote {
            leader_id: Some(vote.leader_id.to_wire()),
            committed: vote.committed,
        }
    }
}

impl FromWire for Vote<MemberId> {
    type Wire = pb::Vote;

    fn from_wire(vote: pb::Vote) -> Result<Self, WireError> {
        let leader: LeaderId<MemberId> =
            required(vote.leader_id, "vote.leader_id")?.into_domain()?;
        Ok(match vote.committed {
            true => Vote::new_committed(leader.term, leader.node_id),
            false => Vote::new(leader.term, leader.node_id),
        })
    }
}

/// A log id for the wire.
pub fn log_id_to_pb(log_id: &LogId<MemberId>) -> pb::LogId {
    pb::LogId {
        leader_id: Some(log_id.leader_id.to_wire()),
        index: log_id.index,
    }
}

/// An optional log id for the wire.
pub fn opt_log_id_to_pb(log_id: &Option<LogId<MemberId>>) -> Option<pb::LogId> {
    log_id.as_ref().map(log_id_to_pb)
}

/// A log id from the wire.
pub fn log_id(log_id: pb::LogId) -> Result<LogId<MemberId>, WireError> {
    let leader = required(log_id.leader_id, "log_id.leader_id")?;
    Ok(LogId::new(leader.into_domain()?, log_id.index))
}

/// An optional log id from the wire.
pub fn opt_log_id(log_id: Option<pb::LogId>) -> Result<Option<LogId<MemberId>>, WireError> {
    log_id.map(self::log_id).transpose()
}

impl ToWire for Membership<MemberId, MemberNode> {
    type Wire = pb::RaftMembership;

    fn to_wire(&self) -> pb::RaftMembership {
        let membership = self;
        pb::RaftMembership {
            configs: membership
                .get_joint_config()
                .iter()
                .map(|voters| pb::VoterSet {
                    member_ids: voters.iter().copied().collect(),
                })
                .collect(),
            members: membership
                .nodes()
                .map(|(id, node)| pb::RaftMember {
                    member_id: *id,
                    address: node.address.clone(),
                })
                .collect(),
        }
    }
}

impl FromWire for Membership<MemberId, MemberNode> {
    type Wire = pb::RaftMembership;

    fn from_wire(membership: pb::RaftMembership) -> Result<Self, WireError> {
        let bad = |reason: String| WireError::BadMembership { reason };
        if membership.configs.is_empty() || membership.configs.len() > 2 {
            return Err(bad(format!(
                "{} voter sets: one, or two during a joint change",
                membership.configs.len()
            )));
        }
        let mut nodes = BTreeMap::new();
        for member in membership.members {
            let node = MemberNode {
                address: member.address,
            };
            if nodes.insert(member.member_id, node).is_some() {
                return Err(bad(format!("member {} listed twice", member.member_id)));
            }
        }
        let mut configs = Vec::with_capacity(membership.configs.len());
        for set in membership.configs {
            let voters: BTreeSet<MemberId> = set.member_ids.into_iter().collect();
            if voters.is_empty() {
                return Err(bad("an empty voter set".into()));
            }
            if let Some(missing) = voters.iter().find(|id| !nodes.contains_key(id)) {
                return Err(bad(format!("voter {missing} has no address")));
            }
            configs.push(voters);
        }
        Ok(Membership::new(configs, nodes))
    }
}

impl ToWire for AppendEntriesRequest<TypeConfig> {
    type Wire = pb::AppendEntriesRequest;

    fn to_wire(&self) -> pb::AppendEntriesRequest {
        let request = self;
        pb::AppendEntriesRequest {
            vote: Some(request.vote.to_wire()),
            prev_log_id: opt_log_id_to_pb(&request.prev_log_id),
            entries: request.entries.iter().map(ToWire::to_wire).collect(),
            leader_commit: opt_log_id_to_pb(&request.leader_commit),
        }
    }
}

impl FromWire for AppendEntriesRequest<TypeConfig> {
    type Wire = pb::AppendEntriesRequest;

    fn from_wire(request: pb::AppendEntriesRequest) -> Result<Self, WireError> {
        Ok(AppendEntriesRequest {
            vote: required(request.vote, "vote")?.into_domain()?,
            prev_log_id: opt_log_id(request.prev_log_id)?,
            entries: request
                .entries
                .into_iter()
                .map(IntoDomain::into_domain)
                .collect::<Result<_, _>>()?,
            leader_commit: opt_log_id(request.leader_commit)?,
        })
    }
}

impl ToWire for AppendEntriesResponse<MemberId> {
    type Wire = pb::AppendEntriesResponse;

    fn to_wire(&self) -> pb::AppendEntriesResponse {
        let response = self;
        use pb::append_entries_response::{PartialSuccess, Result as R};
        let result = match response {
            AppendEntriesResponse::Success => R::Success(pb::Blank {}),
            AppendEntriesResponse::PartialSuccess(matching) => R::PartialSuccess(PartialSuccess {
                matching: opt_log_id_to_pb(matching),
            }),
            AppendEntriesResponse::Conflict => R::Conflict(pb::Blank {}),
            AppendEntriesResponse::HigherVote(vote) => R::HigherVote(vote.to_wire()),
        };
        pb::AppendEntriesResponse {
            result: Some(result),
        }
    }
}

impl FromWire for AppendEntriesResponse<MemberId> {
    type Wire = pb::AppendEntriesResponse;

    fn from_wire(response: pb::AppendEntriesResponse) -> Result<Self, WireError> {
        use pb::append_entries_response::Result as R;
        Ok(match required(response.result, "result")? {
            R::Success(_) => AppendEntriesResponse::Success,
            R::PartialSuccess(partial) => {
                AppendEntriesResponse::PartialSuccess(opt_log_id(partial.matching)?)
            }
            R::Conflict(_) => AppendEntriesResponse::Conflict,
            R::HigherVote(vote) => AppendEntriesResponse::HigherVote(vote.into_domain()?),
        })
    }
}

impl ToWire for VoteRequest<MemberId> {
    type Wire = pb::VoteRequest;

    fn to_wire(&self) -> pb::VoteRequest {
        let request = self;
        pb::VoteRequest {
            vote: Some(request.vote.to_wire()),
            last_log_id: opt_log_id_to_pb(&request.last_log_id),
        }
    }
}

impl FromWire for VoteRequest<MemberId> {
    type Wire = pb::VoteRequest;

    fn from_wire(request: pb::VoteRequest) -> Result<Self, WireError> {
        Ok(VoteRequest {
            vote: required(request.vote, "vote")?.into_domain()?,
            last_log_id: opt_log_id(request.last_log_id)?,
        })
    }
}

impl ToWire for VoteResponse<MemberId> {
    type Wire = pb::VoteResponse;

    fn to_wire(&self) -> pb::VoteResponse {
        let response = self;
        pb::VoteResponse {
            vote: Some(response.vote.to_wire()),
            vote_granted: response.vote_granted,
            last_log_id: opt_log_id_to_pb(&response.last_log_id),
        }
    }
}

impl FromWire for VoteResponse<MemberId> {
    type Wire = pb::VoteResponse;

    fn from_wire(response: pb::VoteResponse) -> Result<Self, WireError> {
        Ok(VoteResponse {
            vote: required(response.vote, "vote")?.into_domain()?,
            vote_granted: response.vote_granted,
            last_log_id: opt_log_id(response.last_log_id)?,
        })
    }
}
