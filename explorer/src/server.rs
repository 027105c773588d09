//! Connections: accept, TLS handshake, HTTP/1.1, with every limit explicit.
//!
//! - at most `max_connections` at once; one more is closed at accept;
//! - a TLS handshake must finish within `handshake_timeout`;
//! - request headers (also the next request on a kept-alive connection)
//!   must arrive within `header_timeout`, at most 16 KiB of them;
//! - a page must be answered within `request_timeout`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::App;
use crate::channel::Connection;

/// The limits of the explorer's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a request's headers to arrive (also while idle).
    pub header_timeout: Duration,
    /// Time to answer one request.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Largest buffered request head.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Accepts connections until the task is dropped.
pub async fn accept_loop(app: Arc<App>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(app.limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file handles, say: wait a little rather than spin.
                tracing::warn!(%error, "explorer: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("explorer: connection limit reached; closing a new connection");
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            serve_connection(app, stream).await;
            drop(slot);
        });
    }
}

async fn serve_connection(app: Arc<App>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = app.tls.clone() else {
        let connection = Connection::plain(&stream);
        return serve_http(app, stream, connection).await;
    };
    let handshake = tokio::time::timeout(
        app.limits.handshake_timeout,
        acceptor.current().accept(stream),
    );
    match handshake.await {
        Ok(Ok(tls)) => {
            let connection = Connection::tls(&tls);
            serve_http(app, tls, connection).await;
        }
        Ok(Err(error)) => tracing::debug!(%error, "explorer: TLS handshake refused"),
        Err(_) => tracing::debug!("explorer: TLS handshake timed out"),
    }
}

async fn serve_http<IO>(app: Arc<App>, io: IO, connection: Connection)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let header_timeout = app.limits.header_timeout;
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let app = app.clone();
        let connection = connection.clone();
        async move { Ok::<_, Infallible>(crate::routes::respond(&app, request, connection).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    if let Err(error) = builder.serve_connection(TokioIo::new(io), service).await {
        tracing::debug!(%error, "explorer: connection ended with an error");
    }
}
