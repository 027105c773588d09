//! Drafts: a transaction passed between separate parties to be co-signed.
//!
//! ```text
//!  party A: build tx ──▶ Draft::new ──write──▶ draft.json        (unsigned, or signed by A)
//!  party B: draft.json ──read──▶ Draft::sign(B's key) ──write──▶ draft.json
//!  anyone:  draft.json ──read──▶ Draft::into_envelope ──▶ LedgerClient::submit
//! ```
//!
//! A draft file is JSON:
//!
//! ```json
//! {
//!   "tx": "<base64 of the transaction bytes, exactly as signed>",
//!   "signatures": [{"signer": "trader-a", "public_key": "<64 lower-case hex>", "signature": "<128 lower-case hex>"}],
//!   "summary": { "operation": "register_pledge", "register_pledge": { "...": "..." } }
//! }
//! ```
//! The bytes in `tx` are the truth: they are what every party signs and what
//! the node stores. `summary` (see [`crate::json::transaction`]) is for
//! people reading the file; it is written from the bytes and, on reading,
//! ignored and recomputed from them, so an edited summary cannot make a
//! party sign something other than what it reads. Every signature in a
//! draft is checked against the bytes when it is added and when the file is
//! read. Which parties must sign is the node's business: it refuses a
//! submission with a signature missing (see `ledger/src/rules/authority.rs`).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::envelope::{Envelope, PartySignature};
use pledge_proto::v1 as pb;
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ClientError, Result};
use crate::keys::Signer;

/// A transaction with the signatures collected so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    tx_bytes: Vec<u8>,
    tx: pb::Transaction,
    signatures: Vec<PartySignature>,
}

/// A draft file as stored.
#[derive(Debug, Serialize, Deserialize)]
struct DraftFile {
    tx: String,
    signatures: Vec<DraftSignature>,
    #[serde(default)]
    summary: Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct DraftSignature {
    signer: String,
    public_key: String,
    signature: String,
}

impl Draft {
    /// An unsigned draft of `tx`, encoded once.
    pub fn new(tx: &pb::Transaction) -> Draft {
        Draft {
            tx_bytes: tx.encode_to_vec(),
            tx: tx.clone(),
            signatures: Vec::new(),
        }
    }

    /// An unsigned draft of transaction bytes encoded elsewhere.
    pub fn from_bytes(tx_bytes: Vec<u8>) -> Result<Draft> {
        let tx = pb::Transaction::decode(tx_bytes.as_slice())
            .map_err(|e| ClientError::draft("-", format!("not a transaction: {e}")))?;
        Ok(Draft {
            tx_bytes,
            tx,
            signatures: Vec::new(),
        })
    }

    /// A draft holding an envelope's bytes and signatures (each checked).
    pub fn from_envelope(envelope: Envelope) -> Result<Draft> {
        let mut draft = Draft::from_bytes(envelope.tx_bytes)?;
        for signature in envelope.signatures {
            draft.add_signature(signature)?;
        }
        Ok(draft)
    }

    /// The transaction bytes every party signs.
    pub fn tx_bytes(&self) -> &[u8] {
        &self.tx_bytes
    }

    /// The decoded transaction.
    pub fn transaction(&self) -> &pb::Transaction {
        &self.tx
    }

    /// The signatures collected so far.
    pub fn signatures(&self) -> &[PartySignature] {
        &self.signatures
    }

    /// Ids of the parties who have signed.
    pub fn signers(&self) -> Vec<&str> {
        self.signatures.iter().map(|s| s.signer.as_str()).collect()
    }

    /// The human-readable form of the transaction, from its bytes.
    pub fn summary(&self) -> Value {
        crate::json::transaction(&self.tx)
    }

    /// Adds `signer`'s signature over the draft's bytes. Signing again with
    /// the same key changes nothing; a second, different key for the same
    /// signer is refused.
    pub fn sign(&mut self, signer: &Signer) -> Result<()> {
        self.add_signature(PartySignature {
            signer: signer.id.clone(),
            public_key: signer.public_key(),
            signature: crypto::sign_transaction(&signer.key, &self.tx_bytes),
        })
    }

