//! Client library of the oil receipt-pledge ledger: talk to a `pledge-node`
//! over gRPC, build and sign transactions, pass drafts between the parties
//! that must co-sign, and audit a chain.
//!
//! ```text
//!   ops::*  ──▶ TxHeader::wrap ──▶ pb::Transaction
//!                                     │
//!          one operator holds every key│              separate parties
//!           keys::sign(tx, signers)   │   draft::Draft::new ─▶ file ─▶ Draft::sign (each party)
//!                     │               │                                     │
//!                     ▼               ▼                                     ▼
//!                  Envelope ─────────────────────────────────────▶ LedgerClient::submit ──▶ node
//!
//!   node ──StreamEntries──▶ LedgerClient::entries ──┬──▶ export::write_record ──▶ export file
//!                                                   └──▶ audit::Auditor (pledge_ledger::replay)
//!   export file ──export::ExportReader──────────────────▶ audit::Auditor ──▶ audit::Verdict
//! ```
//!
//! A cluster (docs/REPLICATION.md) is reached through several members:
//! [`LedgerClient::connect_any`] connects to the first that answers and,
//! when a member cannot take a request now (`UNAVAILABLE` with `NO_LEADER`,
//! `NOT_LEADER`, `LEADERSHIP_LOST`, ...) or does not answer, resends the
//! same request to the leader or the next member, within the bounds of
//! [`Failover`]. Reads answer from what the member has applied unless
//! [`LedgerClient::with_read`] asks for at least an entry, or a
//! linearizable read.
//!
//! An `https://` endpoint needs [`ConnectOptions::tls`] ([`tls::client_config`]:
//! the node's CA, and under mutual TLS the participant's certificate).
//!
//! This crate is the library alone: the command line is the `pledgectl`
//! crate, the load generator the `pledge-bench` crate; neither is a
//! dependency of this one.
//!
//! Reads (`receipt`, `pledge`, `tank`, `participant`, `head`, `node_info`,
//! `list_receipts`, `report`) return the proto views; [`json`] turns them
//! into JSON for people and scripts, [`report`] the regulator's report into
//! CSV and JSON rows. Every failure is a [`ClientError`]; a refusal by
//! the node is [`ClientError::Refused`] with the gRPC code, the message and
//! the `google.rpc.ErrorInfo` reason the node attached.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pledge_client::ClientError> {
//! use pledge_client::{LedgerClient, keys::{self, Signer}, ops::{self, TxHeader}};
//!
//! let client = LedgerClient::connect("http://127.0.0.1:50051").await?;
//! let ledger_id = client.node_info().await?.ledger_id;
//! let bank = Signer::from_file("bank-a.json".as_ref())?;
//! let tx = TxHeader::new(&ledger_id, &bank.id)?.wrap(ops::release_pledge("PL-0001"));
//! let committed = client.submit(&keys::sign(&tx, &[bank])).await?;
//! println!("entry {}", committed.seq);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod audit;
#[cfg(feature = "dev-certs")]
pub mod certs;
pub mod checkpoints;
pub mod client;
pub mod draft;
pub mod error;
pub mod evidence;
pub mod export;
pub mod failover;
pub mod json;
pub mod keys;
pub mod ops;
pub mod report;
pub mod time;
pub mod tls;

pub use client::{AlertStream, ConnectOptions, EntryStream, LedgerClient, ReceiptFilter};
pub use draft::Draft;
pub use error::{ClientError, Refusal, RefusalInfo, Result};
pub use failover::Failover;
pub use pledge_proto::v1 as pb;
