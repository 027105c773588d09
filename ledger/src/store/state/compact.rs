//! Compacting the state database: its live keys copied, in key order, into
//! a new sled database that is then swapped in for the old one.
//!
//! **Why.** sled 0.34 reclaims a segment of its file only once at most half
//! of it is live, and it never shrinks the file. A state store that has
//! applied many updates (every receipt rewritten eleven times, new keys at
//! random places) therefore holds several times its live keys and values:
//! at 1,000,000 generated entries, a 1,330 MB `db` for 172 MB of live keys
//! and values. A copy writes each page once: 461 MB for the same keys. A
//! node can compact its state by itself while it runs (module `online`, off by
//! default in a node); this
//! is the offline form, `pledge-node compact-state` with the node stopped
//! (docs/OPERATIONS.md), which also reclaims the space at once on a store
//! a node has not compacted yet. It copies the live generation (module
//! `generation`) into generation 0, with a `CURRENT` naming it and its
//! length.
//!
//! **Steps**, each durable before the next (the directory is `state`, its
//! siblings are named after it):
//!
//! 1. `state.compacting/`: a new database holding every key and value of
//!    the old one's `state` tree, read back and compared with what was
//!    written (count and SHA-256 of every key and value, in order); then
//!    `merkle.nodes` and `map.nodes` copied beside it and compared
//!    (SHA-256); every file and the directory fsynced, once no sled handle
//!    is left on either database. A copy that fails is removed.
//! 2. rename `state.compacting` → `state.compacted`: the copy is whole.
//! 3. rename `state` → `state.old`, then `state.compacted` → `state`.
//! 4. remove `state.old`.
//!
//! [`finish_interrupted`] runs before every open of a state directory and
//! takes one left at any step to the end or back to the start: a
//! `state.compacting` (step 1 unfinished) is removed; a `state.compacted`
//! is swapped in (steps 3 and 4: the state it was copied from has not
//! changed since, since nothing opens a state before this runs); a
//! `state.old` beside a `state` is removed. The state is derived from the
//! log, so even a state lost outright costs a rebuild, not an entry.

use std::fs::{File, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::disk::{STATE_TREE, open_sled, retry_while_locked, sled_err};
use super::generation::{self, Generation, Live};
use super::{MAP_FILE, MERKLE_FILE, file_err};
use crate::store::StoreError;

/// What compacting the state did
/// ([`DiskLedger::compact_state`](crate::ledger::DiskLedger::compact_state)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Keys copied.
    pub keys: u64,
    /// Bytes of their keys and values.
    pub live_bytes: u64,
    /// The state directory's files before, in bytes.
    pub bytes_before: u64,
    /// And after.
    pub bytes_after: u64,
}

/// Keys written per sled batch while copying.
const COPY_BATCH: usize = 8_192;

/// Compacts the state in `dir` (a ledger's `state` directory, as
/// [`super::DiskStateStore::open`] opens it, which it does first: a store
/// it would clear or repair is cleared or repaired before the copy). A
/// compaction cut short before is first finished or undone; a copy that
/// fails is removed. The caller makes sure nothing else uses `dir` (a
/// ledger holds its entry log's lock while it runs this).
pub(crate) fn compact(dir: &Path) -> Result<Compacted, StoreError> {
    finish_interrupted(dir)?;
    refuse_a_link(dir)?;
    let bytes_before = dir_bytes(dir)?;
    let copying = sibling(dir, "compacting");
    let (keys, live_bytes) = make_copy(dir, &copying).inspect_err(|_| {
        // Best effort: the error at hand is the one to report.
        let _ = std::fs::remove_dir_all(&copying);
    })?;
    rename_synced(&copying, &sibling(dir, "compacted"))?;
    swap_in(dir)?;
    Ok(Compacted {
        keys,
        live_bytes,
        bytes_before,
        bytes_after: dir_bytes(dir)?,
    })
}

