//! Checkpoints: the node's signed statement of the ledger's size, Merkle root
//! and chain head (docs/FORMAT.md §7). What the lines mean lives here; the
//! signed-note codec is [`crate::note`], and witnesses' cosignatures are
//! [`crate::cosigning`].
//!
//! A checkpoint is a C2SP `tlog-checkpoint` body with three extension lines,
//! signed as a C2SP `signed-note` with the node's Ed25519 key under the key
//! name `pledgeledger/<ledger_id>` (the checkpoint's origin):
//!
//! ```text
//! pledgeledger/<ledger_id>\n
//! <tree size, decimal>\n
//! <Merkle root, standard base64>\n
//! chain-head <entry_hash of entry size−1, lower-case hex>\n
//! state-root <state map root after size entries, lower-case hex>\n
//! time <node time in ms, decimal>\n
//! \n
//! — pledgeledger/<ledger_id> <base64(key_id[4] ‖ Ed25519 signature[64])>\n
//! — <witness name> <base64(key_id[4] ‖ timestamp[8] ‖ Ed25519 signature[64])>\n   (any number)
//! ```
//!
//! The Merkle root and the chain head are bound together in one signed text,
//! and [`verify_head_binding`] checks that the head entry is itself the last
//! leaf under the root, so neither structure can be presented without the
//! other (the immudb "linear-fake" flaw, CVE-2022-36111, came from verifying
//! them separately). The state root commits to every receipt's and tank's
//! state at that size ([`crate::statemap`]).
//!
//! Verifiers take the set of log keys they accept for the origin (one today;
//! several once the signing key may change hands), never a key from the note.

mod consistency;
mod error;

pub use consistency::{verify_consistent, verify_head_binding};
pub use error::CheckpointError;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;

use crate::crypto::{self, Digest, PublicKey};
use crate::merkle::{EMPTY_ROOT, Hash};
use crate::note::{
    self, ED25519_SIGNATURE_TYPE, NoteError, NoteSignature, SignedNote, is_key_name, quote,
};
use crate::statemap::{self, MapHash};
use crate::view::LedgerRead;

/// Prefix of a ledger's checkpoint origin (and of its note key name).
pub const ORIGIN_PREFIX: &str = "pledgeledger/";

const CHAIN_HEAD_PREFIX: &str = "chain-head ";
const STATE_ROOT_PREFIX: &str = "state-root ";
const TIME_PREFIX: &str = "time ";

/// The checkpoint origin (and signing key name) of a ledger.
pub fn ledger_origin(ledger_id: &str) -> String {
    format!("{ORIGIN_PREFIX}{ledger_id}")
}

/// The C2SP key id of the log's Ed25519 key under `key_name`:
/// the first 4 bytes of `SHA-256(key_name ‖ 0x0A ‖ 0x01 ‖ public_key)`.
pub fn key_id(key_name: &str, key: &PublicKey) -> [u8; 4] {
    note::key_id(key_name, ED25519_SIGNATURE_TYPE, key)
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
    /// Root of the state map after the first `size` entries; all zeros
    /// (the empty map) when `size` is 0.
    pub state_root: MapHash,
    /// The node's clock when it made the checkpoint, ms since the Unix epoch.
    pub time_ms: u64,
}

/// A checkpoint with the signed note it was signed as or read from, which
/// may carry witnesses' cosignatures besides the log's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The checkpoint the note states.
    pub checkpoint: Checkpoint,
    /// The note: text and signature lines.
    pub note: SignedNote,
    /// The log key whose signature on the note was made or verified.
    pub node_key: PublicKey,
}

impl SignedCheckpoint {
    /// The signed note, as served and stored (cosignatures included).
    pub fn to_text(&self) -> String {
        self.note.to_text()
    }

    /// Parses and verifies a signed note (see [`Checkpoint::verify_note`]),
    /// keeping every signature line (witnesses' cosignatures) as it is.
    pub fn open(
        text: &str,
        origin: &str,
        log_keys: &[PublicKey],
    ) -> Result<SignedCheckpoint, CheckpointError> {
        let note = SignedNote::parse(text)?;
        let (checkpoint, node_key) = Checkpoint::verify_parsed(&note, origin, log_keys)?;
        Ok(SignedCheckpoint {
            checkpoint,
            note,
            node_key,
        })
    }

