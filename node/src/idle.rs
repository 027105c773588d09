//! Idle connections: a connection that has had no request in flight for
//! `[limits] idle_connection_timeout_ms` is closed.
//!
//! ```text
//!   admission::Admitted ──connect_info──▶ every request's extensions
//!     (owns an IdleTimer)                     │
//!          ▲                                  ▼
//!          │                     TrackRequests (a tower layer): one InFlight
//!          │                     from the request until its answer's body is
//!          └──── Activity ◀───── dropped (a stream is in flight while open)
//! ```
//!
//! The connection's reader wakes when the timer is due and, if nothing has
//! been in flight for the whole timeout, ends the connection. HTTP/2 pings
//! and a connection's own settings are not requests: a client that only
//! answers pings is idle. A following `StreamEntries` or `WatchAlerts` is a
//! request in flight for as long as it is open, however quiet the chain.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};
use tonic::codegen::http;
use tonic::transport::server::TcpConnectInfo;
use tonic::transport::server::TlsConnectInfo;

/// What one connection's requests are doing.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    /// When the connection was accepted or its last request ended.
    last_ended: Instant,
}

impl Activity {
    /// A connection accepted now, with nothing in flight.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State {
                in_flight: 0,
                last_ended: Instant::now(),
            }),
        })
    }

    /// A request begins; it is in flight until the guard is dropped.
    pub fn begin(self: &Arc<Activity>) -> InFlight {
        if let Ok(mut state) = self.state.lock() {
            state.in_flight += 1;
        }
        InFlight(self.clone())
    }

    /// Since when nothing has been in flight, or `None` while something is.
    pub fn idle_since(&self) -> Option<Instant> {
        let state = self.state.lock().ok()?;
        (state.in_flight == 0).then_some(state.last_ended)
    }
}

/// A request in flight on its connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.state.lock() {
            state.in_flight -= 1;
            state.last_ended = Instant::now();
        }
    }
}

/// Wakes a connection's reader when its idle timeout may have passed.
#[derive(Debug)]
pub struct IdleTimer {
    activity: Arc<Activity>,
    timeout: Duration,
    due: Pin<Box<Sleep>>,
}

impl IdleTimer {
    /// A timer for the connection whose requests `activity` counts.
    pub fn new(activity: Arc<Activity>, timeout: Duration) -> IdleTimer {
        let due = Box::pin(tokio::time::sleep(timeout));
        IdleTimer {
            activity,
            timeout,
            due,
        }
    }

    /// Whether nothing has been in flight for the whole timeout; if not,
    /// the timer is set for the earliest moment that could be so, and wakes
    /// `cx` then.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.due.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let next = match self.activity.idle_since() {
                Some(since) if since + self.timeout <= now => return true,
                Some(since) => since + self.timeout,
                None => now + self.timeout,
            };
            self.due.as_mut().reset(next);
        }
        false
    }
}

/// What an admitted connection hands tonic as its connect info: the
/// transport's own (`TcpConnectInfo`, `TlsConnectInfo`) and its activity.
/// [`TrackRequests`] puts the transport's info back where tonic's
/// `remote_addr()` and `peer_certs()` look for it.
#[derive(Debug, Clone)]
pub struct Connection<T> {
    info: T,
    activity: Arc<Activity>,
}

impl<T> Connection<T> {
    /// `info` of a connection whose requests `activity` counts.
    pub fn new(info: T, activity: Arc<Activity>) -> Connection<T> {
        Connection { info, activity }
    }
}

/// Counts the requests of every admitted connection in flight (the tower
/// layer of every server that serves `admission::incoming`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackRequestsLayer;

impl<S> tower::Layer<S> for TrackRequestsLayer {
    type Service = TrackRequests<S>;
    fn layer(&self, inner: S) -> TrackRequests<S> {
        TrackRequests { inner }
    }
}

/// A server's routes, every request counted on its connection.
pub type TrackedRouter = tonic::transport::server::Router<
    tower::layer::util::Stack<TrackRequestsLayer, tower::layer::util::Identity>,
>;

/// The service of [`TrackRequestsLayer`].
#[derive(Debug, Clone)]
pub struct TrackRequests<S> {
    inner: S,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, R> tower::Service<http::Request<B>> for TrackRequests<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Tracked<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let in_flight = begin(request.extensions_mut());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// The request's connection info back in place, and the request counted
/// on its connection (`None` for a request from no admitted connection).
fn begin(extensions: &mut http::Extensions) -> Option<InFlight> {
    begin_on::<TcpConnectInfo>(extensions)
        .or_else(|| begin_on::<TlsConnectInfo<TcpConnectInfo>>(extensions))
}

fn begin_on<T: Clone + Send + Sync + 'static>(
    extensions: &mut http::Extensions,
) -> Option<InFlight> {
    let connection = extensions.remove::<Connection<T>>()?;
    extensions.insert(connection.info);
    Some(connection.activity.begin())
}

/// An answer's body, in flight until it is dropped.
#[derive(Debug)]
pub struct Tracked<R> {
    body: R,
    _in_flight: Option<InFlight>,
}

impl<R> http_body::Body for Tracked<R>
where
    R: http_body::Body<Data = Bytes> + Unpin,
    R::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = R::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, R::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_only_while_nothing_is_in_flight() {
        let activity = Activity::new();
        assert!(activity.idle_since().is_some());
        let first = activity.begin();
        let second = activity.begin();
        drop(first);
        assert_eq!(activity.idle_since(), None, "one request still in flight");
        let before = Instant::now();
        drop(second);
        assert!(activity.idle_since().is_some_and(|since| since >= before));
    }

    #[test]
    fn a_request_finds_its_connection_info_where_tonic_looks_for_it() {
        let activity = Activity::new();
        let info = TcpConnectInfo {
            local_addr: None,
            remote_addr: Some("10.0.0.1:1000".parse().unwrap()),
        };
        let mut extensions = http::Extensions::new();
        extensions.insert(Connection::new(info, activity.clone()));
        let in_flight = begin(&mut extensions);
        assert!(in_flight.is_some());
        assert_eq!(activity.idle_since(), None);
        let restored = extensions.get::<TcpConnectInfo>().unwrap();
        assert_eq!(restored.remote_addr, Some("10.0.0.1:1000".parse().unwrap()));
        assert!(extensions.get::<Connection<TcpConnectInfo>>().is_none());
    }

    #[test]
    fn a_request_from_no_admitted_connection_is_not_counted() {
        let mut extensions = http::Extensions::new();
        assert!(begin(&mut extensions).is_none());
    }
}
