//! Checkpoints: the node's signed statement of the ledger's size, Merkle root
//! and chain head (docs/FORMAT.md §7).
//!
//! A checkpoint is a C2SP `tlog-checkpoint` body with two extension lines,
//! signed as a C2SP `signed-note` with the node's Ed25519 key under the key
//! name `pledgeledger/<ledger_id>` (the checkpoint's origin):
//!
//! ```text
//! pledgeledger/<ledger_id>\n
//! <tree size, decimal>\n
//! <Merkle root, standard base64>\n
//! chain-head <entry_hash of entry size−1, lower-case hex>\n
//! time <node time in ms, decimal>\n
//! \n
//! — pledgeledger/<ledger_id> <base64(key_id[4] ‖ Ed25519 signature[64])>\n
//! ```
//!
//! The Merkle root and the chain head are bound together in one signed text,
//! and [`verify_head_binding`] checks that the head entry is itself the last
//! leaf under the root, so neither structure can be presented without the
//! other (the immudb "linear-fake" flaw, CVE-2022-36111, came from verifying
//! them separately).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::crypto::{self, Digest, PublicKey};
use crate::entry::Entry;
use crate::merkle::{self, EMPTY_ROOT, Hash, MerkleError, ProofError};
use crate::store::StoreError;
use crate::view::LedgerRead;

/// Prefix of a ledger's checkpoint origin (and of its note key name).
pub const ORIGIN_PREFIX: &str = "pledgeledger/";
/// Largest signed note accepted, in bytes (a checkpoint is a few hundred).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted on one note (the limit of Go's `note.Open`).
pub const MAX_SIGNATURE_LINES: usize = 100;
/// Signature type byte of Ed25519 in a C2SP key id.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// Start of a signature line: U+2014 EM DASH, then a space.
pub const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

const CHAIN_HEAD_PREFIX: &str = "chain-head ";
const TIME_PREFIX: &str = "time ";
/// How much of an offending value an error message quotes.
const QUOTE_LEN: usize = 80;

/// The checkpoint origin (and signing key name) of a ledger.
pub fn ledger_origin(ledger_id: &str) -> String {
    format!("{ORIGIN_PREFIX}{ledger_id}")
}

/// The C2SP key id of an Ed25519 key under `key_name`:
/// the first 4 bytes of `SHA-256(key_name ‖ 0x0A ‖ 0x01 ‖ public_key)`.
pub fn key_id(key_name: &str, key: &PublicKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(key_name.as_bytes());
    hasher.update([b'\n', ED25519_SIGNATURE_TYPE]);
    hasher.update(key.0);
    let digest: [u8; 32] = hasher.finalize().into();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// What the node states about the ledger at one tree size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// `pledgeledger/<ledger_id>`; also the key name the note is signed under.
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// RFC 9162 root of the Merkle tree over the first `size` entry bodies.
    pub root: Hash,
    /// Entry hash of entry `size − 1`; all zeros when `size` is 0.
    pub head_hash: Digest,
    /// The node's clock when it made the checkpoint, ms since the Unix epoch.
    pub time_ms: u64,
}

/// A checkpoint with the signed note it was signed as or read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The checkpoint the note states.
    pub checkpoint: Checkpoint,
    /// The whole signed note: text, blank line, signature lines.
    pub note_text: String,
    /// The node key whose signature on the note was made or verified.
    pub node_key: PublicKey,
}

impl SignedCheckpoint {
    /// The signed note, as served and stored.
    pub fn to_text(&self) -> String {
        self.note_text.clone()
    }

    /// Parses and verifies a signed note (see [`Checkpoint::verify_note`]),
    /// keeping its text (with any witness cosignatures) unchanged.
    pub fn open(
        text: &str,
        origin: &str,
        node_key: &PublicKey,
    ) -> Result<SignedCheckpoint, CheckpointError> {
        let checkpoint = Checkpoint::verify_note(text, origin, node_key)?;
        Ok(SignedCheckpoint {
            checkpoint,
            note_text: text.to_owned(),
            node_key: *node_key,
        })
    }
}

