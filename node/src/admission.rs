//! Connections to the gRPC listener, admitted before anyone is
//! authenticated, with every bound explicit (`[limits]`):
//!
//! ```text
//!   accept ──▶ node-wide slot? ──▶ slot for this source address? ──▶ TLS handshake ──▶ tonic
//!     │          (max_connections)   (max_connections_per_address)  (handshake_timeout_ms)
//!     │                                                               │
//!     └─ out of file handles: back off 100 ms → 1 s, logged once      └─ HTTP/2 preface within
//!                                                                        handshake_timeout_ms
//! ```
//!
//! A connection over a bound is closed at once (counted in
//! `pledge_connections_refused_total{why}`); nobody is told more. A
//! connection that has not finished its TLS handshake, or not sent the
//! 24-byte HTTP/2 connection preface, within `handshake_timeout_ms` of
//! being accepted is closed: idle sockets, slow-loris prefaces and
//! connections that never send a ClientHello hold a slot for that long at
//! most. After the preface, HTTP/2 keepalive pings drop a peer that stops
//! answering (`server.rs`), and a connection with no request in flight for
//! `idle_connection_timeout_ms` is closed (`idle.rs`).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Sleep;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use crate::idle::{Activity, Connection, IdleTimer};
use crate::metrics::Metrics;

/// The HTTP/2 connection preface every gRPC client sends first.
const PREFACE_BYTES: usize = 24;
/// First and longest wait after an accept that failed.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(1));

/// File handles kept for the node itself (entry log, state database,
/// explorer, cluster members, metrics) when connections are capped.
const RESERVED_HANDLES: u64 = 128;

/// Raises the process's soft file-handle limit to its hard limit, and
/// lowers `wanted` connections to what that leaves after the node's own
/// handles, saying so: more connections than handles would end in failed
/// accepts for everyone instead of a refusal for the newest.
pub fn fit_to_file_handles(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                limit = raised;
            }
        }
        if let Some(handles) = limit.current {
            let allowed = usize::try_from(handles.saturating_sub(RESERVED_HANDLES).max(1))
                .unwrap_or(usize::MAX);
            if allowed < wanted {
                tracing::warn!(
                    file_handles = handles,
                    max_connections = allowed,
                    configured = wanted,
                    "max_connections lowered to fit the file-handle limit (raise it with ulimit -n / LimitNOFILE)"
                );
                return allowed;
            }
        }
    }
    wanted
}

/// The admission bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Connections open at once, node-wide.
    pub max_connections: usize,
    /// Connections open at once from one source IP address.
    pub max_connections_per_address: usize,
    /// Time from accept to a finished TLS handshake and the HTTP/2 preface.
    pub handshake_timeout: Duration,
    /// Time a connection may go with no request in flight before it is
    /// closed; `None`: for ever.
    pub idle_timeout: Option<Duration>,
}

impl Bounds {
    /// The bounds, with one address's share at most a quarter of the
    /// node's connections (at least one): a single source cannot take them
    /// all, whatever the configuration says.
    pub fn new(max_connections: usize, per_address: usize, handshake_timeout: Duration) -> Bounds {
        let max_connections = max_connections.max(1);
        Bounds {
            max_connections,
            max_connections_per_address: per_address.min(max_connections / 4).max(1),
            handshake_timeout,
            idle_timeout: None,
        }
    }

    /// These bounds, with connections idle for `timeout` closed (zero: never).
    pub fn with_idle_timeout(self, timeout: Duration) -> Bounds {
        Bounds {
            idle_timeout: (!timeout.is_zero()).then_some(timeout),
            ..self
        }
    }
}

/// How a connection becomes ready for HTTP/2: nothing (plaintext), or a TLS
/// handshake.
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream tonic serves.
    type Io: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static;
    /// Turns an accepted connection into that stream.
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;
    /// The handshake with `peer` did not finish within the handshake
    /// timeout, and the connection was closed (already counted in
    /// `pledge_connections_refused_total{why="handshake_timeout"}`).
    fn timed_out(&self, _peer: SocketAddr) {}
}

/// Plaintext gRPC (loopback, or behind a TLS-terminating proxy).
#[derive(Debug, Clone, Copy)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    async fn handshake(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}

impl Handshake for tokio_rustls::TlsAcceptor {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send {
        self.accept(tcp)
    }
}

