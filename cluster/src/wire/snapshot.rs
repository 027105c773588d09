//! Chain positions and snapshot metadata.

use openraft::{SnapshotMeta, StoredMembership};
use pledge_ledger::chain::ChainCursor;
use pledge_ledger::crypto::Digest;
use pledge_proto::cluster as pb;

use super::messages::{opt_log_id, opt_log_id_to_pb};
use super::{IntoDomain, ToWire, WireError, required};
use crate::types::{MemberId, MemberNode};

/// A chain position for the wire.
pub fn chain_position_to_pb(position: &ChainCursor) -> pb::ChainPosition {
    pb::ChainPosition {
        size: position.next_seq,
        head_hash: position.head_hash.0.to_vec(),
        head_time_ms: position.head_time_ms,
    }
}

/// A chain position from the wire.
pub fn chain_position(position: pb::ChainPosition) -> Result<ChainCursor, WireError> {
    Ok(ChainCursor {
        next_seq: position.size,
        head_hash: Digest(hash32("chain.head_hash", &position.head_hash)?),
        head_time_ms: position.head_time_ms,
    })
}

/// Exactly 32 bytes.
pub(super) fn hash32(field: &'static str, bytes: &[u8]) -> Result<[u8; 32], WireError> {
    bytes.try_into().map_err(|_| WireError::BadHashLength {
        field,
        len: bytes.len(),
    })
}

/// openraft's part of a snapshot's metadata, for the wire; the chain
/// position and root are the caller's to add.
pub fn snapshot_meta_to_pb(meta: &SnapshotMeta<MemberId, MemberNode>) -> pb::SnapshotMeta {
    let membership = &meta.last_membership;
    pb::SnapshotMeta {
        last_log_id: opt_log_id_to_pb(&meta.last_log_id),
        last_membership_log_id: opt_log_id_to_pb(membership.log_id()),
        last_membership: Some(membership.membership().to_wire()),
        snapshot_id: meta.snapshot_id.clone(),
        chain: None,
        tree_root: Vec::new(),
    }
}

/// openraft's part of a snapshot's metadata, from the wire.
pub fn snapshot_meta(
    meta: pb::SnapshotMeta,
) -> Result<SnapshotMeta<MemberId, MemberNode>, WireError> {
    let membership = required(meta.last_membership, "meta.last_membership")?.into_domain()?;
    Ok(SnapshotMeta {
        last_log_id: opt_log_id(meta.last_log_id)?,
        last_membership: StoredMembership::new(
            opt_log_id(meta.last_membership_log_id)?,
            membership,
        ),
        snapshot_id: meta.snapshot_id,
    })
}
