//! Request rates, node-wide, by who is asking rather than by connection:
//! a token bucket for each source address and one for each participant,
//! shared by all their connections, so opening more connections (or more
//! addresses for one participant) buys no more requests.
//!
//! ```text
//!   every request ─▶ bucket of its source address        (requests_per_second_per_address)
//!                 ─▶ bucket of its mutual-TLS participant (requests_per_second_per_participant)
//!   Submit        ─▶ bucket of each signer of a verified envelope not yet
//!                    committed, when the connection names no participant
//! ```
//!
//! A source address is an IPv4 address, or an IPv6 address's /64 prefix:
//! one subscriber gets a whole /64 and may pick any address in it, so
//! counting each IPv6 address alone would let one host take 2^64 buckets.
//! An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as its IPv4 address.
//!
//! A request over either rate is refused with RESOURCE_EXHAUSTED, reason
//! `RATE_LIMITED`, metadata `scope` (`address` or `participant`), `limit`
//! (requests a second) and `retry_after_ms`; nothing else happens. Each
//! bucket holds a second's worth of requests (the burst) and refills at its
//! rate. A full bucket is the same as none, so buckets are forgotten once
//! full again: the table holds only who asked within the last second or so.
//! The rates can be changed while the node runs (SIGHUP).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tonic::{Code, Request, Status};

use crate::admission::source_address;
use crate::metrics::Metrics;
use crate::status;

/// The ErrorInfo reason of a request over a rate.
pub const RATE_LIMITED: &str = "RATE_LIMITED";
/// Look for full buckets to forget once the table grows past this.
const PRUNE_AT: usize = 4096;

/// Who a bucket counts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Who {
    Address(IpAddr),
    Participant(String),
}

impl Who {
    fn scope(&self) -> &'static str {
        match self {
            Who::Address(_) => "address",
            Who::Participant(_) => "participant",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// The tokens at `now`, refilled at `per_second` up to a second's worth.
    fn refilled(&self, now: Instant, per_second: f64) -> f64 {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * per_second;
        (self.tokens + refill).min(per_second)
    }
}

/// The rates, requests a second; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub per_address: u32,
    pub per_participant: u32,
}

#[derive(Debug, Default)]
struct Buckets {
    by_who: HashMap<Who, Bucket>,
    prune_at: usize,
}

impl Rates {
    /// The rates of `[limits]`.
    pub fn of(limits: &crate::config::Limits) -> Rates {
        Rates {
            per_address: limits.requests_per_second_per_address,
            per_participant: limits.requests_per_second_per_participant,
        }
    }
}

/// The node's token buckets. Cloning shares them.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_address: Arc<AtomicU32>,
    per_participant: Arc<AtomicU32>,
    buckets: Arc<Mutex<Buckets>>,
    metrics: Arc<Metrics>,
}

impl RateLimit {
    /// Buckets at `rates`, refusals counted in `metrics`.
    pub fn new(rates: Rates, metrics: Arc<Metrics>) -> RateLimit {
        RateLimit {
            per_address: Arc::new(AtomicU32::new(rates.per_address)),
            per_participant: Arc::new(AtomicU32::new(rates.per_participant)),
            buckets: Arc::default(),
            metrics,
        }
    }

    /// Changes the rates from the next request on.
    pub fn set_rates(&self, rates: Rates) {
        self.per_address.store(rates.per_address, Ordering::Relaxed);
        self.per_participant
            .store(rates.per_participant, Ordering::Relaxed);
    }

    /// The rates now.
    pub fn rates(&self) -> Rates {
        Rates {
            per_address: self.per_address.load(Ordering::Relaxed),
            per_participant: self.per_participant.load(Ordering::Relaxed),
        }
    }

    /// The interceptor's part: one request from the source address of
    /// `request`, over a connection of `participant` (if any).
    pub fn admit<T>(&self, request: &Request<T>, participant: Option<&str>) -> Result<(), Status> {
        let address = request.remote_addr().map(|peer| peer.ip());
        self.admit_request(address, participant, Instant::now())
    }

    /// Admits or refuses one request from `address`, made over a
    /// connection whose certificate names `participant` (if any).
    pub fn admit_request(
        &self,
        address: Option<IpAddr>,
        participant: Option<&str>,
        now: Instant,
    ) -> Result<(), Status> {
        if let Some(address) = address {
            self.take(Who::Address(source_address(address)), now)?;
        }
        if let Some(participant) = participant {
            self.take(Who::Participant(participant.to_owned()), now)?;
        }
        Ok(())
    }

    /// Admits or refuses a submission signed by `signers`: one request
    /// from each.
    pub fn admit_signers<'a>(
        &self,
        signers: impl IntoIterator<Item = &'a str>,
        now: Instant,
    ) -> Result<(), Status> {
        for signer in signers {
            self.take(Who::Participant(signer.to_owned()), now)?;
        }
        Ok(())
    }

    /// One token from `who`'s bucket, or the refusal.
    fn take(&self, who: Who, now: Instant) -> Result<(), Status> {
        let limit = match who {
            Who::Address(_) => self.per_address.load(Ordering::Relaxed),
            Who::Participant(_) => self.per_participant.load(Ordering::Relaxed),
        };
        if limit == 0 {
            return Ok(());
        }
        let per_second = f64::from(limit);
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        buckets.forget_full(now, self.rates());
        let bucket = buckets.by_who.entry(who.clone()).or_insert(Bucket {
            tokens: per_second,
            last: now,
        });
        bucket.tokens = bucket.refilled(now, per_second);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let retry_after_ms = ((1.0 - bucket.tokens) / per_second * 1000.0).ceil() as u64;
        drop(buckets);
        self.metrics.rate_limited(who.scope());
        Err(refusal(&who, limit, retry_after_ms.max(1)))
    }
}

