//! The raft log on disk: openraft's [`RaftLogStorage`] for a member.
//!
//! ```text
//!   DATA_DIR/raft/log      frames, one per Raft entry, in index order:
//!                            len:u32 ‖ crc32(payload):u32 ‖ payload (protobuf cluster.v1.Entry)
//!   DATA_DIR/raft/vote     crc32:u32 ‖ protobuf cluster.v1.Vote     (replaced atomically)
//!   DATA_DIR/raft/purged   crc32:u32 ‖ protobuf cluster.v1.LogId    (replaced atomically)
//! ```
//!
//! Integers are big-endian. `append` writes the frames and fdatasyncs the
//! file before it reports them flushed: that sync is the member's only one
//! on the acknowledgement path (docs/REPLICATION.md §3). `truncate` cuts the
//! file at the first dropped frame and syncs; `purge` records the purge
//! point (entries up to it are skipped when the file is read) and rewrites
//! the file without them once they are the larger part of it. On open, a
//! torn last frame (an interrupted append, never reported flushed) is
//! dropped; a bad frame before the last, or indexes that do not follow on,
//! refuse the open.
//!
//! The log keeps only each entry's place in the file in memory; entries are
//! read back from the file when a follower needs them.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, StorageError, Vote};
use pledge_proto::cluster as pb;
use prost::Message;

use crate::types::{MemberId, TypeConfig};
use crate::wire::{FromWire, ToWire, log_id_to_pb};

/// Bytes of a frame header: length and CRC.
const FRAME_HEADER: u64 = 8;
/// Largest frame payload accepted when reading (a group of 65,536 entries
/// of at most 64 KiB of transaction each would not fit in one gRPC
/// message anyway).
const MAX_FRAME: u32 = 256 * 1024 * 1024;
/// Rewrite the file once purged frames take more than this many bytes and
/// more than half of it.
const COMPACT_AFTER_BYTES: u64 = 1 << 20;

type Error = StorageError<MemberId>;

/// The raft log of one member. Clones share the same log (openraft's log
/// reader is a clone).
#[derive(Debug, Clone)]
pub struct RaftLog {
    inner: Arc<Mutex<LogFile>>,
}

/// Where one entry's frame is.
#[derive(Debug, Clone, Copy)]
struct Place {
    log_id: LogId<MemberId>,
    offset: u64,
    len: u64,
}

#[derive(Debug)]
struct LogFile {
    dir: PathBuf,
    file: File,
    /// The frames in the file after the purge point, in index order.
    places: VecDeque<Place>,
    /// Bytes of the file (the end of the last frame).
    end: u64,
    /// Bytes at the start of the file taken by purged frames.
    purged_bytes: u64,
    purged: Option<LogId<MemberId>>,
    vote: Option<Vote<MemberId>>,
}

impl RaftLog {
    /// Opens (or creates) the raft log in `dir`.
    pub fn open(dir: &Path) -> io::Result<RaftLog> {
        std::fs::create_dir_all(dir)?;
        let vote = read_small(&dir.join("vote"))?
            .map(|bytes| decode_vote(&bytes))
            .transpose()?;
        let purged = read_small(&dir.join("purged"))?
            .map(|bytes| decode_log_id(&bytes))
            .transpose()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("log"))?;
        let mut log = LogFile {
            dir: dir.to_path_buf(),
            file,
            places: VecDeque::new(),
            end: 0,
            purged_bytes: 0,
            purged,
            vote,
        };
        log.scan()?;
        Ok(RaftLog {
            inner: Arc::new(Mutex::new(log)),
        })
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, LogFile>> {
        self.inner
            .lock()
            .map_err(|_| io::Error::other("the raft log's lock is poisoned"))
    }
}

impl LogFile {
    /// Reads every frame: keeps the places after the purge point, drops a
    /// torn last frame, refuses damage before it.
    fn scan(&mut self) -> io::Result<()> {
        let size = self.file.metadata()?.len();
        let mut offset = 0;
        let mut previous: Option<u64> = None;
        while offset < size {
            let Some((entry, len)) = self.read_frame_at(offset, size)? else {
                // An interrupted append: never reported flushed, so never acknowledged.
                tracing::warn!(offset, size, "raft log: dropped a torn last frame");
                self.file.set_len(offset)?;
                self.file.sync_data()?;
                break;
            };
            let index = entry.log_id.index;
            if previous.is_some_and(|p| p + 1 != index) {
                return Err(invalid(format!(
                    "raft log: entry {index} at byte {offset} does not follow entry {}",
                    previous.unwrap_or_default()
                )));
            }
            previous = Some(index);
            let place = Place {
                log_id: entry.log_id,
                offset,
                len,
            };
            if self.purged.is_some_and(|p| index <= p.index) {
                self.purged_bytes = offset + len;
            } else {
                self.places.push_back(place);
            }
            offset += len;
        }
        self.end = offset.min(size);
        Ok(())
    }

