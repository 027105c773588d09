//! One batch equation for many Ed25519 signatures, with the terms of each
//! public key merged.
//!
//! For signatures `(R_i, s_i)` by keys `A_i` over messages `M_i`, with
//! `k_i = SHA-512(R_i ‖ A_i ‖ M_i) mod ℓ` (RFC 8032) and coefficients
//! `z_i` drawn at random for each batch (128 bits each, from the operating
//! system's random source), the batch holds when
//!
//! ```text
//!   Σ [z_i]R_i  +  Σ over distinct keys A of [Σ_{i: A_i = A} z_i·k_i]A  −  [Σ z_i·s_i]B  =  0
//! ```
//!
//! (cofactorless, as `ed25519_dalek::verify_batch` checks it). Compared with
//! that function this is the same equation with two differences that make
//! it cheaper: the key terms are merged, so the multiscalar multiplication
//! has one point per signature (its `R`) plus one per distinct key instead
//! of two per signature (an audit's chunk has a few keys: the node's and the
//! participants'); and the coefficients have 128 bits instead of 253, so
//! half of the multiplication's windows are empty for the `R` points. The
//! coefficients are random, not derived from the batch, so no signer can
//! choose a message that makes a bad signature's coefficient cancel.
//!
//! A batch in which every signature holds always passes. A batch with a
//! signature that does not hold fails, except with probability 2⁻¹²⁸, unless
//! it fails only by a point of small order (see the parent module's
//! documentation: the callers keep such `R`s and keys out of batches where
//! they can, and an honest node admits no such signature).

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest as _, Sha512};

/// One signature of a batch.
pub(super) struct Term<'a> {
    /// The signed message, in pieces hashed one after the other.
    pub message: [&'a [u8]; 2],
    pub signature: &'a [u8; 64],
    /// The key's encoding, as hashed into `k`.
    pub key: &'a [u8; 32],
    /// The key's point (decompressed and checked by the caller).
    pub key_point: EdwardsPoint,
}

/// Whether the batch equation holds for `terms`. `false` also when a
/// signature's `s` is not below ℓ, its `R` is not a point, or no random
/// coefficients could be drawn: the caller then checks each one alone.
pub(super) fn holds(terms: &[Term<'_>]) -> bool {
    if terms.is_empty() {
        return true;
    }
    let Some(coefficients) = random_coefficients(terms.len()) else {
        return false;
    };
    let mut r_points = Vec::with_capacity(terms.len());
    let mut key_index: HashMap<&[u8; 32], usize> = HashMap::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    let mut key_scalars: Vec<Scalar> = Vec::new();
    let mut base_scalar = Scalar::ZERO;
    for (term, z) in terms.iter().zip(&coefficients) {
        let Some((r, s)) = decode_signature(term.signature) else {
            return false;
        };
        let k = challenge(&term.signature[..32], term.key, term.message);
        let slot = *key_index.entry(term.key).or_insert_with(|| {
            key_points.push(term.key_point);
            key_scalars.push(Scalar::ZERO);
            key_points.len() - 1
        });
        key_scalars[slot] += z * k;
        base_scalar -= z * s;
        r_points.push(r);
    }
    let scalars = coefficients
        .iter()
        .chain(&key_scalars)
        .chain(std::iter::once(&base_scalar));
    let points = r_points
        .iter()
        .chain(&key_points)
        .chain(std::iter::once(&ED25519_BASEPOINT_POINT));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

/// `R` as a point and `s` as a scalar below ℓ, if they are.
fn decode_signature(signature: &[u8; 64]) -> Option<(EdwardsPoint, Scalar)> {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
    let r = CompressedEdwardsY(r).decompress()?;
    Some((r, s))
}

/// `SHA-512(R ‖ A ‖ M) mod ℓ`, `M` given in pieces.
fn challenge(r: &[u8], key: &[u8; 32], message: [&[u8]; 2]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(key);
    for piece in message {
        hasher.update(piece);
    }
    Scalar::from_bytes_mod_order_wide(&hasher.finalize().into())
}

/// `count` coefficients of 128 random bits: SHA-512 of a fresh 32-byte
/// seed and a counter, four coefficients per hash.
fn random_coefficients(count: usize) -> Option<Vec<Scalar>> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).ok()?;
    let mut coefficients = Vec::with_capacity(count);
    for block in 0..count.div_ceil(4) as u64 {
        let mut hasher = Sha512::new();
        hasher.update(seed);
        hasher.update(block.to_le_bytes());
        let bytes: [u8; 64] = hasher.finalize().into();
        for quarter in bytes.chunks_exact(16) {
            let mut wide = [0u8; 32];
            wide[..16].copy_from_slice(quarter);
            coefficients.push(Scalar::from_bytes_mod_order(wide));
        }
    }
    coefficients.truncate(count);
    Some(coefficients)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    struct Signed {
        message: Vec<u8>,
        signature: [u8; 64],
        key: [u8; 32],
        point: EdwardsPoint,
    }

    fn signed(key_seed: u8, message: &[u8]) -> Signed {
        let key = SigningKey::from_bytes(&[key_seed; 32]);
        Signed {
            message: message.to_vec(),
            signature: key.sign(message).to_bytes(),
            key: key.verifying_key().to_bytes(),
            point: key.verifying_key().to_edwards(),
        }
    }

    fn terms(signed: &[Signed]) -> Vec<Term<'_>> {
        signed
            .iter()
            .map(|s| Term {
                message: [&s.message[..1], &s.message[1..]],
                signature: &s.signature,
                key: &s.key,
                key_point: s.point,
            })
            .collect()
    }

    /// Signatures by three keys, several under each (as in an audit chunk).
    fn good_batch() -> Vec<Signed> {
        (0..40u8)
            .map(|i| signed(1 + i % 3, format!("message {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn a_batch_of_good_signatures_holds() {
        assert!(holds(&terms(&good_batch())));
        assert!(holds(&terms(&good_batch()[..1])));
        assert!(holds(&[]));
    }

    #[test]
    fn one_bad_signature_anywhere_fails_the_batch() {
        for bad in [0, 17, 39] {
            let mut batch = good_batch();
            batch[bad].signature[40] ^= 1;
            assert!(!holds(&terms(&batch)), "s altered at {bad}");
            let mut batch = good_batch();
            batch[bad].message.push(b'!');
            assert!(!holds(&terms(&batch)), "message altered at {bad}");
            let mut batch = good_batch();
            let other = signed(9, b"x");
            batch[bad].key = other.key;
            batch[bad].point = other.point;
            assert!(!holds(&terms(&batch)), "key swapped at {bad}");
        }
    }

    #[test]
    fn two_signatures_swapped_between_messages_fail() {
        let mut batch = good_batch();
        let first = batch[3].signature;
        batch[3].signature = batch[6].signature;
        batch[6].signature = first;
        assert!(!holds(&terms(&batch)));
    }

    #[test]
    fn an_s_not_below_the_group_order_fails() {
        let mut batch = good_batch();
        batch[5].signature[63] |= 0xf0;
        assert!(!holds(&terms(&batch)));
    }

    #[test]
    fn the_coefficients_are_128_bits_and_differ_between_batches() {
        let first = random_coefficients(9).expect("random source");
        let second = random_coefficients(9).expect("random source");
        assert_eq!(first.len(), 9);
        assert_ne!(first, second);
        for z in first {
            assert!(z.as_bytes()[16..].iter().all(|b| *b == 0));
        }
    }
}
