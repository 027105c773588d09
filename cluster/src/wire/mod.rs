//! Conversions between openraft's types (with [`TypeConfig`]) and the
//! member-to-member protobuf messages of `raft.proto`, one module per
//! family. `TryFrom` is where bytes from another member are checked: a
//! missing field, a group whose records do not decode or are out of
//! order, a membership naming a voter without an address, a hash of the
//! wrong length: each is a [`WireError`] naming the field, never a panic.
//!
//! [`TypeConfig`]: crate::types::TypeConfig

mod entries;
mod messages;
mod snapshot;

pub use entries::{group_from_records, group_to_pb};
pub use messages::{log_id, log_id_to_pb, opt_log_id, opt_log_id_to_pb};
pub use snapshot::{chain_position, chain_position_to_pb, snapshot_meta, snapshot_meta_to_pb};

use pledge_ledger::error::DecodeError;
use thiserror::Error;

/// Why a message from another member could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// A required field is absent.
    #[error("`{field}` is missing")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A group is empty, too large, or starts before the first entry.
    #[error("group at {first_seq}: {reason}")]
    BadGroup {
        /// The group's first sequence number.
        first_seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record of a group does not decode or carries another sequence number.
    #[error("group record for entry {seq}: {source}")]
    BadRecord {
        /// The entry the record should be.
        seq: u64,
        /// Why it is refused.
        source: DecodeError,
    },
    /// A membership configuration is inconsistent.
    #[error("membership: {reason}")]
    BadMembership {
        /// What is wrong.
        reason: String,
    },
    /// A hash field does not have 32 bytes.
    #[error("`{field}` must be 32 bytes, got {len}")]
    BadHashLength {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
}

/// A domain value that has a wire form.
pub trait ToWire {
    /// Its protobuf message.
    type Wire;
    /// The message for the wire.
    fn to_wire(&self) -> Self::Wire;
}

/// A domain value read from the wire, checked.
pub trait FromWire: Sized {
    /// Its protobuf message.
    type Wire;
    /// The value, or why the message does not make one.
    fn from_wire(wire: Self::Wire) -> Result<Self, WireError>;
}

/// `message.into_domain()`: [`FromWire`] called from the message's side.
pub trait IntoDomain<T> {
    /// The domain value, or why the message does not make one.
    fn into_domain(self) -> Result<T, WireError>;
}

impl<W, T: FromWire<Wire = W>> IntoDomain<T> for W {
    fn into_domain(self) -> Result<T, WireError> {
        T::from_wire(self)
    }
}

/// A required message field.
fn required<T>(value: Option<T>, field: &'static str) -> Result<T, WireError> {
    value.ok_or(WireError::Missing { field })
}

#[cfg(test)]
mod tests;