/// The source address a peer at `ip` counts as, for connection slots and
/// request rates: an IPv4 address itself; an IPv6 address its /64 prefix (a
/// subscriber is given a whole /64 and may use any address in it, so
/// counting each address alone would give one host 2^64 shares); an
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) its IPv4 address.
pub(crate) fn source_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Connections open now, node-wide and per source address.
#[derive(Debug)]
struct Open {
    slots: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    bounds: Bounds,
    metrics: Arc<Metrics>,
}

/// What an admitted connection holds until it closes.
#[derive(Debug)]
struct Slot {
    open: Arc<Open>,
    address: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut per_address) = self.open.per_address.lock()
            && let Some(count) = per_address.get_mut(&self.address)
        {
            *count -= 1;
            if *count == 0 {
                per_address.remove(&self.address);
            }
        }
    }
}

impl Open {
    /// A slot for a connection from `peer`, or why there is none.
    fn admit(self: &Arc<Open>, peer: SocketAddr) -> Result<Slot, &'static str> {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            return Err("max_connections");
        };
        let mut per_address = self.per_address.lock().map_err(|_| "poisoned")?;
        let address = source_address(peer.ip());
        let count = per_address.entry(address).or_insert(0);
        if *count >= self.bounds.max_connections_per_address {
            return Err("max_connections_per_address");
        }
        *count += 1;
        Ok(Slot {
            open: self.clone(),
            address,
            _permit: permit,
        })
    }
}

/// The admitted connections of `listener`, ready for tonic's
/// `serve_with_incoming_shutdown`. Accepting stops when the stream is
/// dropped.
pub fn incoming<H: Handshake>(
    listener: TcpListener,
    bounds: Bounds,
    handshake: H,
    metrics: Arc<Metrics>,
) -> ReceiverStream<io::Result<Admitted<H::Io>>> {
    let open = Arc::new(Open {
        slots: Arc::new(Semaphore::new(bounds.max_connections)),
        per_address: Mutex::default(),
        bounds,
        metrics,
    });
    let (ready, admitted) = mpsc::channel(64);
    tokio::spawn(async move {
        tokio::select! {
            () = accept_loop(listener, open, handshake, ready.clone()) => {}
            () = ready.closed() => {}
        }
    });
    ReceiverStream::new(admitted)
}

async fn accept_loop<H: Handshake>(
    listener: TcpListener,
    open: Arc<Open>,
    handshake: H,
    ready: mpsc::Sender<io::Result<Admitted<H::Io>>>,
) {
    let mut backoff = None;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                backoff = Some(wait_after_failed_accept(&error, backoff).await);
                continue;
            }
        };
        if backoff.take().is_some() {
            tracing::info!("accepting connections again");
        }
        let slot = match open.admit(peer) {
            Ok(slot) => slot,
            Err(why) => {
                open.metrics.connection_refused(why);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (handshake, ready, timeout) = (
            handshake.clone(),
            ready.clone(),
            open.bounds.handshake_timeout,
        );
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            match tokio::time::timeout_at(deadline, handshake.handshake(tcp)).await {
                Ok(Ok(io)) => {
                    let idle_timeout = slot.open.bounds.idle_timeout;
                    let admitted = Admitted::new(io, slot, deadline, idle_timeout);
                    let _ = ready.send(Ok(admitted)).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake refused");
                    slot.open.metrics.connection_refused("handshake_failed");
                }
                Err(_) => {
                    slot.open.metrics.connection_refused("handshake_timeout");
                    handshake.timed_out(peer);
                }
            }
        });
    }
}

/// Out of file handles (or another accept failure): wait, doubling up to
/// a second, and say so once per episode rather than spin on a core.
async fn wait_after_failed_accept(error: &io::Error, last: Option<Duration>) -> Duration {
    let wait = match last {
        None => {
            tracing::warn!(%error, "accepting a connection failed (out of file handles?): backing off until it works");
            BACKOFF.0
        }
        Some(last) => (last * 2).min(BACKOFF.1),
    };
    tokio::time::sleep(wait).await;
    wait
}

/// An admitted connection: holds its slot until closed, and is closed if
/// the HTTP/2 preface has not arrived by its deadline, or when it has had
/// no request in flight for the idle timeout.
#[derive(Debug)]
pub struct Admitted<IO> {
    io: IO,
    /// Bytes read so far and the deadline, until the preface is in.
    preface: Option<(usize, Pin<Box<Sleep>>)>,
    activity: Arc<Activity>,
    idle: Option<IdleTimer>,
    /// The idle timeout passed: every read fails from then on.
    idle_closed: bool,
    slot: Slot,
}

