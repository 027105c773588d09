//! A signed request to watch alerts (docs/ALERTS.md §4): the participant
//! asking, when, and from where in the stream, signed with the
//! participant's current key, so that a node without client certificates
//! knows whose alerts to send.

use ed25519_dalek::{Signer, SigningKey};

use crate::crypto::{self, PublicKey};

/// The tag of a watch request's signature.
pub const WATCH_ALERTS_TAG: &[u8] = b"pledge-ledger/v1/watch-alerts\0";

/// The longest id or ledger id a request carries (as FORMAT.md §2's ids).
const MAX_ID_BYTES: usize = 64;

/// What a participant signs to watch its alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The ledger asked.
    pub ledger_id: String,
    /// Who asks.
    pub participant_id: String,
    /// The first alert index wanted.
    pub from_index: u64,
    /// Whether to follow new alerts.
    pub follow: bool,
    /// When the request was signed (milliseconds since the Unix epoch).
    pub time_ms: u64,
}

/// Why a signed watch request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchRequestError {
    /// An id is empty or longer than 64 bytes.
    #[error("{field} must be 1 to 64 bytes long")]
    BadId {
        /// Which id.
        field: &'static str,
    },
    /// The signature is not 64 bytes or does not verify under the key.
    #[error("the signature does not verify under {participant}'s current key")]
    BadSignature {
        /// Who it claims to be.
        participant: String,
    },
    /// The request's time is too far from the node's clock.
    #[error(
        "the request was signed at {time_ms}, more than {max_skew_ms} ms from the node's clock ({now_ms})"
    )]
    Stale {
        /// The request's time.
        time_ms: u64,
        /// The node's clock.
        now_ms: u64,
        /// The skew allowed.
        max_skew_ms: u64,
    },
}

impl WatchRequest {
    /// The signed bytes: `WATCH_ALERTS_TAG ‖ len:u8 ‖ ledger_id ‖ len:u8 ‖
    /// participant_id ‖ from_index:u64 ‖ follow:u8 ‖ time_ms:u64`.
    pub fn preimage(&self) -> Result<Vec<u8>, WatchRequestError> {
        let mut out = WATCH_ALERTS_TAG.to_vec();
        push_id(&mut out, &self.ledger_id, "ledger_id")?;
        push_id(&mut out, &self.participant_id, "participant_id")?;
        out.extend_from_slice(&self.from_index.to_be_bytes());
        out.push(u8::from(self.follow));
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        Ok(out)
    }

    /// Signs the request with `key`.
    pub fn sign(&self, key: &SigningKey) -> Result<[u8; 64], WatchRequestError> {
        Ok(key.sign(&self.preimage()?).to_bytes())
    }

    /// Checks `signature` under `key` (the participant's current key) and
    /// the request's time against `now_ms`, within `max_skew_ms` either way.
    pub fn verify(
        &self,
        key: &PublicKey,
        signature: &[u8],
        now_ms: u64,
        max_skew_ms: u64,
    ) -> Result<(), WatchRequestError> {
        let preimage = self.preimage()?;
        let bad = || WatchRequestError::BadSignature {
            participant: self.participant_id.clone(),
        };
        let signature: [u8; 64] = signature.try_into().map_err(|_| bad())?;
        let verifying = key.verifying_key().ok_or_else(bad)?;
        verifying
            .verify_strict(&preimage, &ed25519_dalek::Signature::from_bytes(&signature))
            .map_err(|_| bad())?;
        if self.time_ms.abs_diff(now_ms) > max_skew_ms {
            return Err(WatchRequestError::Stale {
                time_ms: self.time_ms,
                now_ms,
                max_skew_ms,
            });
        }
        Ok(())
    }
}

fn push_id(out: &mut Vec<u8>, id: &str, field: &'static str) -> Result<(), WatchRequestError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(WatchRequestError::BadId { field });
    }
    out.push(id.len() as u8);
    out.extend_from_slice(id.as_bytes());
    Ok(())
}

/// The public key of a signing key, for tests and tools.
pub fn public_key_of(key: &SigningKey) -> PublicKey {
    crypto::public_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> WatchRequest {
        WatchRequest {
            ledger_id: "zhoushan-test".into(),
            participant_id: "bank-b".into(),
            from_index: 7,
            follow: true,
            time_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = public_key_of(&key);
        let signature = request().sign(&key).unwrap();
        let now = request().time_ms + 1_000;
        assert_eq!(request().verify(&public, &signature, now, 300_000), Ok(()));
        let changed = [
            WatchRequest {
                from_index: 0,
                ..request()
            },
            WatchRequest {
                follow: false,
                ..request()
            },
            WatchRequest {
                participant_id: "bank-a".into(),
                ..request()
            },
            WatchRequest {
                ledger_id: "other".into(),
                ..request()
            },
            WatchRequest {
                time_ms: request().time_ms + 1,
                ..request()
            },
        ];
        for changed in changed {
            assert!(matches!(
                changed.verify(&public, &signature, now, 300_000),
                Err(WatchRequestError::BadSignature { .. })
            ));
        }
        let other = public_key_of(&SigningKey::from_bytes(&[8; 32]));
        assert!(request().verify(&other, &signature, now, 300_000).is_err());
        assert!(
            request()
                .verify(&public, &signature[..63], now, 300_000)
                .is_err()
        );
    }

    #[test]
    fn a_request_too_old_or_too_new_is_stale() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signature = request().sign(&key).unwrap();
        let public = public_key_of(&key);
        for now in [request().time_ms + 300_001, request().time_ms - 300_001] {
            assert!(matches!(
                request().verify(&public, &signature, now, 300_000),
                Err(WatchRequestError::Stale { .. })
            ));
        }
    }

    #[test]
    fn the_preimage_is_as_documented() {
        let bytes = request().preimage().unwrap();
        let mut expected = b"pledge-ledger/v1/watch-alerts\0".to_vec();
        expected.extend([13]);
        expected.extend(b"zhoushan-test");
        expected.extend([6]);
        expected.extend(b"bank-b");
        expected.extend(7u64.to_be_bytes());
        expected.push(1);
        expected.extend(1_800_000_000_000u64.to_be_bytes());
        assert_eq!(bytes, expected);
    }
}
