//! The one place where errors become gRPC statuses: a standard code, a
//! message naming what was wrong, and a google.rpc.ErrorInfo with a stable
//! reason and the ids involved.

use std::collections::HashMap;

use pledge_ledger::envelope::EnvelopeError;
use pledge_ledger::error::{DecodeError, SignatureError};
use pledge_ledger::model::Seq;
use pledge_ledger::{Rejection, RejectionKind};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::pipeline::SequencerError;

/// The ErrorInfo domain of every refusal.
pub const DOMAIN: &str = "pledgeledger.v1";

/// A status with an ErrorInfo detail.
pub fn status(
    code: Code,
    message: String,
    reason: &str,
    metadata: Vec<(String, String)>,
) -> Status {
    let metadata: HashMap<String, String> = metadata.into_iter().collect();
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, DOMAIN, metadata),
    )
}

/// A refusal by the rules, recorded by attempt entry `attempt` if one
/// records it: the refusal's metadata then also carries `attempt_entry`.
pub fn refusal(rejection: &Rejection, attempt: Option<Seq>) -> Status {
    let (code, message, reason, mut metadata) = rejection_parts(rejection);
    if let Some(seq) = attempt {
        metadata.push(("attempt_entry".into(), seq.to_string()));
    }
    status(code, message, reason, metadata)
}

/// A refusal's code, message, reason and metadata.
fn rejection_parts(rejection: &Rejection) -> (Code, String, &'static str, Vec<(String, String)>) {
    let code = match rejection.kind() {
        RejectionKind::InvalidArgument => Code::InvalidArgument,
        RejectionKind::Unauthenticated => Code::Unauthenticated,
        RejectionKind::PermissionDenied => Code::PermissionDenied,
        RejectionKind::AlreadyExists => Code::AlreadyExists,
        RejectionKind::NotFound => Code::NotFound,
        RejectionKind::FailedPrecondition => Code::FailedPrecondition,
    };
    (
        code,
        rejection.to_string(),
        rejection.reason(),
        rejection.fields(),
    )
}

/// An envelope refused before the rules: malformed, or a bad signature.
pub fn envelope(error: &EnvelopeError) -> Status {
    match error {
        EnvelopeError::Decode(DecodeError::UnknownField {
            message,
            field,
            path,
        }) => status(
            Code::InvalidArgument,
            error.to_string(),
            error.reason(),
            vec![
                ("field".into(), field.to_string()),
                ("message".into(), message.clone()),
                ("path".into(), path.clone()),
            ],
        ),
        EnvelopeError::Decode(DecodeError::NotCanonical { offset }) => status(
            Code::InvalidArgument,
            error.to_string(),
            error.reason(),
            vec![("offset".into(), offset.to_string())],
        ),
        EnvelopeError::Decode(decode) => status(
            Code::InvalidArgument,
            decode.to_string(),
            error.reason(),
            Vec::new(),
        ),
        EnvelopeError::Signature(SignatureError::Invalid { signer }) => status(
            Code::Unauthenticated,
            error.to_string(),
            error.reason(),
            vec![("signer".into(), signer.clone())],
        ),
        // No signature: nobody is authenticated, whatever the operation.
        EnvelopeError::Signature(SignatureError::Unsigned) => status(
            Code::Unauthenticated,
            error.to_string(),
            error.reason(),
            Vec::new(),
        ),
        _ => status(
            Code::InvalidArgument,
            error.to_string(),
            error.reason(),
            Vec::new(),
        ),
    }
}

/// The sequencer could not answer.
pub fn sequencer(error: &SequencerError) -> Status {
    match error {
        SequencerError::QueueFull { .. } => status(
            Code::ResourceExhausted,
            error.to_string(),
            "QUEUE_FULL",
            Vec::new(),
        ),
        SequencerError::Stopped { .. } => status(
            Code::Unavailable,
            error.to_string(),
            "NOT_ACCEPTING_WRITES",
            Vec::new(),
        ),
        SequencerError::Store { .. } => status(
            Code::Unavailable,
            error.to_string(),
            "STORE_FAILED",
            Vec::new(),
        ),
        SequencerError::OutcomeUnknown { .. } => status(
            Code::Unavailable,
            error.to_string(),
            "OUTCOME_UNKNOWN",
            Vec::new(),
        ),
        SequencerError::Cluster { reason, .. } => {
            status(Code::Unavailable, error.to_string(), reason, Vec::new())
        }
    }
}

/// A store failure while a write was being admitted, before it reached
/// the sequencer: the submission was not written (UNAVAILABLE, as the
/// sequencer's own `STORE_FAILED`; docs/ERRORS.md), not an internal error.
pub fn store_on_write(error: &impl std::fmt::Display) -> Status {
    tracing::error!(%error, "store read failed while admitting a write");
    status(
        Code::Unavailable,
        format!("store: {error}: the submission was not written"),
        "STORE_FAILED",
        Vec::new(),
    )
}

