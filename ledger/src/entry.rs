//! Ledger entries: the unit of the hash chain, the Merkle tree and the log.
//!
//! An entry's *body* is a fixed binary layout (docs/FORMAT.md, "Entry"):
//!
//! ```text
//! body  = version:u8 (=1) ‖ seq:u64 ‖ prev_hash:[32] ‖ time_ms:u64
//!       ‖ tx_len:u32 ‖ tx_bytes ‖ sig_count:u8
//!       ‖ sig_count × ( signer_len:u8 ‖ signer ‖ public_key:[32] ‖ signature:[64] )
//! hash  = SHA-256("pledge-ledger/v1/entry\0" ‖ body)
//! seal  = Ed25519(node key, "pledge-ledger/v1/seal\0" ‖ hash)
//! record (what the log stores, what export writes) = body ‖ seal:[64]
//! ```
//! Integers are big-endian. The transaction bytes are stored exactly as the
//! parties signed them, so verification never re-encodes anything.
//!
//! An **attempt entry** (docs/FORMAT.md §3.2) records an envelope the rules
//! refused for a fraud-relevant reason: its body starts with
//! [`ATTEMPT_KIND`] (2) instead of the version, has the same fields, and
//! ends with the [`Refusal`] (`crate::refusal`). It changes no state.

use ed25519_dalek::SigningKey;

use crate::crypto::{self, Digest, PublicKey};
use crate::envelope::{Envelope, MAX_SIGNATURES, MAX_TX_BYTES, PartySignature};
use crate::error::DecodeError;
use crate::model::Seq;
use crate::refusal::Refusal;
use crate::text::check_id;

/// The entry format version: the first byte of every applied entry's body.
pub const ENTRY_VERSION: u8 = 1;
/// The first byte of an attempt entry's body: a refused envelope recorded
/// with its refusal (docs/FORMAT.md §3.2).
pub const ATTEMPT_KIND: u8 = 2;
/// Length of the seal that follows the body in a record.
pub const SEAL_LEN: usize = 64;

/// One entry of the chain, sealed by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the chain, from 0.
    pub seq: Seq,
    /// Hash of the previous entry; all zeros for entry 0.
    pub prev_hash: Digest,
    /// The node's time for this entry, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transaction bytes and signatures as submitted.
    pub envelope: Envelope,
    /// For an attempt entry: the refusal it records (the envelope was not
    /// applied). `None` for an entry that applied its transaction.
    pub refusal: Option<Refusal>,
    /// The node's seal over the entry hash.
    pub seal: [u8; 64],
}

impl Entry {
    /// Builds and seals an entry.
    pub fn seal_new(
        seq: Seq,
        prev_hash: Digest,
        time_ms: u64,
        envelope: Envelope,
        node_key: &SigningKey,
    ) -> Entry {
        Entry::seal_new_sealed(seq, prev_hash, time_ms, envelope, node_key).entry
    }

    /// Builds and seals an entry, computing its body once: the entry, its
    /// hash and its record (body ‖ seal), as the sequencer hands them to
    /// the store.
    pub fn seal_new_sealed(
        seq: Seq,
        prev_hash: Digest,
        time_ms: u64,
        envelope: Envelope,
        node_key: &SigningKey,
    ) -> Sealed {
        Entry::seal_sealed(
            Entry {
                seq,
                prev_hash,
                time_ms,
                envelope,
                refusal: None,
                seal: [0; 64],
            },
            node_key,
        )
    }

    /// Seals `entry` (its seal is replaced), computing its body once.
    pub fn seal_sealed(mut entry: Entry, node_key: &SigningKey) -> Sealed {
        let mut record = entry.body();
        let hash = Digest::tagged(crypto::ENTRY_HASH_TAG, &[&record]);
        entry.seal = crypto::seal(node_key, &hash);
        record.extend_from_slice(&entry.seal);
        Sealed {
            entry,
            hash,
            record,
        }
    }

    /// Whether this is an attempt entry: a refused envelope, recorded.
    pub fn is_attempt(&self) -> bool {
        self.refusal.is_some()
    }