    /// The entry whose frame starts at `offset` and its frame length, or
    /// `None` when the frame is torn (it runs past `size`, or it is the
    /// last frame and its CRC does not match). A bad frame that is not the
    /// last is an error.
    fn read_frame_at(
        &self,
        offset: u64,
        size: u64,
    ) -> io::Result<Option<(Entry<TypeConfig>, u64)>> {
        if size - offset < FRAME_HEADER {
            return Ok(None);
        }
        let mut header = [0u8; FRAME_HEADER as usize];
        self.file.read_exact_at(&mut header, offset)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let frame_len = FRAME_HEADER + u64::from(len);
        if len > MAX_FRAME || size - offset < frame_len {
            return Ok(None);
        }
        let mut payload = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut payload, offset + FRAME_HEADER)?;
        let last = offset + frame_len == size;
        if crc32fast::hash(&payload) != crc {
            return match last {
                true => Ok(None),
                false => Err(invalid(format!(
                    "raft log: bad CRC in the frame at byte {offset}"
                ))),
            };
        }
        let entry = decode_entry(&payload)
            .map_err(|e| invalid(format!("raft log: the frame at byte {offset}: {e}")))?;
        Ok(Some((entry, frame_len)))
    }

    fn last_log_id(&self) -> Option<LogId<MemberId>> {
        self.places.back().map(|p| p.log_id).or(self.purged)
    }

    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<Entry<TypeConfig>>> {
        let Some(first) = self.places.front().map(|p| p.log_id.index) else {
            return Ok(Vec::new());
        };
        let from = start.max(first);
        let mut out = Vec::new();
        for index in from..end {
            let Some(place) = self.places.get((index - first) as usize) else {
                break;
            };
            let mut payload = vec![0u8; (place.len - FRAME_HEADER) as usize];
            self.file
                .read_exact_at(&mut payload, place.offset + FRAME_HEADER)?;
            out.push(decode_entry(&payload).map_err(invalid)?);
        }
        Ok(out)
    }

    fn append(&mut self, entries: Vec<Entry<TypeConfig>>) -> io::Result<()> {
        // An entry at an index the log holds replaces it and everything
        // after it (a conflicting suffix), as a truncation would.
        if let Some(first) = entries.first() {
            self.truncate(first.log_id.index)?;
        }
        let mut bytes = Vec::new();
        let mut places = Vec::with_capacity(entries.len());
        // Entries follow the last present entry; after a purge that left
        // none, openraft decides where the log resumes.
        let mut next = self.places.back().map(|p| p.log_id.index + 1);
        for entry in &entries {
            if next.is_some_and(|n| n != entry.log_id.index) {
                return Err(invalid(format!(
                    "raft log: appending entry {} after entry {}",
                    entry.log_id.index,
                    next.unwrap_or_default().saturating_sub(1)
                )));
            }
            next = Some(entry.log_id.index + 1);
            let payload = entry.to_wire().encode_to_vec();
            let offset = self.end + bytes.len() as u64;
            bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
            bytes.extend_from_slice(&payload);
            places.push(Place {
                log_id: entry.log_id,
                offset,
                len: FRAME_HEADER + payload.len() as u64,
            });
        }
        self.file.write_all_at(&bytes, self.end)?;
        self.file.sync_data()?;
        self.end += bytes.len() as u64;
        self.places.extend(places);
        Ok(())
    }

    /// Drops `log_id.index` and every entry after it.
    fn truncate(&mut self, index: u64) -> io::Result<()> {
        let Some(position) = self.places.iter().position(|p| p.log_id.index >= index) else {
            return Ok(());
        };
        let cut = self.places[position].offset;
        self.file.set_len(cut)?;
        self.file.sync_data()?;
        self.places.truncate(position);
        self.end = cut;
        Ok(())
    }

    /// Drops every entry up to `log_id`, inclusive.
    fn purge(&mut self, log_id: LogId<MemberId>) -> io::Result<()> {
        write_small(&self.dir, "purged", &log_id_to_pb(&log_id).encode_to_vec())?;
        self.purged = Some(log_id);
        while self
            .places
            .front()
            .is_some_and(|p| p.log_id.index <= log_id.index)
        {
            if let Some(place) = self.places.pop_front() {
                self.purged_bytes = place.offset + place.len;
            }
        }
        if self.purged_bytes > COMPACT_AFTER_BYTES && self.purged_bytes * 2 > self.end {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the file without its purged frames.
    fn compact(&mut self) -> io::Result<()> {
        let kept = self.end - self.purged_bytes;
        let mut bytes = vec![0u8; kept as usize];
        self.file.read_exact_at(&mut bytes, self.purged_bytes)?;
        let fresh = self.dir.join("log.new");
        let mut file = File::create(&fresh)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&fresh, self.dir.join("log"))?;
        File::open(&self.dir)?.sync_all()?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.dir.join("log"))?;
        let shift = self.purged_bytes;
        for place in &mut self.places {
            place.offset -= shift;
        }
        self.end = kept;
        self.purged_bytes = 0;
        Ok(())
    }

    fn save_vote(&mut self, vote: &Vote<MemberId>) -> io::Result<()> {
        write_small(&self.dir, "vote", &vote.to_wire().encode_to_vec())?;
        self.vote = Some(*vote);
        Ok(())
    }
}

