//! The single error type of the entry log.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while opening, appending to, reading or
/// truncating an [`EntryLog`](super::EntryLog).
///
/// Every variant names what was being done and, where it applies, the file,
/// the record index and the byte offset involved, so that an operator can act
/// on the message alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// An operating-system call failed (permission denied, disk full,
    /// I/O error, ...). `op` names the operation, `path` the file or
    /// directory it was applied to.
    #[error("entry log: {op} failed on {}: {source}", path.display())]
    Io {
        /// The operation that failed, e.g. `"fdatasync"` or `"write group"`.
        op: &'static str,
        /// The file or directory the operation was applied to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Another process (or another open handle in this process) holds the
    /// exclusive lock on the log directory.
    #[error(
        "entry log directory {} is locked: another process (or another handle in this process) has it open",
        path.display()
    )]
    Locked {
        /// The log directory.
        path: PathBuf,
    },

    /// The log contains damage that is not a torn final group: a group that
    /// fails its checks is followed by at least one valid group, so dropping
    /// it would silently lose acknowledged records. `open` modifies nothing in
    /// that case; the log must be repaired (e.g. restored from a replica) by
    /// an operator. Also returned by `read`/`iter_from`/`truncate` when a
    /// record or index entry read back is out of bounds.
    ///
    /// Checksums cover a whole group, so `record` is the index of the *first*
    /// record of the damaged group and `offset` the byte offset of its header.
    #[error(
        "entry log {} is corrupt at record {record} (group at byte offset {offset}): {reason}",
        path.display()
    )]
    Corrupt {
        /// The damaged file: `entries.log`, or `entries.idx` when `read` or
        /// `iter_from` finds an index entry pointing outside the log.
        path: PathBuf,
        /// Index of the first record of the damaged group (or of the record
        /// being read, for errors raised by `read`/`iter_from`).
        record: u64,
        /// Byte offset in the log file of the damaged group (or record).
        offset: u64,
        /// What check failed.
        reason: String,
    },

    /// A group with a valid header checksum carries a format version this
    /// code does not understand (the log was written by a newer release).
    #[error(
        "entry log {} uses unsupported format version {version} (group at byte offset {offset}); this build understands version {supported}",
        path.display()
    )]
    UnsupportedVersion {
        /// The log file.
        path: PathBuf,
        /// Byte offset of the group header.
        offset: u64,
        /// The version found on disk.
        version: u16,
        /// The version this build writes and reads.
        supported: u16,
    },

    /// A record given to `append_group` exceeds [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN).
    /// Nothing was written.
    #[error("entry log: record {position} of the group is {len} bytes, the maximum is {max}")]
    RecordTooLarge {
        /// Position of the offending record inside the group passed in.
        position: usize,
        /// Its length in bytes.
        len: usize,
        /// The maximum record length.
        max: usize,
    },

    /// A group given to `append_group` has more records than
    /// [`MAX_GROUP_RECORDS`](super::MAX_GROUP_RECORDS) or more payload bytes
    /// than [`MAX_GROUP_PAYLOAD`](super::MAX_GROUP_PAYLOAD). Nothing was
    /// written; split it into several groups.
    #[error(
        "entry log: group of {records} records / {payload_bytes} payload bytes exceeds the limit of {max_records} records / {max_payload_bytes} bytes"
    )]
    GroupTooLarge {
        /// Number of records in the group.
        records: usize,
        /// Encoded payload size of the group.
        payload_bytes: u64,
        /// Maximum number of records per group.
        max_records: usize,
        /// Maximum encoded payload size per group.
        max_payload_bytes: u64,
    },

    /// A record index at or past the end of the log was requested
    /// (`read`, `iter_from`, or `truncate` to a length greater than the log).
    #[error("entry log: record index {index} is out of range (the log has {len} records)")]
    OutOfRange {
        /// The requested index (or length, for `truncate`).
        index: u64,
        /// The number of records in the log.
        len: u64,
    },

    /// An earlier write or fdatasync on this handle failed in a way that
    /// leaves the on-disk tail in an unknown state (after a failed fsync the
    /// kernel may have dropped the dirty pages). Further writes are refused;
    /// drop the handle and reopen the log, which re-scans and repairs it.
    #[error(
        "entry log {} refuses writes after an earlier write/sync failure; reopen it",
        path.display()
    )]
    Poisoned {
        /// The log directory.
        path: PathBuf,
    },
}

impl LogError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
