//! `pledge-bench replay`: the auditor's replay of a whole chain, timed.

use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use pledge_ledger::crypto::{Digest, PublicKey};
use pledge_ledger::replay::{BatchReplayer, Replayer};
use pledge_ledger::store::log::EntryLog;

use pledge_client::export::ExportReader;

/// Records per chunk handed to the batch replayer.
pub const CHUNK: usize = 4096;

/// What a replay measured.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// Entries verified.
    pub entries: u64,
    /// Head hash reached.
    pub head_hash: Digest,
    /// Seconds, reading included.
    pub seconds: f64,
}

/// Where the records come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// An export file.
    File(&'a Path),
    /// A store directory (its `log/`), or a log directory itself.
    Dir(&'a Path),
}

/// Replays every record of `source`; `threads` 0 means one by one (the
/// reference replayer), otherwise the batch replayer on that many threads.
pub fn replay(source: Source<'_>, node_key: PublicKey, threads: usize) -> anyhow::Result<Replayed> {
    let started = Instant::now();
    let (entries, head_hash) = match source {
        Source::File(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
            let records = ExportReader::new(BufReader::with_capacity(1 << 20, file))
                .map(|r| r.map_err(anyhow::Error::from));
            replay_records(records, node_key, threads)?
        }
        Source::Dir(dir) => {
            let log_dir = match dir.join("log").is_dir() {
                true => dir.join("log"),
                false => dir.to_path_buf(),
            };
            let (log, _) = EntryLog::open(&log_dir)?;
            let records = log
                .iter_from(0)
                .map(|r| r.map(|(_, record)| record).map_err(Into::into));
            replay_records(records, node_key, threads)?
        }
    };
    Ok(Replayed {
        entries,
        head_hash,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn replay_records(
    records: impl Iterator<Item = anyhow::Result<Vec<u8>>>,
    node_key: PublicKey,
    threads: usize,
) -> anyhow::Result<(u64, Digest)> {
    if threads == 0 {
        let mut replayer = Replayer::new(Some(node_key));
        for record in records {
            if let Err(error) = replayer.push_record(&record?) {
                bail!("replay failed: {error}");
            }
        }
        return Ok((replayer.entries(), replayer.head_hash()));
    }
    let mut replayer = BatchReplayer::new(Some(node_key), threads);
    let mut chunk = Vec::with_capacity(CHUNK);
    for record in records {
        chunk.push(record?);
        if chunk.len() == CHUNK {
            replayer
                .push_chunk(&chunk)
                .map_err(|e| anyhow::anyhow!("replay failed: {e}"))?;
            chunk.clear();
        }
    }
    replayer
        .push_chunk(&chunk)
        .and_then(|()| replayer.finish())
        .map_err(|e| anyhow::anyhow!("replay failed: {e}"))?;
    let done = replayer.replayer();
    Ok((done.entries(), done.head_hash()))
}
