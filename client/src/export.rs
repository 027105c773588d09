//! Export files: a chain's records, for auditors to keep and replay offline.
//!
//! An export file is the records of entries 0, 1, 2, … in order, each
//! preceded by its length:
//!
//! ```text
//! file   = record_frame*
//! frame  = length:u32 (big-endian) ‖ record:[length]
//! record = entry body ‖ seal        (docs/FORMAT.md §3, exactly as the node stores it)
//! ```
//! There is no header and no trailer: the file ends after the last frame.
//! [`ExportReader`] refuses a frame cut short and lengths beyond
//! [`MAX_RECORD_LEN`], naming the record and its byte offset.

use std::io::{self, Read, Write};

use crate::error::{ClientError, Result};

/// Largest record accepted when reading: a transaction of 64 KiB, sixteen
/// signatures, the fixed fields and the seal fit well within it.
pub const MAX_RECORD_LEN: u32 = 128 * 1024;

/// Writes one frame.
pub fn write_record<W: Write>(out: &mut W, record: &[u8]) -> io::Result<()> {
    let len = u32::try_from(record.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record longer than 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(record)
}

/// Reads frames one by one; an iterator of records.
#[derive(Debug)]
pub struct ExportReader<R> {
    input: R,
    index: u64,
    offset: u64,
    failed: bool,
}

impl<R: Read> ExportReader<R> {
    /// Reads frames from `input` (wrap a file in a `BufReader`).
    pub fn new(input: R) -> ExportReader<R> {
        ExportReader {
            input,
            index: 0,
            offset: 0,
            failed: false,
        }
    }

    /// The next record, `None` at a clean end of the file.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        let mut len_bytes = [0u8; 4];
        let got =
            read_full(&mut self.input, &mut len_bytes).map_err(|e| self.fail(e.to_string()))?;
        match got {
            0 => return Ok(None),
            4 => {}
            n => return Err(self.fail(format!("length prefix cut short after {n} bytes"))),
        }
        let len = u32::from_be_bytes(len_bytes);
        if len == 0 || len > MAX_RECORD_LEN {
            return Err(self.fail(format!("length {len} is outside 1..={MAX_RECORD_LEN}")));
        }
        let mut record = vec![0u8; len as usize];
        let got = read_full(&mut self.input, &mut record).map_err(|e| self.fail(e.to_string()))?;
        if got < record.len() {
            return Err(self.fail(format!("record cut short: {got} of {len} bytes")));
        }
        self.index += 1;
        self.offset += 4 + u64::from(len);
        Ok(Some(record))
    }

    fn fail(&mut self, reason: String) -> ClientError {
        self.failed = true;
        ClientError::Export {
            index: self.index,
            offset: self.offset,
            reason,
        }
    }
}

impl<R: Read> Iterator for ExportReader<R> {
    type Item = Result<Vec<u8>>;

    /// Stops after the first error.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.next_record().transpose()
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for record in records {
            write_record(&mut out, record).unwrap();
        }
        out
    }

    #[test]
    fn records_roundtrip() {
        let records: Vec<&[u8]> = vec![b"one", b"two two", &[7; 1000]];
        let bytes = file_of(&records);
        assert_eq!(&bytes[..4], &[0, 0, 0, 3]);
        let read: Vec<Vec<u8>> = ExportReader::new(bytes.as_slice())
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(read, records);
    }

    #[test]
    fn empty_file_has_no_records() {
        assert_eq!(ExportReader::new(&[][..]).count(), 0);
    }

    #[test]
    fn truncation_names_the_record_and_offset() {
        let bytes = file_of(&[b"one", b"two"]);
        for cut in 1..bytes.len() {
            if cut == 7 {
                continue; // a clean end after the first frame
            }
            let results: Vec<_> = ExportReader::new(&bytes[..cut]).collect();
            let error = results.last().unwrap().as_ref().unwrap_err();
            let ClientError::Export { index, offset, .. } = error else {
                panic!("{error}");
            };
            assert_eq!((*index, *offset), if cut < 7 { (0, 0) } else { (1, 7) });
        }
    }

    #[test]
    fn absurd_lengths_are_refused_before_allocating() {
        for len in [0u32, MAX_RECORD_LEN + 1, u32::MAX] {
            let bytes = len.to_be_bytes();
            let mut reader = ExportReader::new(&bytes[..]);
            assert!(reader.next().unwrap().is_err());
            assert!(reader.next().is_none());
        }
    }
}