fn decode_entry(payload: &[u8]) -> Result<Entry<TypeConfig>, String> {
    let wire = pb::Entry::decode(payload).map_err(|e| e.to_string())?;
    Entry::from_wire(wire).map_err(|e| e.to_string())
}

fn decode_vote(bytes: &[u8]) -> io::Result<Vote<MemberId>> {
    let wire = pb::Vote::decode(bytes).map_err(|e| invalid(format!("raft vote: {e}")))?;
    Vote::from_wire(wire).map_err(|e| invalid(format!("raft vote: {e}")))
}

fn decode_log_id(bytes: &[u8]) -> io::Result<LogId<MemberId>> {
    let wire = pb::LogId::decode(bytes).map_err(|e| invalid(format!("raft purge point: {e}")))?;
    crate::wire::log_id(wire).map_err(|e| invalid(format!("raft purge point: {e}")))
}

/// A small file written whole: crc32 ‖ bytes, replaced atomically
/// (temporary file, fsync, rename, fsync of the directory).
fn write_small(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temporary = dir.join(format!("{name}.new"));
    let mut file = File::create(&temporary)?;
    file.write_all(&crc32fast::hash(bytes).to_be_bytes())?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// The bytes of a file written by [`write_small`], or `None` if absent.
fn read_small(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if bytes.len() < 4 {
        return Err(invalid(format!("{}: shorter than its CRC", path.display())));
    }
    let (crc, body) = bytes.split_at(4);
    if crc32fast::hash(body).to_be_bytes() != crc {
        return Err(invalid(format!("{}: bad CRC", path.display())));
    }
    Ok(Some(body.to_vec()))
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn io_error(subject: ErrorSubject<MemberId>, verb: ErrorVerb, error: io::Error) -> Error {
    StorageError::from_io_error(subject, verb, error)
}

/// `[start, end)` of a range of indexes.
fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(n) => *n,
        Bound::Excluded(n) => n.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(n) => n.saturating_add(1),
        Bound::Excluded(n) => *n,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for RaftLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, Error> {
        let (start, end) = bounds(&range);
        self.lock()
            .and_then(|log| log.entries(start, end))
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, e))
    }
}

