//! One signed transaction, one reading: transaction bytes that are not the
//! canonical encoding of what they decode to are refused before any rule,
//! a field this node does not know by its number and place.

use pledge_ledger::envelope::{EnvelopeBuilder, EnvelopeError};
use pledge_ledger::error::DecodeError;
use pledge_ledger::tx::Transaction;
use pledge_proto::v1 as pb;
use prost::Message;

use crate::support::*;

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// Field `number` holding the varint `value`.
fn varint_field(number: u64, value: u64) -> Vec<u8> {
    [varint(number << 3), varint(value)].concat()
}

/// Field `number` holding `payload` (a message, a string or bytes).
fn nested(number: u64, payload: &[u8]) -> Vec<u8> {
    [
        varint((number << 3) | 2),
        varint(payload.len() as u64),
        payload.to_vec(),
    ]
    .concat()
}

/// The transaction's bytes with its operation replaced by `operation`, the
/// encoded field `number` of `Transaction` (the operation is its last field).
fn with_operation(tx: &pb::Transaction, number: u64, operation: &[u8]) -> Vec<u8> {
    let header = pb::Transaction {
        operation: None,
        ..tx.clone()
    };
    [header.encode_to_vec(), nested(number, operation)].concat()
}

fn unknown(bytes: &[u8]) -> (String, u64, String) {
    match Transaction::decode(bytes) {
        Err(DecodeError::UnknownField {
            message,
            field,
            path,
        }) => (message, field, path),
        other => panic!("not refused as an unknown field: {other:?}"),
    }
}

fn issue_tx(world: &mut World) -> (pb::Transaction, pb::IssueReceipt) {
    let terms = issue_terms("R-1", "T-1", "C-1", 1_000, world.now_ms + DAY_MS);
    let tx = world.tx(pledge_ledger::ops::issue_receipt(terms.clone()));
    (tx, terms)
}

#[test]
fn the_canonical_encoding_decodes() {
    let mut world = World::new();
    let (tx, terms) = issue_tx(&mut world);
    assert!(Transaction::decode(&tx.encode_to_vec()).is_ok());
    // Built field by field, in field-number order, it is the same bytes.
    let by_hand = with_operation(&tx, 16, &terms.encode_to_vec());
    assert_eq!(by_hand, tx.encode_to_vec());
}

#[test]
fn an_unknown_field_of_the_transaction_is_refused_by_number() {
    let mut world = World::new();
    let (tx, _) = issue_tx(&mut world);
    let bytes = [tx.encode_to_vec(), varint_field(99, 1)].concat();
    assert_eq!(
        unknown(&bytes),
        ("pledgeledger.v1.Transaction".into(), 99, "99".into())
    );
    // A field the format retired (3, the client's clock) is unknown too.
    let retired = [varint_field(3, 5), tx.encode_to_vec()].concat();
    assert_eq!(unknown(&retired).1, 3);
}

#[test]
fn an_unknown_field_inside_an_operation_is_refused_with_its_place() {
    let mut world = World::new();
    let (tx, terms) = issue_tx(&mut world);
    let operation = [terms.encode_to_vec(), nested(29, b"a clause nobody reads")].concat();
    let bytes = with_operation(&tx, 16, &operation);
    assert_eq!(
        unknown(&bytes),
        (
            "pledgeledger.v1.IssueReceipt".into(),
            29,
            "issue_receipt.29".into()
        )
    );
    let error = Transaction::decode(&bytes).unwrap_err();
    assert!(error.to_string().contains("field 29"), "{error}");
}

#[test]
fn an_unknown_field_three_messages_deep_is_found() {
    let mut world = World::new();
    let mut participant = spec("newcomer", &[pb::Role::Holder], &key(77));
    let identity = participant.legal_identity.take().expect("a legal identity");
    // legal_identity is ParticipantSpec's last field: appending keeps order.
    let participant = [
        participant.encode_to_vec(),
        nested(5, &[identity.encode_to_vec(), varint_field(7, 1)].concat()),
    ]
    .concat();
    let tx = world.tx(freeze("R-1"));
    let bytes = with_operation(&tx, 11, &nested(1, &participant));
    assert_eq!(
        unknown(&bytes),
        (
            "pledgeledger.v1.LegalIdentity".into(),
            7,
            "admit_participant.participant.legal_identity.7".into()
        )
    );
}

#[test]
fn known_fields_encoded_another_way_are_refused() {
    let mut world = World::new();
    let (tx, terms) = issue_tx(&mut world);
    let canonical = tx.encode_to_vec();
    let not_canonical = |bytes: &[u8]| match Transaction::decode(bytes) {
        Err(DecodeError::NotCanonical { offset }) => offset,
        other => panic!("not refused as not canonical: {other:?}"),
    };
    // A default value written out (loss_allowance_ppm = 0, field 11).
    let zero_terms = pb::IssueReceipt {
        loss_allowance_ppm: 0,
        ..terms.clone()
    };
    let explicit_zero = [zero_terms.encode_to_vec(), varint_field(11, 0)].concat();
    let bytes = with_operation(&tx, 16, &explicit_zero);
    assert!(not_canonical(&bytes) > 0);
    // A field written twice (protobuf keeps the last).
    let twice = [nested(1, b"another-ledger"), canonical.clone()].concat();
    not_canonical(&twice);
    // Fields out of order: the operation before the ledger id.
    let header = pb::Transaction {
        operation: None,
        ..tx.clone()
    }
    .encode_to_vec();
    let reordered = [nested(16, &terms.encode_to_vec()), header].concat();
    assert_eq!(not_canonical(&reordered), 0);
    // A varint longer than it needs to be (not_before_ms, field 4).
    let short = varint_field(4, tx.not_before_ms);
    let at = canonical
        .windows(short.len())
        .position(|w| w == short)
        .unwrap();
    let mut long = canonical.clone();
    let last = at + short.len() - 1;
    long[last] |= 0x80;
    long.insert(last + 1, 0x00);
    assert_eq!(not_canonical(&long), last);
}

#[test]
fn a_signed_envelope_with_an_unknown_field_does_not_verify_and_changes_nothing() {
    let mut world = World::new();
    world.receipt_of("R-1", 1_000);
    let head = world.len();
    let tx = world.tx(freeze("R-1"));
    let bytes = [tx.encode_to_vec(), varint_field(40, 1)].concat();
    let envelope = EnvelopeBuilder::from_bytes(bytes)
        .sign("regulator", &world.keys["regulator"])
        .build();
    assert!(matches!(
        envelope.verify(),
        Err(EnvelopeError::Decode(DecodeError::UnknownField {
            field: 40,
            ..
        }))
    ));
    assert_eq!(world.len(), head);
    // The same transaction, canonical, is applied.
    let envelope = world.sign(&tx, &["regulator"]);
    world.submit_envelope(envelope).expect("applied");
    world.assert_replays();
}

#[test]
fn every_transaction_of_the_vectors_is_canonical() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/vectors/chain-v1.json")).unwrap();
    let entries = vectors["entries"].as_array().unwrap();
    assert!(entries.len() >= 6);
    for entry in entries {
        let bytes = hex::decode(entry["tx_bytes"].as_str().unwrap()).unwrap();
        let decoded = Transaction::decode(&bytes);
        assert!(decoded.is_ok(), "entry {}: {decoded:?}", entry["seq"]);
    }
}
