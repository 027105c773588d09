//! Compacting the state database while the store is in use: its keys
//! copied a step at a time into a new generation (`generation`), which the
//! store then switches to.
//!
//! **Why.** sled 0.34 reclaims a segment of its file only once at most
//! half of it is live and never shrinks the file, so the state database
//! grows to several times its live keys (module `compact`). A copy in key
//! order writes each page once.
//!
//! **How it stays right.** Only the store's one writer (the apply thread)
//! touches either database, and it interleaves two things:
//!
//! - every batch an apply writes goes to the live database first, then to
//!   the copy ([`Copy::write`]);
//! - between applies, [`Copy::step`] copies the next [`STEP_KEYS`] keys
//!   after its cursor from the live database, overwriting.
//!
//! The live database is always current, so an overwrite from it is never
//! stale; a key an apply removes is removed from both, and the cursor never
//! comes back to it. Once the cursor has passed the last key the copy holds
//! exactly the live database's keys and values.
//!
//! **Checked before it is used.** A second pass, a step at a time as the
//! first, reads the next [`STEP_KEYS`] keys of both databases and compares
//! them, keys and values: between steps the two must be equal, since
//! every write reaches both. A difference drops the copy, naming the key
//! (as the offline compaction compares a digest read back). Only then does
//! the store flush and fsync the copy, name it in `CURRENT`, and read and
//! write it from then on; views taken before read the old database (frozen, and
//! as current as they need) until they are dropped, after which the store
//! removes it ([`super::DiskStateStore`]'s upkeep).
//!
//! **Crashes.** Until `CURRENT` names the copy, opening removes the copy
//! and the old database is live, with every apply in it; after, opening
//! removes the old one. Either way the ledger replays from the log what
//! sled had not yet written, as after any crash.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use super::disk::{STATE_TREE, open_sled, sled_err};
use super::file_err;
use super::generation::{self, Generation, Live};
use crate::store::StoreError;

/// Keys copied per step: a step takes some milliseconds of the apply
/// thread, which applies between steps.
pub const STEP_KEYS: usize = 2_048;

/// Keys a compaction copies or checks per entry applied meanwhile, at the
/// least: a writer that is never idle still finishes a copy of `K` keys
/// and its check within `2 K / KEYS_PER_ENTRY` entries (the generator's mix
/// has about 4 live keys per entry: a compaction ends within a quarter of
/// the entries the store holds).
pub const KEYS_PER_ENTRY: u64 = 32;

/// The upkeep steps a writer takes after applying `entries`, while a
/// compaction has work (at least 32 keys per entry: `KEYS_PER_ENTRY`);
/// at least one.
pub fn steps_after(entries: u64) -> u64 {
    (entries * KEYS_PER_ENTRY).div_ceil(STEP_KEYS as u64).max(1)
}

/// When a node compacts its state database by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// No compaction while the database's file is smaller than this.
    pub min_bytes: u64,
    /// A compaction starts once the file has grown by this percentage
    /// over its length right after the last one (over 0 when that is not
    /// known: a store never compacted while in use).
    pub growth_percent: u64,
}

impl CompactionPolicy {
    /// The suggested policy when it is turned on (a node's is off unless
    /// configured): from 64 MiB on, at 25 % growth.
    pub const DEFAULT: CompactionPolicy = CompactionPolicy {
        min_bytes: 64 << 20,
        growth_percent: 25,
    };

    /// Whether a database file of `bytes` whose length after the last
    /// compaction was `baseline` is due one.
    pub fn due(&self, bytes: u64, baseline: u64) -> bool {
        let grown_to = baseline.saturating_add(baseline.saturating_mul(self.growth_percent) / 100);
        bytes >= self.min_bytes && bytes > grown_to
    }
}

/// Whether the file system holding `state_dir` has room for a copy of a
/// database of `db_bytes` and as much again to spare: a compaction must
/// not be what fills the disk the log is written to.
pub fn room_for_copy(state_dir: &Path, db_bytes: u64) -> Result<bool, StoreError> {
    let figures = rustix::fs::statvfs(state_dir)
        .map_err(|error| file_err("read the free space of", state_dir)(error.into()))?;
    let free = figures.f_bavail.saturating_mul(figures.f_frsize);
    Ok(free >= db_bytes.saturating_mul(2))
}

