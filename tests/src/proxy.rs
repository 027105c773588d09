//! A TCP proxy for network faults between cluster members: each link
//! (member A dialling member B) goes through its own proxy, which passes,
//! delays, refuses or silently drops the traffic on command.
//!
//! ```text
//!   member A ──▶ Proxy(A→B) ──▶ member B's cluster port
//!                   │ Pass        bytes copied both ways
//!                   │ Delay(d)    each chunk held d before it is passed on
//!                   │ Refuse      open connections cut, new ones closed at once
//!                   │ Blackhole   open connections cut, new ones accepted and never answered
//! ```
//!
//! A partition is `Blackhole` on every link into and out of the cut-off
//! members: their TCP connections are reset, and new ones hang as packets
//! lost on a real network would, until the request deadlines of the nodes
//! fire. Everything stops when the proxy is dropped.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything on.
    Pass,
    /// Hold each chunk of bytes this long before passing it on.
    Delay(Duration),
    /// Cut open connections; close new ones at once (a refused connection).
    Refuse,
    /// Cut open connections; accept new ones and never answer (lost packets).
    Blackhole,
}

impl Fault {
    /// Whether open connections must be cut when this fault starts.
    fn cuts(self) -> bool {
        matches!(self, Fault::Refuse | Fault::Blackhole)
    }
}

/// A running proxy in front of one address.
#[derive(Debug)]
pub struct Proxy {
    /// Where to connect to reach the target through the proxy.
    pub address: SocketAddr,
    target: SocketAddr,
    fault: watch::Sender<Fault>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port, passing traffic to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (fault, faults) = watch::channel(Fault::Pass);
        let acceptor = tokio::spawn(accept(listener, target, faults));
        Ok(Proxy {
            address,
            target,
            fault,
            acceptor,
        })
    }

    /// The address the proxy passes traffic to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Changes what the proxy does, from now on.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// What the proxy does now.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, faults: watch::Receiver<Fault>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let _ = client.set_nodelay(true);
        connections.spawn(serve(client, target, faults.clone()));
        while connections.try_join_next().is_some() {}
    }
    // `connections` is dropped with the acceptor: every connection task ends.
}

/// One client connection, for as long as the faults allow.
async fn serve(client: TcpStream, target: SocketAddr, mut faults: watch::Receiver<Fault>) {
    let fault = *faults.borrow_and_update();
    match fault {
        Fault::Refuse => return,
        Fault::Blackhole => return hold_until_healed(client, faults).await,
        Fault::Pass | Fault::Delay(_) => {}
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upstream = copy(client_read, server_write, faults.clone());
    let downstream = copy(server_read, client_write, faults.clone());
    let cut = async {
        while faults.changed().await.is_ok() {
            if faults.borrow().cuts() {
                return;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(upstream, downstream) } => {}
        () = cut => {}
    }
}

/// Accepts the connection and answers nothing until the fault changes,
/// then closes it (the client reconnects through the healed proxy).
async fn hold_until_healed(client: TcpStream, mut faults: watch::Receiver<Fault>) {
    let (mut read, _write) = client.into_split();
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            changed = faults.changed() => {
                if changed.is_err() || *faults.borrow() != Fault::Blackhole {
                    return;
                }
            }
            read = read.read(&mut sink) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    }
}

/// Copies one direction, holding each chunk for the current delay.
async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: watch::Receiver<Fault>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let fault = *faults.borrow();
        if let Fault::Delay(delay) = fault {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::time::timeout;

    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    /// An echo server: what the proxy fronts in these tests.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        address
    }

    async fn echo(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(message).await?;
        let mut answer = vec![0u8; message.len()];
        stream.read_exact(&mut answer).await?;
        Ok(answer)
    }

    /// Whether the peer closed the connection (or it failed) within the bound.
    async fn closed(stream: &mut TcpStream) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            timeout(BOUND, stream.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    #[tokio::test]
    async fn passes_traffic_both_ways() {
        let proxy = Proxy::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        let answer = timeout(BOUND, echo(&mut stream, b"ping")).await.unwrap();
        assert_eq!(answer.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn delays_each_direction() {
        let proxy = Proxy::start(echo_server().await).await.unwrap();
        proxy.set(Fault::Delay(Duration::from_millis(150)));
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        let started = Instant::now();
        let answer = timeout(BOUND, echo(&mut stream, b"ping")).await.unwrap();
        assert_eq!(answer.unwrap(), b"ping");
        // held once on the way there and once on the way back
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn refuse_cuts_open_connections_and_closes_new_ones() {
        let proxy = Proxy::start(echo_server().await).await.unwrap();
        let mut open = TcpStream::connect(proxy.address).await.unwrap();
        assert_eq!(echo(&mut open, b"a").await.unwrap(), b"a");
        proxy.set(Fault::Refuse);
        assert!(closed(&mut open).await, "the open connection was not cut");
        let mut new = TcpStream::connect(proxy.address).await.unwrap();
        assert!(closed(&mut new).await, "a new connection was served");
        proxy.set(Fault::Pass);
        let mut healed = TcpStream::connect(proxy.address).await.unwrap();
        assert_eq!(echo(&mut healed, b"b").await.unwrap(), b"b");
    }

    #[tokio::test]
    async fn blackhole_answers_nothing_until_healed() {
        let proxy = Proxy::start(echo_server().await).await.unwrap();
        let mut open = TcpStream::connect(proxy.address).await.unwrap();
        assert_eq!(echo(&mut open, b"a").await.unwrap(), b"a");
        proxy.set(Fault::Blackhole);
        assert!(closed(&mut open).await, "the open connection was not cut");
        let mut lost = TcpStream::connect(proxy.address).await.unwrap();
        let silent = timeout(Duration::from_millis(300), echo(&mut lost, b"x")).await;
        assert!(silent.is_err(), "a blackholed connection answered");
        proxy.set(Fault::Pass);
        assert!(
            closed(&mut lost).await,
            "the held connection outlived the heal"
        );
        let mut healed = TcpStream::connect(proxy.address).await.unwrap();
        assert_eq!(echo(&mut healed, b"b").await.unwrap(), b"b");
    }
}
