//! The step between deciding a group and telling its submitters: making it
//! durable.
//!
//! **Contract.** [`Durability::make_durable`] takes the records of one or
//! more decided groups, in order, following on from every record made
//! durable before. It returns `Ok` only once they will survive the loss of
//! the machine it runs on as far as the deployment promises: for a single
//! node, written to the entry log and `fdatasync`ed; for a replicated
//! registry, on disk at a majority of members and committed. From then on
//! the reader ([`Durability::reader`]) sees them, the submitters are
//! answered, and the state store is updated from them. On `Err` none of
//! them may be acknowledged, and nothing decided after them either: the
//! pipeline stops deciding on top of them (a cluster member would reset
//! its decider to the committed head and go on, or step down).
//!
//! A single node's durability is its [`LogStore`]: every log store is a
//! durability step by itself.

use pledge_ledger::model::Seq;
use pledge_ledger::store::{LogRead, LogStore, StoreError};

/// Makes decided groups durable, in order. See the module documentation.
pub trait Durability: Send + 'static {
    /// Reads the durable records.
    type Reader: LogRead;

    /// A reading handle for the published snapshots.
    fn reader(&self) -> Self::Reader;

    /// Makes `records`, which are entries `first ..`, durable.
    fn make_durable(&mut self, first: Seq, records: &[&[u8]]) -> Result<(), StoreError>;
}

impl<L: LogStore> Durability for L {
    type Reader = L::Reader;

    fn reader(&self) -> L::Reader {
        LogStore::reader(self)
    }

    fn make_durable(&mut self, first: Seq, records: &[&[u8]]) -> Result<(), StoreError> {
        let len = self.len();
        if first != len {
            return Err(StoreError::OutOfRange { seq: first, len });
        }
        self.append(records)
    }
}