impl Checkpoint {
    /// The checkpoint of the first `size` entries of `store`, made at
    /// `time_ms` by the node of the ledger whose origin is `origin`.
    pub fn from_store<S: LedgerRead>(
        store: &S,
        size: u64,
        time_ms: u64,
        origin: &str,
    ) -> Result<Checkpoint, CheckpointError> {
        check_origin(origin)?;
        let len = store.len();
        if size > len {
            return Err(CheckpointError::SizeBeyondStore { size, len });
        }
        let root = store.tree_root(size)?;
        let head_hash = match size.checked_sub(1) {
            Some(last) => store.entry(last)?.hash(),
            None => Digest::ZERO,
        };
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            head_hash,
            time_ms,
        })
    }

    /// The note text: the five lines the signature covers, each ending in `\n`.
    pub fn note_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{CHAIN_HEAD_PREFIX}{}\n{TIME_PREFIX}{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root),
            self.head_hash.to_hex(),
            self.time_ms
        )
    }

    /// Signs the checkpoint as a signed note with the node key, under the
    /// key name `origin`.
    pub fn sign(&self, node_key: &SigningKey) -> Result<SignedCheckpoint, CheckpointError> {
        check_origin(&self.origin)?;
        let text = self.note_text();
        let public = crypto::public_key(node_key);
        let signature = node_key.sign(text.as_bytes()).to_bytes();
        let mut blob = Vec::with_capacity(4 + signature.len());
        blob.extend_from_slice(&key_id(&self.origin, &public));
        blob.extend_from_slice(&signature);
        let note_text = format!(
            "{text}\n{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.origin,
            BASE64.encode(&blob)
        );
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note_text,
            node_key: public,
        })
    }

    /// Parses a signed note, checks that it carries a valid signature by
    /// `node_key` under the key name `origin`, then parses its text as a
    /// checkpoint of `origin`. Other signers' lines (witnesses) are allowed
    /// and ignored; a line that claims the node's key but does not verify
    /// fails the whole note.
    pub fn verify_note(
        text: &str,
        origin: &str,
        node_key: &PublicKey,
    ) -> Result<Checkpoint, CheckpointError> {
        let body = open_note(text, origin, node_key)?;
        let checkpoint = Checkpoint::parse_text(body)?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::OriginMismatch {
                expected: origin.to_owned(),
                found: quote(&checkpoint.origin),
            });
        }
        Ok(checkpoint)
    }

    /// Parses an (unsigned) checkpoint note text strictly: exactly the five
    /// lines of [`Checkpoint::note_text`], in canonical form.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        check_characters(text)?;
        let Some(body) = text.strip_suffix('\n') else {
            return Err(CheckpointError::MissingFinalNewline);
        };
        let mut lines = body.split('\n');
        let mut next = |field: &'static str| match lines.next() {
            Some("") => Err(CheckpointError::EmptyLine { field }),
            Some(line) => Ok(line),
            None => Err(CheckpointError::MissingLine { field }),
        };
        let origin = next("origin")?;
        let size = next("tree size")?;
        let root = next("root hash")?;
        let head = next("chain-head")?;
        let time = next("time")?;
        if let Some(extra) = lines.next() {
            return Err(CheckpointError::UnexpectedLine {
                found: quote(extra),
            });
        }
        check_origin(origin)?;
        let size = parse_decimal(size).ok_or_else(|| bad_field("tree size", size))?;
        let root = parse_root(root).ok_or_else(|| bad_field("root hash", root))?;
        let Some(head_hex) = head.strip_prefix(CHAIN_HEAD_PREFIX) else {
            return Err(CheckpointError::UnexpectedLine { found: quote(head) });
        };
        let head_hash = Digest::from_hex(head_hex)
            .filter(|d| d.to_hex() == head_hex)
            .ok_or_else(|| bad_field("chain-head", head_hex))?;
        let Some(time_dec) = time.strip_prefix(TIME_PREFIX) else {
            return Err(CheckpointError::UnexpectedLine { found: quote(time) });
        };
        let time_ms = parse_decimal(time_dec).ok_or_else(|| bad_field("time", time_dec))?;
        if size == 0 && (root != EMPTY_ROOT || head_hash != Digest::ZERO) {
            return Err(CheckpointError::BadEmptyCheckpoint);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            head_hash,
            time_ms,
        })
    }
}

