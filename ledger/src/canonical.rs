//! One signed transaction, one reading (docs/FORMAT.md §2, "Canonical
//! encoding").
//!
//! Parties sign a transaction's bytes, and protobuf decoders skip fields
//! they do not know. A field added to the proto after this node was built
//! would be signed, stored and ignored here while a newer verifier honours
//! it: two readings of one signed entry. So the bytes must be exactly the
//! canonical encoding of what this node decodes from them (decoding and
//! re-encoding gives the same bytes). That refuses unknown fields, which
//! prost drops, and every second encoding of known fields (a field written
//! twice, a default value written out, fields out of order, a long varint).
//!
//! When the bytes differ, the proto's descriptor names the first field this
//! node does not know and where it sits; otherwise the first byte that
//! differs is named.

use std::collections::HashMap;
use std::sync::OnceLock;

use pledge_proto::v1 as pb;
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet, field_descriptor_proto::Type};

use crate::error::DecodeError;

const TRANSACTION: &str = ".pledgeledger.v1.Transaction";

/// Refuses `bytes` unless they are the canonical encoding of `decoded`,
/// the transaction prost decoded from them.
pub(crate) fn require_canonical(
    bytes: &[u8],
    decoded: &pb::Transaction,
) -> Result<(), DecodeError> {
    if decoded.encoded_len() == bytes.len() && decoded.encode_to_vec() == bytes {
        return Ok(());
    }
    if let Some(unknown) = first_unknown_field(schema(), TRANSACTION, bytes, "") {
        return Err(unknown);
    }
    Err(DecodeError::NotCanonical {
        offset: first_difference(bytes, &decoded.encode_to_vec()),
    })
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// A field as the proto declares it: its name and, for a message field, the
/// message's full name.
struct Field {
    name: String,
    message: Option<String>,
}

/// Every message of the public API (full name, with a leading dot) and its
/// fields by number.
type Schema = HashMap<String, HashMap<u64, Field>>;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The descriptor is compiled in; should it not decode, the schema is
        // empty and a refusal names the first differing byte instead.
        let files =
            FileDescriptorSet::decode(pledge_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
        let mut schema = Schema::new();
        for file in &files.file {
            let package = format!(".{}", file.package());
            for message in &file.message_type {
                add_message(&mut schema, &package, message);
            }
        }
        schema
    })
}

fn add_message(schema: &mut Schema, scope: &str, message: &DescriptorProto) {
    let full_name = format!("{scope}.{}", message.name());
    let fields = message
        .field
        .iter()
        .map(|field| {
            let nested = (field.r#type() == Type::Message).then(|| field.type_name().to_owned());
            let number = u64::try_from(field.number()).unwrap_or_default();
            (
                number,
                Field {
                    name: field.name().to_owned(),
                    message: nested,
                },
            )
        })
        .collect();
    for nested in &message.nested_type {
        add_message(schema, &full_name, nested);
    }
    schema.insert(full_name, fields);
}

/// The first field in `bytes`, an encoded `message`, that the schema does
/// not declare, looking into nested messages; `path` names where `message`
/// sits in the transaction (`issue_receipt.`).
fn first_unknown_field(
    schema: &Schema,
    message: &str,
    bytes: &[u8],
    path: &str,
) -> Option<DecodeError> {
    let fields = schema.get(message)?;
    let mut rest = bytes;
    while !rest.is_empty() {
        let key = read_varint(&mut rest)?;
        let (number, wire_type) = (key >> 3, key & 7);
        let Some(field) = fields.get(&number) else {
            return Some(DecodeError::UnknownField {
                message: message.trim_start_matches('.').to_owned(),
                field: number,
                path: format!("{path}{number}"),
            });
        };
        let value = read_value(&mut rest, wire_type)?;
        if let Some(inner) = &field.message {
            let inner_path = format!("{path}{}.", field.name);
            if let Some(unknown) = first_unknown_field(schema, inner, value, &inner_path) {
                return Some(unknown);
            }
        }
    }
    None
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Reads one value of `wire_type`; a length-delimited value is returned
/// (the others are skipped). Groups do not occur in this proto3 schema.
fn read_value<'a>(bytes: &mut &'a [u8], wire_type: u64) -> Option<&'a [u8]> {
    let length = match wire_type {
        0 => return read_varint(bytes).map(|_| &[][..]),
        1 => 8,
        2 => usize::try_from(read_varint(bytes)?).ok()?,
        5 => 4,
        _ => return None,
    };
    let (value, rest) = bytes.split_at_checked(length)?;
    *bytes = rest;
    Some(if wire_type == 2 { value } else { &[] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_knows_every_operation_of_the_transaction() {
        let transaction = &schema()[TRANSACTION];
        assert_eq!(transaction[&16].name, "issue_receipt");
        assert_eq!(
            transaction[&28].message.as_deref(),
            Some(".pledgeledger.v1.ChangeMembership")
        );
        assert!(!transaction.contains_key(&3), "field 3 is reserved");
    }

    #[test]
    fn varints_and_values_are_read_as_protobuf_writes_them() {
        let mut bytes: &[u8] = &[0x96, 0x01, 0xff];
        assert_eq!(read_varint(&mut bytes), Some(150));
        assert_eq!(bytes, &[0xff]);
        assert_eq!(read_varint(&mut bytes), None);
        let mut bytes: &[u8] = &[0x03, b'a', b'b', b'c', 0x09];
        assert_eq!(read_value(&mut bytes, 2), Some(&b"abc"[..]));
        assert_eq!(read_value(&mut bytes, 1), None, "8 bytes are not there");
        assert_eq!(first_difference(b"abcd", b"abxd"), 2);
        assert_eq!(first_difference(b"abc", b"abcd"), 3);
    }
}
