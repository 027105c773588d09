//! Strict verification of a submitted envelope's signatures, at the edge.
//!
//! Every signature is checked strictly and one by one (docs/PERFORMANCE.md,
//! "Why the node does not batch-verify signatures"). When no other
//! submission is being verified, the node has a core to spare: an envelope
//! with several signatures is then checked on two threads, its later
//! signatures on tokio's blocking pool while the handler checks the first
//! ones. At one client that takes about one signature check off each
//! pledge's acknowledgement path (a pledge carries two). Under load every
//! core is busy already, and a second thread would only add a hand-off, so
//! a submission that finds another in flight (being verified, sequenced or
//! forwarded, not yet answered) checks its signatures in order on its own
//! thread, as before.
//!
//! Either way the verdict is the same, and so is the signer a refusal
//! names: the first signature, in the envelope's order, that does not
//! verify ([`pledge_ledger::envelope::check_signatures`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pledge_ledger::crypto::KeyCache;
use pledge_ledger::envelope::{Envelope, EnvelopeError, VerifiedEnvelope, check_signatures};

/// Verifies envelopes with keys from one cache, counting the submissions
/// in flight to know when a second thread is worth it.
#[derive(Debug, Clone, Default)]
pub struct EdgeVerifier {
    keys: Arc<KeyCache>,
    in_flight: Arc<AtomicUsize>,
}

/// One submission in flight: counted from its arrival until it is
/// dropped, once the submission is answered.
pub struct Submission<'a> {
    verifier: &'a EdgeVerifier,
    turn: Turn<'a>,
}

impl EdgeVerifier {
    /// A verifier with an empty key cache.
    pub fn new() -> EdgeVerifier {
        EdgeVerifier::default()
    }

    /// Counts a submission in flight until the returned value is dropped:
    /// take it on arrival and hold it until the submission is answered.
    pub fn submission(&self) -> Submission<'_> {
        Submission {
            verifier: self,
            turn: Turn::take(&self.in_flight),
        }
    }

    /// Checks the later half of the signatures on tokio's blocking pool
    /// while this thread checks the first half; a failure in the first
    /// half is reported before one in the later, as checking them in order
    /// would.
    async fn verify_on_two_threads(
        &self,
        envelope: Envelope,
    ) -> Result<VerifiedEnvelope, EnvelopeError> {
        let envelope = Arc::new(envelope);
        let middle = envelope.signatures.len().div_ceil(2);
        let later = {
            let (envelope, keys) = (envelope.clone(), self.keys.clone());
            tokio::task::spawn_blocking(move || {
                let signatures = envelope.signatures.get(middle..).unwrap_or_default();
                check_signatures(&keys, &envelope.tx_bytes, signatures)
            })
        };
        let (first, rest) = envelope.signatures.split_at(middle);
        check_signatures(&self.keys, &envelope.tx_bytes, first)?;
        match later.await {
            Ok(verdict) => verdict?,
            // The pool could not run the check (the runtime is stopping):
            // this thread does it.
            Err(_) => check_signatures(&self.keys, &envelope.tx_bytes, rest)?,
        }
        let envelope = Arc::try_unwrap(envelope).unwrap_or_else(|shared| (*shared).clone());
        envelope.into_verified_unchecked()
    }
}

impl Submission<'_> {
    /// Checks every signature of `envelope` strictly and decodes its
    /// transaction: [`Envelope::verify_with`]'s verdict, on two threads
    /// when no other submission was in flight when this one arrived.
    pub async fn verify(&self, envelope: Envelope) -> Result<VerifiedEnvelope, EnvelopeError> {
        let keys = &self.verifier.keys;
        if envelope.signatures.len() < 2 || !self.turn.alone {
            return envelope.verify_with(keys);
        }
        self.verifier.verify_on_two_threads(envelope).await
    }
}

/// One submission in flight, counted while it lives.
struct Turn<'a> {
    verifying: &'a AtomicUsize,
    /// Whether no other submission was in flight when it began.
    alone: bool,
}

impl<'a> Turn<'a> {
    fn take(verifying: &'a AtomicUsize) -> Turn<'a> {
        let others = verifying.fetch_add(1, Ordering::AcqRel);
        Turn {
            verifying,
            alone: others == 0,
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.verifying.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use pledge_ledger::envelope::PartySignature;
    use pledge_ledger::error::SignatureError;
    use pledge_ledger::testing;

    use super::*;

    /// An envelope signed by `signers`, in that order.
    fn signed_by(signers: &[&str]) -> Envelope {
        let tx = testing::transaction(
            testing::LEDGER_ID,
            "tx-edge",
            testing::issue("R-1", "T-1", "C-1", 1_000, testing::T0),
        );
        testing::sign(&tx, signers)
    }

    /// Spoils the signatures at `which`.
    fn spoiled(mut envelope: Envelope, which: &[usize]) -> Envelope {
        for &i in which {
            let signature: &mut PartySignature = &mut envelope.signatures[i];
            signature.signature[0] ^= 1;
        }
        envelope
    }

    fn invalid_signer(verdict: Result<VerifiedEnvelope, EnvelopeError>) -> String {
        match verdict {
            Err(EnvelopeError::Signature(SignatureError::Invalid { signer })) => signer,
            other => panic!("expected a bad signature, got {other:?}"),
        }
    }

    const SIGNERS: [&str; 3] = ["wh-1", "trader-a", "bank-a"];

    #[tokio::test]
    async fn two_threads_accept_what_one_accepts() {
        for count in 2..=SIGNERS.len() {
            let envelope = signed_by(&SIGNERS[..count]);
            let expected = envelope.clone().verify_with(&KeyCache::new()).unwrap();
            let verified = EdgeVerifier::new()
                .verify_on_two_threads(envelope)
                .await
                .unwrap();
            assert_eq!(verified, expected);
        }
    }

    #[tokio::test]
    async fn two_threads_name_the_first_bad_signature_in_order() {
        let cases: [(&[usize], &str); 6] = [
            (&[0], "wh-1"),
            (&[1], "trader-a"),
            (&[2], "bank-a"),
            (&[1, 2], "trader-a"),
            (&[0, 2], "wh-1"),
            (&[0, 1, 2], "wh-1"),
        ];
        for (bad, named) in cases {
            let envelope = spoiled(signed_by(&SIGNERS), bad);
            let in_order = invalid_signer(envelope.clone().verify_with(&KeyCache::new()));
            assert_eq!(in_order, named);
            let split = EdgeVerifier::new().verify_on_two_threads(envelope).await;
            assert_eq!(invalid_signer(split), named, "spoiled {bad:?}");
        }
    }

    #[tokio::test]
    async fn a_bad_signature_is_refused_whichever_way_it_is_checked() {
        let verifier = EdgeVerifier::new();
        let envelope = spoiled(signed_by(&SIGNERS[..2]), &[1]);
        let alone = verifier.submission();
        assert!(alone.turn.alone);
        assert_eq!(
            invalid_signer(alone.verify(envelope.clone()).await),
            "trader-a"
        );
        let behind = verifier.submission();
        assert!(!behind.turn.alone);
        assert_eq!(invalid_signer(behind.verify(envelope).await), "trader-a");
    }

    #[test]
    fn a_submission_is_counted_until_it_is_dropped() {
        let verifier = EdgeVerifier::new();
        let first = verifier.submission();
        drop(verifier.submission());
        assert!(!verifier.submission().turn.alone);
        drop(first);
        assert!(verifier.submission().turn.alone);
    }
}