/// Checks that `newer` extends `older`: same origin, no smaller size, and
/// `proof` (RFC 9162 consistency proof from `older.size` to `newer.size`)
/// shows `older.root` to be the root of a prefix of `newer`'s tree. Equal
/// sizes need an empty proof and equal roots and chain heads.
///
/// The chain heads of different sizes are bound to their roots by
/// [`verify_head_binding`], not by this check.
pub fn verify_consistent(
    older: &Checkpoint,
    newer: &Checkpoint,
    proof: &[Hash],
) -> Result<(), CheckpointError> {
    if older.origin != newer.origin {
        return Err(CheckpointError::OriginMismatch {
            expected: quote(&older.origin),
            found: quote(&newer.origin),
        });
    }
    if newer.size < older.size {
        return Err(CheckpointError::SizeRegressed {
            older: older.size,
            newer: newer.size,
        });
    }
    if older.size == newer.size {
        if !proof.is_empty() {
            return Err(CheckpointError::Inconsistent {
                older: older.size,
                newer: newer.size,
                source: ProofError::WrongProofLength {
                    expected: 0,
                    found: proof.len(),
                },
            });
        }
        if older.root != newer.root || older.head_hash != newer.head_hash {
            return Err(CheckpointError::ForkAtSameSize { size: older.size });
        }
        return Ok(());
    }
    if older.size == 0 {
        // Every tree extends the empty one; RFC 9162 defines no proof for it.
        if !proof.is_empty() {
            return Err(CheckpointError::Inconsistent {
                older: 0,
                newer: newer.size,
                source: ProofError::WrongProofLength {
                    expected: 0,
                    found: proof.len(),
                },
            });
        }
        if older.root != EMPTY_ROOT || older.head_hash != Digest::ZERO {
            return Err(CheckpointError::BadEmptyCheckpoint);
        }
        return Ok(());
    }
    merkle::verify_consistency(older.size, newer.size, proof, &older.root, &newer.root).map_err(
        |source| CheckpointError::Inconsistent {
            older: older.size,
            newer: newer.size,
            source,
        },
    )
}

/// Checks that `last_entry` is the chain head the checkpoint names: its seq
/// is `size − 1`, its entry hash is `head_hash`, and `inclusion_proof`
/// shows its leaf (`SHA-256(0x00 ‖ body)`) at index `size − 1` under `root`.
///
/// The entry's seal is not checked here (a bundle checks it).
pub fn verify_head_binding(
    checkpoint: &Checkpoint,
    last_entry: &Entry,
    inclusion_proof: &[Hash],
) -> Result<(), CheckpointError> {
    let Some(last) = checkpoint.size.checked_sub(1) else {
        return Err(CheckpointError::NothingToBind);
    };
    if last_entry.seq != last {
        return Err(CheckpointError::HeadSeqMismatch {
            expected: last,
            found: last_entry.seq,
        });
    }
    let body = last_entry.body();
    let entry_hash = Digest::tagged(crypto::ENTRY_HASH_TAG, &[&body]);
    if entry_hash != checkpoint.head_hash {
        return Err(CheckpointError::HeadHashMismatch {
            expected: checkpoint.head_hash,
            found: entry_hash,
        });
    }
    merkle::verify_inclusion(
        &merkle::leaf_hash(&body),
        last,
        checkpoint.size,
        inclusion_proof,
        &checkpoint.root,
    )
    .map_err(|source| CheckpointError::HeadNotInTree {
        size: checkpoint.size,
        source,
    })
}

