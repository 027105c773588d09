#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use openraft::{Entry, EntryPayload, LeaderId, LogId, Membership, Vote};
use pledge_ledger::crypto::Digest;
use pledge_ledger::entry::{Entry as LedgerEntry, Sealed};
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_proto::cluster as pb;

use super::*;
use crate::types::{Group, MemberNode, TypeConfig};

fn sealed(seq: u64, prev: Digest) -> Sealed {
    let party = SigningKey::from_bytes(&[1; 32]);
    let member = SigningKey::from_bytes(&[2; 32]);
    let envelope = EnvelopeBuilder::from_bytes(format!("\x12\x04tx{seq:02}").into_bytes())
        .sign("bank-a", &party)
        .build();
    LedgerEntry::seal_new_sealed(seq, prev, 1_700_000_000_000 + seq, envelope, &member)
}

fn group(first_seq: u64, len: u64) -> Group {
    let mut prev = Digest([7; 32]);
    let entries = (first_seq..first_seq + len)
        .map(|seq| {
            let entry = sealed(seq, prev);
            prev = entry.hash;
            entry
        })
        .collect();
    Group { first_seq, entries }
}

fn log(term: u64, member: u64, index: u64) -> LogId<u64> {
    LogId::new(LeaderId::new(term, member), index)
}

fn membership() -> Membership<u64, MemberNode> {
    let node = |n: u64| MemberNode {
        address: format!("http://127.0.0.1:5007{n}"),
    };
    let nodes: BTreeMap<u64, MemberNode> = (1..=4).map(|n| (n, node(n))).collect();
    let old: BTreeSet<u64> = [1, 2, 3].into();
    let new: BTreeSet<u64> = [1, 2, 4].into();
    Membership::new(vec![old, new], nodes)
}

fn roundtrip(entry: Entry<TypeConfig>) {
    let wire = entry.to_wire();
    let back = Entry::<TypeConfig>::from_wire(wire).unwrap();
    assert_eq!(back.log_id, entry.log_id);
    assert_eq!(
        format!("{:?}", back.payload),
        format!("{:?}", entry.payload)
    );
    if let (EntryPayload::Normal(a), EntryPayload::Normal(b)) = (&back.payload, &entry.payload) {
        assert_eq!(a, b);
    }
    if let (EntryPayload::Membership(a), EntryPayload::Membership(b)) =
        (&back.payload, &entry.payload)
    {
        assert_eq!(a, b);
    }
}

#[test]
fn every_kind_of_entry_roundtrips() {
    roundtrip(Entry {
        log_id: log(3, 1, 10),
        payload: EntryPayload::Blank,
    });
    roundtrip(Entry {
        log_id: log(3, 1, 11),
        payload: EntryPayload::Normal(group(40, 5)),
    });
    roundtrip(Entry {
        log_id: log(4, 2, 12),
        payload: EntryPayload::Membership(membership()),
    });
}

#[test]
fn append_entries_and_votes_roundtrip() {
    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(5, 2),
        prev_log_id: Some(log(4, 1, 9)),
        entries: vec![Entry {
            log_id: log(5, 2, 10),
            payload: EntryPayload::Normal(group(0, 2)),
        }],
        leader_commit: None,
    };
    let back: AppendEntriesRequest<TypeConfig> = request.to_wire().into_domain().unwrap();
    assert_eq!(back.vote, request.vote);
    assert_eq!(back.prev_log_id, request.prev_log_id);
    assert_eq!(back.leader_commit, None);
    assert_eq!(back.entries.len(), 1);

    for response in [
        AppendEntriesResponse::Success,
        AppendEntriesResponse::PartialSuccess(Some(log(5, 2, 8))),
        AppendEntriesResponse::PartialSuccess(None),
        AppendEntriesResponse::Conflict,
        AppendEntriesResponse::HigherVote(Vote::new(6, 3)),
    ] {
        let back: AppendEntriesResponse<u64> = response.to_wire().into_domain().unwrap();
        assert_eq!(back, response);
    }

    let vote = VoteRequest::new(Vote::new(7, 3), Some(log(6, 1, 100)));
    let back: VoteRequest<u64> = vote.to_wire().into_domain().unwrap();
    assert_eq!(back, vote);
    let answer = VoteResponse {
        vote: Vote::new_committed(7, 3),
        vote_granted: true,
        last_log_id: None,
    };
    let back: VoteResponse<u64> = answer.to_wire().into_domain().unwrap();
    assert_eq!(back, answer);
}

#[test]
fn a_group_whose_records_are_out_of_place_is_refused() {
    let mut wire = group_to_pb(&group(10, 3));
    wire.records.swap(0, 1);
    assert!(matches!(
        Group::from_wire(wire),
        Err(WireError::BadRecord { seq: 10, .. })
    ));
    let mut wire = group_to_pb(&group(10, 3));
    wire.first_seq = 11;
    assert!(matches!(
        Group::from_wire(wire),
        Err(WireError::BadRecord { seq: 11, .. })
    ));
}

#[test]
fn an_empty_or_undecodable_group_is_refused() {
    let empty = pb::Group {
        first_seq: 3,
        records: Vec::new(),
    };
    assert!(matches!(
        Group::from_wire(empty),
        Err(WireError::BadGroup { first_seq: 3, .. })
    ));
    let mut wire = group_to_pb(&group(0, 1));
    wire.records[0].truncate(20);
    assert!(matches!(
        Group::from_wire(wire),
        Err(WireError::BadRecord { seq: 0, .. })
    ));
    let overflow = pb::Group {
        first_seq: u64::MAX,
        records: vec![vec![1]],
    };
    assert!(matches!(
        Group::from_wire(overflow),
        Err(WireError::BadGroup { .. })
    ));
}

#[test]
fn missing_fields_and_bad_memberships_are_named() {
    let no_vote = pb::VoteRequest::default();
    assert_eq!(
        VoteRequest::<u64>::from_wire(no_vote).unwrap_err(),
        WireError::Missing { field: "vote" }
    );
    let no_payload = pb::Entry {
        log_id: Some(log_id_to_pb(&log(1, 1, 1))),
        payload: None,
    };
    assert_eq!(
        Entry::<TypeConfig>::from_wire(no_payload).unwrap_err(),
        WireError::Missing {
            field: "entry.payload"
        }
    );
    let mut wire = membership().to_wire();
    wire.members.retain(|m| m.member_id != 4);
    let refusal = Membership::<u64, MemberNode>::from_wire(wire).unwrap_err();
    assert_eq!(refusal.to_string(), "membership: voter 4 has no address");
    let mut wire = membership().to_wire();
    wire.configs.push(pb::VoterSet {
        member_ids: vec![1],
    });
    assert!(Membership::<u64, MemberNode>::from_wire(wire).is_err());
    let position = pb::ChainPosition {
        size: 1,
        head_hash: vec![0; 31],
        head_time_ms: 0,
    };
    assert_eq!(
        chain_position(position).unwrap_err(),
        WireError::BadHashLength {
            field: "chain.head_hash",
            len: 31
        }
    );
}

#[test]
fn snapshot_meta_roundtrips() {
    let meta = openraft::SnapshotMeta {
        last_log_id: Some(log(3, 1, 50)),
        last_membership: openraft::StoredMembership::new(Some(log(2, 1, 7)), membership()),
        snapshot_id: "3-1-50-1".into(),
    };
    let back = snapshot_meta(snapshot_meta_to_pb(&meta)).unwrap();
    assert_eq!(back, meta);
}
