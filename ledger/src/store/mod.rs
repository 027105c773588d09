//! Durable storage: the append-only entry log (the truth) and the derived state.

pub mod log;