/// A copy in progress (module documentation).
#[derive(Debug)]
pub struct Copy {
    generation: Generation,
    /// Its directory, named in errors.
    dir: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    pass: Pass,
    /// The last key copied or checked in this pass; `None` before its
    /// first step.
    cursor: Option<sled::IVec>,
}

/// Which pass over the keys a [`Copy`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Copying the live database's keys into the copy.
    Copying,
    /// Comparing the two, a step at a time.
    Checking,
}

impl Copy {
    /// Creates the empty database of `generation` in `state_dir`.
    pub fn start(state_dir: &Path, generation: Generation) -> Result<Copy, StoreError> {
        generation::remove(state_dir, generation)?;
        let dir = generation.dir(state_dir);
        let db = open_sled(&dir)?;
        let tree = db.open_tree(STATE_TREE).map_err(sled_err("open tree"))?;
        Ok(Copy {
            generation,
            dir,
            db,
            tree,
            pass: Pass::Copying,
            cursor: None,
        })
    }

    /// The generation it writes.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Writes a batch the live database has just taken.
    pub fn write(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.tree
            .apply_batch(batch)
            .map_err(sled_err("write the compaction's copy"))
    }

    /// The next step: copies (first pass) or compares (second pass) the
    /// next `max_keys` keys of `live` after the cursor. Returns whether the
    /// copy is finished and checked; an error if the check found the two
    /// databases different.
    pub fn step(&mut self, live: &sled::Tree, max_keys: usize) -> Result<bool, StoreError> {
        let max_keys = max_keys.max(1);
        let passed_the_end = match self.pass {
            Pass::Copying => self.copy_step(live, max_keys)?,
            Pass::Checking => self.check_step(live, max_keys)?,
        };
        match (passed_the_end, self.pass) {
            (false, _) => Ok(false),
            (true, Pass::Copying) => {
                self.pass = Pass::Checking;
                self.cursor = None;
                Ok(false)
            }
            (true, Pass::Checking) => Ok(true),
        }
    }

    /// Where the next step starts.
    fn after_cursor(&self) -> Bound<sled::IVec> {
        match &self.cursor {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Unbounded,
        }
    }

    /// Copies the next `max_keys` keys; returns whether it passed the last.
    fn copy_step(&mut self, live: &sled::Tree, max_keys: usize) -> Result<bool, StoreError> {
        let mut batch = sled::Batch::default();
        let mut copied = 0;
        let mut last = None;
        for item in live
            .range((self.after_cursor(), Bound::Unbounded))
            .take(max_keys)
        {
            let (key, value) = item.map_err(sled_err("read for compaction"))?;
            batch.insert(key.clone(), value);
            last = Some(key);
            copied += 1;
        }
        self.tree
            .apply_batch(batch)
            .map_err(sled_err("write the compaction's copy"))?;
        if last.is_some() {
            self.cursor = last;
        }
        Ok(copied < max_keys)
    }

    /// Compares the next `max_keys` keys of `live` with the copy's keys in
    /// the same range; returns whether it passed the last.
    fn check_step(&mut self, live: &sled::Tree, max_keys: usize) -> Result<bool, StoreError> {
        let from = self.after_cursor();
        let expected = live
            .range((from.clone(), Bound::Unbounded))
            .take(max_keys)
            .collect::<Result<Vec<_>, _>>()
            .map_err(sled_err("read for compaction"))?;
        let passed_the_end = expected.len() < max_keys;
        let to = match expected.last() {
            Some((key, _)) if !passed_the_end => Bound::Included(key.clone()),
            _ => Bound::Unbounded,
        };
        let found = self
            .tree
            .range((from, to))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sled_err("read the compaction's copy"))?;
        if let Some(key) = first_difference(&expected, &found) {
            return Err(StoreError::StateFile {
                op: "check the compaction's copy against the live database",
                path: self.dir.clone(),
                source: std::io::Error::other(format!(
                    "they differ at key {:?}; the copy is dropped",
                    String::from_utf8_lossy(&key)
                )),
            });
        }
        if let Some((key, _)) = expected.last() {
            self.cursor = Some(key.clone());
        }
        Ok(passed_the_end)
    }

    /// Makes the finished copy durable and live (module `generation`):
    /// returns what `CURRENT` now says. On an error `CURRENT` may name
    /// the copy or not (the rename may have happened before a failed
    /// fsync of the directory): the caller reads it back.
    pub fn make_live(&self, state_dir: &Path) -> Result<Live, StoreError> {
        self.db
            .flush()
            .map_err(sled_err("flush the compaction's copy"))?;
        generation::sync(state_dir, self.generation)?;
        let live = Live {
            generation: self.generation,
            baseline: self.generation.db_bytes(state_dir)?,
        };
        generation::make_live(state_dir, live)?;
        Ok(live)
    }

    /// Its database and tree, to read and write from now on.
    pub fn into_handles(self) -> (sled::Db, sled::Tree) {
        (self.db, self.tree)
    }
}

