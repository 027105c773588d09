//! The append-only, checksummed entry log with group fdatasync.
//!
//! The entry log is the ledger's source of truth; everything in sled is
//! derived from it and can be rebuilt by replaying it. A writer appends a
//! *group* of records (opaque byte strings, one serialized ledger entry each)
//! with [`EntryLog::append_group`], which writes the whole group, then issues
//! one `fdatasync` ([`File::sync_data`]); only when it returns `Ok` may the
//! clients whose entries are in that group be told "committed". After a crash
//! a group is either wholly present or wholly dropped.
//!
//! # Files
//!
//! An open log is a directory holding:
//!
//! | file            | purpose                                                      |
//! |-----------------|--------------------------------------------------------------|
//! | `entries.log`   | the groups, back to back; the only file that is the truth     |
//! | `entries.idx`   | derived offset index: 8 bytes per record, never fsynced      |
//! | `entries.lock`  | empty; held with an exclusive `flock` while the log is open  |
//!
//! # `entries.log` layout (format version 1)
//!
//! The file has no file header: it is a sequence of group frames starting at
//! byte 0, and an empty file is an empty log. All integers are big-endian.
//! Checksums are CRC-32 (IEEE 802.3 polynomial, reflected, as computed by the
//! `crc32fast` crate — *not* CRC-32C).
//!
//! ```text
//! group frame, starting at byte offset G of entries.log:
//!
//!  offset  size  field
//!  ------  ----  -----------------------------------------------------------
//!   0       4    magic            ASCII "PLGL" (0x50 0x4C 0x47 0x4C)
//!   4       2    version          u16 = 1
//!   6       2    flags            u16, reserved, must be 0
//!   8       4    record_count     u32, N, 1 ..= 65_536
//!  12       8    payload_len      u64, P = sum over records of (4 + len_i),
//!                                 at most 1 GiB
//!  20       8    first_record     u64, index of this group's first record
//!                                 (= number of records in all earlier groups)
//!  28       8    group_offset     u64, = G (this header's own byte offset)
//!  36       4    header_crc       u32, CRC-32 of bytes 0..36 of this frame
//!  40       P    payload          N records, each:
//!                                   4 bytes  len_i  u32, 0 ..= 16 MiB
//!                                   len_i bytes of record data (opaque)
//!  40+P     4    group_crc        u32, CRC-32 of bytes 0..40+P of this frame
//!                                 (header including header_crc, and payload)
//!
//!  frame length = 44 + P; the next frame starts at G + 44 + P.
//! ```
//!
//! # `entries.idx` layout
//!
//! Record `i` has the 8 bytes at offset `8 * i`: a big-endian `u64`, the byte
//! offset in `entries.log` of that record's 4-byte length prefix. The file
//! holds exactly `8 * len()` bytes. It is written together with each group
//! but not fsynced: on every [`EntryLog::open`] it is compared, entry by entry,
//! with the offsets found by scanning `entries.log`, and rewritten from the
//! first mismatch (or trimmed). Deleting it is always safe.
//!
//! # Recovery rules (applied by [`EntryLog::open`])
//!
//! Every frame is checked: magic, header CRC, version, flags, `group_offset`,
//! `first_record`, record lengths against `payload_len`, and `group_crc`.
//!
//! * If the bytes from a frame position to the end of the file are all zero,
//!   they are space written ahead ([`EntryLog::open_preallocating`]), not
//!   data: the log ends there, nothing is dropped or reported.
//! * If a frame fails a check and **no valid frame follows it** (searching
//!   the rest of the file for a frame with a good header, a matching
//!   `group_offset`, a `first_record` not below the damaged group's, and a good
//!   `group_crc`), it is a torn final group from an interrupted append: the
//!   file is truncated at the frame's start, the truncation is fsynced, and
//!   [`Recovery`] reports the dropped byte count and the reason. Junk after the
//!   last group is dropped the same way. Such a group was never acknowledged.
//! * If a valid frame *does* follow, acknowledged data is damaged and
//!   [`LogError::Corrupt`] is returned with the index of the first record of
//!   the damaged group and its byte offset. Nothing is modified.
//! * A frame whose header CRC is valid but whose version is unknown is always
//!   an error ([`LogError::UnsupportedVersion`]), never dropped.
//!
//! # Limits and choices
//!
//! * A record is at most [`MAX_RECORD_LEN`] (16 MiB) bytes; empty records are
//!   allowed. A group has at most [`MAX_GROUP_RECORDS`] records and
//!   [`MAX_GROUP_PAYLOAD`] payload bytes; larger groups are refused with an
//!   error before anything is written.
//! * Appending an empty group is a no-op that returns `Ok` (nothing is
//!   written or synced).
//! * Memory use does not grow with the log length: record offsets live in
//!   `entries.idx`, and open scans the log sequentially through a fixed buffer.

