//! Serving: the gRPC server with health and reflection, explicit limits,
//! TLS or mutual TLS when configured (plaintext only on loopback or when
//! asked for), and a clean stop on SIGTERM or ctrl-c (stop accepting, finish
//! in-flight requests, drain the sequencer, flush, exit).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{self as pb, ledger_service_server::LedgerServiceServer};
use tokio::sync::watch;

use crate::NodePublished;
use crate::admission;
use crate::bootstrap;
use crate::checkpointer;
use crate::cluster;
use crate::config::{Config, Transport};
use crate::metrics::Metrics;
use crate::pipeline::{self, Sequencer, Sizes};
use crate::ratelimit::{RateLimit, Rates};
use crate::revocation::Revocations;
use crate::service::{LedgerApi, stopped};
use crate::witnesses::Witnesses;
use pledge_ledger::store::DiskStateView;
use pledge_ledger::store::log::LogReader;

/// The witnesses of the configured policy file, if any.
fn witnesses(config: &Config) -> anyhow::Result<Option<Arc<Witnesses>>> {
    let Some(path) = &config.witness_policy_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the witness policy {}", path.display()))?;
    let policy = pledge_ledger::cosigning::WitnessPolicy::parse(&text)
        .with_context(|| format!("the witness policy {}", path.display()))?;
    let timeout = Duration::from_millis(config.limits.witness_timeout_ms);
    let witnesses = Witnesses::new(policy, timeout)
        .with_context(|| format!("the witness policy {}", path.display()))?;
    Ok(Some(Arc::new(witnesses)))
}

/// Why the node stopped serving.
#[derive(Debug)]
pub enum Stopped {
    /// A stop signal (SIGTERM, ctrl-c): the process exits.
    Signal,
    /// There is room again after a store failure: the process starts
    /// itself again in place, on what it had bound (`resume.rs`).
    ToResumeWrites(crate::resume::Bound),
}