/// Step 1: the state in `dir` copied whole into `copying`, compared, and
/// durable; returns the keys and their bytes.
fn make_copy(dir: &Path, copying: &Path) -> Result<(u64, u64), StoreError> {
    let (copied, live_dir) = {
        let store = super::DiskStateStore::open(dir)?;
        (copy_database(store.tree(), copying)?, store.live_dir())
    };
    wait_until_sled_lets_go(&live_dir)?;
    for file in [MERKLE_FILE, MAP_FILE] {
        copy_compared(&dir.join(file), &copying.join(file))?;
    }
    wait_until_sled_lets_go(copying)?;
    // The copy's length is the baseline a node's compaction while running
    // measures growth against (module `generation`).
    let baseline = Generation(0).db_bytes(copying)?;
    generation::make_live(
        copying,
        Live {
            generation: Generation(0),
            baseline,
        },
    )?;
    sync_all_in(copying)?;
    Ok(copied)
}

/// Renaming a symbolic link would move the link, not the database behind
/// it, and leave the old database behind when `state.old` is removed.
fn refuse_a_link(dir: &Path) -> Result<(), StoreError> {
    let meta = std::fs::symlink_metadata(dir).map_err(file_err("stat", dir))?;
    if meta.file_type().is_symlink() {
        return Err(StoreError::StateFile {
            op: "compact",
            path: dir.to_path_buf(),
            source: std::io::Error::other(
                "the state directory is a symbolic link; compacting swaps directories, so \
                 it must be the ledger directory's own",
            ),
        });
    }
    Ok(())
}

/// Waits (as [`retry_while_locked`] does) until no sled handle holds the
/// database in `dir`: a dropped handle's background threads may still be
/// writing its last buffer a moment later, and nothing may be fsynced,
/// renamed or removed under them. sled locks its `db` file with `flock`, as
/// [`File::try_lock`] does.
fn wait_until_sled_lets_go(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join("db");
    let file = File::open(&path).map_err(file_err("open", &path))?;
    let locked = |source| StoreError::StateFile {
        op: "wait for sled to close",
        path: path.clone(),
        source,
    };
    retry_while_locked(|may_retry| match file.try_lock() {
        Ok(()) => Some(Ok(())),
        Err(TryLockError::WouldBlock) if may_retry => None,
        Err(TryLockError::WouldBlock) => Some(Err(locked(std::io::Error::other("still locked")))),
        Err(TryLockError::Error(source)) => Some(Err(locked(source))),
    })
}

/// Takes a state directory a compaction left at any step to the end or
/// back to the start (module documentation); does nothing to one no
/// compaction touched.
pub(super) fn finish_interrupted(dir: &Path) -> Result<(), StoreError> {
    let copying = sibling(dir, "compacting");
    if copying.exists() {
        remove_dir(&copying)?;
    }
    if sibling(dir, "compacted").exists() {
        return swap_in(dir);
    }
    let old = sibling(dir, "old");
    if old.exists() && dir.exists() {
        remove_dir(&old)?;
    }
    Ok(())
}

/// Steps 3 and 4: `dir.compacted` becomes `dir`, the old `dir` is removed.
/// Resumes a swap a crash cut between its two renames.
fn swap_in(dir: &Path) -> Result<(), StoreError> {
    let old = sibling(dir, "old");
    if dir.exists() {
        if old.exists() {
            remove_dir(&old)?;
        }
        rename_synced(dir, &old)?;
    }
    rename_synced(&sibling(dir, "compacted"), dir)?;
    if old.exists() {
        remove_dir(&old)?;
    }
    Ok(())
}

/// Copies every key and value of `from` into the `state` tree of a new
/// database in `to` (which [`finish_interrupted`] has removed if a
/// compaction left it), reads them back and compares; returns the keys and
/// their bytes.
fn copy_database(from: &sled::Tree, to: &Path) -> Result<(u64, u64), StoreError> {
    let written = {
        let db = open_sled(to)?;
        let tree = db.open_tree(STATE_TREE).map_err(sled_err("open tree"))?;
        let mut digest = TreeDigest::default();
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for item in from.iter() {
            let (key, value) = item.map_err(sled_err("read for compaction"))?;
            digest.add(&key, &value);
            batch.insert(key, value);
            in_batch += 1;
            if in_batch == COPY_BATCH {
                tree.apply_batch(std::mem::take(&mut batch))
                    .map_err(sled_err("write compacted"))?;
                in_batch = 0;
            }
        }
        tree.apply_batch(batch)
            .map_err(sled_err("write compacted"))?;
        db.flush().map_err(sled_err("flush compacted"))?;
        digest.finish()
    };
    let read_back = {
        let db = open_sled(to)?;
        let tree = db.open_tree(STATE_TREE).map_err(sled_err("open tree"))?;
        let mut digest = TreeDigest::default();
        for item in tree.iter() {
            let (key, value) = item.map_err(sled_err("read compacted"))?;
            digest.add(&key, &value);
        }
        digest.finish()
    };
    if read_back != written {
        return Err(StoreError::StateFile {
            op: "compare the compacted database with the original",
            path: to.to_path_buf(),
            source: std::io::Error::other(format!(
                "{} keys written, {} read back, or their bytes differ",
                written.keys, read_back.keys
            )),
        });
    }
    Ok((written.keys, written.bytes))
}