mod error;
mod frame;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use error::LogError;
use frame::{GroupRead, HEADER_LEN, LEN_PREFIX, PosReader, PosWriter, TRAILER_LEN};

/// Largest record, in bytes, that [`EntryLog::append_group`] accepts (16 MiB).
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;
/// Most records one group may hold.
pub const MAX_GROUP_RECORDS: usize = 65_536;
/// Most encoded payload bytes (records plus their 4-byte length prefixes) one
/// group may hold (1 GiB).
pub const MAX_GROUP_PAYLOAD: u64 = 1024 * 1024 * 1024;
/// The on-disk format version this code writes and reads.
pub const FORMAT_VERSION: u16 = frame::VERSION;

/// Name of the log file inside the log directory.
pub const LOG_FILE: &str = "entries.log";
/// Name of the offset-index file inside the log directory.
pub const INDEX_FILE: &str = "entries.idx";
/// Name of the lock file inside the log directory.
pub const LOCK_FILE: &str = "entries.lock";

const IDX_ENTRY: u64 = 8;
const SCAN_BUF: usize = 1024 * 1024;
const IDX_BUF: usize = 64 * 1024;
const ITER_BUF: usize = 256 * 1024;

/// What [`EntryLog::open`] found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Records in the log after recovery.
    pub records: u64,
    /// Groups in the log after recovery.
    pub groups: u64,
    /// Length of `entries.log` in bytes after recovery.
    pub log_bytes: u64,
    /// Bytes cut from the end of `entries.log` (a torn final group and/or
    /// junk); 0 if the log ended cleanly.
    pub dropped_tail_bytes: u64,
    /// Why the tail was dropped (which check failed at which offset), when
    /// `dropped_tail_bytes > 0`.
    pub dropped_tail_reason: Option<String>,
    /// `Some(i)` if `entries.idx` was missing, short, long or inconsistent and
    /// was rewritten from record `i` on (`i == records` means it was only
    /// trimmed); `None` if it was already correct.
    pub index_rebuilt_from: Option<u64>,
    /// Whether `entries.log` was created by this open.
    pub created: bool,
}

/// One open entry log directory. See the [module documentation](self) for
/// the format and the durability contract.
///
/// Reads take `&self` and use positioned reads only, so a shared reference
/// may be used from several threads at once; appends and truncation take
/// `&mut self`. [`EntryLog::reader`] hands out a [`LogReader`] that other
/// threads keep while this handle appends: it sees every record whose group
/// is durable.
#[derive(Debug)]
pub struct EntryLog {
    dir: PathBuf,
    files: Arc<Files>,
    /// Held for its `flock`; released when the handle is dropped.
    _lock: File,
    /// Set when a failed write or sync left the tail in an unknown state.
    poisoned: bool,
    /// Length of `entries.log` on disk: the groups, then zeros written ahead.
    allocated: u64,
    /// Bytes of zeros written ahead at a time (0: none).
    preallocate: u64,
}

/// The two files and the published lengths, shared by the writer and its
/// readers.
#[derive(Debug)]
struct Files {
    log_path: PathBuf,
    idx_path: PathBuf,
    log: File,
    idx: File,
    /// Number of durable records (published after each fdatasync).
    len: AtomicU64,
    /// Bytes of `entries.log` that hold complete, durable groups.
    log_len: AtomicU64,
    /// Readers hold it shared while reading; truncation holds it exclusively.
    gate: RwLock<()>,
}

/// A reading handle on an open [`EntryLog`]: cheap to clone, usable from any
/// thread while the log's owner appends. It sees every record whose group
/// was durable when the read began.
#[derive(Debug, Clone)]
pub struct LogReader {
    files: Arc<Files>,
}