impl Buckets {
    /// Past the table's size threshold: forgets every bucket that is full
    /// again (the same as no bucket), and moves the threshold so that a
    /// table of buckets still in use is not scanned on every request.
    fn forget_full(&mut self, now: Instant, rates: Rates) {
        if self.by_who.len() < self.prune_at.max(PRUNE_AT) {
            return;
        }
        self.by_who.retain(|who, bucket| {
            let per_second = f64::from(match who {
                Who::Address(_) => rates.per_address,
                Who::Participant(_) => rates.per_participant,
            });
            per_second > 0.0 && bucket.refilled(now, per_second) < per_second
        });
        self.prune_at = self.by_who.len() * 2;
    }
}

/// How a source address is named in a refusal.
fn source_name(address: &IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

fn refusal(who: &Who, limit: u32, retry_after_ms: u64) -> Status {
    let message = match who {
        Who::Address(address) => format!(
            "requests from {} are over the node's limit of {limit} a second per source address; retry after {retry_after_ms} ms",
            source_name(address)
        ),
        Who::Participant(id) => format!(
            "requests of participant `{id}` are over the node's limit of {limit} a second per participant; retry after {retry_after_ms} ms"
        ),
    };
    status::status(
        Code::ResourceExhausted,
        message,
        RATE_LIMITED,
        vec![
            ("scope".into(), who.scope().into()),
            ("limit".into(), limit.to_string()),
            ("retry_after_ms".into(), retry_after_ms.to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limit(per_address: u32, per_participant: u32) -> RateLimit {
        RateLimit::new(
            Rates {
                per_address,
                per_participant,
            },
            Metrics::new(),
        )
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn an_address_gets_its_rate_whatever_its_connections_and_then_refills() {
        let limit = limit(10, 0);
        let t0 = Instant::now();
        for _ in 0..10 {
            limit.admit_request(ip("10.0.0.1"), None, t0).unwrap();
        }
        let refused = limit.admit_request(ip("10.0.0.1"), None, t0).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(
            refused.message().contains("10.0.0.1"),
            "{}",
            refused.message()
        );
        limit.admit_request(ip("10.0.0.2"), None, t0).unwrap();
        limit
            .admit_request(ip("10.0.0.1"), None, t0 + Duration::from_millis(150))
            .unwrap();
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64_prefix_and_a_mapped_ipv4_as_itself() {
        let limit = limit(2, 0);
        let t0 = Instant::now();
        limit
            .admit_request(ip("2001:db8:0:1::1"), None, t0)
            .unwrap();
        limit
            .admit_request(ip("2001:db8:0:1:ffff::2"), None, t0)
            .unwrap();
        let refused = limit
            .admit_request(ip("2001:db8:0:1:1234:5678:9abc:def0"), None, t0)
            .unwrap_err();
        assert!(
            refused.message().contains("2001:db8:0:1::/64"),
            "{}",
            refused.message()
        );
        limit
            .admit_request(ip("2001:db8:0:2::1"), None, t0)
            .unwrap();

        limit.admit_request(ip("10.0.0.7"), None, t0).unwrap();
        limit
            .admit_request(ip("::ffff:10.0.0.7"), None, t0)
            .unwrap();
        let refused = limit.admit_request(ip("10.0.0.7"), None, t0).unwrap_err();
        assert!(
            refused.message().contains("10.0.0.7 "),
            "{}",
            refused.message()
        );
    }

    #[test]
    fn a_participant_gets_its_rate_from_every_address_together() {
        let limit = limit(0, 4);
        let t0 = Instant::now();
        for n in 0..4 {
            let address = ip(&format!("10.0.0.{n}"));
            limit.admit_request(address, Some("bank-a"), t0).unwrap();
        }
        let refused = limit
            .admit_request(ip("10.0.0.9"), Some("bank-a"), t0)
            .unwrap_err();
        assert!(
            refused.message().contains("`bank-a`"),
            "{}",
            refused.message()
        );
        limit
            .admit_request(ip("10.0.0.9"), Some("bank-b"), t0)
            .unwrap();
        assert!(limit.admit_signers(["bank-a"], t0).is_err());
        limit.admit_signers(["bank-c", "bank-d"], t0).unwrap();
    }

    #[test]
    fn a_changed_rate_holds_from_the_next_request_and_zero_is_off() {
        let limit = limit(0, 0);
        let t0 = Instant::now();
        limit.admit_request(ip("10.0.0.1"), Some("a"), t0).unwrap();
        limit.set_rates(Rates {
            per_address: 1,
            per_participant: 0,
        });
        limit.admit_request(ip("10.0.0.1"), None, t0).unwrap();
        assert!(limit.admit_request(ip("10.0.0.1"), None, t0).is_err());
        limit.set_rates(Rates {
            per_address: 0,
            per_participant: 0,
        });
        limit.admit_request(ip("10.0.0.1"), None, t0).unwrap();
    }

    #[test]
    fn full_buckets_are_forgotten_once_the_table_is_large() {
        let limit = limit(2, 2);
        let t0 = Instant::now();
        for n in 0..(PRUNE_AT - 1) as u32 {
            let address = IpAddr::from(n.to_be_bytes());
            limit.admit_request(Some(address), None, t0).unwrap();
        }
        // 900 ms on, the others are full again and forgotten; the busy
        // one is drained and kept.
        let busy = ip("10.255.0.1");
        let t1 = t0 + Duration::from_millis(900);
        limit.admit_request(busy, None, t1).unwrap();
        limit.admit_request(busy, None, t1).unwrap();
        assert!(limit.admit_request(busy, None, t1).is_err());
        let buckets = limit.buckets.lock().unwrap();
        assert_eq!(buckets.by_who.len(), 1);
    }
}
