//! State-machine tests, one module per operation: the happy path and each
//! refusal, asserting on the resulting state and on the exact rejection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod rules {
    mod attempts;
    mod cancel;
    mod custody;
    mod encoding;
    mod freeze;
    mod issue;
    mod membership;
    mod participants;
    mod pledge;
    mod regauge;
    mod release_enforce;
    mod signatures;
    mod split;
    mod tank;
    mod transfer;
    mod validity;
}
