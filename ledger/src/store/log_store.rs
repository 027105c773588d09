//! The entry log as a trait: [`LogStore`] for the one writer (its
//! documentation states the contract), [`LogRead`] for any number of readers
//! on other threads.

use std::sync::{Arc, RwLock};

use super::StoreError;
use super::log::{EntryLog, LogReader};
use crate::model::Seq;

/// The entry log's writer.
///
/// **Contract.** Records are numbered from 0 with no gaps. When
/// [`LogStore::append`] returns `Ok`, the group's records are durable: they
/// survive a crash or a power loss, and every reader sees them. A group is
/// all or nothing: after a crash during an append it is wholly present or
/// wholly absent. A reader never sees a record of a group whose append has
/// not returned, and never sees a record again once [`LogStore::truncate`]
/// has dropped it. The log stores opaque bytes: it neither decodes nor
/// checks entries (the ledger does, when it opens).
///
/// Both implementations pass one shared suite (`ledger/tests/log_store_suite.rs`).
pub trait LogStore: Send + 'static {
    /// The handle readers keep.
    type Reader: LogRead;

    /// Number of durable records.
    fn len(&self) -> u64;

    /// Whether no record is durable.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reading handle, for other threads.
    fn reader(&self) -> Self::Reader;

    /// Appends `records` as one group and makes it durable before returning
    /// `Ok`; they become records `len() ..= len() + records.len() - 1`. An
    /// empty group is a no-op. On `Err` nothing of the group may be
    /// acknowledged; the store may refuse further appends until reopened.
    fn append(&mut self, records: &[&[u8]]) -> Result<(), StoreError>;

    /// Drops every record from `len` on, durably: an uncommitted suffix
    /// (replication) or a repair. `len == self.len()` is a no-op; more is
    /// [`StoreError::OutOfRange`].
    fn truncate(&mut self, len: u64) -> Result<(), StoreError>;
}

/// Records in order with their sequence numbers, as [`LogRead::read_range`]
/// yields them.
pub type Records<'a> = Box<dyn Iterator<Item = Result<(Seq, Vec<u8>), StoreError>> + 'a>;

/// Reads records of an entry log while its writer appends.
pub trait LogRead: Clone + Send + Sync + 'static {
    /// Number of durable records.
    fn len(&self) -> u64;

    /// Whether no record is durable.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `seq`; [`StoreError::OutOfRange`] past the end.
    fn read(&self, seq: Seq) -> Result<Vec<u8>, StoreError>;

    /// Records `from..to` in order, read sequentially (fast for replay).
    fn read_range(&self, from: Seq, to: Seq) -> Records<'_>;
}

impl LogStore for EntryLog {
    type Reader = LogReader;

    fn len(&self) -> u64 {
        EntryLog::len(self)
    }

    fn reader(&self) -> LogReader {
        EntryLog::reader(self)
    }

    fn append(&mut self, records: &[&[u8]]) -> Result<(), StoreError> {
        Ok(self.append_group(records)?)
    }

    fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        Ok(EntryLog::truncate(self, len)?)
    }
}

impl LogRead for LogReader {
    fn len(&self) -> u64 {
        LogReader::len(self)
    }

    fn read(&self, seq: Seq) -> Result<Vec<u8>, StoreError> {
        Ok(LogReader::read(self, seq)?)
    }

    fn read_range(&self, from: Seq, to: Seq) -> Records<'_> {
        if from > to || to > self.len() {
            let len = self.len();
            return Box::new(std::iter::once(Err(StoreError::OutOfRange {
                seq: to.max(from),
                len,
            })));
        }
        let count = usize::try_from(to - from).unwrap_or(usize::MAX);
        Box::new(
            self.iter_from(from)
                .take(count)
                .map(|item| item.map_err(StoreError::from)),
        )
    }
}

/// The entry log in memory: the same contract, nothing durable.
#[derive(Debug, Default)]
pub struct MemoryLog {
    records: Arc<RwLock<Vec<Arc<[u8]>>>>,
}

/// A reading handle on a [`MemoryLog`].
#[derive(Debug, Clone)]
pub struct MemoryLogReader {
    records: Arc<RwLock<Vec<Arc<[u8]>>>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogStore for MemoryLog {
    type Reader = MemoryLogReader;

    fn len(&self) -> u64 {
        read_lock(&self.records).len() as u64
    }

    fn reader(&self) -> MemoryLogReader {
        MemoryLogReader {
            records: self.records.clone(),
        }
    }

    fn append(&mut self, records: &[&[u8]]) -> Result<(), StoreError> {
        let mut all = self
            .records
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.extend(records.iter().map(|r| Arc::<[u8]>::from(*r)));
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        let mut all = self
            .records
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let have = all.len() as u64;
        if len > have {
            return Err(StoreError::OutOfRange {
                seq: len,
                len: have,
            });
        }
        all.truncate(len as usize);
        Ok(())
    }
}

impl LogRead for MemoryLogReader {
    fn len(&self) -> u64 {
        read_lock(&self.records).len() as u64
    }

    fn read(&self, seq: Seq) -> Result<Vec<u8>, StoreError> {
        let all = read_lock(&self.records);
        usize::try_from(seq)
            .ok()
            .and_then(|i| all.get(i))
            .map(|record| record.to_vec())
            .ok_or(StoreError::OutOfRange {
                seq,
                len: all.len() as u64,
            })
    }

    fn read_range(&self, from: Seq, to: Seq) -> Records<'_> {
        let len = self.len();
        if from > to || to > len {
            return Box::new(std::iter::once(Err(StoreError::OutOfRange {
                seq: to.max(from),
                len,
            })));
        }
        Box::new((from..to).map(move |seq| self.read(seq).map(|r| (seq, r))))
    }
}