fn sync_dir(dir: &Path) -> Result<(), LogError> {
    crate::store::sync_directory(dir).map_err(|e| LogError::io("fsync directory", dir, e))
}

/// Opens `path` read-write, creating it if missing; reports whether it was
/// created.
fn open_rw(path: &Path) -> Result<(File, bool), LogError> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => Ok((f, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map(|f| (f, false))
            .map_err(|e| LogError::io("open", path, e)),
        Err(e) => Err(LogError::io("create", path, e)),
    }
}

/// Whether bytes `from..to` of `file` are all zero: space written ahead,
/// not a torn group.
fn zeros_to_end(file: &File, from: u64, to: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; SCAN_BUF];
    let mut at = from;
    while at < to {
        let n = (to - at).min(SCAN_BUF as u64) as usize;
        file.read_exact_at(&mut buf[..n], at)?;
        if buf[..n].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

fn len_of(f: &File, path: &Path) -> Result<u64, LogError> {
    f.metadata()
        .map(|m| m.len())
        .map_err(|e| LogError::io("stat", path, e))
}

/// Searches `entries.log` from byte `from` on for a complete, valid group
/// frame whose `first_record` is at least `min_first_record`. Returns its
/// offset. Used to tell a torn tail (nothing valid follows) from damage in
/// the middle of the log.
fn find_later_group(
    log: &File,
    from: u64,
    file_len: u64,
    min_first_record: u64,
) -> io::Result<Option<u64>> {
    let mut rd = BufReader::with_capacity(
        SCAN_BUF,
        PosReader {
            file: log,
            pos: from,
        },
    );
    let mut pos = from; // file offset of the next byte the window will take in
    let mut window = 0u32;
    let magic = u32::from_be_bytes(frame::MAGIC);
    let mut offsets = Vec::new();
    loop {
        let buf = rd.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let n = buf.len();
        let mut candidates = Vec::new();
        for &b in buf {
            window = (window << 8) | u32::from(b);
            pos += 1;
            if window == magic && pos >= from + 4 {
                candidates.push(pos - 4);
            }
        }
        rd.consume(n);
        for cand in candidates {
            if cand + HEADER_LEN + TRAILER_LEN > file_len {
                continue;
            }
            let mut hb = [0u8; HEADER_LEN as usize];
            log.read_exact_at(&mut hb, cand)?;
            let Ok(h) = frame::decode_header(&hb, cand) else {
                continue;
            };
            if h.first_record < min_first_record {
                continue;
            }
            let mut grd = BufReader::with_capacity(
                IDX_BUF,
                PosReader {
                    file: log,
                    pos: cand,
                },
            );
            if let GroupRead::Ok(_) = frame::read_group(&mut grd, cand, file_len, &mut offsets)? {
                return Ok(Some(cand));
            }
        }
    }
}

impl EntryLog {
    /// Opens the log in `dir`, creating the directory and its files if they
    /// do not exist, and recovers it.
    ///
    /// Takes an exclusive lock on `dir/entries.lock` (fails with
    /// [`LogError::Locked`] if another process or handle has the log open),
    /// then scans and checks every group. A torn or incomplete final group,
    /// and any junk after the last valid group, is truncated away (durably)
    /// and reported in the returned [`Recovery`]; damage before the last
    /// group is a [`LogError::Corrupt`] naming the record and byte offset, and
    /// nothing is modified. The offset index is verified against the scan and
    /// repaired if needed. When files or the directory are created, the
    /// containing directory is fsynced so that their existence is durable.
    pub fn open(dir: &Path) -> Result<(Self, Recovery), LogError> {
        EntryLog::open_preallocating(dir, 0)
    }

    /// [`EntryLog::open`], then keeps at least `chunk / 4` bytes of zeros
    /// written ahead of the last group, `chunk` at a time (0: never). An
    /// append into space already written does not change the file's size,
    /// so its `fdatasync` need not also commit the inode: it is cheaper and
    /// steadier (docs/PERFORMANCE.md has the figures). The zeros are not
    /// data: a reader stops at the first group position holding zeros to
    /// the end of the file (docs/FORMAT.md §5).
    pub fn open_preallocating(dir: &Path, chunk: u64) -> Result<(Self, Recovery), LogError> {
        let dir = dir.to_path_buf();
        let existed = dir.exists();
        fs::create_dir_all(&dir).map_err(|e| LogError::io("create directory", &dir, e))?;
        if !existed && let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }

        let lock_path = dir.join(LOCK_FILE);
        let (lock, lock_created) = open_rw(&lock_path)?;
        let locked = lock.try_lock();
        match locked {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(LogError::Locked { path: dir }),
            Err(TryLockError::Error(e)) => return Err(LogError::io("lock", lock_path, e)),
        }

        let log_path = dir.join(LOG_FILE);
        let idx_path = dir.join(INDEX_FILE);
        let (log, log_created) = open_rw(&log_path)?;
        let (idx, idx_created) = open_rw(&idx_path)?;
        if lock_created || log_created || idx_created {
            sync_dir(&dir)?;
        }

        let mut this = EntryLog {
            dir,
            files: Arc::new(Files {
                log_path,
                idx_path,
                log,
                idx,
                len: AtomicU64::new(0),
                log_len: AtomicU64::new(0),
                gate: RwLock::new(()),
            }),
            _lock: lock,
            poisoned: false,
            allocated: 0,
            preallocate: chunk,
        };
        let mut recovery = this.recover()?;
        recovery.created = log_created;
        Ok((this, recovery))
    }

    /// Scans the whole log, truncates a torn tail, and repairs the index.
    fn recover(&mut self) -> Result<Recovery, LogError> {
        let file_len = len_of(&self.files.log, &self.files.log_path)?;
        let idx_len = len_of(&self.files.idx, &self.files.idx_path)?;
        let read_err = |e| LogError::io("read", self.files.log_path.clone(), e);

        let mut rd = BufReader::with_capacity(
            SCAN_BUF,
            PosReader {
                file: &self.files.log,
                pos: 0,
            },
        );
        let mut idx_rd = BufReader::with_capacity(
            IDX_BUF,
            PosReader {
                file: &self.files.idx,
                pos: 0,
            },
        );
        let mut idx_w: Option<BufWriter<PosWriter<'_>>> = None;
        let mut rebuilt_from = None;

        let mut pos = 0u64;
        let mut records = 0u64;
        let mut groups = 0u64;
        let mut offsets = Vec::new();
        let mut bad: Option<String> = None;

        while pos < file_len {
            let frame_len =
                match frame::read_group(&mut rd, pos, file_len, &mut offsets).map_err(read_err)? {
                    GroupRead::Ok(h) if h.first_record == records => h.frame_len(),
                    GroupRead::Ok(h) => {
                        bad = Some(format!(
                            "group header says its first record is {}, expected {records}",
                            h.first_record
                        ));
                        break;
                    }
                    GroupRead::Version(version) => {
                        return Err(LogError::UnsupportedVersion {
                            path: self.files.log_path.clone(),
                            offset: pos,
                            version,
                            supported: FORMAT_VERSION,
                        });
                    }
                    GroupRead::Bad(reason) => {
                        bad = Some(reason);
                        break;
                    }
                };
            for &off in &offsets {
                let k = records;
                records += 1;
                if idx_w.is_none() {
                    if (k + 1) * IDX_ENTRY <= idx_len {
                        let mut b = [0u8; 8];
                        idx_rd
                            .read_exact(&mut b)
                            .map_err(|e| LogError::io("read", self.files.idx_path.clone(), e))?;
                        if u64::from_be_bytes(b) == off {
                            continue;
                        }
                    }
                    rebuilt_from = Some(k);
                    idx_w = Some(BufWriter::with_capacity(
                        IDX_BUF,
                        PosWriter {
                            file: &self.files.idx,
                            pos: k * IDX_ENTRY,
                        },
                    ));
                }
                if let Some(w) = idx_w.as_mut() {
                    w.write_all(&off.to_be_bytes())
                        .map_err(|e| LogError::io("write", self.files.idx_path.clone(), e))?;
                }
            }
            groups += 1;
            pos += frame_len;
        }
        drop(rd);
        drop(idx_rd);
        if let Some(mut w) = idx_w {
            w.flush()
                .map_err(|e| LogError::io("write", self.files.idx_path.clone(), e))?;
        }

        let mut dropped_tail_bytes = 0;
        let mut dropped_tail_reason = None;
        self.allocated = pos;
        let written_ahead =
            bad.is_some() && zeros_to_end(&self.files.log, pos, file_len).map_err(read_err)?;
        if written_ahead {
            self.allocated = file_len;
        } else if let Some(reason) = bad {
            if let Some(next) =
                find_later_group(&self.files.log, pos + 1, file_len, records).map_err(read_err)?
            {
                return Err(LogError::Corrupt {
                    path: self.files.log_path.clone(),
                    record: records,
                    offset: pos,
                    reason: format!(
                        "{reason}; a valid group follows at byte offset {next}, so this is not a torn final group"
                    ),
                });
            }
            dropped_tail_bytes = file_len - pos;
            dropped_tail_reason = Some(format!("at byte offset {pos}: {reason}"));
            self.files
                .log
                .set_len(pos)
                .map_err(|e| LogError::io("truncate torn tail", self.files.log_path.clone(), e))?;
            self.files
                .log
                .sync_all()
                .map_err(|e| LogError::io("fsync", self.files.log_path.clone(), e))?;
        }

        let want = records * IDX_ENTRY;
        if len_of(&self.files.idx, &self.files.idx_path)? != want {
            self.files
                .idx
                .set_len(want)
                .map_err(|e| LogError::io("truncate", self.files.idx_path.clone(), e))?;
            rebuilt_from.get_or_insert(records);
        }

        self.files.publish(records, pos);
        Ok(Recovery {
            records,
            groups,
            log_bytes: pos,
            dropped_tail_bytes,
            dropped_tail_reason,
            index_rebuilt_from: rebuilt_from,
            created: false,
        })
    }
}