    /// Adds signature lines (cosignatures) to the note; a line already on
    /// it is not repeated.
    pub fn add_signatures(
        &mut self,
        lines: impl IntoIterator<Item = NoteSignature>,
    ) -> Result<(), CheckpointError> {
        for line in lines {
            self.note.add_signature(line)?;
        }
        Ok(())
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
        let state_root = store.state_root(size)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            head_hash,
            state_root,
            time_ms,
        })
    }

    /// The note text: the six lines the signatures cover, each ending in `\n`.
    pub fn note_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{CHAIN_HEAD_PREFIX}{}\n{STATE_ROOT_PREFIX}{}\n{TIME_PREFIX}{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root),
            self.head_hash.to_hex(),
            hex::encode(self.state_root),
            self.time_ms
        )
    }

    /// Signs the checkpoint as a signed note with the node key, under the
    /// key name `origin`.
    pub fn sign(&self, node_key: &SigningKey) -> Result<SignedCheckpoint, CheckpointError> {
        check_origin(&self.origin)?;
        let mut note = SignedNote::new(&self.note_text())?;
        note.add_signature(NoteSignature::ed25519(note.text(), &self.origin, node_key))?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
            node_key: crypto::public_key(node_key),
        })
    }

    /// Parses a signed note, checks that it carries a valid signature by
    /// one of `log_keys` under the key name `origin`, then parses its text
    /// as a checkpoint of `origin`. Other signers' lines (witnesses) are
    /// allowed and ignored here; a line that claims an accepted log key but
    /// does not verify fails the whole note.
    pub fn verify_note(
        text: &str,
        origin: &str,
        log_keys: &[PublicKey],
    ) -> Result<Checkpoint, CheckpointError> {
        Ok(SignedCheckpoint::open(text, origin, log_keys)?.checkpoint)
    }

    /// [`Checkpoint::verify_note`] on a parsed note; also returns the log
    /// key that signed it.
    pub fn verify_parsed(
        note: &SignedNote,
        origin: &str,
        log_keys: &[PublicKey],
    ) -> Result<(Checkpoint, PublicKey), CheckpointError> {
        let signer = verify_log_signature(note, origin, log_keys)?;
        let checkpoint = Checkpoint::parse_text(note.text())?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::OriginMismatch {
                expected: origin.to_owned(),
                found: quote(&checkpoint.origin),
            });
        }
        Ok((checkpoint, signer))
    }

    /// Parses an (unsigned) checkpoint note text strictly: exactly the six
    /// lines of [`Checkpoint::note_text`], in canonical form.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        note::check_characters(text)?;
        let Some(body) = text.strip_suffix('\n') else {
            return Err(NoteError::MissingFinalNewline.into());
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
        let state = next("state-root")?;
        let time = next("time")?;
        if let Some(extra) = lines.next() {
            return Err(CheckpointError::UnexpectedLine {
                found: quote(extra),
            });
        }
        check_origin(origin)?;
        let size = parse_decimal(size).ok_or_else(|| bad_field("tree size", size))?;
        let root = parse_root(root).ok_or_else(|| bad_field("root hash", root))?;
        let head_hash = parse_prefixed(head, CHAIN_HEAD_PREFIX, "chain-head", |hex| {
            crypto::parse_lower_hex_digest(hex)
        })?;
        let state_root = parse_prefixed(state, STATE_ROOT_PREFIX, "state-root", |hex| {
            crypto::parse_lower_hex_digest(hex).map(|d| d.0)
        })?;
        let time_ms = parse_prefixed(time, TIME_PREFIX, "time", parse_decimal)?;
        if size == 0
            && (root != EMPTY_ROOT || head_hash != Digest::ZERO || state_root != statemap::EMPTY)
        {
            return Err(CheckpointError::BadEmptyCheckpoint);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            head_hash,
            state_root,
            time_ms,
        })
    }

    /// The ledger id of the origin (`pledgeledger/<ledger_id>`).
    pub fn ledger_id(&self) -> &str {
        self.origin
            .strip_prefix(ORIGIN_PREFIX)
            .unwrap_or(&self.origin)
    }
}

/// The accepted log key that signed `note` under `origin`. Every line that
/// claims an accepted key must verify.
pub fn verify_log_signature(
    note: &SignedNote,
    origin: &str,
    log_keys: &[PublicKey],
) -> Result<PublicKey, CheckpointError> {
    check_origin(origin)?;
    let mut signer = None;
    for key in log_keys {
        match note.verify_ed25519(origin, key) {
            Ok(()) => {
                signer.get_or_insert(*key);
            }
            Err(NoteError::NotSigned { .. }) => {}
            Err(refusal) => return Err(refusal.into()),
        }
    }
    signer.ok_or_else(|| {
        let ids: Vec<String> = log_keys
            .iter()
            .map(|key| hex::encode(key_id(origin, key)))
            .collect();
        NoteError::NotSigned {
            key_name: quote(origin),
            key_id: if ids.is_empty() {
                "(no log key given)".to_owned()
            } else {
                ids.join(" or ")
            },
        }
        .into()
    })
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

/// Canonical decimal: digits only, no sign, no leading zero unless "0".
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// A 32-byte hash in canonical standard base64 (44 characters, padded).
pub(crate) fn parse_root(text: &str) -> Option<Hash> {
    let bytes = BASE64.decode(text).ok()?;
    let root = Hash::try_from(bytes.as_slice()).ok()?;
    (BASE64.encode(root) == text).then_some(root)
}

/// `<prefix><value>`, the value parsed by `parse`.
fn parse_prefixed<T>(
    line: &str,
    prefix: &str,
    field: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, CheckpointError> {
    let Some(value) = line.strip_prefix(prefix) else {
        return Err(CheckpointError::UnexpectedLine { found: quote(line) });
    };
    parse(value).ok_or_else(|| bad_field(field, value))
}

fn bad_field(field: &'static str, found: &str) -> CheckpointError {
    CheckpointError::BadField {
        field,
        found: quote(found),
    }
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
            state_root: [5; 32],
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

    #[test]
    fn any_of_the_accepted_log_keys_may_sign() {
        let old = SigningKey::from_bytes(&[1; 32]);
        let new = SigningKey::from_bytes(&[2; 32]);
        let other = SigningKey::from_bytes(&[3; 32]);
        let text = sample().sign(&new).unwrap().to_text();
        let accepted = [crypto::public_key(&old), crypto::public_key(&new)];
        let opened = SignedCheckpoint::open(&text, &sample().origin, &accepted).unwrap();
        assert_eq!(opened.node_key, crypto::public_key(&new));
        assert!(matches!(
            SignedCheckpoint::open(&text, &sample().origin, &[crypto::public_key(&other)]),
            Err(CheckpointError::Note(NoteError::NotSigned { .. }))
        ));
        assert!(SignedCheckpoint::open(&text, &sample().origin, &[]).is_err());
    }
}
