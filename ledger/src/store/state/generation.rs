//! Which of the sled databases in a state directory is live.
//!
//! A node compacts its state database while it runs
//! ([`super::DiskStateStore::with_compaction`]) by copying it into a new one
//! beside it, a *generation*, and switching to the copy. The layout:
//!
//! - **generation 0** is sled's own files (`db`, `conf`, `blobs/`,
//!   `snap.*`) in the state directory itself, as every store before the
//!   first such compaction, and every store `pledge-node compact-state`
//!   wrote, has them;
//! - **generation N ≥ 1** is the directory `sled.N` in it;
//! - **`CURRENT`**, one line `sled.N BYTES`, names the live generation and
//!   the length of its `db` file when it became live (the baseline the next
//!   compaction is measured against); `sled.0` names generation 0 (what
//!   `compact-state` writes). No `CURRENT`: generation 0, baseline unknown
//!   (0).
//!
//! The state's other files (`merkle.nodes`, `map.nodes`) are shared by
//! every generation: a copy carries the sled keys only.
//!
//! `CURRENT` is replaced by writing `CURRENT.next`, fsyncing it, renaming
//! it over `CURRENT` and fsyncing the directory, so after a crash it names
//! the old generation or the new one, never neither. The new generation is
//! fsynced whole before. Opening removes every generation `CURRENT` does
//! not name: a copy a crash cut short, or the generation a switch replaced
//! whose handles were still open when the process stopped.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::file_err;
use crate::store::StoreError;

/// The file naming the live generation.
pub const CURRENT: &str = "CURRENT";
/// What `CURRENT` is written as before it is renamed into place.
const CURRENT_NEXT: &str = "CURRENT.next";
/// The prefix of a generation's directory name.
const PREFIX: &str = "sled.";

/// One of the sled databases of a state directory (module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generation(pub u64);

/// The live generation and its baseline, as `CURRENT` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// The generation sled opens.
    pub generation: Generation,
    /// Its `db` file's length when it became live; 0 if not known.
    pub baseline: u64,
}

impl Generation {
    /// Where its sled files are.
    pub fn dir(self, state_dir: &Path) -> PathBuf {
        match self.0 {
            0 => state_dir.to_path_buf(),
            n => state_dir.join(format!("{PREFIX}{n}")),
        }
    }

    /// The generation a compaction copies into.
    pub fn next(self) -> Generation {
        Generation(self.0 + 1)
    }

    /// The length of its `db` file (0 if there is none yet).
    pub fn db_bytes(self, state_dir: &Path) -> Result<u64, StoreError> {
        let path = self.dir(state_dir).join("db");
        match std::fs::metadata(&path) {
            Ok(meta) => Ok(meta.len()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(error) => Err(file_err("stat", &path)(error)),
        }
    }
}

/// The live generation of `state_dir` (module documentation).
pub fn live(state_dir: &Path) -> Result<Live, StoreError> {
    let path = state_dir.join(CURRENT);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Live {
                generation: Generation(0),
                baseline: 0,
            });
        }
        Err(error) => return Err(file_err("read", &path)(error)),
    };
    let live = parse_current(&text).ok_or_else(|| StoreError::StateFile {
        op: "read the live generation",
        path: path.clone(),
        source: std::io::Error::other(format!(
            "expected one line `{PREFIX}N BYTES`, found {text:?}"
        )),
    })?;
    // Opening removes every other generation: never for one that is not
    // there (a CURRENT restored from elsewhere, a generation removed by
    // hand), which would leave no state at all.
    let db = live.generation.dir(state_dir).join("db");
    if !db.exists() {
        return Err(StoreError::StateFile {
            op: "open the live generation",
            path,
            source: std::io::Error::other(format!(
                "it names {PREFIX}{}, which has no {}; restore that directory, or \
                 remove CURRENT to open generation 0 (the state directory itself)",
                live.generation.0,
                db.display()
            )),
        });
    }
    Ok(live)
}

