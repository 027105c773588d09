//! The one error type of the client library.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use pledge_ledger::keyfile::KeyFileError;
use thiserror::Error;
use tonic_types::StatusExt;

/// Everything that can go wrong in the client library.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The endpoint is not a usable URL.
    #[error("invalid node endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node could not be reached, or the connection broke.
    #[error("cannot reach the node: {message}")]
    Transport {
        /// What the transport layer said.
        message: String,
    },
    /// The node answered with a gRPC error status: it refused the request.
    #[error("{0}")]
    Refused(Box<Refusal>),
    /// The node's answer lacks a field or carries a malformed one.
    #[error("unexpected answer from the node: {reason}")]
    BadAnswer {
        /// What is wrong.
        reason: String,
    },
    /// A key file could not be read or written.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A draft file is malformed or a signature cannot be added to it.
    #[error("draft {path}: {reason}")]
    Draft {
        /// The draft file ("-" when not from a file).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An export file is malformed.
    #[error("export file, record {index} at byte {offset}: {reason}")]
    Export {
        /// The record's position in the file, from 0.
        index: u64,
        /// Byte offset of the record's length prefix.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// "read", "write", "create"...
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A value given by the user is not valid (a time, a key, an id).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which value.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint is not signed by an accepted node key or lacks the
    /// witness quorum (the message names the missing witnesses).
    #[error("the checkpoint is not believed: {0}")]
    Untrusted(#[from] pledge_ledger::cosigning::TrustError),
    /// An evidence bundle does not verify.
    #[error("the bundle does not verify: {0}")]
    Bundle(#[from] pledge_ledger::bundle::BundleError),
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// A gRPC error status from the node, with its structured detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The gRPC status code (e.g. `FailedPrecondition`).
    pub code: tonic::Code,
    /// The node's message, naming the conflict.
    pub message: String,
    /// The `google.rpc.ErrorInfo` detail, if the node attached one.
    pub info: Option<RefusalInfo>,
}

/// The `google.rpc.ErrorInfo` of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalInfo {
    /// Stable machine-readable reason, e.g. `RECEIPT_PLEDGED`.
    pub reason: String,
    /// The error domain, `pledgeledger.v1` for the node's own refusals.
    pub domain: String,
    /// The ids involved (receipt, pledge, signer...).
    pub metadata: BTreeMap<String, String>,
}

impl Refusal {
    /// The status code's canonical name, e.g. `FAILED_PRECONDITION`.
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}: {}", self.code_name(), self.message)?;
        if let Some(info) = &self.info {
            write!(f, " [{}", info.reason)?;
            for (key, value) in &info.metadata {
                write!(f, " {key}={value}")?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl ClientError {
    /// The refusal, when the node refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ClientError::Refused(refusal) => Some(refusal),
            _ => None,
        }
    }

    pub(crate) fn draft(path: &str, reason: impl Into<String>) -> ClientError {
        ClientError::Draft {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_answer(reason: impl Into<String>) -> ClientError {
        ClientError::BadAnswer {
            reason: reason.into(),
        }
    }

    pub(crate) fn input(what: &'static str, reason: impl Into<String>) -> ClientError {
        ClientError::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}

impl From<tonic::Status> for ClientError {
    /// A status produced by the transport (it carries a source error) is a
    /// transport failure; one decoded from the node's answer is a refusal.
    fn from(status: tonic::Status) -> ClientError {
        if let Some(source) = std::error::Error::source(&status) {
            return ClientError::Transport {
                message: format!("{}: {source}", status.message()),
            };
        }
        let info = status.get_details_error_info().map(|info| RefusalInfo {
            reason: info.reason,
            domain: info.domain,
            metadata: info.metadata.into_iter().collect(),
        });
        ClientError::Refused(Box::new(Refusal {
            code: status.code(),
            message: status.message().to_owned(),
            info,
        }))
    }
}

impl From<tonic::transport::Error> for ClientError {
    fn from(error: tonic::transport::Error) -> ClientError {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        ClientError::Transport { message }
    }
}

/// The canonical upper-case name of a gRPC status code.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Results of the client library.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn refusal_carries_code_message_and_error_info() {
        let details = ErrorDetails::with_error_info(
            "RECEIPT_PLEDGED",
            "pledgeledger.v1",
            [("receipt".to_owned(), "R-1".to_owned())],
        );
        let status = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "receipt R-1 is pledged",
            details,
        );
        let error = ClientError::from(status);
        let refusal = error.refusal().unwrap();
        assert_eq!(refusal.code, tonic::Code::FailedPrecondition);
        assert_eq!(refusal.code_name(), "FAILED_PRECONDITION");
        let info = refusal.info.as_ref().unwrap();
        assert_eq!(info.reason, "RECEIPT_PLEDGED");
        assert_eq!(info.metadata["receipt"], "R-1");
        assert_eq!(
            error.to_string(),
            "refused: FAILED_PRECONDITION: receipt R-1 is pledged [RECEIPT_PLEDGED receipt=R-1]"
        );
    }

    #[test]
    fn plain_status_is_a_refusal_without_info() {
        let error = ClientError::from(tonic::Status::not_found("no receipt R-9"));
        let refusal = error.refusal().unwrap();
        assert_eq!(refusal.code, tonic::Code::NotFound);
        assert!(refusal.info.is_none());
    }
}
