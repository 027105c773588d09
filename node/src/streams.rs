//! Long-lived answer streams (`StreamEntries`, following or not), bounded
//! node-wide and per asker, so that one client cannot hold the node's
//! memory and tasks with streams it never reads.
//!
//! ```text
//!   open a stream ─▶ slot of its source address?          (max_streams_per_address)
//!                 ─▶ slot of its mutual-TLS participant?  (max_streams_per_participant)
//!                 ─▶ node-wide slot?                      (max_streams)
//!                 ─▶ StreamSlot, held by the stream's task, given back when it ends
//! ```
//!
//! A stream over a bound is refused before anything is read, with
//! RESOURCE_EXHAUSTED, reason `TOO_MANY_STREAMS`, metadata `scope` (`node`,
//! `address` or `participant`) and `limit`; refusals are counted in
//! `pledge_streams_refused_total{scope}`. The per-connection share is
//! HTTP/2's own (`max_concurrent_streams`). One asker's share is at most a
//! quarter of the node's streams, whatever the configuration says. SIGHUP
//! applies new bounds ([`StreamSlots::set_bounds`]): streams already open
//! go on, and new ones are refused until the count is under them.
//!
//! What a stream holds while it waits for the head to move is its task and
//! an empty channel: entries are read a few at a time from the published
//! snapshot, and the channel holds at most [`STREAM_BUFFER`] records, so a
//! client that stops reading costs at most that many records plus HTTP/2's
//! window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tonic::{Code, Request, Status};

use crate::admission::source_address;
use crate::metrics::Metrics;
use crate::status;

/// The ErrorInfo reason of a stream over a bound.
pub const TOO_MANY_STREAMS: &str = "TOO_MANY_STREAMS";

/// Records a stream's channel holds before the stream waits for its
/// client to read.
pub const STREAM_BUFFER: usize = 16;

/// The bounds on open streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamBounds {
    /// Streams open at once, node-wide.
    pub max_streams: usize,
    /// Streams open at once from one source address.
    pub per_address: usize,
    /// Streams open at once for one mutual-TLS participant.
    pub per_participant: usize,
}

impl StreamBounds {
    /// The bounds, with one asker's share at most a quarter of the node's
    /// streams (at least one).
    pub fn new(max_streams: usize, per_address: usize, per_participant: usize) -> StreamBounds {
        let max_streams = max_streams.max(1);
        let share = |wanted: usize| wanted.min(max_streams / 4).max(1);
        StreamBounds {
            max_streams,
            per_address: share(per_address),
            per_participant: share(per_participant),
        }
    }

    /// The bounds of `[limits]`.
    pub fn of(limits: &crate::config::Limits) -> StreamBounds {
        StreamBounds::new(
            limits.max_streams,
            limits.max_streams_per_address,
            limits.max_streams_per_participant,
        )
    }
}

/// Who holds a stream slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    Address(IpAddr),
    Participant(String),
}

#[derive(Debug)]
struct Open {
    bounds: StreamBounds,
    total: usize,
    by_holder: HashMap<Holder, usize>,
}

/// The node's stream slots. Cloning shares them.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    open: Arc<Mutex<Open>>,
    metrics: Arc<Metrics>,
}

/// One open stream's slot; dropping it gives the slot back.
#[derive(Debug)]
pub struct StreamSlot {
    holders: Vec<Holder>,
    open: Arc<Mutex<Open>>,
    metrics: Arc<Metrics>,
}

impl StreamSlots {
    /// Slots within `bounds`, refusals counted in `metrics`.
    pub fn new(bounds: StreamBounds, metrics: Arc<Metrics>) -> StreamSlots {
        let open = Open {
            bounds,
            total: 0,
            by_holder: HashMap::new(),
        };
        StreamSlots {
            open: Arc::new(Mutex::new(open)),
            metrics,
        }
    }