fn parse_current(text: &str) -> Option<Live> {
    let line = text.strip_suffix('\n')?;
    let (name, bytes) = line.split_once(' ')?;
    let number = name.strip_prefix(PREFIX)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(number) || !digits(bytes) {
        return None;
    }
    Some(Live {
        generation: Generation(number.parse().ok()?),
        baseline: bytes.parse().ok()?,
    })
}

/// Makes `live` the live generation, durably (module documentation). The
/// generation's files must be durable already ([`sync`]).
pub fn make_live(state_dir: &Path, live: Live) -> Result<(), StoreError> {
    let next = state_dir.join(CURRENT_NEXT);
    let text = format!("{PREFIX}{} {}\n", live.generation.0, live.baseline);
    let mut file = File::create(&next).map_err(file_err("create", &next))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(file_err("write", &next))?;
    let current = state_dir.join(CURRENT);
    std::fs::rename(&next, &current).map_err(file_err("rename", &next))?;
    crate::store::sync_directory(state_dir).map_err(file_err("fsync directory", state_dir))
}

/// fsyncs every file of `generation` and its directory. A file sled
/// removes meanwhile (an old snapshot) is skipped.
pub fn sync(state_dir: &Path, generation: Generation) -> Result<(), StoreError> {
    let dir = generation.dir(state_dir);
    for path in sled_files(state_dir, generation)? {
        if path.is_dir() {
            for entry in read_dir_or_empty(&path)? {
                sync_file(&entry)?;
            }
            crate::store::sync_directory(&path).map_err(file_err("fsync directory", &path))?;
        } else {
            sync_file(&path)?;
        }
    }
    crate::store::sync_directory(&dir).map_err(file_err("fsync directory", &dir))?;
    // The generation's directory entry itself.
    crate::store::sync_directory(state_dir).map_err(file_err("fsync directory", state_dir))
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    match File::open(path).and_then(|file| file.sync_all()) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        done => done.map_err(file_err("fsync", path)),
    }
}

/// Whether no sled handle (of this process's or another's) has
/// `generation` open: sled locks its `db` file with `flock`, as
/// [`File::try_lock`] does. A generation without a `db` file is not open.
pub fn is_closed(state_dir: &Path, generation: Generation) -> Result<bool, StoreError> {
    let path = generation.dir(state_dir).join("db");
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(error) => return Err(file_err("open", &path)(error)),
    };
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(source)) => Err(file_err("lock", &path)(source)),
    }
}

/// Removes `generation`'s files (of generation 0, sled's files only: the
/// directory holds the state's other files too). The caller makes sure
/// no sled handle has it open ([`is_closed`]).
pub fn remove(state_dir: &Path, generation: Generation) -> Result<(), StoreError> {
    match generation.0 {
        0 => {
            for path in sled_files(state_dir, generation)? {
                let removed = match path.is_dir() {
                    true => std::fs::remove_dir_all(&path),
                    false => std::fs::remove_file(&path),
                };
                match removed {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(file_err("remove", &path)(error));
                    }
                    _ => {}
                }
            }
        }
        _ => {
            let dir = generation.dir(state_dir);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(file_err("remove", &dir))?;
            }
        }
    }
    crate::store::sync_directory(state_dir).map_err(file_err("fsync directory", state_dir))
}

/// Removes every generation but `live` and a `CURRENT.next` a switch left:
/// what opening does, before sled opens `live`.
pub fn remove_all_but(state_dir: &Path, live: Generation) -> Result<(), StoreError> {
    let next = state_dir.join(CURRENT_NEXT);
    if next.exists() {
        std::fs::remove_file(&next).map_err(file_err("remove", &next))?;
    }
    let mut others = Vec::new();
    if live != Generation(0) && !sled_files(state_dir, Generation(0))?.is_empty() {
        others.push(Generation(0));
    }
    for path in read_dir_or_empty(state_dir)? {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let number = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number.filter(|&n| n != 0 && Generation(n) != live) {
            others.push(Generation(number));
        }
    }
    others.into_iter().try_for_each(|g| remove(state_dir, g))
}

