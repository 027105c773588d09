//! End-to-end tests: real `pledge-node` processes on 127.0.0.1:0, driven
//! through the client library and the `pledgectl` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e {
    pub mod common;

    mod alerts;
    mod audit;
    mod bench;
    mod cli;
    mod cluster;
    mod cluster_tls;
    mod double_pledge;
    mod explorer;
    mod faults;
    mod frauds;
    mod hostile;
    mod lifecycle;
    mod limits;
    mod paging;
    pub mod proofs;
    mod report;
    mod restart;
    mod safety;
    mod service;
    mod signals;
    mod tamper;
    mod tls;
    mod valuation;
    pub mod witnesses;
}