impl EntryLog {
    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of records in the log.
    pub fn len(&self) -> u64 {
        self.files.len()
    }

    /// Whether the log holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of `entries.log` holding complete groups.
    pub fn byte_len(&self) -> u64 {
        self.files.log_len()
    }

    fn check_writable(&self) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Appends `records` as one group: writes the whole frame and its index
    /// entries, then calls `fdatasync` on `entries.log`. When this returns
    /// `Ok`, the group is durable and its records have indices
    /// `len() - records.len() .. len()`.
    ///
    /// An empty `records` is a no-op returning `Ok` (nothing is written or
    /// synced). Too large a record or group is refused before anything is
    /// written ([`LogError::RecordTooLarge`], [`LogError::GroupTooLarge`]).
    ///
    /// On any other `Err` the group was **not acknowledged**, and its fate is
    /// unknown: it may or may not be present (wholly) after a crash and
    /// reopen. If the failure was in the write and the file could be cut back,
    /// the handle stays usable; if `fdatasync` failed (or cutting back
    /// failed), the handle is poisoned and further writes fail with
    /// [`LogError::Poisoned`] until the log is reopened.
    pub fn append_group(&mut self, records: &[&[u8]]) -> Result<(), LogError> {
        self.check_writable()?;
        if records.is_empty() {
            return Ok(());
        }
        let mut payload_len = 0u64;
        for (position, r) in records.iter().enumerate() {
            if r.len() > MAX_RECORD_LEN {
                return Err(LogError::RecordTooLarge {
                    position,
                    len: r.len(),
                    max: MAX_RECORD_LEN,
                });
            }
            payload_len += LEN_PREFIX + r.len() as u64;
        }
        if records.len() > MAX_GROUP_RECORDS || payload_len > MAX_GROUP_PAYLOAD {
            return Err(LogError::GroupTooLarge {
                records: records.len(),
                payload_bytes: payload_len,
                max_records: MAX_GROUP_RECORDS,
                max_payload_bytes: MAX_GROUP_PAYLOAD,
            });
        }

        let (len, log_len) = (self.len(), self.byte_len());
        let mut buf = Vec::with_capacity(
            usize::try_from(HEADER_LEN + payload_len + TRAILER_LEN).unwrap_or(0),
        );
        let mut offsets = Vec::with_capacity(records.len());
        frame::encode_group(records, len, log_len, payload_len, &mut buf, &mut offsets);
        let mut idx_buf = Vec::with_capacity(offsets.len() * 8);
        for o in &offsets {
            idx_buf.extend_from_slice(&o.to_be_bytes());
        }

        if let Err(e) = self.files.log.write_all_at(&buf, log_len) {
            self.roll_back();
            return Err(LogError::io("write group", self.files.log_path.clone(), e));
        }
        if let Err(e) = self.files.idx.write_all_at(&idx_buf, len * IDX_ENTRY) {
            self.roll_back();
            return Err(LogError::io("write index", self.files.idx_path.clone(), e));
        }
        if let Err(e) = self.files.log.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty pages
            // and marked them clean; retrying cannot prove durability.
            self.poisoned = true;
            return Err(LogError::io("fdatasync", self.files.log_path.clone(), e));
        }
        let end = log_len + buf.len() as u64;
        self.allocated = self.allocated.max(end);
        self.files.publish(len + offsets.len() as u64, end);
        self.write_ahead(end);
        Ok(())
    }

    /// Writes `preallocate` more bytes of zeros after the file's end when
    /// fewer than a quarter of that are left after `end`, and makes them
    /// durable. A failure costs speed only: the next append grows the file.
    fn write_ahead(&mut self, end: u64) {
        if self.preallocate == 0 || self.allocated - end >= self.preallocate / 4 {
            return;
        }
        let zeros = vec![0u8; SCAN_BUF];
        let target = self.allocated + self.preallocate;
        let mut at = self.allocated;
        while at < target {
            let n = (target - at).min(SCAN_BUF as u64);
            if self
                .files
                .log
                .write_all_at(&zeros[..n as usize], at)
                .is_err()
            {
                break;
            }
            at += n;
        }
        if self.files.log.sync_data().is_ok() {
            self.allocated = at;
        }
    }

    /// Cuts both files back to the last acknowledged state after a failed,
    /// unsynced write; poisons the handle if that is impossible.
    fn roll_back(&mut self) {
        self.allocated = self.byte_len();
        let ok = self.files.log.set_len(self.byte_len()).is_ok()
            && self.files.idx.set_len(self.len() * IDX_ENTRY).is_ok();
        if !ok {
            self.poisoned = true;
        }
    }

    /// Returns record `index`: one positioned read of its index entry, then
    /// of its length prefix and its data. Checksums are verified at
    /// [`open`](Self::open), not on every read.
    pub fn read(&self, index: u64) -> Result<Vec<u8>, LogError> {
        self.files.read(index)
    }

    /// Iterates over the records from `index` to the end (as of this call),
    /// yielding `(index, record)`, reading both files sequentially through
    /// buffers. `index == len()` yields nothing; `index > len()` yields one
    /// [`LogError::OutOfRange`]. After an error the iterator ends.
    pub fn iter_from(&self, index: u64) -> Iter<'_> {
        self.files.iter_from(index)
    }

    /// A reading handle for other threads (see [`LogReader`]).
    pub fn reader(&self) -> LogReader {
        LogReader {
            files: self.files.clone(),
        }
    }

    /// Drops every record with index `>= len`, durably (the shortened log is
    /// fsynced). `len == self.len()` is a no-op; `len > self.len()` is
    /// [`LogError::OutOfRange`].
    ///
    /// If `len` falls inside a group, the group is cut at its start and its
    /// records below `len` are re-appended as a new group; a crash in between
    /// leaves the log ending at that group's start (fewer records than `len`,
    /// never more). Meant for repair tools and tests.
    pub fn truncate(&mut self, len: u64) -> Result<(), LogError> {
        self.check_writable()?;
        if len > self.len() {
            return Err(LogError::OutOfRange {
                index: len,
                len: self.len(),
            });
        }
        if len == self.len() {
            return Ok(());
        }
        // Find the first record `g` of the group holding record `len`:
        // consecutive records of one group are contiguous in the log, while a
        // group boundary puts a trailer and a header between them.
        let mut g = len;
        let mut g_off = self.files.idx_entry(g)?;
        self.files.check_offset(g, g_off)?;
        while g > 0 {
            let p_off = self.files.idx_entry(g - 1)?;
            self.files.check_offset(g - 1, p_off)?;
            let mut lb = [0u8; 4];
            self.files
                .log
                .read_exact_at(&mut lb, p_off)
                .map_err(|e| LogError::io("read", self.files.log_path.clone(), e))?;
            let p_len = self
                .files
                .check_record(g - 1, p_off, u32::from_be_bytes(lb))?;
            if p_off + LEN_PREFIX + p_len as u64 != g_off {
                break;
            }
            g -= 1;
            g_off = p_off;
        }
        let group_off = g_off - HEADER_LEN;
        let mut hb = [0u8; HEADER_LEN as usize];
        self.files
            .log
            .read_exact_at(&mut hb, group_off)
            .map_err(|e| LogError::io("read", self.files.log_path.clone(), e))?;
        match frame::decode_header(&hb, group_off) {
            Ok(h) if h.first_record == g => {}
            _ => {
                return Err(LogError::Corrupt {
                    path: self.files.log_path.clone(),
                    record: g,
                    offset: group_off,
                    reason: "no valid group header where the index says this group starts".into(),
                });
            }
        }
        let kept = (g..len)
            .map(|i| self.read(i))
            .collect::<Result<Vec<_>, _>>()?;

        // Readers stop seeing the dropped records before their bytes go.
        {
            let _gate = self.files.gate.write().unwrap_or_else(|p| p.into_inner());
            self.files.publish(g, group_off);
        }
        self.allocated = group_off;
        if let Err(e) = self.files.log.set_len(group_off) {
            self.poisoned = true;
            return Err(LogError::io("truncate", self.files.log_path.clone(), e));
        }
        if let Err(e) = self.files.log.sync_all() {
            self.poisoned = true;
            return Err(LogError::io("fsync", self.files.log_path.clone(), e));
        }
        if let Err(e) = self.files.idx.set_len(g * IDX_ENTRY) {
            self.poisoned = true;
            return Err(LogError::io("truncate", self.files.idx_path.clone(), e));
        }
        let refs: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
        self.append_group(&refs)
    }
}