    /// Adds a signature made elsewhere, after checking that it verifies over
    /// exactly these bytes.
    pub fn add_signature(&mut self, signature: PartySignature) -> Result<()> {
        if !crypto::verify_transaction_signature(
            &signature.public_key,
            &self.tx_bytes,
            &signature.signature,
        ) {
            return Err(ClientError::draft(
                "-",
                format!(
                    "the signature of {} does not verify over this draft's transaction bytes",
                    signature.signer
                ),
            ));
        }
        match self
            .signatures
            .iter()
            .find(|s| s.signer == signature.signer)
        {
            Some(existing) if existing.public_key == signature.public_key => Ok(()),
            Some(existing) => Err(ClientError::draft(
                "-",
                format!(
                    "{} already signed with key {}; not adding key {}",
                    signature.signer, existing.public_key, signature.public_key
                ),
            )),
            None => {
                self.signatures.push(signature);
                Ok(())
            }
        }
    }

    /// The envelope to submit.
    pub fn into_envelope(self) -> Envelope {
        Envelope {
            tx_bytes: self.tx_bytes,
            signatures: self.signatures,
        }
    }

    /// The draft file's JSON text.
    pub fn to_json(&self) -> String {
        let file = DraftFile {
            tx: BASE64.encode(&self.tx_bytes),
            signatures: self
                .signatures
                .iter()
                .map(|s| DraftSignature {
                    signer: s.signer.clone(),
                    public_key: s.public_key.to_hex(),
                    signature: hex::encode(s.signature),
                })
                .collect(),
            summary: self.summary(),
        };
        // A DraftFile of strings and a JSON value always serializes.
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }

    /// Parses a draft file's text, checking every signature.
    pub fn from_json(text: &str) -> Result<Draft> {
        let file: DraftFile = serde_json::from_str(text)
            .map_err(|e| ClientError::draft("-", format!("not a draft file: {e}")))?;
        let bytes = BASE64
            .decode(file.tx.trim())
            .map_err(|e| ClientError::draft("-", format!("tx is not base64: {e}")))?;
        let mut draft = Draft::from_bytes(bytes)?;
        for s in file.signatures {
            draft.add_signature(parse_signature(s)?)?;
        }
        Ok(draft)
    }

    /// Reads a draft file.
    pub fn read(path: &Path) -> Result<Draft> {
        let text = std::fs::read_to_string(path).map_err(|source| ClientError::Io {
            op: "read",
            path: path.to_owned(),
            source,
        })?;
        Draft::from_json(&text).map_err(|e| with_path(e, path))
    }

    /// Writes the draft file, replacing any file at `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let io = |op, source| ClientError::Io {
            op,
            path: path.to_owned(),
            source,
        };
        std::fs::write(&tmp, self.to_json()).map_err(|e| io("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("replace", e))
    }
}

fn parse_signature(s: DraftSignature) -> Result<PartySignature> {
    let bad =
        |what: &str| ClientError::draft("-", format!("signature of {}: bad {what}", s.signer));
    let key_bytes = crypto::decode_lower_hex(&s.public_key).ok_or_else(|| bad("public_key hex"))?;
    let public_key = PublicKey::from_slice(&key_bytes).ok_or_else(|| bad("public_key"))?;
    let signature: [u8; 64] = crypto::decode_lower_hex(&s.signature)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad("signature hex"))?;
    Ok(PartySignature {
        signer: s.signer,
        public_key,
        signature,
    })
}

