//! The web explorer (`pledge-explorer`) on its own listener, reading through
//! this node's gRPC service stack so that a page shows only what the
//! viewer could read over gRPC (see the explorer crate's documentation).
//!
//! Where it listens: `--http-listen` / `http_listen`; in a development node
//! (development genesis) by default on the gRPC address's IP at port
//! [`DEV_HTTP_PORT`] (at a free port when the gRPC port is 0), unless
//! `--no-http`. A cluster member (several on one machine in development)
//! and a production node serve it only when asked. It uses the
//! node's `[tls]` files; without them, as for gRPC, a non-loopback address
//! needs `plaintext`.

use std::net::SocketAddr;

use anyhow::Context as _;
use pledge_explorer::{Explorer, Settings, channel};
use tokio::net::TcpListener;

use crate::config::Config;

/// The development node's explorer port.
pub const DEV_HTTP_PORT: u16 = 8080;

/// The explorer, bound and ready for the gRPC service.
#[derive(Debug)]
pub struct Web {
    listener: TcpListener,
    explorer: Explorer,
    url: String,
    address: SocketAddr,
}

/// Where the explorer listens, if anywhere.
pub fn address(config: &Config, development: bool) -> Option<SocketAddr> {
    match (config.http_listen, config.no_http, development) {
        (_, true, _) => None,
        (Some(address), false, _) => Some(address),
        (None, false, true) if config.cluster.is_none() => {
            let port = if config.listen.port() == 0 {
                0
            } else {
                DEV_HTTP_PORT
            };
            Some(SocketAddr::new(config.listen.ip(), port))
        }
        (None, false, _) => None,
    }
}

/// Binds the explorer's listener (before the node announces itself), or
/// `None` when it is off.
pub async fn bind(config: &Config, development: bool) -> anyhow::Result<Option<Web>> {
    let Some(address) = address(config, development) else {
        return Ok(None);
    };
    if config.tls.is_none() && !config.plaintext && !address.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve the web explorer over plain HTTP on the non-loopback address \
             {address}: give TLS settings, or --plaintext to accept unencrypted connections"
        );
    }
    let tls = config.tls.as_ref().map(crate::config::TlsFiles::for_rustls);
    let explorer = Explorer::new(Settings {
        tls,
        ..Settings::default()
    })
    .context("web explorer")?;
    let listener = TcpListener::bind(address).await.with_context(|| {
        format!(
            "cannot listen for the web explorer on {address} (choose another with \
             --http-listen ADDR, or turn it off with --no-http)"
        )
    })?;
    let address = listener.local_addr()?;
    let url = format!("{}://{address}/", explorer.scheme());
    Ok(Some(Web {
        listener,
        explorer,
        url,
        address,
    }))
}

impl Web {
    /// The explorer's address, for the start-up announcement.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its HTTPS listener's TLS, for SIGHUP to renew.
    pub fn tls(&self) -> Option<pledge_explorer::tls::Acceptor> {
        self.explorer.tls()
    }

    /// The address it is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves the explorer over `grpc`, the node's gRPC service stack.
    pub fn start(self, grpc: channel::GrpcService) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.explorer.serve(self.listener, grpc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_by_default_only_in_a_development_node() {
        let config = Config::default();
        assert_eq!(
            address(&config, true),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(address(&config, false), None);
        let tests = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(address(&tests, true), Some("127.0.0.1:0".parse().unwrap()));
        let off = Config {
            no_http: true,
            ..Config::default()
        };
        assert_eq!(address(&off, true), None);
        let asked = Config {
            http_listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..Config::default()
        };
        assert_eq!(address(&asked, false), asked.http_listen);
    }

    #[test]
    fn a_cluster_member_serves_it_only_when_asked() {
        let member = Config {
            cluster: Some(
                toml::from_str("member_id = 1\ncluster_listen = \"127.0.0.1:7001\"\nmembers = []")
                    .unwrap(),
            ),
            ..Config::default()
        };
        assert_eq!(address(&member, true), None);
        let asked = Config {
            http_listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..member
        };
        assert_eq!(address(&asked, true), asked.http_listen);
    }
}