impl Files {
    fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    fn log_len(&self) -> u64 {
        self.log_len.load(Ordering::Acquire)
    }

    /// Publishes new lengths, once the data below them is durable.
    fn publish(&self, len: u64, log_len: u64) {
        self.log_len.store(log_len, Ordering::Release);
        self.len.store(len, Ordering::Release);
    }

    /// Reads the `index`-th byte offset out of `entries.idx`.
    fn idx_entry(&self, index: u64) -> Result<u64, LogError> {
        let mut b = [0u8; 8];
        self.idx
            .read_exact_at(&mut b, index * IDX_ENTRY)
            .map_err(|e| LogError::io("read", self.idx_path.clone(), e))?;
        Ok(u64::from_be_bytes(b))
    }

    /// Checks a record's length prefix against the limits and the log length.
    fn check_record(&self, index: u64, off: u64, len: u32) -> Result<usize, LogError> {
        let len = len as usize;
        if len > MAX_RECORD_LEN || off + LEN_PREFIX + len as u64 > self.log_len() {
            return Err(LogError::Corrupt {
                path: self.log_path.clone(),
                record: index,
                offset: off,
                reason: format!(
                    "record length {len} at this offset runs past the end of the log ({} bytes) or over the maximum",
                    self.log_len()
                ),
            });
        }
        Ok(len)
    }

