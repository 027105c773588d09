//! The cost of one durable append to the entry log, with and without
//! preallocation: appends that grow `entries.log` make `fdatasync` commit the
//! new file size too, appends into zeros written ahead do not.
//!
//! ```text
//!  for each round: a fresh log that grows     ─▶ N groups, each append_group timed
//!                  a fresh preallocated log   ─▶ N groups, each append_group timed
//! ```
//! The two kinds alternate round by round, so that both see the same noise.

use std::path::PathBuf;
use std::time::Instant;

use hdrhistogram::Histogram;
use pledge_ledger::store::log::EntryLog;

use crate::stats;

/// What to append.
#[derive(Debug, Clone)]
pub struct LogSyncOptions {
    /// A directory on the disk to measure; a log is created under it per run.
    pub dir: PathBuf,
    /// Groups appended per run.
    pub groups: usize,
    /// Records per group.
    pub records: usize,
    /// Bytes per record.
    pub record_len: usize,
    /// Runs of each kind, alternating.
    pub rounds: usize,
    /// Bytes of zeros the preallocated log writes ahead of its end at a time.
    pub preallocate: u64,
}

/// The latency of `append_group` (write + fdatasync), microseconds.
#[derive(Debug)]
pub struct LogSyncTimes {
    /// Appends that grow the file.
    pub growing: Histogram<u64>,
    /// Appends into zeros written ahead (writing the next zeros included,
    /// where an append triggered it).
    pub preallocated: Histogram<u64>,
}

/// Appends `rounds` runs of each kind, alternating, and times every append.
pub fn log_sync(options: &LogSyncOptions) -> anyhow::Result<LogSyncTimes> {
    let mut times = LogSyncTimes {
        growing: stats::histogram(),
        preallocated: stats::histogram(),
    };
    let record = vec![0x5a; options.record_len];
    let group: Vec<&[u8]> = (0..options.records).map(|_| record.as_slice()).collect();
    for round in 0..options.rounds {
        for (kind, preallocate) in [("growing", 0), ("preallocated", options.preallocate)] {
            let dir = options.dir.join(format!("{kind}-{round}"));
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            let (mut log, _) = EntryLog::open_preallocating(&dir, preallocate)?;
            let histogram = if preallocate == 0 {
                &mut times.growing
            } else {
                &mut times.preallocated
            };
            for _ in 0..options.groups {
                let started = Instant::now();
                log.append_group(&group)?;
                stats::record(histogram, started.elapsed());
            }
            drop(log);
            std::fs::remove_dir_all(&dir)?;
        }
    }
    Ok(times)
}
