//! What SIGHUP changes in a running node: the TLS certificate, key and
//! client CA of the gRPC listener and of the explorer's HTTPS listener are
//! read again from their files (the paths it was started with), and the node re-reads its configuration
//! file (`--config`) and applies the log filter (`log_filter`), the
//! request rates (`[limits] requests_per_second_per_address` and
//! `requests_per_second_per_participant`) and the answer-stream bounds
//! (`max_streams`, `max_streams_per_address`, `max_streams_per_participant`).
//! Everything else in the file (addresses, the TLS files' paths, keys, the
//! other limits) takes effect at the next start; files that do not parse
//! change nothing and are logged.

use std::path::PathBuf;

use tracing_subscriber::{EnvFilter, Registry};

use crate::config::Config;
use crate::ratelimit::{RateLimit, Rates};
use crate::streams::{StreamBounds, StreamSlots};
use crate::tls::GrpcTls;

/// The running log filter, replaceable.
pub type LogFilter = tracing_subscriber::reload::Handle<EnvFilter, Registry>;

/// The parts of a running node SIGHUP reloads.
#[derive(Debug, Clone)]
pub struct Reloadable {
    /// The configuration file the node was started with, if any.
    pub config_path: Option<PathBuf>,
    pub log_filter: LogFilter,
    pub rate_limit: RateLimit,
    /// The gRPC listener's TLS, when it serves TLS.
    pub tls: Option<GrpcTls>,
    /// The explorer's HTTPS listener's TLS, when it serves HTTPS.
    pub explorer_tls: Option<pledge_explorer::tls::Acceptor>,
    /// The answer streams' slots.
    pub streams: StreamSlots,
}

impl Reloadable {
    /// Applies the configuration file's reloadable settings on each SIGHUP,
    /// for as long as the node runs.
    #[cfg(unix)]
    pub async fn on_hangup(self) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP: nothing will be reloaded");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            self.reload();
        }
    }

    #[cfg(not(unix))]
    pub async fn on_hangup(self) {}

    fn reload(&self) {
        self.reload_tls();
        let Some(path) = &self.config_path else {
            tracing::info!(
                "SIGHUP: no configuration file to re-read (the node was started without --config)"
            );
            return;
        };
        let config = match Config::read(path) {
            Ok(config) => config,
            Err(error) => {
                tracing::warn!(%error, "SIGHUP: the configuration was not reloaded; the running settings stay");
                return;
            }
        };
        let filter = config.log_filter.as_deref().unwrap_or(DEFAULT_FILTER);
        if let Err(error) = replace_filter(&self.log_filter, filter) {
            tracing::warn!(%error, "SIGHUP: the configuration was not reloaded; the running settings stay");
            return;
        }
        let rates = Rates::of(&config.limits);
        self.rate_limit.set_rates(rates);
        let streams = StreamBounds::of(&config.limits);
        self.streams.set_bounds(streams);
        tracing::info!(
            config = %path.display(),
            log_filter = filter,
            requests_per_second_per_address = rates.per_address,
            requests_per_second_per_participant = rates.per_participant,
            max_streams = streams.max_streams,
            max_streams_per_address = streams.per_address,
            max_streams_per_participant = streams.per_participant,
            "SIGHUP: reloaded"
        );
    }
}

impl Reloadable {
    /// The explorer's HTTPS serves the same files as the gRPC listener: it
    /// is renewed only once they passed the gRPC listener's checks, so the
    /// two never hold different certificates.
    fn reload_tls(&self) {
        let Some(tls) = &self.tls else {
            return;
        };
        let reloaded = tls.reload().and_then(|()| match &self.explorer_tls {
            Some(explorer) => Ok(explorer.reload()?),
            None => Ok(()),
        });
        match reloaded {
            Ok(()) => tracing::info!(
                certificate = %tls.cert_file().display(),
                explorer = self.explorer_tls.is_some(),
                "SIGHUP: TLS reloaded; new connections get the certificate the files hold now"
            ),
            Err(error) => tracing::warn!(
                error = %format!("{error:#}"),
                "SIGHUP: TLS was not reloaded; new connections get the running certificate"
            ),
        }
    }
}

/// The log filter when neither RUST_LOG nor `log_filter` says otherwise.
pub const DEFAULT_FILTER: &str = "info";

/// Installs the log subscriber (text or JSON lines on stderr) with a
/// filter from RUST_LOG, or `info`; returns the handle SIGHUP replaces it by.
pub fn init_tracing(json: bool) -> LogFilter {
    use tracing_subscriber::prelude::*;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let output = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(output.json()).init();
    } else {
        registry.with(output).init();
    }
    handle
}

/// At start: the configuration's `log_filter` applies unless RUST_LOG is
/// set (the environment wins at start; SIGHUP applies the file).
pub fn apply_configured_filter(handle: &LogFilter, config: &Config) -> anyhow::Result<()> {
    match &config.log_filter {
        Some(filter) if std::env::var_os(EnvFilter::DEFAULT_ENV).is_none() => {
            replace_filter(handle, filter)
        }
        _ => Ok(()),
    }
}

/// Parses `filter` (RUST_LOG syntax) and makes it the running filter; a
/// filter that does not parse changes nothing.
fn replace_filter(handle: &LogFilter, filter: &str) -> anyhow::Result<()> {
    let parsed = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("log_filter {filter:?} does not parse: {e}"))?;
    handle
        .reload(parsed)
        .map_err(|e| anyhow::anyhow!("cannot set the log filter: {e}"))
}
