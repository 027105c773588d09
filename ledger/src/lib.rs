//! The oil receipt-pledge ledger.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod merkle;
pub mod store;
