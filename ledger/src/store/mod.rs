//! Durable storage, in two stores with one job each, as a Raft engine keeps
//! its log apart from its state machine:
//!
//! - a [`LogStore`] holds the **entry log**: the chain itself, the truth.
//!   Appending a group makes it durable (one `fdatasync`); an entry is
//!   acknowledged only after that. It reads records by sequence number,
//!   drops a torn last group when it opens, and can drop a suffix of
//!   entries that were never committed ([`LogStore::truncate`]).
//! - a [`StateStore`] holds the **derived state**: the objects the rules
//!   read, the list indexes, the Merkle nodes. Every bit of it follows from
//!   the log; it is stamped with the number of entries it reflects
//!   ([`StateStore::applied`]), may lag behind the log, and is never relied
//!   on for durability.
//!
//! ```text
//!   decided group ──▶ LogStore::append (fdatasync) ──▶ acknowledged
//!                                        │
//!                                        └──▶ StateStore::apply (later, batched)
//!
//!   Ledger::open: LogStore (torn tail dropped) ─▶ chain verified
//!                 StateStore::applied() < log length ─▶ replay the rest (rules, signatures)
//! ```
//!
//! Neither store runs the rules: catching the state up with the log is
//! `crate::ledger::Ledger::open`'s job. Each store is a trait with an
//! in-memory and a disk implementation that pass one shared test suite
//! (`ledger/tests/log_store_suite.rs`, `ledger/tests/state_store_suite.rs`).
//!
//! | store        | memory            | disk                                   |
//! |--------------|-------------------|----------------------------------------|
//! | [`LogStore`]   | [`MemoryLog`]       | [`log::EntryLog`] (`DATA_DIR/log`, FORMAT.md §5) |
//! | [`StateStore`] | [`MemoryStateStore`] | [`DiskStateStore`] (`DATA_DIR/state`: sled, the Merkle nodes in [`MERKLE_FILE`], the state map's upper levels in [`MAP_FILE`]) |

mod error;
pub mod log;
mod log_store;
mod state;

pub use error::StoreError;

pub use log_store::{LogRead, LogStore, MemoryLog, MemoryLogReader, Records};
pub(crate) use state::compact;
pub use state::{
    Compacted, CompactionPolicy, DiskStateStore, DiskStateView, MAP_FILE, MERKLE_FILE,
    MemoryStateStore, MemoryStateView, ReceiptFilter, StateStore, StateUpdate, StateView, Upkeep,
    upkeep_steps_after,
};

/// fsyncs the directory `dir` (the current one for an empty path), so that
/// the files created, renamed or removed in it stay so after a crash.
pub(crate) fn sync_directory(dir: &std::path::Path) -> std::io::Result<()> {
    let dir = match dir.as_os_str().is_empty() {
        true => std::path::Path::new("."),
        false => dir,
    };
    std::fs::File::open(dir)?.sync_all()
}
