//! Signed envelopes: a transaction's bytes exactly as signed, with one
//! signature per party, and the stateless check of those signatures.
//!
//! ```text
//!   wire bytes ──Envelope::decode──▶ Envelope ──verify()──▶ VerifiedEnvelope ──▶ rules::apply
//!                 (shape, sizes)                (every signature, tx decoded)     (keys, roles, rules)
//! ```
//! `verify` needs no ledger state, so the node runs it in parallel before the
//! sequencer. Whether each key is the signer's *current* key, and whether the
//! signers are the parties the operation needs, is decided by the rules.

use std::collections::BTreeSet;

use pledge_proto::v1 as pb;
use prost::Message;

use crate::crypto::{self, Digest, PublicKey};
use crate::error::{DecodeError, SignatureError};
use crate::text::check_id;
use crate::tx::Transaction;

/// Most signatures an envelope may carry: a genesis is signed by every
/// member of its quorum (at most [`crate::tx::MAX_QUORUM_MEMBERS`], 16), and
/// the largest quorum operation, appointing a custodian, by up to
/// [`crate::tx::MAX_QUORUM_THRESHOLD`] (14) members, the successor and the
/// inspector.
pub const MAX_SIGNATURES: usize = 16;
/// Largest transaction accepted, in bytes.
pub const MAX_TX_BYTES: usize = 64 * 1024;

/// One party's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartySignature {
    /// The signer's participant id.
    pub signer: String,
    /// The key the signature is made with.
    pub public_key: PublicKey,
    /// ed25519 signature over [`crypto::tx_signing_preimage`].
    pub signature: [u8; 64],
}

/// An envelope whose shape is valid but whose signatures are not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The transaction bytes exactly as signed.
    pub tx_bytes: Vec<u8>,
    /// One signature per party.
    pub signatures: Vec<PartySignature>,
}

/// An envelope whose every signature verifies and whose transaction decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    /// The envelope as received.
    pub envelope: Envelope,
    /// The decoded transaction.
    pub tx: Transaction,
    /// Content hash of the transaction bytes.
    pub tx_hash: Digest,
}

impl VerifiedEnvelope {
    /// Ids of the participants who signed.
    pub fn signers(&self) -> impl Iterator<Item = &str> {
        self.envelope.signatures.iter().map(|s| s.signer.as_str())
    }
}

impl Envelope {
    /// Decodes a protobuf `SignedEnvelope`, checking sizes and shapes.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let raw = pb::SignedEnvelope::decode(bytes).map_err(|e| DecodeError::Malformed {
            message: "SignedEnvelope",
            reason: e.to_string(),
        })?;
        Envelope::try_from(raw)
    }

    /// The protobuf form.
    pub fn to_proto(&self) -> pb::SignedEnvelope {
        pb::SignedEnvelope {
            transaction: self.tx_bytes.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| pb::PartySignature {
                    signer: s.signer.clone(),
                    public_key: s.public_key.0.to_vec(),
                    signature: s.signature.to_vec(),
                })
                .collect(),
        }
    }

    /// Checks every signature and decodes the transaction.
    pub fn verify(self) -> Result<VerifiedEnvelope, EnvelopeError> {
        self.verify_by(crypto::verify_transaction_signature)
    }

    /// [`Envelope::verify`] with decompressed keys from `keys`: the same
    /// verdict, strict verification, less work for keys seen before.
    pub fn verify_with(self, keys: &crypto::KeyCache) -> Result<VerifiedEnvelope, EnvelopeError> {
        self.verify_by(|key, tx_bytes, signature| {
            keys.verify_transaction_signature(key, tx_bytes, signature)
        })
    }

    fn verify_by(
        self,
        verify: impl Fn(&crypto::PublicKey, &[u8], &[u8; 64]) -> bool,
    ) -> Result<VerifiedEnvelope, EnvelopeError> {
        if self.signatures.is_empty() {
            return Err(SignatureError::Unsigned.into());
        }
        for sig in &self.signatures {
            if !verify(&sig.public_key, &self.tx_bytes, &sig.signature) {
                return Err(SignatureError::Invalid {
                    signer: sig.signer.clone(),
                }
                .into());
            }
        }
        self.into_verified_unchecked()
    }

    /// Decodes the transaction *without* checking signatures: for callers that
    /// verified them another way (a batch verification during replay).
    pub fn into_verified_unchecked(self) -> Result<VerifiedEnvelope, EnvelopeError> {
        let tx = Transaction::decode(&self.tx_bytes)?;
        let tx_hash = crypto::tx_hash(&self.tx_bytes);
        Ok(VerifiedEnvelope {
            envelope: self,
            tx,
            tx_hash,
        })
    }
}

