//! The load generator and measurement tools behind `pledge-bench`, built on
//! the `pledge-client` library and the ledger itself.
//!
//! ```text
//!  run       set-up over gRPC (tank, certificates, receipts; untimed)
//!            ─▶ pre-sign every pledge ─▶ N clients for the duration ─▶ figures
//!            ─▶ self-check: refusals were real conflicts; the streamed chain
//!               replays and holds exactly the acknowledged entries
//!  generate  a valid chain written straight through DiskLedger
//!  replay    the auditor's replay of an export file or a store's log
//!  log-sync  one durable append to the entry log, growing vs preallocated
//!  proofs    inclusion and consistency proof latency at the store's size
//!  attack    a well-behaved client's latency while a running node is
//!            flooded with streams, connections, slow prefaces or requests,
//!            next to quiet runs; the node's memory before and after
//! ```
//! Every command prints the machine it ran on. Benchmarks are not tests:
//! nothing here is run by `cargo test` except a short smoke run.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod alerts;
pub mod attack;
pub mod fixture;
pub mod generate;
pub mod logsync;
pub mod machine;
pub mod proofs;
pub mod replay;
pub mod run;
pub mod stats;
