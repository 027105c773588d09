//! The attacks, each started and torn down by the tool, from one loopback
//! address of their own.
//!
//! ```text
//!  stream flood      C connections × S following StreamEntries, never read
//!  connection flood  N TCP connections that send nothing
//!  slow-loris        M connections sending the HTTP/2 preface a byte a second
//!  request flood     C connections × K requests in flight, GetHead in a loop
//! ```
//! A connection the node closes is opened again a second later, so each
//! attack lasts as long as the measurement does. What each attacker saw is
//! tallied by name ("streams held", "refused ResourceExhausted
//! TOO_MANY_STREAMS scope=address", ...).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use pledge_client::{ClientError, LedgerClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::well_behaved::{NodeUrl, connect_from};

/// A connection the node closes within this long after it was opened was
/// refused at accept; one open longer was held (by the node, or by the
/// kernel's accept queue while the node was behind: the node's own counters
/// tell them apart).
pub const ACCEPT_GRACE: Duration = Duration::from_secs(1);

/// How long an attacker waits before opening a closed connection again.
const REOPEN_PAUSE: Duration = Duration::from_secs(1);

/// An attacker's request or stream without an answer for this long is
/// given up (and tallied as [`NO_ANSWER`]).
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// The tally of requests given up after [`ANSWER_LIMIT`].
const NO_ANSWER: &str = "no answer within 10 s";

/// How long the attack may take to be fully in place.
const RAMP_LIMIT: Duration = Duration::from_secs(30);

/// The HTTP/2 client preface, sent a byte at a time by the slow-loris.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One attack and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// `connections` × `streams` following `StreamEntries` streams from entry
    /// 0, opened and never read.
    StreamFlood {
        /// HTTP/2 connections.
        connections: usize,
        /// Streams opened on each.
        streams: usize,
    },
    /// TCP connections that send nothing.
    ConnectionFlood {
        /// Connections.
        connections: usize,
    },
    /// Connections that send the HTTP/2 preface one byte a second.
    SlowLoris {
        /// Connections.
        connections: usize,
    },
    /// `GetHead` in a loop, past the per-address rate.
    RequestFlood {
        /// HTTP/2 connections.
        connections: usize,
        /// Requests in flight on each.
        in_flight: usize,
    },
}

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attack::StreamFlood {
                connections,
                streams,
            } => write!(
                f,
                "stream flood: {connections} connections × {streams} following streams"
            ),
            Attack::ConnectionFlood { connections } => {
                write!(f, "connection flood: {connections} idle TCP connections")
            }
            Attack::SlowLoris { connections } => write!(
                f,
                "slow-loris: {connections} connections, preface a byte a second"
            ),
            Attack::RequestFlood {
                connections,
                in_flight,
            } => write!(
                f,
                "request flood: {connections} connections × {in_flight} GetHead in flight"
            ),
        }
    }
}

/// What the attackers saw, by name, and the most they had open at once.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    /// Counts by what happened.
    pub counts: BTreeMap<String, u64>,
    /// The most connections or streams open at once (a TCP connection
    /// counts once it has been open for [`ACCEPT_GRACE`]).
    pub held_peak: usize,
}

impl Tally {
    fn add(&mut self, what: impl Into<String>, n: u64) {
        *self.counts.entry(what.into()).or_default() += n;
    }

    fn merge(&mut self, other: Tally) {
        for (what, n) in other.counts {
            self.add(what, n);
        }
    }
}

/// Connections or streams held now, the peak, and attackers in place.
#[derive(Debug, Default)]
struct Gauge {
    held: AtomicUsize,
    peak: AtomicUsize,
    ramped: AtomicUsize,
}