    /// Applies new bounds to the streams opened from now on.
    pub fn set_bounds(&self, bounds: StreamBounds) {
        self.lock().bounds = bounds;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a stream asked for by `request`: its source address and
    /// the participant its connection's certificate names, if any.
    pub fn open_for<T>(&self, request: &Request<T>) -> Result<StreamSlot, Status> {
        let address = request.remote_addr().map(|peer| peer.ip());
        let participant = crate::tls::connection_participant(request);
        self.open(address, participant.as_deref())
    }

    /// A slot for a stream from `address` for `participant`, or the refusal.
    pub fn open(
        &self,
        address: Option<IpAddr>,
        participant: Option<&str>,
    ) -> Result<StreamSlot, Status> {
        let holders: Vec<Holder> = address
            .map(|a| Holder::Address(source_address(a)))
            .into_iter()
            .chain(participant.map(|p| Holder::Participant(p.to_owned())))
            .collect();
        let mut open = self.lock();
        let bounds = open.bounds;
        // The asker's own share first: it names what the asker can change.
        for holder in &holders {
            let (scope, limit) = match holder {
                Holder::Address(_) => ("address", bounds.per_address),
                Holder::Participant(_) => ("participant", bounds.per_participant),
            };
            if open.by_holder.get(holder).copied().unwrap_or(0) >= limit {
                return Err(self.refuse(scope, limit));
            }
        }
        if open.total >= bounds.max_streams {
            return Err(self.refuse("node", bounds.max_streams));
        }
        open.total += 1;
        for holder in &holders {
            *open.by_holder.entry(holder.clone()).or_insert(0) += 1;
        }
        self.metrics.set_open_streams(open.total);
        Ok(StreamSlot {
            holders,
            open: self.open.clone(),
            metrics: self.metrics.clone(),
        })
    }

    fn refuse(&self, scope: &'static str, limit: usize) -> Status {
        self.metrics.stream_refused(scope);
        let whose = match scope {
            "node" => "the node's",
            "address" => "this source address's",
            _ => "this participant's",
        };
        status::status(
            Code::ResourceExhausted,
            format!(
                "{whose} open streams are at the limit of {limit}; close a stream (or wait for \
                 one to end) and ask again"
            ),
            TOO_MANY_STREAMS,
            vec![
                ("scope".into(), scope.into()),
                ("limit".into(), limit.to_string()),
            ],
        )
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        for holder in &self.holders {
            if let Some(count) = open.by_holder.get_mut(holder) {
                *count -= 1;
                if *count == 0 {
                    open.by_holder.remove(holder);
                }
            }
        }
        self.metrics.set_open_streams(open.total);
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    fn slots(max: usize, per_address: usize, per_participant: usize) -> StreamSlots {
        StreamSlots::new(
            StreamBounds {
                max_streams: max,
                per_address,
                per_participant,
            },
            Metrics::new(),
        )
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn scope(refusal: &Status) -> String {
        assert_eq!(refusal.code(), Code::ResourceExhausted);
        let info = refusal.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, TOO_MANY_STREAMS);
        info.metadata["scope"].clone()
    }

    #[test]
    fn an_address_gets_its_share_and_the_node_its_cap() {
        let slots = slots(3, 2, 2);
        let first = slots.open(ip("10.0.0.1"), None).unwrap();
        let _second = slots.open(ip("10.0.0.1"), None).unwrap();
        let refused = slots.open(ip("10.0.0.1"), None).unwrap_err();
        assert_eq!(scope(&refused), "address");
        let _third = slots.open(ip("10.0.0.2"), None).unwrap();
        assert_eq!(
            scope(&slots.open(ip("10.0.0.3"), None).unwrap_err()),
            "node"
        );
        drop(first);
        let _again = slots.open(ip("10.0.0.1"), None).unwrap();
        assert_eq!(slots.open.lock().unwrap().total, 3);
    }

    #[test]
    fn a_participant_gets_its_share_from_every_address_together() {
        let slots = slots(100, 50, 2);
        let _a = slots.open(ip("10.0.0.1"), Some("bank-a")).unwrap();
        let _b = slots.open(ip("10.0.0.2"), Some("bank-a")).unwrap();
        let refused = slots.open(ip("10.0.0.3"), Some("bank-a")).unwrap_err();
        assert_eq!(scope(&refused), "participant");
        slots.open(ip("10.0.0.3"), Some("bank-b")).unwrap();
    }

    #[test]
    fn a_refused_stream_takes_no_slot_and_closed_ones_leave_nothing_behind() {
        let slots = slots(10, 1, 1);
        let held = slots.open(ip("10.0.0.1"), Some("bank-a")).unwrap();
        slots.open(ip("10.0.0.1"), Some("bank-b")).unwrap_err();
        slots.open(ip("10.0.0.2"), Some("bank-a")).unwrap_err();
        assert_eq!(slots.open.lock().unwrap().total, 1);
        drop(held);
        assert_eq!(slots.open.lock().unwrap().total, 0);
        assert!(slots.open.lock().unwrap().by_holder.is_empty());
    }

    #[test]
    fn new_bounds_hold_for_new_streams_and_open_ones_go_on() {
        let slots = slots(8, 2, 2);
        let first = slots.open(ip("10.0.0.1"), None).unwrap();
        let second = slots.open(ip("10.0.0.1"), None).unwrap();
        slots.set_bounds(StreamBounds::new(4, 1, 1));
        assert_eq!(slots.lock().bounds, StreamBounds::new(4, 1, 1));
        // Two open, one allowed: both go on, a third is refused.
        let refused = slots.open(ip("10.0.0.1"), None).unwrap_err();
        assert_eq!(scope(&refused), "address");
        drop(first);
        let refused = slots.open(ip("10.0.0.1"), None).unwrap_err();
        assert_eq!(scope(&refused), "address");
        drop(second);
        let _back = slots.open(ip("10.0.0.1"), None).unwrap();
        // Raised: room again.
        slots.set_bounds(StreamBounds::new(8, 2, 2));
        let _more = slots.open(ip("10.0.0.1"), None).unwrap();
    }

    #[test]
    fn one_asker_never_gets_more_than_a_quarter() {
        let bounds = StreamBounds::new(64, 1_000, 1_000);
        assert_eq!((bounds.per_address, bounds.per_participant), (16, 16));
        assert_eq!(StreamBounds::new(2, 8, 8).per_address, 1);
    }
}