/// Runs the node until a stop signal, or until writes can resume after a
/// store failure. `restarts` counts the restarts after a store failure
/// that came before this start.
pub async fn serve(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    log_filter: crate::reload::LogFilter,
    restarts: u64,
) -> anyhow::Result<Stopped> {
    ignore_file_size_signal();
    let transport = config.transport()?;
    config.check_metrics_exposure()?;
    let tls = config
        .tls
        .as_ref()
        .map(crate::tls::GrpcTls::new)
        .transpose()?;
    let server = tonic::transport::Server::builder();
    // Before anything opens a file: the cap must fit the handles left.
    let bounds = admission::Bounds::new(
        admission::fit_to_file_handles(config.limits.max_connections),
        config.limits.max_connections_per_address,
        Duration::from_millis(config.limits.handshake_timeout_ms),
    )
    .with_idle_timeout(Duration::from_millis(
        config.limits.idle_connection_timeout_ms,
    ));
    let opened = bootstrap::open(&config)?;
    let info = node_info(&opened.ledger, &opened.ledger_key)?;
    let size = opened.ledger.len();
    let (heads_tx, heads) = watch::channel(size);
    let limits = config.limits;
    let metrics = Metrics::new();
    metrics.set_chain_size(size);
    metrics.restarted_after_store_failure(restarts);
    let read_only = opened.read_only.clone();
    let opened_ledger_key = opened.ledger_key;
    let (log, state, decider) = opened.ledger.into_parts();
    let state = match limits.compaction_policy() {
        Some(policy) => state.with_compaction(policy),
        None => state,
    };
    let node_key = decider.node_key().clone();
    let sizes = Sizes {
        max_group: limits.max_group_entries,
        queue_depth: limits.queue_depth,
        attempts: limits.attempt_policy(),
        apply_wait: Duration::from_millis(limits.state_apply_wait_ms),
    };
    let (observer, alerts_source) = alerts_source(&config, &heads);
    let running = match &config.cluster {
        None => {
            let mut running = pipeline::start(
                log,
                state,
                decider,
                sizes,
                heads_tx,
                observer,
                metrics.clone(),
            )?;
            if let Some(read_only) = &read_only {
                start_read_only(&mut running, &read_only.why, &metrics);
            }
            Writes::Single(running)
        }
        Some(cluster_config) => Writes::Cluster(
            cluster::start(
                cluster_config,
                &config.data_dir,
                (log, state, decider),
                opened_ledger_key,
                sizes,
                heads_tx,
                metrics.clone(),
            )
            .await?,
        ),
    };
    let (published, sequencer) = running.handles();
    let writes = sequencer.writes();
    let witnesses = witnesses(&config)?;
    let (checkpoints_tx, checkpoints) = watch::channel(None);
    tokio::spawn(checkpointer::run(
        published.clone(),
        node_key,
        heads.clone(),
        checkpoints_tx,
        Duration::from_millis(limits.checkpoint_interval_ms),
        witnesses.clone(),
    ));
    let heads_for_revocations = heads.clone();
    let (stop, stopping) = watch::channel(false);
    let (room_again, has_room) = tokio::sync::oneshot::channel();
    let stop_reason = tokio::spawn(async move {
        let to_resume = tokio::select! {
            () = stop_signal() => false,
            Ok(()) = has_room => true,
        };
        let _ = stop.send(true);
        to_resume
    });
    let rate_limit = RateLimit::new(Rates::of(&limits), metrics.clone());
    let alerts = alerts_source
        .map(|source| {
            crate::alerts::AlertLog::start(published.clone(), source, config.alerts.policy())
        })
        .transpose()?;
    let mut api = LedgerApi::new(
        published.clone(),
        sequencer,
        heads,
        limits,
        info.clone(),
        checkpoints,
        metrics.clone(),
    )
    .with_stopping(stopping.clone())
    .with_rate_limit(rate_limit.clone());
    if let Some(alerts) = alerts {
        api = api.with_alerts(alerts);
    }
    let (threads, cluster) = match running {
        Writes::Single(running) => (running.threads, None),
        Writes::Cluster(started) => (Vec::new(), Some(started.cluster)),
    };
    if let (Some(handle), Some(cluster_config)) = (&cluster, &config.cluster) {
        api = api.with_cluster(handle.clone());
        let members = cluster::serve_members(
            cluster_config.cluster_listen,
            handle.clone(),
            api.clone(),
            published.clone(),
            bounds,
        )
        .await?;
        tracing::info!(%members, member_id = cluster_config.member_id, "serving members");
    }

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let web = crate::web::bind(&config, opened.dev_keys.is_some()).await?;
    announce(
        &config,
        transport,
        &info,
        address,
        opened.dev_keys.as_deref(),
        size,
    )?;
    if let Some(read_only) = &opened.read_only {
        println!(
            "  writes:         refused: started read-only ({})",
            read_only.why
        );
    }
    if let Some(web) = &web {
        println!("  explorer:       {}", web.url());
    }
    let mut bound = crate::resume::Bound {
        listen: address,
        metrics: None,
        http: web.as_ref().map(crate::web::Web::address),
        restarts: restarts + 1,
    };
    if let Some(metrics_address) = config.metrics_listen {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_address).await?;
        bound.metrics = Some(metrics_listener.local_addr()?);
        println!(
            "  metrics:        http://{}/metrics",
            metrics_listener.local_addr()?
        );
        tokio::spawn(crate::metrics::serve(metrics_listener, metrics.clone()));
    }

    let (health, health_service) = tonic_health::server::health_reporter();
    if read_only.is_some() {
        set_not_serving(&health).await;
    } else {
        health.set_serving::<LedgerServiceServer<LedgerApi>>().await;
    }
    let (health_for_writes, data_dir) = (health.clone(), config.data_dir.clone());
    tokio::spawn(async move {
        if read_only.is_none() {
            report_writes(health_for_writes, writes).await;
        }
        crate::resume::wait_for_room(data_dir).await;
        tracing::warn!("there is room again: stopping, to start again in place");
        let _ = room_again.send(());
    });
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    tokio::spawn(
        crate::reload::Reloadable {
            config_path,
            log_filter,
            rate_limit: rate_limit.clone(),
            tls: tls.clone(),
            explorer_tls: web.as_ref().and_then(crate::web::Web::tls),
            streams: api.stream_slots(),
        }
        .on_hangup(),
    );
    let revocations = (transport == Transport::MutualTls).then(|| {
        let revocations = Revocations::new(published.clone());
        tokio::spawn(revocations.clone().follow(heads_for_revocations, size));
        revocations
    });
    let service = tonic::service::interceptor::InterceptedService::new(
        LedgerServiceServer::new(api)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes),
        move |request: tonic::Request<()>| {
            let participant = crate::tls::connection_participant(&request);
            if let (Some(revocations), Some(participant)) = (&revocations, &participant) {
                revocations.check(participant)?;
            }
            rate_limit.admit(&request, participant.as_deref())?;
            Ok(request)
        },
    );
    // The web explorer reads through this same service stack, as each viewer.
    let web = web.map(|web| web.start(pledge_explorer::channel::boxed(service.clone())));

    let serving = server
        .layer(crate::idle::TrackRequestsLayer)
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        .concurrency_limit_per_connection(limits.max_concurrent_requests)
        .timeout(Duration::from_millis(limits.request_timeout_ms))
        // A peer that stops answering HTTP/2 pings is dropped: slow or dead
        // clients do not hold connections (and their streams) for ever.
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service);
    let stop = stopped(stopping.clone());
    match tls {
        Some(acceptor) => {
            let incoming = admission::incoming(listener, bounds, acceptor, metrics);
            drain_within_bound(
                serving.serve_with_incoming_shutdown(incoming, stop),
                stopping,
            )
            .await?;
        }
        None => {
            let incoming = admission::incoming(listener, bounds, admission::Plain, metrics);
            drain_within_bound(
                serving.serve_with_incoming_shutdown(incoming, stop),
                stopping,
            )
            .await?;
        }
    }

    tracing::info!("stopped accepting; draining the sequencer");
    if let Some(web) = web {
        web.abort();
    }
    health
        .set_not_serving::<LedgerServiceServer<LedgerApi>>()
        .await;
    if let Some(cluster) = cluster
        && let Err(error) = cluster.raft().shutdown().await
    {
        tracing::warn!(%error, "Raft did not stop cleanly");
    }
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a pipeline thread panicked"))?;
    }
    tracing::info!(entries = published.load().len(), "stopped cleanly");
    if let Some(read_only) = &opened.read_only {
        read_only.remove_temporary_state();
    }
    if stop_reason.await.unwrap_or(false) {
        return Ok(Stopped::ToResumeWrites(bound));
    }
    Ok(Stopped::Signal)
}

