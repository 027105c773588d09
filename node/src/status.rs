//! The one place where errors become gRPC statuses: a standard code, a
//! message naming what was wrong, and a google.rpc.ErrorInfo with a stable
//! reason and the ids involved.

use std::collections::HashMap;

use pledge_ledger::envelope::EnvelopeError;
use pledge_ledger::error::SignatureError;
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

/// A refusal by the rules.
pub fn rejection(rejection: &Rejection) -> Status {
    let code = match rejection.kind() {
        RejectionKind::InvalidArgument => Code::InvalidArgument,
        RejectionKind::Unauthenticated => Code::Unauthenticated,
        RejectionKind::PermissionDenied => Code::PermissionDenied,
        RejectionKind::AlreadyExists => Code::AlreadyExists,
        RejectionKind::NotFound => Code::NotFound,
        RejectionKind::FailedPrecondition => Code::FailedPrecondition,
    };
    status(
        code,
        rejection.to_string(),
        rejection.reason(),
        rejection.fields(),
    )
}

/// An envelope refused before the rules: malformed, or a bad signature.
pub fn envelope(error: &EnvelopeError) -> Status {
    match error {
        EnvelopeError::Decode(decode) => status(
            Code::InvalidArgument,
            decode.to_string(),
            "MALFORMED",
            Vec::new(),
        ),
        EnvelopeError::Signature(SignatureError::Invalid { signer }) => status(
            Code::Unauthenticated,
            error.to_string(),
            "BAD_SIGNATURE",
            vec![("signer".into(), signer.clone())],
        ),
        EnvelopeError::Signature(other) => status(
            Code::Unauthenticated,
            other.to_string(),
            "BAD_SIGNATURE",
            Vec::new(),
        ),
        _ => status(
            Code::InvalidArgument,
            error.to_string(),
            "MALFORMED",
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
        SequencerError::Cluster { reason, .. } => {
            status(Code::Unavailable, error.to_string(), reason, Vec::new())
        }
    }
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
