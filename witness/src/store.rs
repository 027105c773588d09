//! The witness's durable memory: for each log, the latest checkpoint it
//! cosigned, and the evidence of every refused checkpoint that contradicted
//! it.
//!
//! ```text
//!  <dir>/witness.lock                       held (flock) while the witness runs
//!  <dir>/latest/<hex of origin>.checkpoint  the cosigned note; replaced atomically
//!                                           (write temp, fsync, rename, fsync dir)
//!  <dir>/evidence/<time ms>-<n>.txt         refused request, reason, what we had cosigned
//! ```
//! A latest checkpoint is durable before its cosignature leaves the witness,
//! so a crash can never make the witness forget what it vouched for.
//!
//! A latest checkpoint stored before checkpoints carried the `state-root`
//! line (five lines: origin, size, root, `chain-head`, `time`) is still read,
//! its node signature checked as for any other: what the witness compares
//! with the next checkpoint (origin, size, root, chain head; see
//! `verify_consistent`) is all in it, so the witness keeps what it vouched
//! for across the upgrade. The first checkpoint it cosigns afterwards
//! replaces the file with the current form (docs/FORMAT.md §7.8).

use std::collections::BTreeMap;
use std::fs::{self, File, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use pledge_ledger::checkpoint::{
    Checkpoint, CheckpointError, SignedCheckpoint, verify_log_signature,
};
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::note::SignedNote;

use crate::decide::{Logs, Refusal};

/// Why the witness's state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another witness process holds the directory.
    #[error("{path} is in use by another pledge-witness")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A stored checkpoint does not verify under the log's keys (the file
    /// was altered, or the log's keys were changed in the configuration).
    #[error(
        "stored checkpoint {path} does not verify: {reason}. It is the latest checkpoint this \
         witness cosigned for the log: if the log's key changed, give the key that signed it \
         too (--log ORIGIN=KEY, once per key); if the file was damaged, restore it from a \
         backup. Removing it makes the witness trust the log's next checkpoint as its first"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The latest cosigned checkpoints and the evidence directory.
#[derive(Debug)]
pub struct WitnessStore {
    dir: PathBuf,
    latest: BTreeMap<String, SignedCheckpoint>,
    evidence_count: u64,
    _lock: File,
}

impl WitnessStore {
    /// Opens (or creates) the state in `dir`, verifying every stored
    /// checkpoint against the keys of its log in `logs`.
    pub fn open(dir: &Path, logs: &Logs) -> Result<WitnessStore, StoreError> {
        for sub in [dir.to_owned(), dir.join("latest"), dir.join("evidence")] {
            fs::create_dir_all(&sub).map_err(io("create", &sub))?;
        }
        let lock_path = dir.join("witness.lock");
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked { path: lock_path }),
            Err(TryLockError::Error(e)) => return Err(io("lock", &lock_path)(e)),
        }
        let mut latest = BTreeMap::new();
        for (origin, keys) in logs {
            let path = latest_path(dir, origin);
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read", &path)(e)),
            };
            let checkpoint = open_stored(&text, origin, keys).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            latest.insert(origin.clone(), checkpoint);
        }
        Ok(WitnessStore {
            dir: dir.to_owned(),
            latest,
            evidence_count: 0,
            _lock: lock,
        })
    }

    /// The latest checkpoint cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Option<&SignedCheckpoint> {
        self.latest.get(origin)
    }

    /// Makes `checkpoint` the latest of its log, durably.
    pub fn set_latest(&mut self, checkpoint: SignedCheckpoint) -> Result<(), StoreError> {
        let origin = checkpoint.checkpoint.origin.clone();
        let path = latest_path(&self.dir, &origin);
        write_durably(&path, checkpoint.to_text().as_bytes())?;
        self.latest.insert(origin, checkpoint);
        Ok(())
    }

    /// Keeps a refused request as evidence; returns the file written.
    pub fn keep_evidence(
        &mut self,
        body: &str,
        refusal: &Refusal,
        origin_latest: Option<&SignedCheckpoint>,
        now_ms: u64,
    ) -> Result<PathBuf, StoreError> {
        self.evidence_count += 1;
        let path = self
            .dir
            .join("evidence")
            .join(format!("{now_ms}-{}.txt", self.evidence_count));
        let latest = origin_latest.map_or_else(|| "(none)\n".to_owned(), |c| c.to_text());
        let text = format!(
            "refused: {refusal}\nstatus: {}\ntime_ms: {now_ms}\n\
             --- request body as received\n{body}\n--- latest checkpoint cosigned for this log\n{latest}",
            refusal.status()
        );
        write_durably(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// A stored latest checkpoint: the current form, or the five-line form
/// written before the `state-root` line (see the module documentation).
fn open_stored(
    text: &str,
    origin: &str,
    keys: &[PublicKey],
) -> Result<SignedCheckpoint, CheckpointError> {
    let current = SignedCheckpoint::open(text, origin, keys);
    let (Err(_), Ok(note)) = (&current, SignedNote::parse(text)) else {
        return current;
    };
    let Some(with_state_root) = with_empty_state_root(note.text()) else {
        return current;
    };
    let node_key = verify_log_signature(&note, origin, keys)?;
    let checkpoint = Checkpoint::parse_text(&with_state_root)?;
    if checkpoint.origin != origin {
        return current;
    }
    Ok(SignedCheckpoint {
        checkpoint,
        note,
        node_key,
    })
}

/// A five-line checkpoint text (origin, size, root, `chain-head`, `time`)
/// with an all-zero `state-root` line put before `time`, so that the
/// current parser checks every other line; `None` for any other text. The
/// state root is never read from a witness's latest checkpoint.
fn with_empty_state_root(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.strip_suffix('\n')?.split('\n').collect();
    let [origin, size, root, head, time] = lines.as_slice() else {
        return None;
    };
    (head.starts_with("chain-head ") && time.starts_with("time ")).then(|| {
        let zeros = "0".repeat(64);
        format!("{origin}\n{size}\n{root}\n{head}\nstate-root {zeros}\n{time}\n")
    })
}

fn latest_path(dir: &Path, origin: &str) -> PathBuf {
    dir.join("latest")
        .join(format!("{}.checkpoint", hex::encode(origin)))
}

/// Writes a file so that after a crash it holds either the old or the new
/// content, never a mix.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let temp = path.with_extension("tmp");
    let mut file = File::create(&temp).map_err(io("create", &temp))?;
    file.write_all(bytes).map_err(io("write", &temp))?;
    file.sync_all().map_err(io("fsync", &temp))?;
    fs::rename(&temp, path).map_err(io("rename", path))?;
    let parent = path.parent().unwrap_or(Path::new("."));
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", parent))
}