/// How often the health service looks at the write path.
const HEALTH_POLL: Duration = Duration::from_millis(250);

/// Health follows the write path: `NOT_SERVING` (for the ledger service and
/// the server as a whole) from the moment the store failed and writes are
/// refused, so that a balancer or a client's failover sends writes
/// elsewhere. Reads go on answering from what was published.
async fn report_writes(health: tonic_health::server::HealthReporter, writes: pipeline::Writes) {
    let mut ticks = tokio::time::interval(HEALTH_POLL);
    while writes.accepted() {
        ticks.tick().await;
    }
    tracing::error!(
        "writes are refused after a store failure: health is NOT_SERVING until there is room \
         again and the node has restarted itself"
    );
    set_not_serving(&health).await;
}

/// `NOT_SERVING` for the ledger service and the server as a whole.
async fn set_not_serving(health: &tonic_health::server::HealthReporter) {
    health
        .set_not_serving::<LedgerServiceServer<LedgerApi>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
}

/// Where the alerts (when enabled) learn of new entries: a single node's
/// pipeline sends each durable group's entries with what each changed (the
/// observer it is given); a cluster member, which applies entries it did
/// not decide, follows the committed size and runs the rules itself.
fn alerts_source(
    config: &Config,
    heads: &watch::Receiver<u64>,
) -> (pipeline::Observer, Option<crate::alerts::Source>) {
    match (config.alerts.enabled, &config.cluster) {
        (false, _) => (None, None),
        (true, Some(_)) => (None, Some(crate::alerts::Source::Heads(heads.clone()))),
        (true, None) => {
            let (observer, groups) = pipeline::observer_channel();
            (observer, Some(crate::alerts::Source::Pipeline(groups)))
        }
    }
}

/// A node that found no room to write at start serves reads and refuses
/// every write from the first moment, with the status a write gets after
/// a store failure (UNAVAILABLE, `NOT_ACCEPTING_WRITES`) and a message
/// that says why; it restarts itself once there is room (`resume.rs`).
fn start_read_only(
    running: &mut pipeline::Running<LogReader, DiskStateView>,
    why: &str,
    metrics: &Metrics,
) {
    tracing::warn!("started read-only: {why}; writes refused until there is room");
    running.refuse_writes(&format!(
        "the node started read-only because there is no room to write ({why}); writes are \
         refused until there is room, when the node restarts itself"
    ));
    metrics.started_read_only();
}

/// A write past the process's file-size limit (`ulimit -f`) raises
/// SIGXFSZ, whose default action kills the process; with the signal taken
/// the write fails with EFBIG instead and is handled as any store failure
/// (as a full disk is).
fn ignore_file_size_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let file_size = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        match signal(file_size) {
            Ok(mut raised) => {
                tokio::spawn(async move {
                    while raised.recv().await.is_some() {
                        tracing::debug!("SIGXFSZ: a write reached the file-size limit");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "cannot take SIGXFSZ: a write past the file-size limit will stop the node")
            }
        }
    }
}

/// The write path: the single node's pipeline or a cluster member.
#[derive(Debug)]
enum Writes {
    Single(pipeline::Running<LogReader, DiskStateView>),
    Cluster(cluster::Started),
}

