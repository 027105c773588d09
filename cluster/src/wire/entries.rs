//! Raft log entries and the groups they carry.

use openraft::{Entry, EntryPayload};
use pledge_ledger::crypto::{self, Digest};
use pledge_ledger::entry::{self, Sealed};
use pledge_ledger::error::DecodeError;
use pledge_proto::cluster as pb;

use super::messages::{log_id, log_id_to_pb};
use super::{FromWire, IntoDomain, ToWire, WireError, required};
use crate::types::{Group, MAX_GROUP_ENTRIES, TypeConfig};

impl ToWire for Entry<TypeConfig> {
    type Wire = pb::Entry;

    fn to_wire(&self) -> pb::Entry {
        let entry = self;
        use pb::entry::Payload;
        let payload = match &entry.payload {
            EntryPayload::Blank => Payload::Blank(pb::Blank {}),
            EntryPayload::Normal(group) => Payload::Group(group_to_pb(group)),
            EntryPayload::Membership(membership) => Payload::Membership(membership.to_wire()),
        };
        pb::Entry {
            log_id: Some(log_id_to_pb(&entry.log_id)),
            payload: Some(payload),
        }
    }
}

impl FromWire for Entry<TypeConfig> {
    type Wire = pb::Entry;

    fn from_wire(entry: pb::Entry) -> Result<Self, WireError> {
        use pb::entry::Payload;
        let payload = match required(entry.payload, "entry.payload")? {
            Payload::Blank(_) => EntryPayload::Blank,
            Payload::Group(group) => EntryPayload::Normal(group.into_domain()?),
            Payload::Membership(membership) => EntryPayload::Membership(membership.into_domain()?),
        };
        Ok(Entry {
            log_id: log_id(required(entry.log_id, "entry.log_id")?)?,
            payload,
        })
    }
}

/// A group for the wire: its records exactly as stored.
pub fn group_to_pb(group: &Group) -> pb::Group {
    pb::Group {
        first_seq: group.first_seq,
        records: group.entries.iter().map(|s| s.record.clone()).collect(),
    }
}

impl FromWire for Group {
    type Wire = pb::Group;

    fn from_wire(group: pb::Group) -> Result<Self, WireError> {
        group_from_records(group.first_seq, group.records)
    }
}

/// A group from its records: 1 ..= [`MAX_GROUP_ENTRIES`] of them, each a
/// well-formed entry record carrying the sequence number of its place. The
/// chain links and seals are checked when the group is applied, against the
/// chain it must follow.
pub fn group_from_records(first_seq: u64, records: Vec<Vec<u8>>) -> Result<Group, WireError> {
    let bad = |reason: String| WireError::BadGroup { first_seq, reason };
    if records.is_empty() || records.len() > MAX_GROUP_ENTRIES {
        return Err(bad(format!(
            "{} records; a group has 1..={MAX_GROUP_ENTRIES}",
            records.len()
        )));
    }
    if first_seq.checked_add(records.len() as u64).is_none() {
        return Err(bad("the sequence numbers overflow".into()));
    }
    let entries = records
        .into_iter()
        .zip(first_seq..)
        .map(|(record, seq)| sealed_record(seq, record))
        .collect::<Result<_, _>>()?;
    Ok(Group { first_seq, entries })
}

/// Decodes one record that must be entry `seq`.
fn sealed_record(seq: u64, record: Vec<u8>) -> Result<Sealed, WireError> {
    let entry =
        entry::Entry::decode(&record).map_err(|source| WireError::BadRecord { seq, source })?;
    if entry.seq != seq {
        let reason = format!("carries sequence number {}", entry.seq);
        let source = DecodeError::BadEntry { reason };
        return Err(WireError::BadRecord { seq, source });
    }
    let body = &record[..record.len() - entry::SEAL_LEN];
    let hash = Digest::tagged(crypto::ENTRY_HASH_TAG, &[body]);
    Ok(Sealed {
        entry,
        hash,
        record,
    })
}