/// A store failure on a read.
pub fn store(error: &impl std::fmt::Display) -> Status {
    tracing::error!(%error, "store read failed");
    status(
        Code::Internal,
        format!("store: {error}"),
        "STORE_FAILED",
        Vec::new(),
    )
}

/// The state map at `size` is below the floor the node keeps it from
/// (docs/FORMAT.md §7.9, "Pruning"): proofs are made at newer checkpoints.
pub fn map_pruned(size: u64, floor: u64) -> Status {
    status(
        Code::FailedPrecondition,
        format!(
            "the state map after {size} entries is no longer kept (kept from {floor} on); \
             ask again: proofs are made at the latest checkpoint"
        ),
        "STATE_PRUNED",
        vec![
            ("tree_size".into(), size.to_string()),
            ("floor".into(), floor.to_string()),
        ],
    )
}

/// A field of a request is missing or invalid.
pub fn bad_request(message: String) -> Status {
    status(Code::InvalidArgument, message, "BAD_REQUEST", Vec::new())
}

/// The object asked for does not exist.
pub fn not_found(what: &str, id: &str) -> Status {
    status(
        Code::NotFound,
        format!("{what} `{id}` does not exist"),
        "NOT_FOUND",
        vec![(what.into(), id.into())],
    )
}

#[cfg(test)]
mod errors_md {
    //! docs/ERRORS.md lists every reason the node attaches outside the rules
    //! (whose codes the ledger's tests check), and no other.

    use std::collections::BTreeSet;

    const ERRORS_MD: &str = include_str!("../../docs/ERRORS.md");

    /// Every file of the node that writes a reason into a status.
    const SOURCES: &[&str] = &[
        include_str!("status.rs"),
        include_str!("service.rs"),
        include_str!("alerts.rs"),
        include_str!("ratelimit.rs"),
        include_str!("streams.rs"),
        include_str!("tls.rs"),
        include_str!("revocation.rs"),
        include_str!("cluster/mod.rs"),
        include_str!("cluster/sequencing.rs"),
        include_str!("reads.rs"),
        include_str!("report.rs"),
        include_str!("cluster/reads.rs"),
        include_str!("../../proto/src/codec.rs"),
    ];

    /// The envelope's refusals are coded in the ledger, in
    /// `EnvelopeError::reason`: one match arm `… => "CODE",` each.
    const ENVELOPE_RS: &str = include_str!("../../ledger/src/envelope.rs");

    fn envelope_reasons() -> impl Iterator<Item = &'static str> {
        ENVELOPE_RS
            .lines()
            .filter_map(|line| line.trim().split_once(" => \"")?.1.strip_suffix("\","))
            .filter(|code| is_code(code))
    }

    fn is_code(text: &str) -> bool {
        text.len() > 3 && text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    }

    /// Reasons as the node writes them: a line that is just `"CODE",`,
    /// `reason: "CODE",`, a `&str` constant, or a one-line `status(…)`.
    fn reasons_in_code() -> BTreeSet<&'static str> {
        SOURCES
            .iter()
            .flat_map(|source| source.lines())
            .map(str::trim)
            .filter_map(|line| {
                if let Some((_, call)) = line.split_once("status(") {
                    // A one-line call: its first string literal is the reason.
                    let code = call.split('"').nth(1)?;
                    return is_code(code).then_some(code);
                }
                let literal = line
                    .strip_prefix("reason: ")
                    .unwrap_or(line)
                    .strip_suffix(',')
                    .or_else(|| line.split_once(": &str = ")?.1.strip_suffix(';'))?;
                let code = literal.strip_prefix('"')?.strip_suffix('"')?;
                is_code(code).then_some(code)
            })
            .chain(envelope_reasons())
            .collect()
    }

    /// The codes of ERRORS.md's tables outside §2 (the rules).
    fn documented_node_reasons() -> BTreeSet<&'static str> {
        let rules = ERRORS_MD.find("\n## 2. ").expect("ERRORS.md §2");
        let after = rules + ERRORS_MD[rules..].find("\n## 3. ").expect("ERRORS.md §3");
        [&ERRORS_MD[..rules], &ERRORS_MD[after..]]
            .iter()
            .flat_map(|part| part.lines())
            .filter_map(|line| line.strip_prefix("| `")?.split_once('`'))
            .map(|(code, _)| code)
            .filter(|code| is_code(code))
            .collect()
    }

    #[test]
    fn every_reason_the_node_attaches_is_in_errors_md_and_no_other() {
        let in_code = reasons_in_code();
        for expected in ["MALFORMED", "NO_SIGNATURE", "PAST_HEAD", "NO_LEADER"] {
            assert!(in_code.contains(expected), "{expected}: {in_code:?}");
        }
        assert_eq!(documented_node_reasons(), in_code);
    }
}