/// The first key at which two runs of keys and values differ (a key one
/// has and the other lacks, or a value that differs); `None` if equal.
fn first_difference(
    expected: &[(sled::IVec, sled::IVec)],
    found: &[(sled::IVec, sled::IVec)],
) -> Option<sled::IVec> {
    let mut pairs = expected.iter().zip(found);
    if let Some(((key, _), (other, _))) = pairs.find(|(a, b)| a != b) {
        return Some(key.min(other).clone());
    }
    let longer = match expected.len() > found.len() {
        true => expected,
        false => found,
    };
    longer
        .get(expected.len().min(found.len()))
        .map(|(key, _)| key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_steps_in_proportion_to_the_entries_it_applied() {
        assert_eq!(steps_after(0), 1);
        assert_eq!(steps_after(1), 1);
        assert_eq!(steps_after(64), 1);
        assert_eq!(steps_after(65), 2);
        assert_eq!(steps_after(1_000), 16);
    }

    #[test]
    fn a_compaction_is_due_past_the_minimum_and_the_growth() {
        let policy = CompactionPolicy {
            min_bytes: 1_000,
            growth_percent: 25,
        };
        assert!(!policy.due(999, 0), "under the minimum");
        assert!(policy.due(1_000, 0), "at the minimum, baseline unknown");
        assert!(!policy.due(1_250, 1_000), "grown by exactly 25 %");
        assert!(policy.due(1_251, 1_000));
        assert!(!policy.due(5_000, 4_500));
        assert!(!policy.due(u64::MAX, u64::MAX), "no overflow");
    }

    fn tree_of(dir: &Path, keys: impl IntoIterator<Item = u32>) -> (sled::Db, sled::Tree) {
        let db = open_sled(dir).unwrap();
        let tree = db.open_tree(STATE_TREE).unwrap();
        for key in keys {
            tree.insert(key.to_be_bytes(), &key.to_le_bytes()).unwrap();
        }
        (db, tree)
    }

    fn contents(tree: &sled::Tree) -> Vec<(sled::IVec, sled::IVec)> {
        tree.iter().map(Result::unwrap).collect()
    }

    /// Applies one batch to the live tree and to the copy, as the store does.
    fn both(live: &sled::Tree, copy: &Copy, batch: sled::Batch) {
        live.apply_batch(batch.clone()).unwrap();
        copy.write(batch).unwrap();
    }

    #[test]
    fn writes_between_steps_leave_the_copy_equal_to_the_live_tree() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, live) = tree_of(&dir.path().join("live"), 0..100);
        let mut copy = Copy::start(dir.path(), Generation(1)).unwrap();
        let mut steps = 0u32;
        let mut finished = false;
        while !finished {
            steps += 1;
            let mut batch = sled::Batch::default();
            // Behind the cursor, ahead of it, removed on both sides of it,
            // and new keys past the end.
            batch.insert(&(steps * 7 % 100).to_be_bytes(), b"rewritten".as_slice());
            batch.remove(&((steps * 13 + 50) % 100).to_be_bytes());
            batch.insert(&(1_000 + steps).to_be_bytes(), b"new".as_slice());
            both(&live, &copy, batch);
            finished = copy.step(&live, 9).unwrap();
        }
        assert!(steps > 10, "{steps} steps");
        assert_eq!(contents(&copy.tree), contents(&live));
    }

    #[test]
    fn a_step_past_the_end_says_so_and_an_empty_tree_is_copied_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, live) = tree_of(&dir.path().join("live"), 0..4);
        let mut copy = Copy::start(dir.path(), Generation(1)).unwrap();
        assert!(
            !copy.step(&live, 4).unwrap(),
            "a full step may have more after it"
        );
        assert!(!copy.step(&live, 4).unwrap(), "copied: the check is next");
        assert_eq!(copy.pass, Pass::Checking);
        assert_eq!(contents(&copy.tree), contents(&live));
        assert!(!copy.step(&live, 4).unwrap());
        assert!(copy.step(&live, 4).unwrap(), "checked");
        let (_db2, empty) = tree_of(&dir.path().join("empty"), 0..0);
        let mut copy2 = Copy::start(dir.path(), Generation(2)).unwrap();
        assert!(!copy2.step(&empty, 4).unwrap());
        assert!(copy2.step(&empty, 4).unwrap());
    }

    /// A copy that differs from the live database (a value changed, a
    /// key missing, a key too many, here written into the copy alone) is
    /// refused by the check, naming the key; an equal one passes.
    #[test]
    fn the_check_finds_a_copy_that_differs_and_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, live) = tree_of(&dir.path().join("live"), 0..40);
        type Tamper = fn(&sled::Tree, u32);
        let tampered: [(u32, Tamper); 4] = [
            (0, |_, _| {}),
            (7, |copy, key| {
                copy.insert(key.to_be_bytes(), b"changed".as_slice())
                    .unwrap();
            }),
            (33, |copy, key| {
                copy.remove(key.to_be_bytes()).unwrap();
            }),
            (39, |copy, _| {
                copy.insert(100u32.to_be_bytes(), b"extra".as_slice())
                    .unwrap();
            }),
        ];
        for (n, (key, tamper)) in tampered.into_iter().enumerate() {
            let mut copy = Copy::start(dir.path(), Generation(n as u64 + 1)).unwrap();
            while copy.pass == Pass::Copying {
                copy.step(&live, 8).unwrap();
            }
            tamper(&copy.tree, key);
            let checked = (0..10).try_fold(false, |done, _| match done {
                true => Ok(true),
                false => copy.step(&live, 8),
            });
            match n {
                0 => assert!(checked.unwrap(), "an equal copy passes"),
                _ => {
                    let error = checked.unwrap_err().to_string();
                    let named = match n {
                        3 => 100u32,
                        _ => key,
                    };
                    let named = String::from_utf8_lossy(&named.to_be_bytes()).into_owned();
                    assert!(error.contains(&format!("{named:?}")), "{n}: {error}");
                    assert!(error.contains(&format!("sled.{}", n + 1)), "{error}");
                }
            }
        }
    }

    #[test]
    fn a_difference_is_the_first_key_either_side_has_and_the_other_lacks() {
        let pair = |k: u8, v: u8| (sled::IVec::from(&[k]), sled::IVec::from(&[v]));
        let run = [pair(1, 1), pair(3, 3)];
        assert_eq!(first_difference(&run, &run), None);
        assert_eq!(first_difference(&[], &[]), None);
        let key = |k: u8| Some(sled::IVec::from(&[k]));
        assert_eq!(first_difference(&run, &[pair(1, 1), pair(3, 4)]), key(3));
        assert_eq!(first_difference(&run, &[pair(1, 1), pair(2, 2)]), key(2));
        assert_eq!(first_difference(&run, &[pair(1, 1)]), key(3));
        assert_eq!(first_difference(&[pair(1, 1)], &run), key(3));
        assert_eq!(first_difference(&run, &[pair(0, 0), pair(1, 1)]), key(0));
    }

    #[test]
    fn a_finished_copy_is_named_live_and_reopens_with_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, live) = tree_of(&dir.path().join("live"), 0..50);
        let mut copy = Copy::start(dir.path(), Generation(4)).unwrap();
        while !copy.step(&live, 16).unwrap() {}
        let made = copy.make_live(dir.path()).unwrap();
        let (db, tree) = copy.into_handles();
        assert_eq!(generation::live(dir.path()).unwrap(), made);
        assert_eq!(made.generation, Generation(4));
        assert!(made.baseline > 0);
        drop((db, tree));
        let reopened = crate::store::state::disk::retry_while_locked(|_| {
            Some(open_sled(&Generation(4).dir(dir.path())))
        })
        .unwrap();
        let tree = reopened.open_tree(STATE_TREE).unwrap();
        assert_eq!(contents(&tree), contents(&live));
    }
}