impl Gauge {
    fn hold(&self, n: usize) {
        let now = self.held.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn release(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Where and from where the attackers connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The node.
    pub node: NodeUrl,
    /// The node's address, for raw TCP connections.
    pub address: SocketAddr,
    /// The attackers' source address.
    pub from: IpAddr,
}

/// An attack under way.
#[derive(Debug)]
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<Tally>,
    gauge: Arc<Gauge>,
}

/// Starts `attack` and returns once every attacker is in place (or
/// `RAMP_LIMIT` passed).
pub async fn start(attack: Attack, target: &Target) -> Running {
    let (stop, stopped) = watch::channel(false);
    let gauge = Arc::new(Gauge::default());
    let mut tasks = tokio::task::JoinSet::new();
    let attackers = match attack {
        Attack::StreamFlood {
            connections,
            streams,
        } => {
            for _ in 0..connections {
                let (target, stopped, gauge) = (target.clone(), stopped.clone(), gauge.clone());
                tasks.spawn(flood_streams(target, streams, stopped, gauge));
            }
            connections
        }
        Attack::ConnectionFlood { connections } | Attack::SlowLoris { connections } => {
            let dribble = matches!(attack, Attack::SlowLoris { .. });
            for _ in 0..connections {
                let (target, stopped, gauge) = (target.clone(), stopped.clone(), gauge.clone());
                tasks.spawn(occupy(target, dribble, stopped, gauge));
            }
            connections
        }
        Attack::RequestFlood {
            connections,
            in_flight,
        } => {
            for _ in 0..connections {
                let (target, stopped, gauge) = (target.clone(), stopped.clone(), gauge.clone());
                tasks.spawn(flood_requests(target, in_flight, stopped, gauge));
            }
            connections
        }
    };
    let running = Running { stop, tasks, gauge };
    running.ramp(attackers).await;
    running
}

impl Running {
    async fn ramp(&self, attackers: usize) {
        let deadline = Instant::now() + RAMP_LIMIT;
        while self.gauge.ramped.load(Ordering::Relaxed) < attackers && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops every attacker, closes their connections and tallies.
    pub async fn stop(mut self) -> anyhow::Result<Tally> {
        let _ = self.stop.send(true);
        let mut tally = Tally::default();
        while let Some(attacker) = self.tasks.join_next().await {
            tally.merge(attacker.context("an attacker task failed")?);
        }
        tally.held_peak = self.gauge.peak.load(Ordering::Relaxed);
        Ok(tally)
    }
}

/// Resolves when the attack is told to stop (or the sender is gone).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// "refused CODE REASON scope=…" of a refusal, or the error's first words.
fn refusal_key(error: &ClientError) -> String {
    match error.refusal() {
        Some(refusal) => {
            let info = refusal.info.as_ref();
            let reason = info.map_or("", |i| i.reason.as_str());
            let scope = info
                .and_then(|i| i.metadata.get("scope"))
                .map_or(String::new(), |s| format!(" scope={s}"));
            format!("refused {:?} {reason}{scope}", refusal.code)
        }
        None => format!(
            "failed: {}",
            error.to_string().chars().take(80).collect::<String>()
        ),
    }
}

async fn flood_streams(
    target: Target,
    streams: usize,
    mut stopped: watch::Receiver<bool>,
    gauge: Arc<Gauge>,
) -> Tally {
    let mut tally = Tally::default();
    let client = match connect_from(target.node.clone(), target.from).await {
        Ok(client) => client,
        Err(error) => {
            gauge.ramped.fetch_add(1, Ordering::Relaxed);
            tally.add(format!("connection failed: {error:#}"), 1);
            return tally;
        }
    };
    let mut open = Vec::with_capacity(streams);
    for _ in 0..streams {
        match tokio::time::timeout(ANSWER_LIMIT, client.entries(0, true)).await {
            Ok(Ok(stream)) => {
                open.push(stream);
                gauge.hold(1);
            }
            Ok(Err(error)) => tally.add(refusal_key(&error), 1),
            Err(_) => tally.add(NO_ANSWER, 1),
        }
    }
    tally.add("streams opened", open.len() as u64);
    gauge.ramped.fetch_add(1, Ordering::Relaxed);
    stopping(&mut stopped).await;
    gauge.release(open.len());
    tally
}

async fn flood_requests(
    target: Target,
    in_flight: usize,
    stopped: watch::Receiver<bool>,
    gauge: Arc<Gauge>,
) -> Tally {
    let client = match connect_from(target.node.clone(), target.from).await {
        Ok(client) => client,
        Err(error) => {
            gauge.ramped.fetch_add(1, Ordering::Relaxed);
            let mut tally = Tally::default();
            tally.add(format!("connection failed: {error:#}"), 1);
            return tally;
        }
    };
    gauge.hold(1);
    gauge.ramped.fetch_add(1, Ordering::Relaxed);
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..in_flight.max(1) {
        lanes.spawn(ask_head_until_stopped(client.clone(), stopped.clone()));
    }
    let mut tally = Tally::default();
    while let Some(lane) = lanes.join_next().await {
        if let Ok(lane) = lane {
            tally.merge(lane);
        }
    }
    gauge.release(1);
    tally
}

async fn ask_head_until_stopped(client: LedgerClient, stopped: watch::Receiver<bool>) -> Tally {
    let mut tally = Tally::default();
    while !*stopped.borrow() {
        match tokio::time::timeout(ANSWER_LIMIT, client.head()).await {
            Ok(Ok(_)) => tally.add("GetHead answered", 1),
            Ok(Err(error)) => tally.add(refusal_key(&error), 1),
            Err(_) => tally.add(NO_ANSWER, 1),
        }
    }
    tally
}

/// How a held TCP connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The node closed it within [`ACCEPT_GRACE`].
    ClosedAtAccept,
    /// The node closed it later.
    ClosedAfterHolding,
    /// It was still open when the attack stopped.
    HeldToTheEnd,
}

impl Ending {
    /// How a connection that the node closed `after` it was opened (or
    /// never, `None`) ended.
    fn of(after: Option<Duration>) -> Ending {
        match after {
            None => Ending::HeldToTheEnd,
            Some(after) if after < ACCEPT_GRACE => Ending::ClosedAtAccept,
            Some(_) => Ending::ClosedAfterHolding,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ending::ClosedAtAccept => "connections closed within 1 s",
            Ending::ClosedAfterHolding => "connections open ≥ 1 s, then closed by the node",
            Ending::HeldToTheEnd => "connections open when the attack stopped",
        }
    }
}

/// One connection slot: connect, hold until the node closes it, connect
/// again after a pause; until the attack stops.
async fn occupy(
    target: Target,
    dribble: bool,
    mut stopped: watch::Receiver<bool>,
    gauge: Arc<Gauge>,
) -> Tally {
    let mut tally = Tally::default();
    let mut first = true;
    while !*stopped.borrow() {
        let connected = tokio::select! {
            connected = tcp_from(target.from, target.address) => connected,
            () = stopping(&mut stopped) => break,
        };
        match connected {
            Ok(stream) => {
                if std::mem::take(&mut first) {
                    gauge.ramped.fetch_add(1, Ordering::Relaxed);
                }
                let ending = hold(stream, dribble, &mut stopped, &gauge).await;
                tally.add(ending.name(), 1);
                if ending == Ending::HeldToTheEnd {
                    break;
                }
            }
            Err(error) => {
                if std::mem::take(&mut first) {
                    gauge.ramped.fetch_add(1, Ordering::Relaxed);
                }
                tally.add(format!("connect failed: {:?}", error.kind()), 1);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(REOPEN_PAUSE) => {}
            () = stopping(&mut stopped) => {}
        }
    }
    tally
}

/// A TCP connection to `to` from the loopback address `from`.
async fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match from {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// Holds `stream` (sending the preface a byte a second if `dribble`) until
/// the node closes it or the attack stops.
async fn hold(
    mut stream: TcpStream,
    dribble: bool,
    stopped: &mut watch::Receiver<bool>,
    gauge: &Gauge,
) -> Ending {
    let opened = Instant::now();
    let mut counted = false;
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buffer = [0u8; 512];
    let closed = loop {
        tokio::select! {
            () = stopping(stopped) => break None,
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break Some(opened.elapsed()),
                Ok(_) => {} // the server's own preface and settings
            },
            _ = tick.tick(), if dribble && sent < PREFACE.len() => {
                if stream.write_all(&PREFACE[sent..=sent]).await.is_err() {
                    break Some(opened.elapsed());
                }
                sent += 1;
            }
            () = tokio::time::sleep_until((opened + ACCEPT_GRACE).into()), if !counted => {
                counted = true;
                gauge.hold(1);
            }
        }
    };
    if counted {
        gauge.release(1);
    }
    Ending::of(closed)
}

/// The socket address of a node URL such as `http://127.0.0.1:50051`.
pub fn socket_address(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .with_context(|| format!("{url}: give the node as http://IP:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_held_if_it_outlives_the_accept_grace() {
        assert_eq!(
            Ending::of(Some(Duration::from_millis(3))),
            Ending::ClosedAtAccept
        );
        assert_eq!(
            Ending::of(Some(Duration::from_secs(10))),
            Ending::ClosedAfterHolding
        );
        assert_eq!(Ending::of(None), Ending::HeldToTheEnd);
    }

    #[test]
    fn the_gauge_keeps_its_peak() {
        let gauge = Gauge::default();
        gauge.hold(3);
        gauge.release(2);
        gauge.hold(1);
        assert_eq!(gauge.held.load(Ordering::Relaxed), 2);
        assert_eq!(gauge.peak.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn node_urls_give_their_socket_address() {
        let address = socket_address("http://127.0.0.1:50061").unwrap();
        assert_eq!(address, "127.0.0.1:50061".parse().unwrap());
        assert_eq!(
            socket_address("http://[::1]:9/").unwrap(),
            "[::1]:9".parse().unwrap()
        );
        assert!(socket_address("http://localhost:50061").is_err());
    }

    #[test]
    fn tallies_add_up_by_name() {
        let mut a = Tally::default();
        a.add("streams opened", 64);
        let mut b = Tally::default();
        b.add("streams opened", 0);
        b.add(
            "refused ResourceExhausted TOO_MANY_STREAMS scope=address",
            36,
        );
        a.merge(b);
        assert_eq!(a.counts["streams opened"], 64);
        assert_eq!(a.counts.len(), 2);
    }

    #[tokio::test]
    async fn a_slow_loris_connection_is_seen_held_then_closed() {
        // A listener that takes the connection, reads 3 bytes (sent at 0, 1
        // and 2 s), then closes it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = [0u8; 3];
            socket.read_exact(&mut got).await.unwrap();
            got
        });
        let (_stop, mut stopped) = watch::channel(false);
        let gauge = Gauge::default();
        let stream = tcp_from("127.0.0.1".parse().unwrap(), address)
            .await
            .unwrap();
        let ending = hold(stream, true, &mut stopped, &gauge).await;
        assert_eq!(&server.await.unwrap(), b"PRI");
        assert_eq!(ending, Ending::ClosedAfterHolding);
        assert_eq!(gauge.peak.load(Ordering::Relaxed), 1);
        assert_eq!(gauge.held.load(Ordering::Relaxed), 0);
    }
}
