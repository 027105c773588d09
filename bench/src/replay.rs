//! `pledge-bench replay`: the auditor's replay of a whole chain, timed.

use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use pledge_ledger::crypto::{Digest, PublicKey};
use pledge_ledger::replay::{BatchReplayer, Replayer, check_signatures_only};
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
    let (entries, head_hash) =
        with_records(source, |records| replay_records(records, node_key, threads))?;
    Ok(Replayed {
        entries,
        head_hash,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Calls `f` with the records of `source`, in order.
fn with_records<T>(
    source: Source<'_>,
    f: impl FnOnce(&mut dyn Iterator<Item = anyhow::Result<Vec<u8>>>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match source {
        Source::File(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
            let mut records = ExportReader::new(BufReader::with_capacity(1 << 20, file))
                .map(|r| r.map_err(anyhow::Error::from));
            f(&mut records)
        }
        Source::Dir(dir) => {
            let log_dir = match dir.join("log").is_dir() {
                true => dir.join("log"),
                false => dir.to_path_buf(),
            };
            let (log, _) = EntryLog::open(&log_dir)?;
            let mut records = log
                .iter_from(0)
                .map(|r| r.map(|(_, record)| record).map_err(Into::into));
            f(&mut records)
        }
    }
}

/// What checking a chain's signatures alone measured.
#[derive(Debug, Clone)]
pub struct SignaturesOnly {
    /// Records read.
    pub entries: u64,
    /// Seals and party signatures checked.
    pub signatures: u64,
    /// Seconds spent decoding, hashing and checking, reading not included.
    pub seconds: f64,
}

/// Decodes, hashes and checks every seal and party signature of `source`
/// on `threads` threads, a chunk at a time, as the batch replay does, and
/// nothing else (no links, no rules): the signature work an audit cannot
/// do without. A chunk waits for its slower half, so this can take longer
/// than the audit, whose workers never wait. Fails if a record does not
/// decode or a signature does not hold.
pub fn signatures_only(
    source: Source<'_>,
    node_key: PublicKey,
    threads: usize,
) -> anyhow::Result<SignaturesOnly> {
    let threads = threads.max(1);
    let mut done = SignaturesOnly {
        entries: 0,
        signatures: 0,
        seconds: 0.0,
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut check = |chunk: &mut Vec<Vec<u8>>| -> anyhow::Result<()> {
        let started = Instant::now();
        let per = chunk.len().div_ceil(threads).max(1);
        let parts: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = chunk
                .chunks(per)
                .map(|part| scope.spawn(|| check_signatures_only(part, Some(&node_key))))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        done.seconds += started.elapsed().as_secs_f64();
        for part in parts {
            if part.undecodable > 0 || !part.all_hold {
                bail!(
                    "a record in entries {}.. does not decode or verify",
                    done.entries
                );
            }
            done.signatures += part.signatures as u64;
        }
        done.entries += chunk.len() as u64;
        chunk.clear();
        Ok(())
    };
    with_records(source, |records| {
        for record in records {
            chunk.push(record?);
            if chunk.len() == CHUNK {
                check(&mut chunk)?;
            }
        }
        check(&mut chunk)
    })?;
    if done.entries == 0 {
        bail!("no records to check");
    }
    Ok(done)
}

fn replay_records(
    records: &mut dyn Iterator<Item = anyhow::Result<Vec<u8>>>,
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
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            replayer
                .push_records(full)
                .map_err(|e| anyhow::anyhow!("replay failed: {e}"))?;
        }
    }
    replayer
        .push_records(chunk)
        .and_then(|()| replayer.finish())
        .map_err(|e| anyhow::anyhow!("replay failed: {e}"))?;
    let done = replayer.replayer();
    Ok((done.entries(), done.head_hash()))
}
