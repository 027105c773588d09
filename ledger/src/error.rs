//! Errors of decoding and of signature checking: bytes from outside that are
//! not a well-formed, correctly signed envelope. Rule violations are
//! [`crate::Rejection`]s; storage failures are [`crate::StoreError`]s.

use thiserror::Error;

/// A transaction, envelope or entry that is not well formed. Nothing was
/// applied; the same bytes will always be refused the same way.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a valid protobuf encoding of the named message.
    #[error("malformed {message}: {reason}")]
    Malformed {
        /// The message that was expected.
        message: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// The transaction sets no operation.
    #[error("transaction carries no operation")]
    MissingOperation,
    /// A required field is absent or empty.
    #[error("field `{field}` is empty")]
    EmptyField {
        /// The field, as named in the proto.
        field: &'static str,
    },
    /// A field is longer than allowed.
    #[error("field `{field}` is {found} bytes long, at most {max} allowed")]
    TooLong {
        /// The field, as named in the proto.
        field: &'static str,
        /// The limit.
        max: usize,
        /// The length found.
        found: usize,
    },
    /// A field holds a character that is not allowed there.
    #[error("field `{field}` holds the forbidden character {found:?}")]
    BadCharacter {
        /// The field, as named in the proto.
        field: &'static str,
        /// The first offending character.
        found: char,
    },
    /// A quantity or amount is zero where a positive value is required.
    #[error("field `{field}` must be greater than zero")]
    Zero {
        /// The field, as named in the proto.
        field: &'static str,
    },
    /// An enum field holds an unknown or unspecified value.
    #[error("field `{field}` holds the unknown or unspecified value {value}")]
    BadEnum {
        /// The field, as named in the proto.
        field: &'static str,
        /// The raw value.
        value: i32,
    },
    /// A number is above the largest value allowed for the field.
    #[error("field `{field}` is {found}, at most {max} allowed")]
    OutOfRange {
        /// The field, as named in the proto.
        field: &'static str,
        /// The limit.
        max: u64,
        /// The value found.
        found: u64,
    },
    /// A number is below the smallest value allowed for the field.
    #[error("field `{field}` is {found}, at least {min} required")]
    BelowMinimum {
        /// The field, as named in the proto.
        field: &'static str,
        /// The minimum.
        min: u64,
        /// The value found.
        found: u64,
    },
    /// A currency code is not three upper-case ASCII letters.
    #[error("currency {found:?} is not an ISO 4217 code (three upper-case letters)")]
    BadCurrency {
        /// The code found.
        found: String,
    },
    /// A public key or signature has the wrong length or is not a valid point.
    #[error("field `{field}` is not a valid ed25519 {what}")]
    BadKey {
        /// The field, as named in the proto.
        field: &'static str,
        /// "public key" or "signature".
        what: &'static str,
    },
    /// A list has more elements than allowed.
    #[error("field `{field}` has {found} elements, at most {max} allowed")]
    TooMany {
        /// The field, as named in the proto.
        field: &'static str,
        /// The limit.
        max: usize,
        /// The count found.
        found: usize,
    },
    /// A list has fewer elements than required.
    #[error("field `{field}` has {found} elements, at least {min} required")]
    TooFew {
        /// The field, as named in the proto.
        field: &'static str,
        /// The minimum.
        min: usize,
        /// The count found.
        found: usize,
    },
    /// The same value appears twice in a list that must not repeat.
    #[error("field `{field}` repeats {value:?}")]
    Repeated {
        /// The field, as named in the proto.
        field: &'static str,
        /// The repeated value.
        value: String,
    },
    /// Adding the listed quantities overflows 64 bits.
    #[error("quantities in `{field}` overflow when summed")]
    Overflow {
        /// The field, as named in the proto.
        field: &'static str,
    },
    /// A fixed-length field has another length.
    #[error("field `{field}` is {found} characters long, exactly {expected} required")]
    BadLength {
        /// The field, as named in the proto.
        field: &'static str,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// An identifier's check characters do not match the rest of it.
    #[error("field `{field}` fails its check: the check characters should be {expected:?}")]
    BadCheckCharacters {
        /// The field, as named in the proto.
        field: &'static str,
        /// The check characters the rest of the identifier calls for.
        expected: String,
    },
    /// A validity window that ends before it begins.
    #[error("validity window ends ({not_after_ms} ms) before it begins ({not_before_ms} ms)")]
    InvertedWindow {
        /// `not_before_ms`.
        not_before_ms: u64,
        /// `not_after_ms`.
        not_after_ms: u64,
    },
    /// A field that must be set (or empty) given another field's value.
    #[error("field `{field}` {requirement}")]
    Inconsistent {
        /// The field, as named in the proto.
        field: &'static str,
        /// What the other fields require of it.
        requirement: &'static str,
    },
    /// A quorum member that the genesis does not admit.
    #[error("quorum member `{member}` is not a participant of the genesis")]
    UnknownQuorumMember {
        /// The member named.
        member: String,
    },
    /// A signed transaction carries a field this version does not declare
    /// (docs/FORMAT.md §2, canonical encoding).
    #[error(
        "field {field} of {message} (at `{path}`) is not declared by this version of the format: a signed transaction may carry only the fields of transaction.proto, so that every verifier reads it the same way"
    )]
    UnknownField {
        /// The message the field is in (`pledgeledger.v1.IssueReceipt`).
        message: String,
        /// The field's number.
        field: u64,
        /// Where it sits: the field names leading to it, then its number
        /// (`issue_receipt.29`).
        path: String,
    },
    /// Transaction bytes that decode but are not their canonical encoding.
    #[error(
        "the transaction's bytes are not its canonical encoding (docs/FORMAT.md §2): they differ from it at byte {offset} (a field written twice, a default value written out, fields out of number order or a long varint); encode with a protobuf serializer and sign those bytes"
    )]
    NotCanonical {
        /// The first byte that differs from the canonical encoding.
        offset: usize,
    },
    /// An entry record is not in the ledger's entry format.
    #[error("entry record is malformed: {reason}")]
    BadEntry {
        /// What is wrong with it.
        reason: String,
    },
}

/// A signature that does not verify. Checked without any ledger state, before
/// the transaction reaches the sequencer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature does not verify under the public key it names.
    #[error("signature of `{signer}` does not verify over this transaction")]
    Invalid {
        /// The participant id the signature claims.
        signer: String,
    },
    /// The envelope carries no signature at all.
    #[error("the envelope carries no signature")]
    Unsigned,
}