/// sled's files and directories of `generation` (those that exist).
fn sled_files(state_dir: &Path, generation: Generation) -> Result<Vec<PathBuf>, StoreError> {
    let dir = generation.dir(state_dir);
    Ok(read_dir_or_empty(&dir)?
        .into_iter()
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            matches!(name, "db" | "conf" | "blobs") || name.starts_with("snap.")
        })
        .collect())
}

/// The entries of `dir`, none if it does not exist.
fn read_dir_or_empty(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(file_err("list", dir)(error)),
    };
    entries
        .map(|entry| entry.map(|e| e.path()).map_err(file_err("list", dir)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_names_a_generation_and_its_baseline_or_is_refused() {
        let live = |generation, baseline| Live {
            generation: Generation(generation),
            baseline,
        };
        assert_eq!(parse_current("sled.3 4096\n"), Some(live(3, 4096)));
        assert_eq!(parse_current("sled.0 0\n"), Some(live(0, 0)));
        for bad in [
            "sled.3 4096",
            "sled.3\n",
            "sled.-1 5\n",
            "sled. 5\n",
            "db.3 5\n",
            "sled.3 +5\n",
            "sled.3 5 6\n",
            "",
        ] {
            assert_eq!(parse_current(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_missing_current_is_generation_zero_and_a_damaged_or_dangling_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let live_now = live(dir.path()).unwrap();
        assert_eq!(live_now.generation, Generation(0));
        assert_eq!(live_now.generation.dir(dir.path()), dir.path());
        std::fs::write(dir.path().join(CURRENT), "sled.7 100\n").unwrap();
        let error = live(dir.path()).unwrap_err().to_string();
        assert!(error.contains("sled.7") && error.contains("no "), "{error}");
        std::fs::create_dir(Generation(7).dir(dir.path())).unwrap();
        std::fs::write(Generation(7).dir(dir.path()).join("db"), b"x").unwrap();
        assert_eq!(live(dir.path()).unwrap().generation, Generation(7));
        std::fs::write(dir.path().join(CURRENT), "garbage").unwrap();
        let error = live(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("CURRENT") && error.contains("garbage"),
            "{error}"
        );
    }

    #[test]
    fn make_live_is_read_back_and_opening_removes_every_other_generation() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        for file in ["db", "conf", "snap.00ab", "merkle.nodes", "map.nodes"] {
            std::fs::write(state.join(file), b"x").unwrap();
        }
        std::fs::create_dir(state.join("blobs")).unwrap();
        for n in [1, 2, 3] {
            let gen_dir = Generation(n).dir(state);
            std::fs::create_dir(&gen_dir).unwrap();
            std::fs::write(gen_dir.join("db"), b"x").unwrap();
        }
        std::fs::write(state.join(CURRENT_NEXT), b"sled.3 1\n").unwrap();
        let two = Live {
            generation: Generation(2),
            baseline: 77,
        };
        make_live(state, two).unwrap();
        assert_eq!(live(state).unwrap(), two);
        remove_all_but(state, Generation(2)).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(state)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [CURRENT, "map.nodes", "merkle.nodes", "sled.2"]);
        assert!(state.join("sled.2/db").exists());
    }

    #[test]
    fn a_generation_sled_holds_open_is_not_closed() {
        let dir = tempfile::tempdir().unwrap();
        let one = Generation(1);
        assert!(is_closed(dir.path(), one).unwrap(), "no db file yet");
        let db = sled::Config::new()
            .path(one.dir(dir.path()))
            .open()
            .unwrap();
        assert!(!is_closed(dir.path(), one).unwrap());
        sync(dir.path(), one).unwrap();
        drop(db);
        super::super::disk::retry_while_locked(|may_retry| {
            match is_closed(dir.path(), one).unwrap() {
                true => Some(()),
                false if may_retry => None,
                false => panic!("sled never let go"),
            }
        });
        assert!(one.db_bytes(dir.path()).unwrap() > 0);
        remove(dir.path(), one).unwrap();
        assert!(!one.dir(dir.path()).exists());
    }
}
