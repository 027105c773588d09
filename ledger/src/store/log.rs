//! The append-only, checksummed entry log with group fdatasync.
