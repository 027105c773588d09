//! Following a cluster's leader (docs/REPLICATION.md §8): which refusals
//! are resent, where to, and how long the client keeps trying.
//!
//! ```text
//!  answer from member A ──▶ classify
//!     UNAVAILABLE NO_LEADER | LEADER_UNREACHABLE | NOT_LEADER | NO_QUORUM | LEADERSHIP_LOST
//!         ──▶ the leader_address it names, else the next member      (member_addresses are learned)
//!     UNAVAILABLE LEADER_NOT_READY ──▶ A again (a new leader, ready in a moment)
//!     UNAVAILABLE NOT_CAUGHT_UP    ──▶ the next member (a read's options not met at A)
//!     UNAVAILABLE SHUTTING_DOWN    ──▶ the next member
//!     no answer (connection refused, reset, timed out) ──▶ the next member
//!     anything else ──▶ the caller
//!  each resend after a pause (first_backoff, doubling to max_backoff), the whole call within deadline
//! ```
//!
//! A resend is always the same request: for `Submit` the same signed
//! envelope, which the ledger answers as a retry (the original entry,
//! `duplicate = true`) when the first attempt was committed after all.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// How the client rides out an election or the loss of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// No resend starts after this long since the call began: the call
    /// then returns the last refusal. (The whole call takes at most this
    /// plus one `attempt_timeout`.)
    pub deadline: Duration,
    /// One attempt at one member gives up after this long (a member cut
    /// off by the network may never answer) and the next member is tried.
    pub attempt_timeout: Duration,
    /// The pause before the first resend; doubled after each one.
    pub first_backoff: Duration,
    /// The longest pause between two resends.
    pub max_backoff: Duration,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            deadline: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(15),
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl Failover {
    /// Never resend: every refusal goes straight to the caller.
    pub fn never() -> Failover {
        Failover {
            deadline: Duration::ZERO,
            ..Failover::default()
        }
    }
}

/// Where a refused or unanswered request goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// The leader, at this client address.
    Leader(String),
    /// The same member again.
    Same,
    /// The next member the client knows.
    Another,
}

/// What a refusal teaches and where to resend; `None`: give it to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub next: Next,
    /// Every member's client address, when the refusal listed them.
    pub members: Vec<String>,
}

/// The cluster refusals after which the same request is resent.
const FOLLOW_LEADER: [&str; 5] = [
    "NO_LEADER",
    "LEADER_UNREACHABLE",
    "NOT_LEADER",
    "NO_QUORUM",
    "LEADERSHIP_LOST",
];

/// Classifies a status from the member at `current`.
pub(crate) fn classify(status: &Status, current: &str) -> Option<Verdict> {
    let Some(info) = status.get_details_error_info() else {
        return unanswered(status).then(|| Verdict {
            next: Next::Another,
            members: Vec::new(),
        });
    };
    if status.code() != Code::Unavailable {
        return None;
    }
    let members = info
        .metadata
        .get("member_addresses")
        .map(|list| addresses(list))
        .unwrap_or_default();
    let next = match info.reason.as_str() {
        reason if FOLLOW_LEADER.contains(&reason) => match info.metadata.get("leader_address") {
            Some(leader) if !leader.is_empty() && leader != current => Next::Leader(leader.clone()),
            _ => Next::Another,
        },
        "LEADER_NOT_READY" => Next::Same,
        "NOT_CAUGHT_UP" | "SHUTTING_DOWN" => Next::Another,
        _ => return None,
    };
    Some(Verdict { next, members })
}

/// The request never got the node's answer: the connection failed, was
/// reset, or the member stopped (a status without the node's ErrorInfo).
fn unanswered(status: &Status) -> bool {
    std::error::Error::source(status).is_some()
        || matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled
        )
}

fn addresses(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tonic_types::ErrorDetails;

    fn refusal(code: Code, reason: &str, metadata: &[(&str, &str)]) -> Status {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Status::with_error_details(
            code,
            "refused",
            ErrorDetails::with_error_info(reason, "pledgeledger.v1", metadata),
        )
    }

    #[test]
    fn a_named_leader_is_followed_and_the_members_learned() {
        let status = refusal(
            Code::Unavailable,
            "NO_LEADER",
            &[
                ("leader_address", "http://b:1"),
                ("member_addresses", "http://a:1, http://b:1,http://c:1"),
            ],
        );
        let verdict = classify(&status, "http://a:1").unwrap();
        assert_eq!(verdict.next, Next::Leader("http://b:1".into()));
        assert_eq!(verdict.members, ["http://a:1", "http://b:1", "http://c:1"]);
    }

    #[test]
    fn a_leader_that_is_the_member_asked_is_not_followed_back_to_itself() {
        let status = refusal(
            Code::Unavailable,
            "LEADER_UNREACHABLE",
            &[("leader_address", "http://a:1")],
        );
        assert_eq!(classify(&status, "http://a:1").unwrap().next, Next::Another);
    }

    #[test]
    fn each_cluster_reason_has_its_way() {
        for reason in FOLLOW_LEADER {
            let status = refusal(Code::Unavailable, reason, &[]);
            assert_eq!(
                classify(&status, "x").unwrap().next,
                Next::Another,
                "{reason}"
            );
        }
        let ready = refusal(Code::Unavailable, "LEADER_NOT_READY", &[]);
        assert_eq!(classify(&ready, "x").unwrap().next, Next::Same);
        for reason in ["NOT_CAUGHT_UP", "SHUTTING_DOWN"] {
            let status = refusal(Code::Unavailable, reason, &[]);
            assert_eq!(
                classify(&status, "x").unwrap().next,
                Next::Another,
                "{reason}"
            );
        }
    }

    #[test]
    fn refusals_by_the_rules_and_other_unavailables_go_to_the_caller() {
        let pledged = refusal(Code::FailedPrecondition, "RECEIPT_PLEDGED", &[]);
        assert_eq!(classify(&pledged, "x"), None);
        let not_leader_code = refusal(Code::FailedPrecondition, "NO_LEADER", &[]);
        assert_eq!(classify(&not_leader_code, "x"), None);
        let checkpoint = refusal(Code::Unavailable, "CHECKPOINT_PENDING", &[]);
        assert_eq!(classify(&checkpoint, "x"), None);
    }

    #[test]
    fn no_answer_at_all_goes_to_another_member() {
        let gone = Status::unavailable("connection refused");
        assert_eq!(classify(&gone, "x").unwrap().next, Next::Another);
        let bad = Status::invalid_argument("no ErrorInfo");
        assert_eq!(classify(&bad, "x"), None);
    }
}
