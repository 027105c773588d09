//! The ledger's Raft types: what a Raft entry carries ([`Group`]), who a
//! member is to Raft ([`MemberNode`]), what applying an entry answers
//! ([`Applied`]) and what a snapshot holds ([`StateSnapshot`]), gathered in
//! [`TypeConfig`] for openraft.

use std::fmt;

use pledge_ledger::chain::ChainCursor;
use pledge_ledger::entry::Sealed;
use pledge_ledger::merkle::Hash;

/// A member's id: 1 ..= 2⁶³ (0 is not a member; it names the one node key of
/// a single-node ledger in the entry format).
pub type MemberId = u64;

openraft::declare_raft_types!(
    /// The ledger's Raft type configuration.
    pub TypeConfig:
        D = Group,
        R = Applied,
        NodeId = MemberId,
        Node = MemberNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = StateSnapshot,
        AsyncRuntime = openraft::TokioRuntime,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
);

/// The largest number of entries in one group (as in one frame of the
/// entry log, docs/FORMAT.md §5).
pub const MAX_GROUP_ENTRIES: usize = 65_536;

/// Consecutive chain entries decided and sealed by the leader: the payload
/// of a Raft entry. Entry `i` of `entries` has sequence number
/// `first_seq + i`.
#[derive(Clone, PartialEq, Eq)]
pub struct Group {
    /// Sequence number of the first entry.
    pub first_seq: u64,
    /// The entries, each with its hash and its record (body ‖ seal).
    pub entries: Vec<Sealed>,
}

impl Group {
    /// The chain size once this group is applied.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.entries.len() as u64
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Group[{}..{})", self.first_seq, self.end_seq())
    }
}

/// A member as Raft knows it: where its member-to-member service listens.
/// (Its name and member key are ledger data, docs/REPLICATION.md §7.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberNode {
    /// URL of the member's cluster service, e.g. `https://10.1.0.2:50071`.
    pub address: String,
}

impl fmt::Display for MemberNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// What applying a Raft entry answers: the chain size after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries in the chain once the Raft entry was applied.
    pub chain_size: u64,
}

/// A snapshot's data: the state store's export at a chain position
/// (docs/REPLICATION.md §6), and, on its way to a member that lacks them,
/// the chain records from `records_from` up to the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSnapshot {
    /// The chain position the state reflects.
    pub position: ChainCursor,
    /// The Merkle root over the chain's entries at that position.
    pub tree_root: Hash,
    /// The state store's export, opaque to Raft.
    pub state: Vec<u8>,
    /// The sequence number of the first record in `records`.
    pub records_from: u64,
    /// Chain records `records_from ..` the position, body ‖ seal each
    /// (empty on the member that built the snapshot: its chain has them).
    pub records: Vec<Vec<u8>>,
}

impl StateSnapshot {
    /// A snapshot of `state` at `position`, carrying no records.
    pub fn at(position: ChainCursor, tree_root: Hash, state: Vec<u8>) -> StateSnapshot {
        StateSnapshot {
            position,
            tree_root,
            state,
            records_from: position.next_seq,
            records: Vec::new(),
        }
    }
}
