//! Durable storage: the entry log (the truth) and the derived state (a cache).
//!
//! ```text
//!            commit(group of entries, their changes)
//!                 │
//!                 ├─1─▶ entry log: append the group's records, fdatasync   ← "committed" from here
//!                 └─2─▶ sled: put changed objects + applied count, one atomic batch
//!                                (not fsynced: rebuilt from the log on open)
//!
//!            open(dir)
//!                 ├─ log: drop a torn last group; refuse damage before it
//!                 ├─ chain: every link, sequence number and time; the head's seal
//!                 └─ sled: replay (full rules, every signature) whatever it lacks
//! ```
//!
//! sled 0.34's `flush()` ends in `sync_file_range`, which is not a durability
//! barrier, so sled is never relied on for durability: the log's
//! `fdatasync` is. [`Store`] is the trait both stores implement;
//! [`MemoryStore`] keeps everything in memory for tests and tools,
//! [`DiskStore`] is the production store.

mod disk;
mod error;
pub mod log;
mod memory;

pub use disk::DiskStore;
pub use error::StoreError;
pub use memory::MemoryStore;

use crate::chain::ChainCursor;
use crate::entry::Entry;
use crate::model::Seq;
use crate::state::{Objects, StateRead};

/// A ledger store: the chain of entries and the state derived from it.
pub trait Store: StateRead {
    /// Number of committed entries.
    fn len(&self) -> u64;

    /// Whether no entry (not even genesis) is committed.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chain position after the last committed entry.
    fn head(&self) -> ChainCursor;

    /// The committed entry `seq`.
    fn entry(&self, seq: Seq) -> Result<Entry, StoreError>;

    /// The committed record (entry bytes as stored) `seq`.
    fn record(&self, seq: Seq) -> Result<Vec<u8>, StoreError>;

    /// Makes `entries` (which must follow on from the head) and the state
    /// `changes` they produce durable. On `Ok` the entries survive a crash or
    /// power loss. On `Err` the store must be reopened before further use.
    fn commit(&mut self, entries: &[Entry], changes: &Objects) -> Result<(), StoreError>;

    /// Every object of the derived state, for comparison with a replay.
    fn objects(&self) -> Result<Objects, StoreError>;
}

/// Checks that `entries` follow on from `head`, without seals (they were
/// just sealed by the caller), and returns the new head.
fn follow_on(head: ChainCursor, entries: &[Entry]) -> Result<ChainCursor, StoreError> {
    let mut cursor = head;
    for entry in entries {
        cursor.check(entry, None)?;
    }
    Ok(cursor)
}
