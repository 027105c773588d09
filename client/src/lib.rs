//! Client library of the oil receipt-pledge ledger.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
