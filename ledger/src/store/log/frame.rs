//! Encoding and checked decoding of one group frame (see the layout in the
//! parent module's documentation), plus positioned (`pread`/`pwrite`) reader
//! and writer adaptors that never touch a shared file cursor.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::FileExt;

/// Group magic, the ASCII bytes `PLGL`.
pub(super) const MAGIC: [u8; 4] = *b"PLGL";
/// Format version written and understood by this code.
pub(super) const VERSION: u16 = 1;
/// Bytes in a group header (including its own CRC).
pub(super) const HEADER_LEN: u64 = 40;
/// Bytes of the header covered by the header CRC.
const HEADER_CRC_AT: usize = 36;
/// Bytes in a group trailer (the group CRC).
pub(super) const TRAILER_LEN: u64 = 4;
/// Bytes of the length prefix of each record.
pub(super) const LEN_PREFIX: u64 = 4;

/// The decoded, checked fields of a group header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub count: u32,
    pub payload_len: u64,
    pub first_record: u64,
    pub group_offset: u64,
}

impl Header {
    /// Total bytes of the group frame on disk.
    pub(super) fn frame_len(&self) -> u64 {
        HEADER_LEN + self.payload_len + TRAILER_LEN
    }
}

/// Why a header could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HeaderError {
    /// The header's CRC is valid but its version is not ours.
    Version(u16),
    /// Any other failed check; the string says which.
    Bad(String),
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_be_bytes(a)
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}
fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// Encodes a header for `count` records with `payload_len` payload bytes.
pub(super) fn encode_header(h: &Header) -> [u8; HEADER_LEN as usize] {
    let mut b = [0u8; HEADER_LEN as usize];
    b[0..4].copy_from_slice(&MAGIC);
    b[4..6].copy_from_slice(&VERSION.to_be_bytes());
    // b[6..8]: flags, reserved, zero.
    b[8..12].copy_from_slice(&h.count.to_be_bytes());
    b[12..20].copy_from_slice(&h.payload_len.to_be_bytes());
    b[20..28].copy_from_slice(&h.first_record.to_be_bytes());
    b[28..36].copy_from_slice(&h.group_offset.to_be_bytes());
    let crc = crc32fast::hash(&b[..HEADER_CRC_AT]);
    b[36..40].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Checks and decodes a header read from byte offset `at`. Checks the magic,
/// the header CRC, the version, the reserved flags, that the stored group
/// offset equals `at`, and that count and payload length are plausible.
/// (That `first_record` is the expected one is left to the caller.)
pub(super) fn decode_header(b: &[u8; HEADER_LEN as usize], at: u64) -> Result<Header, HeaderError> {
    if b[0..4] != MAGIC {
        return Err(HeaderError::Bad("bad group magic".into()));
    }
    let stored = be_u32(b, HEADER_CRC_AT);
    let actual = crc32fast::hash(&b[..HEADER_CRC_AT]);
    if stored != actual {
        return Err(HeaderError::Bad(format!(
            "group header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    let version = be_u16(b, 4);
    if version != VERSION {
        return Err(HeaderError::Version(version));
    }
    let flags = be_u16(b, 6);
    if flags != 0 {
        return Err(HeaderError::Bad(format!(
            "unknown header flags {flags:#06x}"
        )));
    }
    let h = Header {
        count: be_u32(b, 8),
        payload_len: be_u64(b, 12),
        first_record: be_u64(b, 20),
        group_offset: be_u64(b, 28),
    };
    if h.group_offset != at {
        return Err(HeaderError::Bad(format!(
            "group header claims byte offset {} but sits at {at}",
            h.group_offset
        )));
    }
    if h.count == 0 || h.count as usize > super::MAX_GROUP_RECORDS {
        return Err(HeaderError::Bad(format!(
            "implausible record count {} in group header",
            h.count
        )));
    }
    let min = u64::from(h.count) * LEN_PREFIX;
    if h.payload_len < min || h.payload_len > super::MAX_GROUP_PAYLOAD {
        return Err(HeaderError::Bad(format!(
            "implausible payload length {} for {} records",
            h.payload_len, h.count
        )));
    }
    Ok(h)
}

/// Encodes a whole group frame starting at byte offset `group_offset` whose
/// first record has index `first_record`. Appends the byte offset of every
/// record (of its length prefix) to `offsets`. Limits must have been checked.
pub(super) fn encode_group(
    records: &[&[u8]],
    first_record: u64,
    group_offset: u64,
    payload_len: u64,
    out: &mut Vec<u8>,
    offsets: &mut Vec<u64>,
) {
    let h = Header {
        // Limits were checked by the caller, so this fits.
        count: u32::try_from(records.len()).unwrap_or(u32::MAX),
        payload_len,
        first_record,
        group_offset,
    };
    out.clear();
    out.extend_from_slice(&encode_header(&h));
    for r in records {
        offsets.push(group_offset + out.len() as u64);
        out.extend_from_slice(&u32::try_from(r.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(r);
    }
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Outcome of reading one group frame.
#[derive(Debug)]
pub(super) enum GroupRead {
    /// The frame is complete and every check passed.
    Ok(Header),
    /// The header has a valid CRC but an unknown version.
    Version(u16),
    /// Some check failed; the string says which.
    Bad(String),
}

/// Reads and fully checks the group frame at byte offset `at` from `r`, which
/// must be positioned there; `file_len` is the log's length. On
/// `GroupRead::Ok`, `offsets` holds the byte offset of every record of the
/// group and `r` is positioned just past the frame. I/O errors (other than
/// the frame running past `file_len`, which is reported as `Bad`) are
/// returned as `Err`.
pub(super) fn read_group<R: BufRead>(
    r: &mut R,
    at: u64,
    file_len: u64,
    offsets: &mut Vec<u64>,
) -> io::Result<GroupRead> {
    offsets.clear();
    let avail = file_len.saturating_sub(at);
    if avail < HEADER_LEN {
        return Ok(GroupRead::Bad(format!(
            "incomplete group header ({avail} of {HEADER_LEN} bytes)"
        )));
    }
    let mut hb = [0u8; HEADER_LEN as usize];
    r.read_exact(&mut hb)?;
    let h = match decode_header(&hb, at) {
        Ok(h) => h,
        Err(HeaderError::Version(v)) => return Ok(GroupRead::Version(v)),
        Err(HeaderError::Bad(s)) => return Ok(GroupRead::Bad(s)),
    };
    if h.frame_len() > avail {
        return Ok(GroupRead::Bad(format!(
            "incomplete group: {} bytes declared, {avail} present",
            h.frame_len()
        )));
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&hb);
    let mut pos = at + HEADER_LEN;
    let payload_end = pos + h.payload_len;
    for i in 0..h.count {
        if pos + LEN_PREFIX > payload_end {
            return Ok(GroupRead::Bad(format!(
                "record {i} of the group starts past the declared payload"
            )));
        }
        let mut lb = [0u8; 4];
        r.read_exact(&mut lb)?;
        crc.update(&lb);
        let len = u64::from(u32::from_be_bytes(lb));
        if len > super::MAX_RECORD_LEN as u64 {
            return Ok(GroupRead::Bad(format!(
                "record {i} of the group claims {len} bytes, over the maximum"
            )));
        }
        if pos + LEN_PREFIX + len > payload_end {
            return Ok(GroupRead::Bad(format!(
                "record {i} of the group ({len} bytes) overruns the declared payload"
            )));
        }
        offsets.push(pos);
        let mut left = len;
        while left > 0 {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            crc.update(&buf[..take]);
            r.consume(take);
            left -= take as u64;
        }
        pos += LEN_PREFIX + len;
    }
    if pos != payload_end {
        return Ok(GroupRead::Bad(format!(
            "records end at {pos}, but the header declares the payload ends at {payload_end}"
        )));
    }
    let mut tb = [0u8; 4];
    r.read_exact(&mut tb)?;
    let stored = u32::from_be_bytes(tb);
    let actual = crc.finalize();
    if stored != actual {
        return Ok(GroupRead::Bad(format!(
            "group checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    Ok(GroupRead::Ok(h))
}

/// A `Read` over a file at an explicit position, using `pread`; it never
/// moves the file's shared cursor, so several can coexist on one `File`.
#[derive(Debug)]
pub(super) struct PosReader<'a> {
    pub file: &'a File,
    pub pos: u64,
}

impl Read for PosReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// A `Write` to a file at an explicit position, using `pwrite`.
#[derive(Debug)]
pub(super) struct PosWriter<'a> {
    pub file: &'a File,
    pub pos: u64,
}

impl Write for PosWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_every_single_byte_flip_is_rejected() {
        let h = Header {
            count: 3,
            payload_len: 30,
            first_record: 7,
            group_offset: 1234,
        };
        let b = encode_header(&h);
        assert_eq!(decode_header(&b, 1234), Ok(h));
        assert!(decode_header(&b, 1235).is_err());
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut c = b;
                c[i] ^= 1 << bit;
                assert!(decode_header(&c, 1234).is_err(), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn group_roundtrip_and_truncation() {
        let recs: Vec<&[u8]> = vec![b"", b"hello", &[0xFF; 300]];
        let payload: u64 = recs.iter().map(|r| 4 + r.len() as u64).sum();
        let (mut out, mut offs) = (Vec::new(), Vec::new());
        encode_group(&recs, 5, 100, payload, &mut out, &mut offs);
        assert_eq!(offs, vec![140, 144, 153]);
        let mut file = vec![0u8; 100];
        file.extend_from_slice(&out);
        let mut got = Vec::new();
        let mut rd = &file[100..];
        match read_group(&mut rd, 100, file.len() as u64, &mut got).unwrap() {
            GroupRead::Ok(h) => {
                assert_eq!(h.count, 3);
                assert_eq!(h.first_record, 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got, offs);
        assert!(rd.is_empty());
        for cut in 100..file.len() {
            let mut rd = &file[100..cut];
            let res = read_group(&mut rd, 100, cut as u64, &mut got).unwrap();
            assert!(matches!(res, GroupRead::Bad(_)), "cut {cut}: {res:?}");
        }
    }
}
