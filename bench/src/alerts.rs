//! `pledge-bench alerts`: what deriving a chain's alerts costs a node at
//! start — the time of the alert feed over every entry of an export, and
//! the process's peak memory before and after.

use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use pledge_client::export::ExportReader;
use pledge_ledger::alerts::{AlertFeed, AlertPolicy};
use pledge_ledger::entry::Entry;

/// What the feed measured.
#[derive(Debug, Clone)]
pub struct Derived {
    /// Entries fed.
    pub entries: u64,
    /// Alerts derived.
    pub alerts: u64,
    /// Seconds, reading and decoding included.
    pub seconds: f64,
    /// Peak resident memory before the feed, kB (VmHWM).
    pub peak_kb_before: u64,
    /// Peak resident memory after it, kB, the feed still held.
    pub peak_kb_after: u64,
}

/// Feeds every entry of the export file `path` (at most `limit`) to an
/// [`AlertFeed`] under the default policy.
pub fn derive(path: &Path, limit: u64) -> anyhow::Result<Derived> {
    let peak_kb_before = peak_rss_kb();
    let started = Instant::now();
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut feed = AlertFeed::new(AlertPolicy::default());
    let mut alerts = 0u64;
    for record in ExportReader::new(BufReader::with_capacity(1 << 20, file)).take(limit as usize) {
        let entry = Entry::decode(&record?).context("decode an entry")?;
        alerts += feed.push(&entry)?.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let derived = Derived {
        entries: feed.watch().next_seq(),
        alerts,
        seconds,
        peak_kb_before,
        peak_kb_after: peak_rss_kb(),
    };
    drop(feed);
    Ok(derived)
}

/// The process's peak resident memory in kB (Linux; 0 elsewhere).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
