//! The web explorer of the oil receipt-pledge ledger: read-only pages for
//! bank officers and regulators, served by `pledge-node` itself.
//!
//! ```text
//!   browser ──HTTP/1.1 (+ the node's TLS and client CA)──▶ server.rs   limits, TLS handshake
//!                                                              │ the connection's address
//!                                                              │ and client certificate
//!                                                              ▼
//!                                                         routes.rs   method, path, query checked
//!                                                              │      (input.rs), headers, errors
//!                                                              ▼
//!                                                      pages/*.rs     HTML (html.rs), both
//!                                                              │      languages (i18n.rs)
//!                                           reads.rs ◀─────────┘
//!                                              │ LedgerServiceClient, read RPCs only
//!                                              ▼
//!                                         channel.rs ──in-process──▶ the node's gRPC service
//!                                                                    (same handlers, same access rule)
//!
//!   /evidence: the bundle file never leaves the browser; assets/bundle.js verifies it
//!   with Web Crypto (SHA-256, Ed25519) against a node key the officer pastes or pins.
//! ```
//!
//! Why in the node and through its gRPC service: a page must show no more
//! than the viewer could read over gRPC. Served by the node, the explorer
//! listens with the node's own TLS identity and client CA, and hands each
//! request to the node's own gRPC service stack with the browser
//! connection's details attached (its client certificate under mutual TLS,
//! its address for the rate limit), so the node's access rule decides for
//! the page exactly as for a gRPC call, and there is one read path, not a
//! second copy of the read logic. A separate process reading the node over
//! gRPC would see every page through its own certificate instead. The
//! price: a web server in the ledger's process. It is off unless asked for
//! (on by default only in the development node), reads only (the channel
//! passes no write RPC), and bounded (connections, handshake and header
//! timeouts, request size, answer time).
//!
//! ```no_run
//! # async fn demo(grpc: pledge_explorer::channel::GrpcService) -> Result<(), pledge_explorer::SetupError> {
//! // `grpc`: the node's own gRPC service stack, boxed with `channel::boxed`.
//! let explorer = pledge_explorer::Explorer::new(pledge_explorer::Settings::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! tokio::spawn(explorer.serve(listener, grpc));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod html;

pub mod assets;
pub mod channel;
pub mod describe;
pub mod format;
pub mod i18n;
pub mod input;
pub mod links;
pub mod page;
pub mod pages;
pub mod reads;
pub mod routes;
pub mod schema;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::TcpListener;

pub use server::Limits;
pub use tls::TlsFiles;

/// How the explorer serves.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The node's TLS files; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Connection and time limits.
    pub limits: Limits,
}

/// Why the explorer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The TLS files could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The proto descriptors did not decode (a build problem).
    #[error("the protobuf descriptors do not decode: {0}")]
    Schema(#[from] prost::DecodeError),
    /// The listener failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A configured explorer, ready to serve on a listener.
#[derive(Debug)]
pub struct Explorer {
    tls: Option<tls::Acceptor>,
    limits: Limits,
    schema: Bytes,
}

/// What every connection shares.
#[derive(Debug)]
pub struct App {
    grpc: channel::GrpcService,
    tls: Option<tls::Acceptor>,
    limits: Limits,
    schema: Bytes,
    /// Plain HTTP on a loopback address: only `localhost`-like `Host`
    /// headers are answered (a page elsewhere cannot read this one through
    /// DNS rebinding).
    loopback_only: Option<SocketAddr>,
}

impl Explorer {
    /// An explorer with these settings: the TLS files are read now, so a
    /// problem with them stops the node before it serves.
    pub fn new(settings: Settings) -> Result<Explorer, SetupError> {
        let tls = settings.tls.as_ref().map(tls::acceptor).transpose()?;
        Ok(Explorer {
            tls,
            limits: settings.limits,
            schema: Bytes::from(schema::schema_json()?),
        })
    }

    /// Its TLS, to renew while it serves ([`tls::Acceptor::reload`]).
    pub fn tls(&self) -> Option<tls::Acceptor> {
        self.tls.clone()
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves on `listener`, reading through `grpc` (the node's gRPC
    /// service stack, see [`channel::boxed`]), until the task is dropped.
    pub async fn serve(self, listener: TcpListener, grpc: channel::GrpcService) {
        let local = listener.local_addr().ok();
        let loopback_only = local.filter(|a| self.tls.is_none() && a.ip().is_loopback());
        let app = Arc::new(App {
            grpc,
            tls: self.tls,
            limits: self.limits,
            schema: self.schema,
            loopback_only,
        });
        server::accept_loop(app, listener).await;
    }
}