impl<IO> Admitted<IO> {
    fn new(
        io: IO,
        slot: Slot,
        deadline: tokio::time::Instant,
        idle_timeout: Option<Duration>,
    ) -> Admitted<IO> {
        let activity = Activity::new();
        let idle = idle_timeout.map(|timeout| IdleTimer::new(activity.clone(), timeout));
        Admitted {
            io,
            preface: Some((0, Box::pin(tokio::time::sleep_until(deadline)))),
            activity,
            idle,
            idle_closed: false,
            slot,
        }
    }
}

impl<IO> Admitted<IO> {
    /// Why the connection is to be closed now, if it is: no preface by its
    /// deadline, or the idle timeout passed (counted once; every read fails
    /// from then on).
    fn poll_closing(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        if let Some((_, deadline)) = &mut self.preface
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.slot.open.metrics.connection_refused("preface_timeout");
            return Some("no HTTP/2 preface within the handshake timeout");
        }
        if self.idle.as_mut().is_some_and(|idle| idle.poll_expired(cx)) {
            self.idle = None;
            self.idle_closed = true;
            self.slot.open.metrics.idle_connection_closed();
        }
        self.idle_closed
            .then_some("no request in flight for the idle connection timeout")
    }
}

/// Tonic puts this in every request's extensions; `idle::TrackRequests`
/// counts the request on the connection's activity and puts the
/// transport's own info back for `remote_addr()` and `peer_certs()`.
impl<IO: Connected> Connected for Admitted<IO> {
    type ConnectInfo = Connection<IO::ConnectInfo>;
    fn connect_info(&self) -> Self::ConnectInfo {
        Connection::new(self.io.connect_info(), self.activity.clone())
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Admitted<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(why) = this.poll_closing(cx) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if let Some((read, _)) = &mut this.preface {
            *read += buf.filled().len() - before;
            if *read >= PREFACE_BYTES {
                this.preface = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Admitted<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(max: usize, per_address: usize) -> Arc<Open> {
        Arc::new(Open {
            slots: Arc::new(Semaphore::new(max)),
            per_address: Mutex::default(),
            bounds: Bounds {
                max_connections: max,
                max_connections_per_address: per_address,
                handshake_timeout: Duration::from_secs(1),
                idle_timeout: None,
            },
            metrics: Metrics::new(),
        })
    }

    #[test]
    fn one_address_gets_its_share_and_the_node_its_cap() {
        let open = open(3, 2);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let first = open.admit(a).unwrap();
        let _second = open.admit(a).unwrap();
        assert_eq!(open.admit(a).unwrap_err(), "max_connections_per_address");
        let _third = open.admit(b).unwrap();
        assert_eq!(open.admit(b).unwrap_err(), "max_connections");
        drop(first);
        let _again = open.admit(a).unwrap();
        assert_eq!(open.per_address.lock().unwrap()[&a.ip()], 2);
    }

    #[test]
    fn the_addresses_of_one_ipv6_prefix_share_one_addresss_slots() {
        let open = open(8, 2);
        let a: SocketAddr = "[2001:db8:0:1::1]:1000".parse().unwrap();
        let b: SocketAddr = "[2001:db8:0:1:ab::9]:1000".parse().unwrap();
        let c: SocketAddr = "[2001:db8:0:1:cd::7]:1000".parse().unwrap();
        let other: SocketAddr = "[2001:db8:0:2::1]:1000".parse().unwrap();
        let _first = open.admit(a).unwrap();
        let _second = open.admit(b).unwrap();
        assert_eq!(open.admit(c).unwrap_err(), "max_connections_per_address");
        let _elsewhere = open.admit(other).unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:1000".parse().unwrap();
        let plain: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let _m = open.admit(mapped).unwrap();
        let _p = open.admit(plain).unwrap();
        assert_eq!(
            open.admit(plain).unwrap_err(),
            "max_connections_per_address"
        );
    }

    #[test]
    fn one_address_never_gets_more_than_a_quarter() {
        let second = Duration::from_secs(1);
        assert_eq!(Bounds::new(72, 256, second).max_connections_per_address, 18);
        assert_eq!(
            Bounds::new(1024, 64, second).max_connections_per_address,
            64
        );
        assert_eq!(Bounds::new(2, 256, second).max_connections_per_address, 1);
    }

    #[test]
    fn a_closed_connection_frees_its_address() {
        let open = open(4, 1);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        drop(open.admit(a).unwrap());
        assert!(open.per_address.lock().unwrap().is_empty());
        assert_eq!(open.slots.available_permits(), 4);
    }
}