fn with_path(error: ClientError, path: &Path) -> ClientError {
    match error {
        ClientError::Draft { reason, .. } => ClientError::Draft {
            path: path.display().to_string(),
            reason,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{self, TxHeader};
    use ed25519_dalek::SigningKey;

    fn signer(id: &str, seed: u8) -> Signer {
        Signer::new(id, SigningKey::from_bytes(&[seed; 32]))
    }

    fn pledge_draft() -> Draft {
        let tx = TxHeader::new("zhoushan-dev", "trader-a")
            .unwrap()
            .wrap(ops::register_pledge(
                "PL-1",
                "R-1",
                "bank-a",
                ops::money(450_000_000, "USD"),
                "LOAN-1",
                1_900_000_000_000,
            ));
        Draft::new(&tx)
    }

    #[test]
    fn unsigned_draft_roundtrips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pledge.json");
        let draft = pledge_draft();
        draft.write(&path).unwrap();
        let read = Draft::read(&path).unwrap();
        assert_eq!(read, draft);
        assert!(read.signatures().is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["summary"]["operation"], "register_pledge");
        assert_eq!(value["summary"]["register_pledge"]["pledgee_id"], "bank-a");
    }

    #[test]
    fn parties_sign_in_turn_and_the_envelope_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pledge.json");
        let mut draft = pledge_draft();
        draft.sign(&signer("trader-a", 4)).unwrap();
        draft.write(&path).unwrap();

        let mut theirs = Draft::read(&path).unwrap();
        theirs.sign(&signer("bank-a", 6)).unwrap();
        theirs.write(&path).unwrap();

        let done = Draft::read(&path).unwrap();
        assert_eq!(done.signers(), ["trader-a", "bank-a"]);
        assert_eq!(done.tx_bytes(), draft.tx_bytes());
        let verified = done.into_envelope().verify().unwrap();
        assert_eq!(verified.signers().count(), 2);
    }

    #[test]
    fn signing_twice_with_the_same_key_is_idempotent_but_another_key_is_refused() {
        let mut draft = pledge_draft();
        draft.sign(&signer("bank-a", 6)).unwrap();
        draft.sign(&signer("bank-a", 6)).unwrap();
        assert_eq!(draft.signatures().len(), 1);
        assert!(draft.sign(&signer("bank-a", 7)).is_err());
    }

    #[test]
    fn a_signature_over_other_bytes_is_refused() {
        let mut draft = pledge_draft();
        let other = pledge_draft();
        let key = SigningKey::from_bytes(&[6; 32]);
        let wrong = PartySignature {
            signer: "bank-a".into(),
            public_key: crypto::public_key(&key),
            signature: crypto::sign_transaction(&key, other.tx_bytes()),
        };
        let error = draft.add_signature(wrong).unwrap_err();
        assert!(error.to_string().contains("does not verify"), "{error}");
        assert!(draft.signatures().is_empty());
    }

    #[test]
    fn a_file_whose_bytes_were_changed_after_signing_is_refused() {
        let mut draft = pledge_draft();
        draft.sign(&signer("trader-a", 4)).unwrap();
        let mut value: Value = serde_json::from_str(&draft.to_json()).unwrap();
        let mut tx = pledge_draft().tx_bytes().to_vec();
        tx.extend_from_slice(&[0x20, 0x01]); // a later not_before_ms: still decodes

        value["tx"] = Value::String(BASE64.encode(&tx));
        let error = Draft::from_json(&value.to_string()).unwrap_err();
        assert!(error.to_string().contains("does not verify"), "{error}");
    }

    #[test]
    fn the_summary_is_recomputed_from_the_bytes() {
        let draft = pledge_draft();
        let mut value: Value = serde_json::from_str(&draft.to_json()).unwrap();
        value["summary"]["register_pledge"]["pledgee_id"] = "bank-z".into();
        let read = Draft::from_json(&value.to_string()).unwrap();
        assert_eq!(read.summary()["register_pledge"]["pledgee_id"], "bank-a");
    }

    #[test]
    fn upper_case_hex_in_a_signature_is_refused() {
        let mut draft = pledge_draft();
        draft.sign(&signer("trader-a", 4)).unwrap();
        for field in ["public_key", "signature"] {
            let mut value: Value = serde_json::from_str(&draft.to_json()).unwrap();
            let upper = value["signatures"][0][field]
                .as_str()
                .unwrap()
                .to_uppercase();
            value["signatures"][0][field] = Value::String(upper);
            let error = Draft::from_json(&value.to_string()).unwrap_err();
            assert!(error.to_string().contains("hex"), "{field}: {error}");
        }
        assert!(Draft::from_json(&draft.to_json()).is_ok());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for text in [
            "",
            "{}",
            "[]",
            r#"{"tx": "!!!", "signatures": []}"#,
            r#"{"tx": "/w==", "signatures": []}"#,
            r#"{"tx": "CgE=", "signatures": [{"signer": "a", "public_key": "00", "signature": "00"}]}"#,
        ] {
            assert!(Draft::from_json(text).is_err(), "{text:?} was accepted");
        }
    }
}
