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
//!     FAILED_PRECONDITION SEALER_NOT_A_MEMBER ──▶ the next member (this one was removed)
//!     no answer (connection refused, reset, timed out) ──▶ the next member
//!     RESOURCE_EXHAUSTED RATE_LIMITED ──▶ A again, after the retry_after_ms it names
//!     RESOURCE_EXHAUSTED QUEUE_FULL   ──▶ A again (the node is busy for a moment)
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
    /// How long the node asked the client to wait first (`retry_after_ms`
    /// of `RATE_LIMITED`), in place of the client's own pause.
    pub wait: Option<Duration>,
}

/// The longest `retry_after_ms` the client waits as told; a longer one is
/// given to the caller (a bucket refills in a second, so a node asking for
/// more is misconfigured or not this node).
const MOST_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The cluster refusals after which the same request is resent.
const FOLLOW_LEADER: [&str; 5] = [
    "NO_LEADER",
    "LEADER_UNREACHABLE",
    "NOT_LEADER",
    "NO_QUORUM",
    "LEADERSHIP_LOST",
];

/// The refusal of a member the ledger has removed (it may no longer seal):
/// nothing was decided, and another member leads or will.
const SEALER_NOT_A_MEMBER: &str = "SEALER_NOT_A_MEMBER";

/// Classifies a status from the member at `current`.
pub(crate) fn classify(status: &Status, current: &str) -> Option<Verdict> {
    let Some(info) = status.get_details_error_info() else {
        return unanswered(status).then(|| Verdict {
            next: Next::Another,
            members: Vec::new(),
            wait: None,
        });
    };
    if status.code() == Code::ResourceExhausted {
        return busy(&info.reason, &info.metadata);
    }
    if status.code() == Code::FailedPrecondition && info.reason == SEALER_NOT_A_MEMBER {
        return Some(Verdict {
            next: Next::Another,
            members: Vec::new(),
            wait: None,
        });
    }
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
    Some(Verdict {
        next,
        members,
        wait: None,
    })
}

/// A node too busy for the request now: the same member again, after the
/// wait it names (`RATE_LIMITED`) or the client's own pause (`QUEUE_FULL`).
fn busy(reason: &str, metadata: &std::collections::HashMap<String, String>) -> Option<Verdict> {
    let wait = match reason {
        "RATE_LIMITED" => {
            let millis = metadata.get("retry_after_ms")?.parse::<u64>().ok()?;
            Some(Duration::from_millis(millis)).filter(|wait| *wait <= MOST_RETRY_AFTER)?
        }
        "QUEUE_FULL" => return Some(again(None)),
        _ => return None,
    };
    Some(again(Some(wait)))
}

fn again(wait: Option<Duration>) -> Verdict {
    Verdict {
        next: Next::Same,
        members: Vec::new(),
        wait,
    }
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
    fn a_busy_node_is_asked_again_after_the_wait_it_names() {
        let limited = refusal(
            Code::ResourceExhausted,
            "RATE_LIMITED",
            &[("scope", "address"), ("retry_after_ms", "40")],
        );
        let verdict = classify(&limited, "x").unwrap();
        assert_eq!(verdict.next, Next::Same);
        assert_eq!(verdict.wait, Some(Duration::from_millis(40)));
        let full = refusal(Code::ResourceExhausted, "QUEUE_FULL", &[]);
        assert_eq!(classify(&full, "x"), Some(again(None)));
        let too_long = refusal(
            Code::ResourceExhausted,
            "RATE_LIMITED",
            &[("retry_after_ms", "60000")],
        );
        assert_eq!(classify(&too_long, "x"), None);
        let unnamed = refusal(Code::ResourceExhausted, "RATE_LIMITED", &[]);
        assert_eq!(classify(&unnamed, "x"), None);
        let other = refusal(Code::ResourceExhausted, "TOO_LARGE", &[]);
        assert_eq!(classify(&other, "x"), None);
    }

    #[test]
    fn a_removed_member_sends_the_request_to_another() {
        let removed = refusal(
            Code::FailedPrecondition,
            "SEALER_NOT_A_MEMBER",
            &[("since", "40")],
        );
        assert_eq!(classify(&removed, "x").unwrap().next, Next::Another);
    }

    #[test]
    fn no_answer_at_all_goes_to_another_member() {
        let gone = Status::unavailable("connection refused");
        assert_eq!(classify(&gone, "x").unwrap().next, Next::Another);
        let bad = Status::invalid_argument("no ErrorInfo");
        assert_eq!(classify(&bad, "x"), None);
    }
}
