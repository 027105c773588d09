//! A chain in memory for the cluster crate's tests: records and the cursor
//! after them, links and times checked as a member's ledger checks them.
#![allow(dead_code)]

use pledge_cluster::network::ChainRecords;
use pledge_cluster::state_machine::{Chain, ChainFault};
use pledge_cluster::types::{Group, StateSnapshot};
use pledge_ledger::chain::ChainCursor;

#[derive(Debug, Default)]
pub struct MemoryChain {
    pub records: Vec<Vec<u8>>,
    pub cursor: ChainCursor,
}

impl Chain for MemoryChain {
    fn position(&self) -> ChainCursor {
        self.cursor
    }

    fn apply_group(&mut self, group: &Group) -> Result<(), ChainFault> {
        for sealed in &group.entries {
            let seq = sealed.entry.seq as usize;
            if let Some(held) = self.records.get(seq) {
                if *held != sealed.record {
                    return Err(ChainFault(format!("entry {seq} differs from the chain's")));
                }
                continue;
            }
            self.cursor
                .check_hashed(&sealed.entry, sealed.hash, None)
                .map_err(|e| ChainFault(e.to_string()))?;
            self.records.push(sealed.record.clone());
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), ChainFault> {
        Ok(())
    }

    fn export(&self) -> Result<StateSnapshot, ChainFault> {
        Ok(StateSnapshot::at(self.cursor, [0; 32], Vec::new()))
    }

    fn install(&mut self, snapshot: &StateSnapshot) -> Result<(), ChainFault> {
        if snapshot.records_from > self.records.len() as u64 {
            return Err(ChainFault("the snapshot's records leave a gap".into()));
        }
        self.records.truncate(snapshot.records_from as usize);
        let mut cursor = ChainCursor::default();
        for record in &self.records {
            cursor
                .check_record(record, None)
                .map_err(|e| ChainFault(e.to_string()))?;
        }
        for record in &snapshot.records {
            cursor
                .check_record(record, None)
                .map_err(|e| ChainFault(e.to_string()))?;
            self.records.push(record.clone());
        }
        if cursor != snapshot.position {
            return Err(ChainFault(
                "the records do not end at the snapshot's head".into(),
            ));
        }
        self.cursor = cursor;
        Ok(())
    }
}

/// Reads a shared in-memory chain's records for snapshots.
#[derive(Debug, Clone)]
pub struct SharedRecords(pub std::sync::Arc<std::sync::Mutex<MemoryChain>>);

impl ChainRecords for SharedRecords {
    fn records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, ChainFault> {
        let chain = self.0.lock().map_err(|_| ChainFault("poisoned".into()))?;
        Ok(chain.records[from as usize..to as usize].to_vec())
    }
}