    /// The body bytes: everything but the seal.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            64 + self.envelope.tx_bytes.len() + 110 * self.envelope.signatures.len(),
        );
        out.push(match self.refusal {
            Some(_) => ATTEMPT_KIND,
            None => ENTRY_VERSION,
        });
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.prev_hash.0);
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        let tx_len = u32::try_from(self.envelope.tx_bytes.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&tx_len.to_be_bytes());
        out.extend_from_slice(&self.envelope.tx_bytes);
        out.push(u8::try_from(self.envelope.signatures.len()).unwrap_or(u8::MAX));
        for sig in &self.envelope.signatures {
            out.push(u8::try_from(sig.signer.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(sig.signer.as_bytes());
            out.extend_from_slice(&sig.public_key.0);
            out.extend_from_slice(&sig.signature);
        }
        if let Some(refusal) = &self.refusal {
            refusal.encode_into(&mut out);
        }
        out
    }

    /// The entry hash.
    pub fn hash(&self) -> Digest {
        Digest::tagged(crypto::ENTRY_HASH_TAG, &[&self.body()])
    }

    /// Whether the seal verifies under the node key.
    pub fn seal_verifies(&self, node_key: &PublicKey) -> bool {
        crypto::verify_seal(node_key, &self.hash(), &self.seal)
    }

    /// The record stored in the log: body ‖ seal.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.body();
        out.extend_from_slice(&self.seal);
        out
    }

    /// Decodes a record; never panics, whatever the bytes.
    pub fn decode(record: &[u8]) -> Result<Entry, DecodeError> {
        let mut reader = Reader { bytes: record };
        let version = reader.u8("version")?;
        if version != ENTRY_VERSION && version != ATTEMPT_KIND {
            return Err(bad(format!("unknown entry version {version}")));
        }
        let seq = reader.u64("seq")?;
        let prev_hash = Digest(reader.array("prev_hash")?);
        let time_ms = reader.u64("time_ms")?;
        let tx_len = reader.u32("tx_len")? as usize;
        if tx_len == 0 || tx_len > MAX_TX_BYTES {
            return Err(bad(format!(
                "transaction length {tx_len} is outside 1..={MAX_TX_BYTES}"
            )));
        }
        let tx_bytes = reader.take("tx_bytes", tx_len)?.to_vec();
        let signatures = read_signatures(&mut reader)?;
        let refusal = match version {
            ATTEMPT_KIND => {
                let (refusal, rest) = Refusal::decode_from(reader.bytes)?;
                reader.bytes = rest;
                Some(refusal)
            }
            _ => None,
        };
        let seal = reader.array("seal")?;
        if !reader.bytes.is_empty() {
            return Err(bad(format!("{} bytes after the seal", reader.bytes.len())));
        }
        Ok(Entry {
            seq,
            prev_hash,
            time_ms,
            envelope: Envelope {
                tx_bytes,
                signatures,
            },
            refusal,
            seal,
        })
    }
}

/// An entry together with what is derived from its body: its hash and its
/// record. Lets the sequencer and the store encode and hash each entry once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The entry.
    pub entry: Entry,
    /// Its hash ([`Entry::hash`]).
    pub hash: Digest,
    /// Its record ([`Entry::encode`]): body ‖ seal.
    pub record: Vec<u8>,
}

impl Sealed {
    /// Derives the hash and record of an entry.
    pub fn from_entry(entry: Entry) -> Sealed {
        let mut record = entry.body();
        let hash = Digest::tagged(crypto::ENTRY_HASH_TAG, &[&record]);
        record.extend_from_slice(&entry.seal);
        Sealed {
            entry,
            hash,
            record,
        }
    }

    /// The body: the record without its seal.
    pub fn body(&self) -> &[u8] {
        &self.record[..self.record.len() - SEAL_LEN]
    }
}

fn read_signatures(reader: &mut Reader<'_>) -> Result<Vec<PartySignature>, DecodeError> {
    let count = reader.u8("sig_count")? as usize;
    if count == 0 || count > MAX_SIGNATURES {
        return Err(bad(format!(
            "signature count {count} is outside 1..={MAX_SIGNATURES}"
        )));
    }
    let mut signatures = Vec::with_capacity(count);
    for _ in 0..count {
        let signer_len = reader.u8("signer_len")? as usize;
        let signer = std::str::from_utf8(reader.take("signer", signer_len)?)
            .map_err(|_| bad("signer is not UTF-8".into()))?
            .to_owned();
        check_id("signer", &signer)?;
        let key_bytes: [u8; 32] = reader.array("public_key")?;
        let public_key = PublicKey::from_slice(&key_bytes)
            .ok_or_else(|| bad("public key is not a curve point".into()))?;
        let signature = reader.array("signature")?;
        signatures.push(PartySignature {
            signer,
            public_key,
            signature,
        });
    }
    Ok(signatures)
}

fn bad(reason: String) -> DecodeError {
    DecodeError::BadEntry { reason }
}

/// A bounds-checked cursor over a record.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &str, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(bad(format!("record ends inside `{field}`")));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    fn u8(&mut self, field: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::EnvelopeBuilder;

    fn sample() -> Entry {
        let party = SigningKey::from_bytes(&[1; 32]);
        let node = SigningKey::from_bytes(&[2; 32]);
        let envelope = EnvelopeBuilder::from_bytes(b"\x12\x02tx".to_vec())
            .sign("bank-a", &party)
            .build();
        Entry::seal_new(5, Digest([3; 32]), 1_700_000_000_000, envelope, &node)
    }

    #[test]
    fn sealed_matches_the_entry() {
        let entry = sample();
        let node = SigningKey::from_bytes(&[2; 32]);
        let sealed = Entry::seal_new_sealed(
            entry.seq,
            entry.prev_hash,
            entry.time_ms,
            entry.envelope.clone(),
            &node,
        );
        assert_eq!(sealed.entry, entry);
        assert_eq!(sealed.hash, entry.hash());
        assert_eq!(sealed.record, entry.encode());
        assert_eq!(sealed.body(), entry.body().as_slice());
        assert_eq!(Sealed::from_entry(entry), sealed);
    }

    #[test]
    fn record_roundtrips() {
        let entry = sample();
        assert_eq!(Entry::decode(&entry.encode()), Ok(entry));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let record = sample().encode();
        for len in 0..record.len() {
            assert!(
                Entry::decode(&record[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
    }

    #[test]
    fn seal_covers_the_body() {
        let node = crypto::public_key(&SigningKey::from_bytes(&[2; 32]));
        let mut entry = sample();
        assert!(entry.seal_verifies(&node));
        entry.time_ms += 1;
        assert!(!entry.seal_verifies(&node));
    }
}
