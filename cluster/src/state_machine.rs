//! The ledger as openraft's [`RaftStateMachine`]: committed groups go into
//! the chain, in order, checked; snapshots are the state at a chain position.
//!
//! ```text
//!   openraft ──apply(committed entries)──▶ LedgerMachine
//!                                            │ Blank       nothing
//!                                            │ Membership  remembered (Raft's configuration)
//!                                            │ Group       Chain::apply_group: links, seals, append, fold (no sync)
//!   openraft ──get_snapshot_builder──▶ Chain::export (between two applies: the applied point's state)
//!   openraft ──build_snapshot──▶ Chain::sync, applied point written ──▶ StateSnapshot
//!   openraft ──install_snapshot(StateSnapshot)──▶ Chain::install
//! ```
//!
//! What the chain has applied survives a crash through the **applied
//! point** (`DATA_DIR/raft/applied`): the last Raft log id and membership
//! applied, written only after the chain was synced up to them. After a
//! crash the chain is at least there (it may be further: groups applied
//! after the last sync and not lost), openraft applies again from the
//! applied point, and [`Chain::apply_group`] accepts a group that the chain
//! already holds byte for byte as applied.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, SnapshotMeta, StorageError,
    StoredMembership,
};
use pledge_ledger::chain::ChainCursor;
use pledge_proto::cluster as pb;
use prost::Message;

use crate::types::{Applied, Group, MemberId, MemberNode, StateSnapshot, TypeConfig};
use crate::wire::{chain_position_to_pb, snapshot_meta, snapshot_meta_to_pb};

type Error = StorageError<MemberId>;

/// Why the chain refused a group or a snapshot.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChainFault(pub String);

/// What the state machine needs from a member's ledger.
pub trait Chain: Send + Sync + 'static {
    /// Where the chain stands.
    fn position(&self) -> ChainCursor;
    /// Checks a committed group (links, times, seals by members in force)
    /// and appends it, without a sync of its own; a group the chain already
    /// holds byte for byte is accepted as applied.
    fn apply_group(&mut self, group: &Group) -> Result<(), ChainFault>;
    /// Makes the chain durable up to its position.
    fn sync(&mut self) -> Result<(), ChainFault>;
    /// The state at the current position, for a snapshot (chain synced first).
    fn export(&self) -> Result<StateSnapshot, ChainFault>;
    /// Replaces the state with a snapshot's, after appending the records it
    /// carries (the ones this chain lacked); the chain is synced on return.
    fn install(&mut self, snapshot: &StateSnapshot) -> Result<(), ChainFault>;
}

/// What has been applied: the last Raft log id and the last membership.
#[derive(Debug, Clone, Default)]
struct AppliedPoint {
    last_applied: Option<LogId<MemberId>>,
    membership: StoredMembership<MemberId, MemberNode>,
}

/// The latest snapshot, shared between the machine and its builders.
type Current = Arc<Mutex<Option<Snapshot<TypeConfig>>>>;

/// The ledger, driven by openraft.
#[derive(Debug)]
pub struct LedgerMachine<C: Chain> {
    chain: Arc<Mutex<C>>,
    dir: PathBuf,
    applied: AppliedPoint,
    current: Current,
}

impl<C: Chain + std::fmt::Debug> LedgerMachine<C> {
    /// A state machine over `chain`, remembering its applied point in `dir`.
    pub fn open(chain: Arc<Mutex<C>>, dir: &Path) -> std::io::Result<LedgerMachine<C>> {
        std::fs::create_dir_all(dir)?;
        let applied = read_applied(&dir.join("applied"))?;
        Ok(LedgerMachine {
            chain,
            dir: dir.to_path_buf(),
            applied,
            current: Arc::default(),
        })
    }
}

/// Runs `f` on the locked chain.
fn with_chain<C: Chain, T>(
    chain: &Mutex<C>,
    f: impl FnOnce(&mut C) -> Result<T, ChainFault>,
) -> Result<T, ChainFault> {
    let mut chain = chain
        .lock()
        .map_err(|_| ChainFault("the chain's lock is poisoned".into()))?;
    f(&mut chain)
}

fn fault(error: ChainFault) -> Error {
    StorageError::from_io_error(
        ErrorSubject::StateMachine,
        ErrorVerb::Write,
        std::io::Error::other(error),
    )
}

fn io_fault(error: std::io::Error) -> Error {
    StorageError::from_io_error(ErrorSubject::StateMachine, ErrorVerb::Write, error)
}

