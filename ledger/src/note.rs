//! C2SP signed notes (<https://c2sp.org/signed-note>): a text, a blank line,
//! and one or more signature lines. This module is only the codec: it knows
//! nothing of what a note says (see [`crate::checkpoint`]) nor of who must
//! sign it (see [`crate::cosigning`]).
//!
//! ```text
//!  <text, every line ending in \n>
//!  \n
//!  — <key name> <base64(key id[4] ‖ signature bytes)>\n      one line per signer
//!  …
//! ```
//!
//! A key id is the first four bytes of `SHA-256(key name ‖ 0x0A ‖ type ‖ key)`;
//! the type byte says what the signature is: 0x01 a plain Ed25519 signature
//! over the text (the log's), 0x04 an Ed25519 `cosignature/v1` with a
//! timestamp (a witness's, see [`crate::cosigning`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::crypto::{self, PublicKey};

/// Largest signed note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted on one note (the limit of Go's `note.Open`).
pub const MAX_SIGNATURE_LINES: usize = 100;
/// Signature type byte of a plain Ed25519 note signature.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// Signature type byte of an Ed25519 `cosignature/v1` (C2SP tlog-cosignature).
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;
/// Start of a signature line: U+2014 EM DASH, then a space.
pub const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// How much of an offending value an error message quotes.
const QUOTE_LEN: usize = 80;

/// The C2SP key id of a key of signature type `signature_type` under
/// `key_name`: the first 4 bytes of `SHA-256(key_name ‖ 0x0A ‖ type ‖ key)`.
pub fn key_id(key_name: &str, signature_type: u8, key: &PublicKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(key_name.as_bytes());
    hasher.update([b'\n', signature_type]);
    hasher.update(key.0);
    let digest: [u8; 32] = hasher.finalize().into();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// One signature line: who (key name and key id) and the signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name: non-empty, no white space, no `+`.
    pub name: String,
    /// The 4-byte key id.
    pub key_id: [u8; 4],
    /// What follows the key id (64 bytes for Ed25519, 72 for a cosignature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// A plain Ed25519 signature of `text` by `key` under `key_name`.
    pub fn ed25519(text: &str, key_name: &str, key: &SigningKey) -> NoteSignature {
        NoteSignature {
            name: key_name.to_owned(),
            key_id: key_id(key_name, ED25519_SIGNATURE_TYPE, &crypto::public_key(key)),
            signature: key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }

    /// The line, `— <name> <base64>` with its final `\n`.
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        )
    }

    /// Parses one signature line (without its `\n`); `number` is its
    /// 1-based position, for the error.
    pub fn parse_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
        let malformed = |reason| NoteError::MalformedSignatureLine {
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
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: [blob[0], blob[1], blob[2], blob[3]],
            signature: blob[4..].to_vec(),
        })
    }

    /// Whether the line claims to be by this key name and key id.
    pub fn is_by(&self, key_name: &str, key_id: &[u8; 4]) -> bool {
        self.name == key_name && self.key_id == *key_id
    }
}

