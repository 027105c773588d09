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
//! use pledge_ledger::{crypto, envelope::EnvelopeBuilder, ledger::MemoryLedger};
//! use pledge_proto::v1::{self as pb, transaction::Operation};
//! use ed25519_dalek::SigningKey;
//!
//! let admin = SigningKey::from_bytes(&[1; 32]);
//! let genesis = pb::Transaction {
//!     ledger_id: "zhoushan-dev".into(),
//!     tx_id: "genesis".into(),
//!     client_time_ms: 0,
//!     operation: Some(Operation::Genesis(pb::Genesis {
//!         participants: vec![pb::ParticipantSpec {
//!             id: "admin".into(),
//!             name: "Registry operator".into(),
//!             roles: vec![pb::Role::Admin as i32],
//!             public_key: crypto::public_key(&admin).0.to_vec(),
//!         }],
//!     })),
//! };
//! let envelope = EnvelopeBuilder::new(&genesis).sign("admin", &admin).build().verify().unwrap();
//! let mut ledger = MemoryLedger::in_memory(SigningKey::from_bytes(&[2; 32]));
//! let results = ledger.append_group(&[envelope], 1_700_000_000_000).unwrap();
//! assert_eq!(results[0].as_ref().unwrap().seq, 0);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod cosigning;
pub mod crypto;
pub mod demo;
pub mod entry;
pub mod envelope;
pub mod error;
pub mod keyfile;
pub mod ledger;
pub mod merkle;
pub mod model;
pub mod note;
pub mod ops;
pub mod rejection;
pub mod replay;
pub mod rules;
pub mod state;
pub mod statemap;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod tx;
pub mod view;

pub use rejection::{Rejection, RejectionKind};
pub use store::StoreError;
