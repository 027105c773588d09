//! Request rate per connection: a token bucket for each client connection
//! (keyed by its remote address), so one client flooding requests is told
//! RESOURCE_EXHAUSTED while other connections are served as usual.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::{Code, Request, Status};

use crate::status;

/// Connections idle this long are forgotten.
const IDLE: Duration = Duration::from_secs(60);
/// Forget idle connections when the table grows past this.
const PRUNE_AT: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-connection token buckets of `per_second` requests, bursts up to the
/// same. The rate can be changed while the node runs (SIGHUP).
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: Arc<AtomicU32>,
    buckets: Arc<Mutex<HashMap<SocketAddr, Bucket>>>,
}

impl RateLimit {
    /// A limit of `per_second` requests per connection; 0 turns it off.
    pub fn new(per_second: u32) -> RateLimit {
        RateLimit {
            per_second: Arc::new(AtomicU32::new(per_second)),
            buckets: Arc::default(),
        }
    }

    /// Changes the limit for every connection from now on.
    pub fn set_per_second(&self, per_second: u32) {
        self.per_second.store(per_second, Ordering::Relaxed);
    }

    /// Admits or refuses one request from `peer` at `now`.
    pub fn admit(&self, peer: SocketAddr, now: Instant) -> Result<(), Status> {
        let limit = self.per_second.load(Ordering::Relaxed);
        if limit == 0 {
            return Ok(());
        }
        let per_second = f64::from(limit);
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > PRUNE_AT {
            buckets.retain(|_, b| now.duration_since(b.last) < IDLE);
        }
        let bucket = buckets.entry(peer).or_insert(Bucket {
            tokens: per_second,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(per_second);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            return Err(status::status(
                Code::ResourceExhausted,
                format!("this connection is over the node's limit of {limit} requests/s"),
                "RATE_LIMITED",
                Vec::new(),
            ));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// The interceptor: requests without a known peer (none over TCP) pass.
    pub fn intercept(&self, request: Request<()>) -> Result<Request<()>, Status> {
        match request.remote_addr() {
            Some(peer) => self.admit(peer, Instant::now()).map(|()| request),
            None => Ok(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_limit_is_refused_and_refills() {
        let limit = RateLimit::new(10);
        let (a, b) = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        let t0 = Instant::now();
        for _ in 0..10 {
            limit.admit(a, t0).unwrap();
        }
        assert_eq!(
            limit.admit(a, t0).unwrap_err().code(),
            Code::ResourceExhausted
        );
        limit.admit(b, t0).unwrap();
        limit.admit(a, t0 + Duration::from_millis(150)).unwrap();
        assert!(RateLimit::new(0).admit(a, t0).is_ok());
    }

    #[test]
    fn a_changed_limit_holds_from_the_next_request() {
        let limit = RateLimit::new(0);
        let a = "127.0.0.1:1".parse().unwrap();
        let t0 = Instant::now();
        limit.admit(a, t0).unwrap();
        limit.set_per_second(1);
        limit.admit(a, t0).unwrap();
        assert!(limit.admit(a, t0).is_err());
        limit.set_per_second(0);
        limit.admit(a, t0).unwrap();
    }
}
