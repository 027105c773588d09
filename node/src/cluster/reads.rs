//! Linearizable reads on a member (docs/REPLICATION.md §8): the leader's
//! read index, then this member's state machine applied up to it.
//!
//! ```text
//!  leader:   raft.get_read_log_id()  (heartbeat to a majority: still leader?) ─┐
//!  follower: ReadIndex on the leader's member service ──────────────────────────┤ read index
//!                                                                              ▼
//!            wait (bounded) until this member has applied the read index, then read
//! ```
//!
//! A member that knows no leader, a leader that cannot confirm it still
//! leads (cut off from the majority), or a follower that cannot reach the
//! leader refuses with `UNAVAILABLE`: a linearizable read is never served
//! stale.

use std::time::Duration;

use openraft::LogId;
use openraft::error::{CheckIsLeaderError, RaftError};
use pledge_cluster::types::MemberId;
use pledge_proto::cluster as cpb;
use tonic::Status;
use tonic_types::StatusExt;

use super::{ClusterHandle, Route, is_transport};
use crate::reads::not_caught_up;

impl ClusterHandle {
    /// Returns once this member has applied everything committed before
    /// the call (as the leader confirms it), within `within`.
    pub async fn linearizable(&self, within: Duration) -> Result<(), Status> {
        let started = tokio::time::Instant::now();
        let read_index = match self.route() {
            Route::Here => self.own_read_index(within).await?.map(|l| l.index),
            Route::Leader(leader) => self.leader_read_index(leader, within).await?,
            Route::NoLeader => return Err(self.no_leader()),
        };
        let Some(read_index) = read_index else {
            return Ok(());
        };
        let left = within.saturating_sub(started.elapsed());
        let applied = self
            .raft()
            .wait(Some(left))
            .applied_index_at_least(Some(read_index), "a linearizable read")
            .await;
        applied.map(|_| ()).map_err(|_| {
            let metrics = self.raft().metrics().borrow().clone();
            let have = metrics.last_applied.map_or(0, |l| l.index);
            not_caught_up(
                format!(
                    "this member had not applied the leader's read index {read_index} within {} ms \
                     (it has applied Raft entry {have}); retry, or read at the leader",
                    within.as_millis()
                ),
                vec![("read_index".into(), read_index.to_string())],
            )
        })
    }

    /// This member leads: openraft confirms it with a majority (a heartbeat
    /// round) and gives the log position a read must see. Also what the
    /// member service answers a follower's `ReadIndex` with.
    pub(super) async fn own_read_index(
        &self,
        within: Duration,
    ) -> Result<Option<LogId<MemberId>>, Status> {
        let asked = tokio::time::timeout(within, self.raft().get_read_log_id()).await;
        match asked {
            Ok(Ok((read_log_id, _applied))) => Ok(read_log_id),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)))) => {
                Err(self.unavailable(
                    "NOT_LEADER",
                    "this member is no longer the leader: it cannot serve a linearizable read; retry at the leader".into(),
                    forward.leader_id,
                ))
            }
            Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))) | Err(_) => {
                Err(self.unavailable(
                    "NO_QUORUM",
                    "this member leads but could not confirm it with a majority of the members: it may be cut off from them, so it will not serve a linearizable read; retry at another member".into(),
                    None,
                ))
            }
            Ok(Err(RaftError::Fatal(fatal))) => Err(self.unavailable(
                "NO_LEADER",
                format!("this member's Raft stopped ({fatal}); try another member"),
                None,
            )),
        }
    }

    /// A follower asks the leader for its read index over the member
    /// service.
    async fn leader_read_index(
        &self,
        leader: MemberId,
        within: Duration,
    ) -> Result<Option<u64>, Status> {
        let mut client = self.peer(leader)?;
        // The leader gets three quarters of the wait, so that its own
        // refusal (NO_QUORUM when cut off) arrives before this member gives up.
        let request = cpb::ReadIndexRequest {
            wait_ms: u32::try_from(within.as_millis() * 3 / 4)
                .unwrap_or(u32::MAX)
                .max(1),
        };
        let asked = tokio::time::timeout(within, client.read_index(request)).await;
        let refusal = match asked {
            Ok(Ok(answer)) => return Ok(answer.into_inner().read_log_id.map(|l| l.index)),
            Ok(Err(refusal)) => refusal,
            Err(_) => {
                Status::deadline_exceeded(format!("no answer within {} ms", within.as_millis()))
            }
        };
        if is_transport(&refusal) {
            self.forget(leader);
        }
        if let Some((reason, new_leader)) = leader_refusal(&refusal) {
            return Err(self.unavailable(
                reason,
                format!(
                    "the leader (member {leader}) could not give a read index for a linearizable read: {}",
                    refusal.message()
                ),
                new_leader,
            ));
        }
        Err(self.unavailable(
            "LEADER_UNREACHABLE",
            format!(
                "the leader (member {leader}) could not give a read index for a linearizable read: {}; retry",
                refusal.message()
            ),
            Some(leader),
        ))
    }
}

/// The reason of a leader's refusal to give a read index that the asking
/// member passes on as its own (the leader answered, so the leader was
/// reached), and the leader the refusal names, if any.
fn leader_refusal(refusal: &Status) -> Option<(&'static str, Option<MemberId>)> {
    let info = refusal.get_details_error_info()?;
    let reason = ["NOT_LEADER", "NO_QUORUM", "NO_LEADER"]
        .into_iter()
        .find(|known| *known == info.reason)?;
    let leader = info
        .metadata
        .get("leader_id")
        .and_then(|id| id.parse().ok());
    Some((reason, leader))
}