    fn check_offset(&self, index: u64, off: u64) -> Result<(), LogError> {
        if off < HEADER_LEN || off > self.log_len().saturating_sub(LEN_PREFIX) {
            return Err(LogError::Corrupt {
                path: self.idx_path.clone(),
                record: index,
                offset: off,
                reason: format!(
                    "index entry points outside the log ({} bytes)",
                    self.log_len()
                ),
            });
        }
        Ok(())
    }

    /// Returns record `index`: one positioned read of its index entry, then
    /// of its length prefix and its data. Checksums are verified at
    /// [`EntryLog::open`], not on every read.
    fn read(&self, index: u64) -> Result<Vec<u8>, LogError> {
        if index >= self.len() {
            return Err(LogError::OutOfRange {
                index,
                len: self.len(),
            });
        }
        let off = self.idx_entry(index)?;
        self.check_offset(index, off)?;
        let mut lb = [0u8; 4];
        self.log
            .read_exact_at(&mut lb, off)
            .map_err(|e| LogError::io("read", self.log_path.clone(), e))?;
        let len = self.check_record(index, off, u32::from_be_bytes(lb))?;
        let mut data = vec![0u8; len];
        self.log
            .read_exact_at(&mut data, off + LEN_PREFIX)
            .map_err(|e| LogError::io("read", self.log_path.clone(), e))?;
        Ok(data)
    }