/// A parsed signed note: its text and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// A note of `text` (which must end in `\n` and hold no control
    /// character but `\n`) with no signature yet.
    pub fn new(text: &str) -> Result<SignedNote, NoteError> {
        check_characters(text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        Ok(SignedNote {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note (as Go's `golang.org/x/mod/sumdb/note.Open`
    /// splits one): at most [`MAX_NOTE_BYTES`], no control character but
    /// `\n`, split at the last `\n\n`, every signature line well formed.
    pub fn parse(note: &str) -> Result<SignedNote, NoteError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                len: note.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        check_characters(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&note[..=split], &note[split + 2..]);
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::NoSignatureBlock);
        };
        if block.is_empty() {
            return Err(NoteError::NoSignatureBlock);
        }
        let count = block.split('\n').count();
        if count > MAX_SIGNATURE_LINES {
            return Err(NoteError::TooManySignatures {
                count,
                max: MAX_SIGNATURE_LINES,
            });
        }
        let signatures = block
            .split('\n')
            .enumerate()
            .map(|(index, line)| NoteSignature::parse_line(line, index + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, final `\n` included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line unless the same line is already there.
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.contains(&signature) {
            return Ok(());
        }
        if self.signatures.len() >= MAX_SIGNATURE_LINES {
            return Err(NoteError::TooManySignatures {
                count: self.signatures.len() + 1,
                max: MAX_SIGNATURE_LINES,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// The note as text: the text, a blank line, the signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        out
    }

    /// Checks the plain Ed25519 signature of `key` under `key_name`: the
    /// first line with that key name and key id decides, and must verify
    /// (strict Ed25519) over the text. Other lines are ignored.
    pub fn verify_ed25519(&self, key_name: &str, key: &PublicKey) -> Result<(), NoteError> {
        let id = key_id(key_name, ED25519_SIGNATURE_TYPE, key);
        let Some(line) = self.signatures.iter().find(|s| s.is_by(key_name, &id)) else {
            return Err(NoteError::NotSigned {
                key_name: quote(key_name),
                key_id: hex::encode(id),
            });
        };
        if verify_strict(key, self.text.as_bytes(), &line.signature) {
            Ok(())
        } else {
            Err(NoteError::InvalidSignature {
                key_name: key_name.to_owned(),
                key_id: hex::encode(id),
            })
        }
    }
}

/// Strict Ed25519 verification of a 64-byte signature; false for any other
/// length or an invalid key.
pub fn verify_strict(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match (<[u8; 64]>::try_from(signature), key.verifying_key()) {
        (Ok(bytes), Some(key)) => key
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok(),
        _ => false,
    }
}

/// A C2SP key name: non-empty, no Unicode white space, no `+`.
pub fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Refuses every ASCII control character except `\n` (so CR and tab too).
pub fn check_characters(text: &str) -> Result<(), NoteError> {
    match text
        .bytes()
        .enumerate()
        .find(|(_, b)| (*b < 0x20 && *b != b'\n') || *b == 0x7f)
    {
        Some((offset, byte)) => Err(NoteError::ControlCharacter { offset, byte }),
        None => Ok(()),
    }
}

/// At most [`QUOTE_LEN`] characters of untrusted text, for messages.
pub(crate) fn quote(text: &str) -> String {
    text.chars().take(QUOTE_LEN).collect()
}

/// Why a signed note could not be read or its signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is longer than [`MAX_NOTE_BYTES`].
    #[error("signed note is {len} bytes, at most {max} allowed")]
    TooLarge {
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
    /// The text does not end with a newline.
    #[error("the note text does not end with a newline")]
    MissingFinalNewline,
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
    /// A line names the key (key name and key id) but its signature does
    /// not verify over the note text.
    #[error("the signature by {key_name} (key id {key_id}) does not verify")]
    InvalidSignature {
        /// The key name.
        key_name: String,
        /// The key id, 8 hex digits.
        key_id: String,
    },
    /// No signature line is by the expected key.
    #[error("the note is not signed by key {key_name} (key id {key_id})")]
    NotSigned {
        /// The expected key name.
        key_name: String,
        /// The expected key id, 8 hex digits.
        key_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_follows_c2sp() {
        let key = PublicKey([1; 32]);
        let mut preimage = b"example.com/x\n\x04".to_vec();
        preimage.extend_from_slice(&[1; 32]);
        let digest = Sha256::digest(&preimage);
        assert_eq!(key_id("example.com/x", 0x04, &key), digest[..4]);
    }

    #[test]
    fn a_note_roundtrips() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let mut note = SignedNote::new("hello\nworld\n").unwrap();
        note.add_signature(NoteSignature::ed25519(note.text(), "k", &key))
            .unwrap();
        let text = note.to_text();
        let parsed = SignedNote::parse(&text).unwrap();
        assert_eq!(parsed, note);
        parsed
            .verify_ed25519("k", &crypto::public_key(&key))
            .unwrap();
        assert!(matches!(
            parsed.verify_ed25519("other", &crypto::public_key(&key)),
            Err(NoteError::NotSigned { .. })
        ));
    }

    #[test]
    fn malformed_lines_fail_the_note() {
        for bad in [
            "t\n\nno dash\n",
            "t\n\n\u{2014} name\n",
            "t\n\n\u{2014} a+b AAAAAAA=\n",
            "t\n\n\u{2014} name AAAA\n",
            "t\n\n\u{2014} name not-base64!\n",
            "t\n\n",
            "t\n\n\u{2014} name AAAAAAA=",
        ] {
            assert!(SignedNote::parse(bad).is_err(), "{bad:?}");
        }
    }
}