/// Why a checkpoint could not be made, read or accepted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin (key name) is empty, or holds a space, a `+` or a control
    /// character, or does not start with `pledgeledger/`.
    #[error("origin {found:?} is not a valid checkpoint origin: {reason}")]
    BadOrigin {
        /// The origin given (quoted, cut to 80 characters).
        found: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The checkpoint's origin is not the one expected.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the verifier expected.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// The signed note is longer than [`MAX_NOTE_BYTES`].
    #[error("signed note is {len} bytes, at most {max} allowed")]
    NoteTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The note holds a control character other than `\n` (a CR, a tab…).
    #[error("control character {byte:#04x} at byte {offset} of the note")]
    ControlCharacter {
        /// Offset in the note.
        offset: usize,
        /// The character.
        byte: u8,
    },
    /// No blank line separates the text from signature lines, or there are
    /// no signature lines.
    #[error("the note has no signature lines after a blank line")]
    NoSignatureBlock,
    /// A signature line is not `— <key name> <base64>`.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine {
        /// 1-based number of the line within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More signature lines than [`MAX_SIGNATURE_LINES`].
    #[error("note has {count} signature lines, at most {max} allowed")]
    TooManySignatures {
        /// Lines found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A signature line names the node's key (key name and key id) but its
    /// signature does not verify over the note text.
    #[error("the signature by {key_name} (key id {key_id}) does not verify")]
    InvalidSignature {
        /// The key name.
        key_name: String,
        /// The key id, 8 hex digits.
        key_id: String,
    },
    /// No signature line is by the node's key under the expected key name.
    #[error("the note is not signed by key {key_name} (key id {key_id})")]
    NotSignedByNode {
        /// The expected key name (the origin).
        key_name: String,
        /// The expected key id, 8 hex digits.
        key_id: String,
    },
    /// The note text does not end with a newline.
    #[error("checkpoint text does not end with a newline")]
    MissingFinalNewline,
    /// A required line of the checkpoint text is absent.
    #[error("checkpoint text lacks its {field} line")]
    MissingLine {
        /// The line's field.
        field: &'static str,
    },
    /// A line of the checkpoint text is empty (an extra blank line).
    #[error("checkpoint text has an empty line where {field} belongs")]
    EmptyLine {
        /// The field expected there.
        field: &'static str,
    },
    /// A line that is not part of the format: an unknown or misplaced
    /// extension line, or one too many.
    #[error("checkpoint text has an unexpected line {found:?}")]
    UnexpectedLine {
        /// The line (cut to 80 characters).
        found: String,
    },
    /// A field is not in canonical form: a size or time that is not plain
    /// decimal without leading zeros or overflows 64 bits, a root that is not
    /// canonical standard base64 of 32 bytes, a head that is not 64
    /// lower-case hex digits.
    #[error("checkpoint {field} {found:?} is not canonical")]
    BadField {
        /// The field.
        field: &'static str,
        /// The value found (cut to 80 characters).
        found: String,
    },
    /// A checkpoint of size 0 whose root is not the empty root or whose
    /// chain head is not all zeros.
    #[error("a checkpoint of size 0 must have the empty root and a zero chain head")]
    BadEmptyCheckpoint,
    /// A checkpoint was asked for beyond the store's last entry.
    #[error("no checkpoint at size {size}: the store holds {len} entries")]
    SizeBeyondStore {
        /// Size asked for.
        size: u64,
        /// Entries in the store.
        len: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The newer checkpoint is smaller than the older one.
    #[error("checkpoint size went back from {older} to {newer}")]
    SizeRegressed {
        /// Older size.
        older: u64,
        /// Newer size.
        newer: u64,
    },
    /// Two checkpoints of the same size differ in root or chain head: the
    /// node has signed two histories.
    #[error("two checkpoints of size {size} differ: the ledger forked")]
    ForkAtSameSize {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not show the older tree to be a prefix of
    /// the newer one.
    #[error("checkpoint of size {newer} is not consistent with size {older}")]
    Inconsistent {
        /// Older size.
        older: u64,
        /// Newer size.
        newer: u64,
        /// Why the proof failed.
        #[source]
        source: ProofError,
    },
    /// A checkpoint of size 0 has no head entry to bind.
    #[error("a checkpoint of size 0 has no head entry")]
    NothingToBind,
    /// The entry given as the head is not entry `size − 1`.
    #[error("head entry has seq {found}, the checkpoint's head is {expected}")]
    HeadSeqMismatch {
        /// `size − 1`.
        expected: u64,
        /// The entry's seq.
        found: u64,
    },
    /// The head entry's hash is not the checkpoint's chain head.
    #[error("head entry hash is {found}, the checkpoint names {expected}")]
    HeadHashMismatch {
        /// The checkpoint's `chain-head`.
        expected: Digest,
        /// The entry's hash.
        found: Digest,
    },
    /// The head entry is not the last leaf under the checkpoint's root.
    #[error("head entry is not leaf {} of the tree of size {size}", size.saturating_sub(1))]
    HeadNotInTree {
        /// The checkpoint's size.
        size: u64,
        /// Why the inclusion proof failed.
        #[source]
        source: ProofError,
    },
}

impl From<MerkleError<StoreError>> for CheckpointError {
    fn from(error: MerkleError<StoreError>) -> Self {
        match error {
            MerkleError::Storage(error) => CheckpointError::Store(error),
            other => CheckpointError::Store(StoreError::Tree {
                reason: other.to_string(),
            }),
        }
    }
}

/// Splits a signed note, verifies the node's signature, returns the text.
fn open_note<'a>(
    note: &'a str,
    origin: &str,
    node_key: &PublicKey,
) -> Result<&'a str, CheckpointError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::NoteTooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    check_characters(note)?;
    let split = note
        .rfind("\n\n")
        .ok_or(CheckpointError::NoSignatureBlock)?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let Some(signatures) = signatures.strip_suffix('\n') else {
        return Err(CheckpointError::NoSignatureBlock);
    };
    if signatures.is_empty() {
        return Err(CheckpointError::NoSignatureBlock);
    }
    let count = signatures.split('\n').count();
    if count > MAX_SIGNATURE_LINES {
        return Err(CheckpointError::TooManySignatures {
            count,
            max: MAX_SIGNATURE_LINES,
        });
    }
    let expected_id = key_id(origin, node_key);
    let mut verified = None;
    for (index, line) in signatures.split('\n').enumerate() {
        let (name, id, signature) = parse_signature_line(line, index + 1)?;
        if verified.is_some() || name != origin || id != expected_id {
            continue;
        }
        // The first line by the node's key decides, as in Go's note.Open.
        let valid = match (
            <[u8; 64]>::try_from(signature.as_slice()),
            node_key.verifying_key(),
        ) {
            (Ok(bytes), Some(key)) => key
                .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
                .is_ok(),
            _ => false,
        };
        if !valid {
            return Err(CheckpointError::InvalidSignature {
                key_name: origin.to_owned(),
                key_id: hex::encode(expected_id),
            });
        }
        verified = Some(());
    }
    match verified {
        Some(()) => Ok(text),
        None => Err(CheckpointError::NotSignedByNode {
            key_name: quote(origin),
            key_id: hex::encode(expected_id),
        }),
    }
}

/// Parses `— <name> <base64(key id ‖ signature)>` into its parts.
fn parse_signature_line(
    line: &str,
    number: usize,
) -> Result<(&str, [u8; 4], Vec<u8>), CheckpointError> {
    let malformed = |reason| CheckpointError::MalformedSignatureLine {
        line: number,
        reason,
    };
    let rest = line
        .strip_prefix(SIGNATURE_LINE_PREFIX)
        .ok_or_else(|| malformed("does not start with an em dash and a space"))?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("no space between key name and signature"))?;
    if !is_key_name(name) {
        return Err(malformed("key name is empty or holds a space or '+'"));
    }
    let blob = BASE64
        .decode(encoded)
        .map_err(|_| malformed("signature is not canonical standard base64"))?;
    if blob.len() < 5 {
        return Err(malformed("signature is shorter than a key id and one byte"));
    }
    let id = [blob[0], blob[1], blob[2], blob[3]];
    Ok((name, id, blob[4..].to_vec()))
}