impl RaftLogStorage<TypeConfig> for RaftLog {
    type LogReader = RaftLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, Error> {
        let log = self
            .lock()
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        Ok(LogState {
            last_purged_log_id: log.purged,
            last_log_id: log.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<MemberId>) -> Result<(), Error> {
        self.lock()
            .and_then(|mut log| log.save_vote(vote))
            .map_err(|e| io_error(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<MemberId>>, Error> {
        let log = self
            .lock()
            .map_err(|e| io_error(ErrorSubject::Vote, ErrorVerb::Read, e))?;
        Ok(log.vote)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), Error>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let result = self.lock().and_then(|mut log| log.append(entries));
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                let reported = io::Error::new(error.kind(), error.to_string());
                callback.log_io_completed(Err(reported));
                Err(io_error(ErrorSubject::Logs, ErrorVerb::Write, error))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<MemberId>) -> Result<(), Error> {
        self.lock()
            .and_then(|mut log| log.truncate(log_id.index))
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Write, e))
    }

    async fn purge(&mut self, log_id: LogId<MemberId>) -> Result<(), Error> {
        self.lock()
            .and_then(|mut log| log.purge(log_id))
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use openraft::{EntryPayload, LeaderId};

    use super::*;

    fn log_id(term: u64, index: u64) -> LogId<MemberId> {
        LogId::new(LeaderId::new(term, 1), index)
    }

    fn blanks(term: u64, indexes: std::ops::Range<u64>) -> Vec<Entry<TypeConfig>> {
        indexes
            .map(|index| Entry {
                log_id: log_id(term, index),
                payload: EntryPayload::Blank,
            })
            .collect()
    }

    fn open(dir: &Path) -> LogFile {
        let log = RaftLog::open(dir).unwrap();
        Arc::try_unwrap(log.inner).unwrap().into_inner().unwrap()
    }

    fn ids(log: &LogFile, start: u64, end: u64) -> Vec<LogId<MemberId>> {
        let entries = log.entries(start, end).unwrap();
        entries.iter().map(|e| e.log_id).collect()
    }

    #[test]
    fn appended_entries_read_back_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.append(blanks(1, 0..5)).unwrap();
        log.save_vote(&Vote::new_committed(1, 1)).unwrap();
        drop(log);
        let log = open(dir.path());
        assert_eq!(ids(&log, 1, 3), vec![log_id(1, 1), log_id(1, 2)]);
        assert_eq!(ids(&log, 0, u64::MAX).len(), 5);
        assert_eq!(log.last_log_id(), Some(log_id(1, 4)));
        assert_eq!(log.vote, Some(Vote::new_committed(1, 1)));
    }

    #[test]
    fn a_gap_in_indexes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.append(blanks(1, 0..3)).unwrap();
        assert!(log.append(blanks(1, 4..5)).is_err());
        assert_eq!(log.last_log_id(), Some(log_id(1, 2)));
    }

    #[test]
    fn a_torn_last_frame_is_dropped_and_earlier_damage_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.append(blanks(1, 0..3)).unwrap();
        let end = log.end;
        drop(log);
        let path = dir.path().join("log");
        let file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all_at(&[0, 0, 0, 40, 1, 2], end).unwrap();
        let log = open(dir.path());
        assert_eq!(log.last_log_id(), Some(log_id(1, 2)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end);
        drop(log);
        // flip a byte in the first frame's payload: not the last frame
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[FRAME_HEADER as usize] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let error = RaftLog::open(dir.path()).unwrap_err();
        assert!(error.to_string().contains("bad CRC"), "{error}");
    }

    #[test]
    fn truncation_drops_the_suffix_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.append(blanks(1, 0..6)).unwrap();
        log.truncate(3).unwrap();
        log.append(blanks(2, 3..4)).unwrap();
        drop(log);
        let log = open(dir.path());
        assert_eq!(
            ids(&log, 2, 10),
            vec![log_id(1, 2), log_id(2, 3)],
            "entries 3..6 of term 1 came back"
        );
    }

    #[test]
    fn purged_entries_are_gone_and_the_file_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.append(blanks(1, 0..10)).unwrap();
        log.purge(log_id(1, 6)).unwrap();
        assert_eq!(
            ids(&log, 0, 100),
            vec![log_id(1, 7), log_id(1, 8), log_id(1, 9)]
        );
        log.compact().unwrap();
        log.append(blanks(1, 10..11)).unwrap();
        drop(log);
        let log = open(dir.path());
        assert_eq!(log.purged, Some(log_id(1, 6)));
        assert_eq!(ids(&log, 0, 100).len(), 4);
        assert_eq!(log.last_log_id(), Some(log_id(1, 10)));
        assert_eq!(log.purged_bytes, 0, "compaction left purged frames");
    }

    #[test]
    fn a_fully_purged_log_reports_the_purge_point_as_last() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.append(blanks(3, 0..2)).unwrap();
        log.purge(log_id(3, 1)).unwrap();
        drop(log);
        let log = open(dir.path());
        assert_eq!(log.last_log_id(), Some(log_id(3, 1)));
        assert!(ids(&log, 0, 100).is_empty());
    }
}