    /// Iterates over the records from `index` to the end (as of this call),
    /// yielding `(index, record)`, reading both files sequentially through
    /// buffers. `index == len()` yields nothing; `index > len()` yields one
    /// [`LogError::OutOfRange`]. After an error the iterator ends.
    fn iter_from(&self, index: u64) -> Iter<'_> {
        Iter {
            log: self,
            next: index,
            end: self.len(),
            state: None,
            done: false,
        }
    }
}

impl LogReader {
    /// Number of durable records.
    pub fn len(&self) -> u64 {
        self.files.len()
    }

    /// Whether the log holds no durable record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `index`, as [`EntryLog::read`].
    pub fn read(&self, index: u64) -> Result<Vec<u8>, LogError> {
        let _gate = self.files.gate.read().unwrap_or_else(|p| p.into_inner());
        self.files.read(index)
    }

    /// Records from `index` on, as [`EntryLog::iter_from`].
    pub fn iter_from(&self, index: u64) -> Iter<'_> {
        self.files.iter_from(index)
    }
}

/// Sequential iterator over records, returned by [`EntryLog::iter_from`].
#[derive(Debug)]
pub struct Iter<'a> {
    log: &'a Files,
    next: u64,
    end: u64,
    state: Option<IterState<'a>>,
    done: bool,
}