/// A C2SP key name: non-empty, no Unicode white space, no `+`.
fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    let bad = |reason| CheckpointError::BadOrigin {
        found: quote(origin),
        reason,
    };
    if !is_key_name(origin) || origin.chars().any(char::is_control) {
        return Err(bad(
            "empty, or holds white space, '+' or a control character",
        ));
    }
    match origin.strip_prefix(ORIGIN_PREFIX) {
        Some(ledger_id) if !ledger_id.is_empty() => Ok(()),
        _ => Err(bad("not of the form pledgeledger/<ledger_id>")),
    }
}

/// Refuses every ASCII control character except `\n` (so CR and tab too).
fn check_characters(text: &str) -> Result<(), CheckpointError> {
    match text
        .bytes()
        .enumerate()
        .find(|(_, b)| (*b < 0x20 && *b != b'\n') || *b == 0x7f)
    {
        Some((offset, byte)) => Err(CheckpointError::ControlCharacter { offset, byte }),
        None => Ok(()),
    }
}

/// Canonical decimal: digits only, no sign, no leading zero unless "0".
fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn parse_root(text: &str) -> Option<Hash> {
    let bytes = BASE64.decode(text).ok()?;
    let root = Hash::try_from(bytes.as_slice()).ok()?;
    (BASE64.encode(root) == text).then_some(root)
}

fn bad_field(field: &'static str, found: &str) -> CheckpointError {
    CheckpointError::BadField {
        field,
        found: quote(found),
    }
}

fn quote(text: &str) -> String {
    text.chars().take(QUOTE_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            origin: ledger_origin("zhoushan-test"),
            size: 6,
            root: [7; 32],
            head_hash: Digest([9; 32]),
            time_ms: 1_800_000_120_000,
        }
    }

    #[test]
    fn decimal_is_canonical() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1_0",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn text_roundtrips() {
        let checkpoint = sample();
        assert_eq!(
            Checkpoint::parse_text(&checkpoint.note_text()).unwrap(),
            checkpoint
        );
    }

    #[test]
    fn key_id_follows_c2sp() {
        let key = PublicKey([1; 32]);
        let mut preimage = b"pledgeledger/x\n\x01".to_vec();
        preimage.extend_from_slice(&[1; 32]);
        let digest = Sha256::digest(&preimage);
        assert_eq!(key_id("pledgeledger/x", &key), digest[..4]);
    }

    #[test]
    fn origins_are_checked() {
        assert!(check_origin("pledgeledger/zhoushan-test").is_ok());
        for bad in [
            "",
            "pledgeledger/",
            "other/x",
            "pledgeledger/a b",
            "pledgeledger/a+b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad:?}");
        }
    }
}