fn read_applied(path: &Path) -> std::io::Result<AppliedPoint> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AppliedPoint::default()),
        Err(e) => return Err(e),
    };
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let wire = pb::SnapshotMeta::decode(bytes.as_slice()).map_err(|e| invalid(e.to_string()))?;
    let meta = snapshot_meta(wire).map_err(|e| invalid(e.to_string()))?;
    Ok(AppliedPoint {
        last_applied: meta.last_log_id,
        membership: meta.last_membership,
    })
}

/// Replaces the applied-point file atomically. The chain must be synced up
/// to `position` first.
fn write_applied(
    dir: &Path,
    applied: &AppliedPoint,
    position: &ChainCursor,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let meta = SnapshotMeta {
        last_log_id: applied.last_applied,
        last_membership: applied.membership.clone(),
        snapshot_id: String::new(),
    };
    let mut wire = snapshot_meta_to_pb(&meta);
    wire.chain = Some(chain_position_to_pb(position));
    let temporary = dir.join("applied.new");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&wire.encode_to_vec())?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join("applied"))?;
    std::fs::File::open(dir)?.sync_all()
}

fn snapshot_id(applied: &Option<LogId<MemberId>>, position: &ChainCursor) -> String {
    match applied {
        Some(log) => format!(
            "{}-{}-{}-{}",
            log.leader_id.term, log.leader_id.node_id, log.index, position.next_seq
        ),
        None => format!("none-{}", position.next_seq),
    }
}

/// Builds a snapshot of the state exported when openraft asked for the
/// builder: between two applies, so the state is exactly the applied
/// point's.
#[derive(Debug)]
pub struct LedgerSnapshotBuilder<C: Chain> {
    chain: Arc<Mutex<C>>,
    dir: PathBuf,
    applied: AppliedPoint,
    exported: Result<StateSnapshot, String>,
    current: Current,
}

impl<C: Chain + std::fmt::Debug> RaftSnapshotBuilder<TypeConfig> for LedgerSnapshotBuilder<C> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, Error> {
        let data = self.exported.clone().map_err(|e| fault(ChainFault(e)))?;
        with_chain(&self.chain, |chain| chain.sync()).map_err(fault)?;
        write_applied(&self.dir, &self.applied, &data.position).map_err(io_fault)?;
        let meta = SnapshotMeta {
            last_log_id: self.applied.last_applied,
            last_membership: self.applied.membership.clone(),
            snapshot_id: snapshot_id(&self.applied.last_applied, &data.position),
        };
        let snapshot = Snapshot {
            meta,
            snapshot: Box::new(data),
        };
        if let Ok(mut current) = self.current.lock() {
            *current = Some(snapshot.clone());
        }
        Ok(snapshot)
    }
}

impl<C: Chain + std::fmt::Debug> RaftStateMachine<TypeConfig> for LedgerMachine<C> {
    type SnapshotBuilder = LedgerSnapshotBuilder<C>;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<MemberId>>,
            StoredMembership<MemberId, MemberNode>,
        ),
        Error,
    > {
        Ok((self.applied.last_applied, self.applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, Error>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut answers = Vec::new();
        for entry in entries {
            let chain_size = with_chain(&self.chain, |chain| {
                if let EntryPayload::Normal(group) = &entry.payload {
                    chain.apply_group(group)?;
                }
                Ok(chain.position().next_seq)
            })
            .map_err(fault)?;
            if let EntryPayload::Membership(membership) = &entry.payload {
                self.applied.membership =
                    StoredMembership::new(Some(entry.log_id), membership.clone());
            }
            self.applied.last_applied = Some(entry.log_id);
            answers.push(Applied { chain_size });
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let exported = with_chain(&self.chain, |chain| chain.export()).map_err(|e| e.to_string());
        LedgerSnapshotBuilder {
            chain: self.chain.clone(),
            dir: self.dir.clone(),
            applied: self.applied.clone(),
            exported,
            current: self.current.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<StateSnapshot>, Error> {
        let position = with_chain(&self.chain, |chain| Ok(chain.position())).map_err(fault)?;
        Ok(Box::new(StateSnapshot::at(position, [0; 32], Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<MemberId, MemberNode>,
        snapshot: Box<StateSnapshot>,
    ) -> Result<(), Error> {
        with_chain(&self.chain, |chain| chain.install(&snapshot)).map_err(fault)?;
        tracing::info!(
            chain_size = snapshot.position.next_seq,
            last_log_id = ?meta.last_log_id,
            "installed a snapshot from the leader"
        );
        self.applied = AppliedPoint {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        write_applied(&self.dir, &self.applied, &snapshot.position).map_err(io_fault)?;
        let installed = Snapshot {
            meta: meta.clone(),
            snapshot,
        };
        if let Ok(mut current) = self.current.lock() {
            *current = Some(installed);
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, Error> {
        Ok(self.current.lock().ok().and_then(|c| c.clone()))
    }
}