impl Writes {
    fn handles(&self) -> (Arc<NodePublished>, Sequencer) {
        match self {
            Writes::Single(running) => (running.published.clone(), running.sequencer.clone()),
            Writes::Cluster(started) => (started.published.clone(), started.sequencer.clone()),
        }
    }
}

fn node_info(
    ledger: &pledge_ledger::ledger::DiskLedger,
    ledger_key: &pledge_ledger::crypto::PublicKey,
) -> anyhow::Result<pb::NodeInfo> {
    let store = ledger.snapshot();
    let genesis = store.entry(0)?;
    let ledger_id = pledge_ledger::state::StateRead::ledger_id(&store)?.unwrap_or_default();
    let governance = pledge_ledger::state::StateRead::governance(&store)?;
    Ok(pb::NodeInfo {
        ledger_id,
        node_public_key: ledger.node_public_key().0.to_vec(),
        genesis_hash: genesis.hash().0.to_vec(),
        version: env!("CARGO_PKG_VERSION").into(),
        governance: governance.as_ref().map(crate::views::governance),
        cluster: None,
        ledger_key: ledger_key.0.to_vec(),
    })
}

/// Tells the operator (and the tests, which read the first line) where
/// everything is.
fn announce(
    config: &Config,
    transport: Transport,
    info: &pb::NodeInfo,
    address: std::net::SocketAddr,
    dev_keys: Option<&std::path::Path>,
    size: u64,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "pledge-node listening on {address}")?;
    writeln!(out, "  ledger id:      {}", info.ledger_id)?;
    writeln!(out, "  entries:        {size}")?;
    writeln!(out, "  data directory: {}", config.data_dir.display())?;
    writeln!(
        out,
        "  node key:       {} (public {})",
        config.node_key_path().display(),
        hex::encode(&info.node_public_key)
    )?;
    writeln!(out, "  genesis:        {}", config.genesis_path().display())?;
    if let Some(keys) = dev_keys {
        writeln!(
            out,
            "  demo keys:      {} (development genesis: for trying the ledger only)",
            keys.display()
        )?;
    }
    writeln!(
        out,
        "  transport:      {}",
        transport_line(config, transport)
    )?;
    if let Some(cluster) = &config.cluster {
        writeln!(
            out,
            "  cluster:        member {} of {}, members on {}",
            cluster.member_id,
            cluster.members.len(),
            cluster.cluster_listen
        )?;
    }
    let witnesses = config
        .witness_policy_file
        .as_ref()
        .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
    writeln!(
        out,
        "  witnesses:      {witnesses} (a checkpoint at most every {} ms)",
        config.limits.checkpoint_interval_ms
    )?;
    out.flush()?;
    Ok(())
}

fn transport_line(config: &Config, transport: Transport) -> String {
    let file = |path: &std::path::Path| path.display().to_string();
    let cert = config.tls.as_ref().map(|t| file(&t.cert_file));
    let client_ca = config
        .tls
        .as_ref()
        .and_then(|t| t.client_ca_file.as_deref());
    match transport {
        Transport::Plaintext if config.listen.ip().is_loopback() => {
            "plaintext gRPC (development); use TLS in production".into()
        }
        Transport::Plaintext => {
            "plaintext gRPC (--plaintext: connections are not encrypted)".into()
        }
        Transport::Tls => format!(
            "TLS (certificate {}); no client certificates",
            cert.unwrap_or_default()
        ),
        Transport::MutualTls => format!(
            "mutual TLS (certificate {}; client certificates from {}, bound to participant ids)",
            cert.unwrap_or_default(),
            client_ca.map(file).unwrap_or_default()
        ),
    }
}

/// Server reflection over the ledger and health services. Both protocol
/// versions are served: `grpc.reflection.v1` and `grpc.reflection.v1alpha`,
/// which older clients (Python's `grpcio-reflection` among them) still ask
/// for.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pledge_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// How long requests in flight get to finish once the node is told to
/// stop; then their connections are closed. Acknowledged writes are not at
/// stake: each was durable before it was acknowledged, and the write
/// pipeline is drained after this either way.
const DRAIN_BOUND: Duration = Duration::from_secs(5);

/// Serves until the stop signal, then at most `DRAIN_BOUND` more.
async fn drain_within_bound(
    serving: impl Future<Output = Result<(), tonic::transport::Error>>,
    stopping: watch::Receiver<bool>,
) -> Result<(), tonic::transport::Error> {
    let deadline = async {
        stopped(stopping).await;
        tokio::time::sleep(DRAIN_BOUND).await;
    };
    tokio::select! {
        served = serving => served,
        () = deadline => {
            tracing::warn!(bound = ?DRAIN_BOUND, "requests still open after the stop bound: closing them");
            Ok(())
        }
    }
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
    }
}
