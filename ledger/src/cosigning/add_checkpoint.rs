//! The bodies of C2SP tlog-witness `add-checkpoint`: what the node POSTs to a
//! witness and what the witness answers. Only the text codec is here; the
//! node sends, the witness decides.
//!
//! ```text
//!  request  = "old " <size> "\n"          the size the witness last cosigned (0: never)
//!             (<base64 hash> "\n"){0,63}  consistency proof from old size to the new size
//!             "\n"
//!             <signed checkpoint note>
//!  200      = ("— " <witness name> " " <base64 cosignature> "\n")+
//!  409      = <size the witness last cosigned> "\n"   (content type text/x.tlog.size)
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use thiserror::Error;

use crate::checkpoint::{parse_decimal, parse_root};
use crate::merkle::Hash;
use crate::note::{MAX_NOTE_BYTES, NoteError, NoteSignature, quote};

/// Path of the call, below the witness's submission prefix.
pub const ADD_CHECKPOINT_PATH: &str = "/add-checkpoint";
/// Content type of a 409 answer carrying the witness's latest size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = MAX_NOTE_BYTES + 4096;

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness last cosigned for this log,
    /// as the submitter believes it (0 if none).
    pub old_size: u64,
    /// RFC 9162 consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note (it may carry other signatures).
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&BASE64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a request body strictly.
    pub fn parse(body: &str) -> Result<AddCheckpoint, AddCheckpointError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(AddCheckpointError::TooLarge {
                len: body.len(),
                max: MAX_REQUEST_BYTES,
            });
        }
        let (head, checkpoint) = body
            .split_once("\n\n")
            .ok_or(AddCheckpointError::Malformed(
                "no blank line before the checkpoint",
            ))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .ok_or(AddCheckpointError::Malformed(
                "the first line is not `old <size>`",
            ))?;
        let old_size = parse_decimal(old)
            .ok_or_else(|| AddCheckpointError::BadOldSize { found: quote(old) })?;
        let proof = lines
            .map(|line| {
                parse_root(line)
                    .ok_or_else(|| AddCheckpointError::BadProofLine { found: quote(line) })
            })
            .collect::<Result<Vec<Hash>, _>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(AddCheckpointError::Malformed("more than 63 proof lines"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// The body of a 200 answer: one line per cosignature.
pub fn cosignatures_body(lines: &[NoteSignature]) -> String {
    lines.iter().map(NoteSignature::to_line).collect()
}

/// Parses the body of a 200 answer into its signature lines.
pub fn parse_cosignatures(body: &str) -> Result<Vec<NoteSignature>, AddCheckpointError> {
    let Some(body) = body.strip_suffix('\n') else {
        return Err(AddCheckpointError::Malformed(
            "the cosignatures do not end in a newline",
        ));
    };
    body.split('\n')
        .enumerate()
        .map(|(index, line)| {
            NoteSignature::parse_line(line, index + 1).map_err(AddCheckpointError::Signature)
        })
        .collect()
}

/// Parses the body of a 409 answer: the witness's latest size.
pub fn parse_size(body: &str) -> Result<u64, AddCheckpointError> {
    body.strip_suffix('\n')
        .and_then(parse_decimal)
        .ok_or_else(|| AddCheckpointError::BadOldSize { found: quote(body) })
}

/// Why an `add-checkpoint` body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddCheckpointError {
    /// The body is larger than [`MAX_REQUEST_BYTES`].
    #[error("the request is {len} bytes, at most {max} allowed")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body does not have the shape of the protocol.
    #[error("malformed add-checkpoint body: {0}")]
    Malformed(&'static str),
    /// A size is not canonical decimal.
    #[error("{found:?} is not a tree size (decimal, no leading zero)")]
    BadOldSize {
        /// What was found (cut to 80 characters).
        found: String,
    },
    /// A proof line is not the canonical base64 of 32 bytes.
    #[error("consistency proof line {found:?} is not the base64 of a 32-byte hash")]
    BadProofLine {
        /// The line (cut to 80 characters).
        found: String,
    },
    /// A cosignature line is malformed.
    #[error("cosignature: {0}")]
    Signature(NoteError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_roundtrips() {
        let request = AddCheckpoint {
            old_size: 7,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: "o\n8\nAAAA\n\n— o AAAAAAA=\n".to_owned(),
        };
        let body = request.to_body();
        assert!(body.starts_with("old 7\nAQEB"));
        assert_eq!(AddCheckpoint::parse(&body).unwrap(), request);
        for bad in [
            "old 07\n\nx",
            "old 1",
            "new 1\n\nx",
            "old 1\nnot-base64\n\nx",
            "old 1\nAQ==\n\nx",
        ] {
            assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_size("12\n"), Ok(12));
        assert!(parse_size("12").is_err());
    }
}
