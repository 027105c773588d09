//! The oil receipt-pledge ledger: every rule, the signed hash chain, the
//! durable store and the replay verifier. No networking and no clock: the
//! node and the client are thin shells around this crate.
//!
//! ```text
//!   wire bytes
//!      │ envelope::Envelope::decode       shape, sizes, ids, text      → DecodeError
//!      │ Envelope::verify                 every ed25519 signature      → SignatureError
//!      ▼
//!   VerifiedEnvelope ──▶ ledger::Decider::decide(speculative state, group, now)
//!                          │ rules::apply(state, envelope, (seq, time))  → Rejection
//!                          │ entry::Entry::seal_new_sealed               hash chain + node seal
//!                          ▼
//!                        store::LogStore::append      fdatasync: durable, answers go out
//!                        store::StateStore::apply     derived state, later  → StoreError
//!
//!   readers: view::Snapshot (log reader + state view + pending updates) → view::LedgerRead
//!   auditor: records ──▶ replay::Replayer (chain, seals, signatures, rules) → verdict
//!   report:  any StateRead at a size ──▶ report::rows ──▶ tank, holder, bank rows (docs/REPORT.md)
//! ```
//!
//! Where to find a rule: who signs what is in `rules/authority.rs`; every
//! other rule is in `rules/` by operation; the refusals are
//! [`rejection::Rejection`]. The byte formats are in `docs/FORMAT.md`.
//!
//! Every operation's message is built by [`ops`], the one set of builders
//! the client library, the command line, the load generator, the
//! development genesis and the tests share. [`demo`] is the cast of a
//! development ledger; the `testing` feature adds `testing`: that cast with
//! fixed keys, a genesis and sample terms, for tests and benchmarks.
//!
//! ```
//! use pledge_ledger::{crypto, envelope::EnvelopeBuilder, identity, ledger::MemoryLedger};
//! use pledge_proto::v1::{self as pb, legal_identity::Identifier, transaction::Operation};
//! use ed25519_dalek::SigningKey;
//!
//! // Two founders who form the governance quorum (2 of 2), each with a key
//! // and a legal identity (a unified social credit code with its check character).
//! let founder = |id: &str, role: pb::Role, key: &SigningKey, code17: &str| pb::ParticipantSpec {
//!     id: id.into(),
//!     name: format!("{id} Co., Ltd."),
//!     roles: vec![role as i32],
//!     public_key: crypto::public_key(key).0.to_vec(),
//!     legal_identity: Some(pb::LegalIdentity {
//!         identifier: Some(Identifier::UnifiedSocialCreditCode(format!(
//!             "{code17}{}",
//!             identity::uscc_check_character(code17).unwrap()
//!         ))),
//!     }),
//! };
//! let (operator, regulator) = (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
//! let genesis = pb::Transaction {
//!     ledger_id: "zhoushan-dev".into(),
//!     tx_id: "genesis".into(),
//!     not_before_ms: 1_700_000_000_000,
//!     not_after_ms: 1_700_086_400_000,
//!     operation: Some(Operation::Genesis(pb::Genesis {
//!         participants: vec![
//!             founder("admin", pb::Role::Admin, &operator, "91330900MA2A00001"),
//!             founder("regulator", pb::Role::Regulator, &regulator, "11330900MB0000002"),
//!         ],
//!         governance: Some(pb::Governance {
//!             quorum_members: vec!["admin".into(), "regulator".into()],
//!             quorum_threshold: 2,
//!             max_validity_ms: 30 * 86_400_000,
//!         }),
//!     })),
//! };
//! let envelope = EnvelopeBuilder::new(&genesis)
//!     .sign("admin", &operator)
//!     .sign("regulator", &regulator)
//!     .build()
//!     .verify()
//!     .unwrap();
//! let mut ledger = MemoryLedger::in_memory(SigningKey::from_bytes(&[9; 32]));
//! let results = ledger.append_group(&[envelope], 1_700_000_000_000).unwrap();
//! assert_eq!(results[0].as_ref().unwrap().seq, 0);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod alerts;
pub mod bundle;
mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod cosigning;
pub mod crypto;
pub mod demo;
pub mod describe;
pub mod entry;
pub mod envelope;
pub mod error;
pub mod identity;
pub mod keyfile;
pub mod ledger;
pub mod merkle;
pub mod model;
pub mod note;
pub mod ops;
pub mod refusal;
pub mod rejection;
pub mod replay;
pub mod report;
pub mod rules;
pub mod state;
pub mod statemap;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod timestamp;
pub mod tx;
pub mod view;

pub use rejection::{Rejection, RejectionKind};
pub use store::StoreError;
