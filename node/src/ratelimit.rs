//! Request rate per connection: a token bucket for each client connection
//! (keyed by its remote address), so one client flooding requests is told
//! RESOURCE_EXHAUSTED while other connections are served as usual.

use std::collections::HashMap;
use std::net::SocketAddr;
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

/// Per-connection token buckets of `per_second` requests, bursts up to the same.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: f64,
    buckets: Arc<Mutex<HashMap<SocketAddr, Bucket>>>,
}

impl RateLimit {
    /// A limit of `per_second` requests per connection; 0 turns it off.
    pub fn new(per_second: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second),
            buckets: Arc::default(),
        }
    }

    /// Admits or refuses one request from `peer` at `now`.
    pub fn admit(&self, peer: SocketAddr, now: Instant) -> Result<(), Status> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > PRUNE_AT {
            buckets.retain(|_, b| now.duration_since(b.last) < IDLE);
        }
        let bucket = buckets.entry(peer).or_insert(Bucket {
            tokens: self.per_second,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.per_second);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            return Err(status::status(
                Code::ResourceExhausted,
                format!(
                    "this connection is over the node's limit of {} requests/s",
                    self.per_second
                ),
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
}