#[derive(Debug)]
struct IterState<'a> {
    idx: BufReader<PosReader<'a>>,
    data: BufReader<PosReader<'a>>,
    /// Log offset the `data` reader is positioned at.
    pos: u64,
}

impl Iter<'_> {
    fn step(&mut self) -> Result<(u64, Vec<u8>), LogError> {
        let log = self.log;
        let index = self.next;
        let st = self.state.get_or_insert_with(|| IterState {
            idx: BufReader::with_capacity(
                IDX_BUF,
                PosReader {
                    file: &log.idx,
                    pos: index * IDX_ENTRY,
                },
            ),
            data: BufReader::with_capacity(
                ITER_BUF,
                PosReader {
                    file: &log.log,
                    pos: 0,
                },
            ),
            pos: 0,
        });
        let mut b = [0u8; 8];
        st.idx
            .read_exact(&mut b)
            .map_err(|e| LogError::io("read", log.idx_path.clone(), e))?;
        let off = u64::from_be_bytes(b);
        log.check_offset(index, off)?;
        let read_err = |e| LogError::io("read", log.log_path.clone(), e);
        if off != st.pos {
            if off > st.pos && off - st.pos <= HEADER_LEN + TRAILER_LEN {
                // Group boundary: skip the trailer and the next header.
                let mut skip = [0u8; (HEADER_LEN + TRAILER_LEN) as usize];
                let n = usize::try_from(off - st.pos).unwrap_or(0);
                st.data.read_exact(&mut skip[..n]).map_err(read_err)?;
            } else {
                st.data = BufReader::with_capacity(
                    ITER_BUF,
                    PosReader {
                        file: &log.log,
                        pos: off,
                    },
                );
            }
            st.pos = off;
        }
        let mut lb = [0u8; 4];
        st.data.read_exact(&mut lb).map_err(read_err)?;
        let len = log.check_record(index, off, u32::from_be_bytes(lb))?;
        let mut data = vec![0u8; len];
        st.data.read_exact(&mut data).map_err(read_err)?;
        st.pos = off + LEN_PREFIX + len as u64;
        Ok((index, data))
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<(u64, Vec<u8>), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.next > self.end {
            self.done = true;
            return Some(Err(LogError::OutOfRange {
                index: self.next,
                len: self.end,
            }));
        }
        if self.next == self.end {
            self.done = true;
            return None;
        }
        let item = self.step();
        match item {
            Ok(_) => self.next += 1,
            Err(_) => self.done = true,
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        if self.next > self.end {
            return (1, Some(1));
        }
        // Every step yields one item; an error ends the iteration early.
        let left = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        (left.min(1), Some(left))
    }
}

#[cfg(test)]
mod tests;
