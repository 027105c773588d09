//! The protobuf contract of the oil receipt-pledge ledger.
//!
//! The `.proto` files under `proto/` are the public contract: warehouses,
//! banks and auditors may generate clients from them in any language. This
//! crate compiles them at build time (no system `protoc` needed) and exposes
//! the generated types as [`v1`] (the public API) and [`cluster`] (what the
//! members of a cluster say to each other, docs/REPLICATION.md). Enable the
//! `grpc` feature for the tonic client and server stubs.
//!
//! ```
//! use pledge_proto::v1::{Transaction, transaction::Operation, ReleasePledge};
//! let tx = Transaction {
//!     ledger_id: "zhoushan-dev".into(),
//!     tx_id: "tx-1".into(),
//!     not_before_ms: 1,
//!     not_after_ms: 86_400_000,
//!     operation: Some(Operation::ReleasePledge(ReleasePledge { pledge_id: "P1".into() })),
//! };
//! assert_eq!(tx.tx_id, "tx-1");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod generated {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod pledgeledger {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/pledgeledger.v1.rs"));
        }
        pub mod cluster {
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/pledgeledger.cluster.v1.rs"));
            }
        }
    }
}

#[cfg(feature = "grpc")]
pub mod codec;

/// Version 1 of the ledger's messages and services.
pub use generated::pledgeledger::v1;

/// The member-to-member service of a cluster (Raft messages, forwarded
/// submissions, read indexes); see docs/REPLICATION.md.
pub use generated::pledgeledger::cluster::v1 as cluster;

/// Encoded `FileDescriptorSet` of the public API's proto files
/// (`pledgeledger.v1`), for gRPC server reflection on the client port.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/pledgeledger_descriptor.bin"));
