//! A refusal as an attempt entry records it: the reason code and the
//! refusal's fields, in bytes a verifier in any language can compare.
//!
//! ```text
//! refusal = reason_len:u8 ‖ reason ‖ field_count:u8
//!         ‖ field_count × ( key_len:u8 ‖ key ‖ value_len:u16 ‖ value )
//! ```
//! `reason` is the code (`RECEIPT_PLEDGED`, ASCII `A-Z _`, 1..=64 bytes);
//! the fields are [`Rejection::fields`] (the ErrorInfo metadata) sorted by
//! key bytewise, each key once (ASCII `a-z 0-9 _`, 1..=64 bytes), each
//! value UTF-8 of at most [`MAX_VALUE_BYTES`]; at most [`MAX_FIELDS`]
//! fields. Integers are big-endian. docs/FORMAT.md §3.2.

use crate::error::DecodeError;
use crate::rejection::Rejection;

/// Most fields a recorded refusal carries.
pub const MAX_FIELDS: usize = 32;
/// Longest reason code or field key, bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest field value, bytes.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The refusal an attempt entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The stable reason code.
    pub reason: String,
    /// The refusal's fields, sorted by key, each key once.
    pub fields: Vec<(String, String)>,
}

impl Refusal {
    /// What an attempt entry records of `rejection`: its code and its
    /// fields sorted by key (a value longer than [`MAX_VALUE_BYTES`] cut at
    /// a character boundary, at most [`MAX_FIELDS`] fields).
    pub fn of(rejection: &Rejection) -> Refusal {
        let mut fields = rejection.fields();
        fields.sort();
        fields.dedup_by(|later, earlier| later.0 == earlier.0);
        fields.truncate(MAX_FIELDS);
        for (_, value) in &mut fields {
            let cut = truncated(value, MAX_VALUE_BYTES).len();
            value.truncate(cut);
        }
        Refusal {
            reason: rejection.reason().to_owned(),
            fields,
        }
    }

    /// The value of field `key`, if the refusal has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Appends the bytes of the refusal to `out`. A refusal made by
    /// [`Refusal::of`] fits the limits; anything longer is cut rather than
    /// written out of format.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        push_name(out, &self.reason);
        let fields = &self.fields[..self.fields.len().min(MAX_FIELDS)];
        out.push(fields.len() as u8);
        for (key, value) in fields {
            push_name(out, key);
            let value = truncated(value, MAX_VALUE_BYTES);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    }

    /// Decodes a refusal from the front of `bytes`, returning it and the
    /// bytes after it; never panics.
    pub fn decode_from(bytes: &[u8]) -> Result<(Refusal, &[u8]), DecodeError> {
        let mut rest = bytes;
        let reason = take_name(&mut rest, "reason", |b| b.is_ascii_uppercase() || b == b'_')?;
        let count = take(&mut rest, 1, "field_count")?[0] as usize;
        if count > MAX_FIELDS {
            return Err(bad(format!("{count} refusal fields, at most {MAX_FIELDS}")));
        }
        let mut fields: Vec<(String, String)> = Vec::with_capacity(count);
        for _ in 0..count {
            let key = take_name(&mut rest, "field key", |b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
            })?;
            if fields.last().is_some_and(|(previous, _)| *previous >= key) {
                return Err(bad(format!(
                    "refusal field `{key}` is not after the previous key"
                )));
            }
            let len_bytes = take(&mut rest, 2, "value_len")?;
            let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
            if len > MAX_VALUE_BYTES {
                return Err(bad(format!("refusal field `{key}` is {len} bytes long")));
            }
            let value = std::str::from_utf8(take(&mut rest, len, "value")?)
                .map_err(|_| bad(format!("refusal field `{key}` is not UTF-8")))?;
            fields.push((key, value.to_owned()));
        }
        Ok((Refusal { reason, fields }, rest))
    }
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    let name = truncated(name, MAX_NAME_BYTES);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
}

fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn take<'a>(rest: &mut &'a [u8], len: usize, field: &str) -> Result<&'a [u8], DecodeError> {
    if rest.len() < len {
        return Err(bad(format!("record ends inside the refusal's `{field}`")));
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Ok(head)
}

fn take_name(
    rest: &mut &[u8],
    field: &str,
    allowed: impl Fn(u8) -> bool,
) -> Result<String, DecodeError> {
    let len = take(rest, 1, field)?[0] as usize;
    if len == 0 || len > MAX_NAME_BYTES {
        return Err(bad(format!(
            "refusal {field} length {len} is outside 1..={MAX_NAME_BYTES}"
        )));
    }
    let name = take(rest, len, field)?;
    if !name.iter().all(|b| allowed(*b)) {
        return Err(bad(format!("refusal {field} has a character not allowed")));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

fn bad(reason: String) -> DecodeError {
    DecodeError::BadEntry { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pledged() -> Rejection {
        Rejection::ReceiptPledged {
            receipt: "WR-1".into(),
            pledge: "PL-A".into(),
            pledgee: "bank-a".into(),
            since: 7,
        }
    }

    #[test]
    fn roundtrips_sorted() {
        let refusal = Refusal::of(&pledged());
        assert_eq!(refusal.reason, "RECEIPT_PLEDGED");
        let keys: Vec<&str> = refusal.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["pledge", "pledgee", "receipt", "since"]);
        let mut bytes = refusal.encode_into_vec();
        bytes.push(0xAA);
        let (decoded, rest) = Refusal::decode_from(&bytes).unwrap();
        assert_eq!(decoded, refusal);
        assert_eq!(rest, [0xAA]);
    }

    /// The worked example of docs/FORMAT.md §3.2.
    #[test]
    fn format_md_example() {
        let pledged = Rejection::ReceiptPledged {
            receipt: "WR-0001".into(),
            pledge: "PL-A".into(),
            pledgee: "bank-a".into(),
            since: 9,
        };
        let hex: String = Refusal::of(&pledged)
            .encode_into_vec()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let doc = include_str!("../../docs/FORMAT.md");
        let start = doc.find("0f 52454345495054").unwrap();
        let lines = doc[start..].lines().take(6);
        let documented: String = lines
            .flat_map(|line| line.split("  ").next())
            .flat_map(|bytes| bytes.split_whitespace())
            .collect();
        assert_eq!(hex, documented);
    }

    #[test]
    fn every_truncation_and_disorder_is_an_error() {
        let bytes = Refusal::of(&pledged()).encode_into_vec();
        for len in 0..bytes.len() {
            assert!(Refusal::decode_from(&bytes[..len]).is_err(), "{len}");
        }
        let unsorted = Refusal {
            reason: "RECEIPT_PLEDGED".into(),
            fields: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
        };
        assert!(Refusal::decode_from(&unsorted.encode_into_vec()).is_err());
    }

    impl Refusal {
        fn encode_into_vec(&self) -> Vec<u8> {
            let mut out = Vec::new();
            self.encode_into(&mut out);
            out
        }
    }
}
