//! Replication of the oil receipt-pledge ledger on openraft
//! (docs/REPLICATION.md): the ledger's Raft types and the member-to-member
//! wire format.
//!
//! ```text
//!   leader: decide + seal a group ──▶ Raft entry (Group) ──▶ raft.proto ──▶ followers
//!                                        │ openraft: replicate, commit on a majority
//!                                        ▼
//!   every member: apply the committed group to its chain and state
//! ```
//!
//! [`types`] says what a Raft entry carries; [`wire`] converts openraft's
//! messages to and from `pledgeledger.cluster.v1`, checking what another
//! member sent; [`log_store`] is the raft log on disk; [`state_machine`]
//! drives a member's ledger (behind the [`state_machine::Chain`] trait)
//! from committed entries; [`network`] and [`service`] are the two ends of
//! the member-to-member gRPC service.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod log_store;
pub mod network;
pub mod service;
pub mod state_machine;
pub mod types;
pub mod wire;