/// Count, bytes and SHA-256 of a tree's keys and values, in order.
#[derive(Default)]
struct TreeDigest {
    keys: u64,
    bytes: u64,
    hash: Sha256,
}

/// What a [`TreeDigest`] ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TreeSummary {
    keys: u64,
    bytes: u64,
    hash: [u8; 32],
}

impl TreeDigest {
    fn add(&mut self, key: &[u8], value: &[u8]) {
        self.keys += 1;
        self.bytes += (key.len() + value.len()) as u64;
        for part in [key, value] {
            self.hash.update((part.len() as u64).to_be_bytes());
            self.hash.update(part);
        }
    }

    fn finish(self) -> TreeSummary {
        TreeSummary {
            keys: self.keys,
            bytes: self.bytes,
            hash: self.hash.finalize().into(),
        }
    }
}

/// `dir` with `.suffix` added to its name: `state` → `state.old`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

/// Copies `from` to `to` and compares the two files byte for byte (the
/// copy is fsynced with the rest of its directory).
fn copy_compared(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::copy(from, to).map_err(file_err("copy for compaction", from))?;
    if !same_bytes(from, to)? {
        return Err(StoreError::StateFile {
            op: "compare the copy with the original",
            path: to.to_path_buf(),
            source: std::io::Error::other(format!("differs from {}", from.display())),
        });
    }
    Ok(())
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool, StoreError> {
    let open = |path: &Path| File::open(path).map_err(file_err("open", path));
    let (mut a_file, mut b_file) = (open(a)?, open(b)?);
    let (mut a_chunk, mut b_chunk) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let a_len = fill(&mut a_file, &mut a_chunk).map_err(file_err("read", a))?;
        let b_len = fill(&mut b_file, &mut b_chunk).map_err(file_err("read", b))?;
        if a_chunk[..a_len] != b_chunk[..b_len] {
            return Ok(false);
        }
        if a_len == 0 {
            return Ok(true);
        }
    }
}

/// Reads into `buf` until it is full or the file ends; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

/// fsyncs every file under `dir` and every directory, `dir` included.
fn sync_all_in(dir: &Path) -> Result<(), StoreError> {
    let (files, dirs) = walk(dir)?;
    for (path, _) in &files {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(file_err("fsync", path))?;
    }
    dirs.iter().try_for_each(|d| sync_dir(d))
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> Result<u64, StoreError> {
    Ok(walk(dir)?.0.iter().map(|(_, len)| len).sum())
}

/// What is under a directory: its files with their lengths, and the
/// directories, deepest first, itself last.
type Tree = (Vec<(PathBuf, u64)>, Vec<PathBuf>);

/// The files and directories under `dir` ([`Tree`]).
fn walk(dir: &Path) -> Result<Tree, StoreError> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(file_err("list", dir))? {
        let path = entry.map_err(file_err("list", dir))?.path();
        let meta = std::fs::metadata(&path).map_err(file_err("stat", &path))?;
        if meta.is_dir() {
            let (inner_files, inner_dirs) = walk(&path)?;
            files.extend(inner_files);
            dirs.extend(inner_dirs);
        } else {
            files.push((path, meta.len()));
        }
    }
    dirs.push(dir.to_path_buf());
    Ok((files, dirs))
}

fn rename_synced(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::rename(from, to).map_err(file_err("rename", from))?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    crate::store::sync_directory(dir).map_err(file_err("fsync directory", dir))
}

fn remove_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::remove_dir_all(dir).map_err(file_err("remove", dir))?;
    sync_dir(dir.parent().unwrap_or(Path::new(".")))
}