impl TryFrom<pb::SignedEnvelope> for Envelope {
    type Error = DecodeError;

    fn try_from(raw: pb::SignedEnvelope) -> Result<Self, DecodeError> {
        if raw.transaction.is_empty() {
            return Err(DecodeError::EmptyField {
                field: "transaction",
            });
        }
        if raw.transaction.len() > MAX_TX_BYTES {
            return Err(DecodeError::TooLong {
                field: "transaction",
                max: MAX_TX_BYTES,
                found: raw.transaction.len(),
            });
        }
        if raw.signatures.len() > MAX_SIGNATURES {
            return Err(DecodeError::TooMany {
                field: "signatures",
                max: MAX_SIGNATURES,
                found: raw.signatures.len(),
            });
        }
        let signatures = raw
            .signatures
            .into_iter()
            .map(PartySignature::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = BTreeSet::new();
        if let Some(dup) = signatures.iter().find(|s| !seen.insert(s.signer.as_str())) {
            return Err(DecodeError::Repeated {
                field: "signatures",
                value: dup.signer.clone(),
            });
        }
        Ok(Envelope {
            tx_bytes: raw.transaction,
            signatures,
        })
    }
}

impl TryFrom<pb::PartySignature> for PartySignature {
    type Error = DecodeError;

    fn try_from(raw: pb::PartySignature) -> Result<Self, DecodeError> {
        check_id("signatures.signer", &raw.signer)?;
        let public_key = PublicKey::from_slice(&raw.public_key).ok_or(DecodeError::BadKey {
            field: "signatures.public_key",
            what: "public key",
        })?;
        let signature: [u8; 64] =
            raw.signature
                .as_slice()
                .try_into()
                .map_err(|_| DecodeError::BadKey {
                    field: "signatures.signature",
                    what: "signature",
                })?;
        Ok(PartySignature {
            signer: raw.signer,
            public_key,
            signature,
        })
    }
}

/// Why an envelope was refused before any rule was consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The envelope or its transaction is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A signature does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl EnvelopeError {
    /// The stable reason code of docs/ERRORS.md §1: `UNKNOWN_FIELD` and
    /// `NOT_CANONICAL` for a transaction that is not its canonical encoding,
    /// `BAD_SIGNATURE`, `NO_SIGNATURE`, and `MALFORMED` for everything else.
    pub fn reason(&self) -> &'static str {
        match self {
            EnvelopeError::Decode(DecodeError::UnknownField { .. }) => "UNKNOWN_FIELD",
            EnvelopeError::Decode(DecodeError::NotCanonical { .. }) => "NOT_CANONICAL",
            EnvelopeError::Signature(SignatureError::Invalid { .. }) => "BAD_SIGNATURE",
            EnvelopeError::Signature(SignatureError::Unsigned) => "NO_SIGNATURE",
            _ => "MALFORMED",
        }
    }
}

/// Builds signed envelopes: used by clients, tests and the genesis tool.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    tx_bytes: Vec<u8>,
    signatures: Vec<PartySignature>,
}

impl EnvelopeBuilder {
    /// Starts from a transaction, encoding it once; these bytes are what
    /// every party signs.
    pub fn new(tx: &pb::Transaction) -> EnvelopeBuilder {
        EnvelopeBuilder::from_bytes(tx.encode_to_vec())
    }

    /// Starts from transaction bytes already encoded (a draft being signed).
    pub fn from_bytes(tx_bytes: Vec<u8>) -> EnvelopeBuilder {
        EnvelopeBuilder {
            tx_bytes,
            signatures: Vec::new(),
        }
    }

    /// Adds `signer`'s signature made with `key`.
    pub fn sign(mut self, signer: &str, key: &ed25519_dalek::SigningKey) -> EnvelopeBuilder {
        self.signatures.push(PartySignature {
            signer: signer.to_owned(),
            public_key: crypto::public_key(key),
            signature: crypto::sign_transaction(key, &self.tx_bytes),
        });
        self
    }

    /// The finished envelope.
    pub fn build(self) -> Envelope {
        Envelope {
            tx_bytes: self.tx_bytes,
            signatures: self.signatures,
        }
    }
}
