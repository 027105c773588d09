//! The well-behaved client: one connection, one read and one durable write
//! per interval, and a new connection with one read each second; every
//! answer checked.
//!
//! It runs on a runtime and a thread of its own (as another process would),
//! so that the attackers' tasks in this process do not delay its polling.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use pledge_client::keys;
use pledge_client::ops::TxHeader;
use pledge_client::{ConnectOptions, Failover, LedgerClient};
use pledge_ledger::envelope::Envelope;
use tonic::transport::ClientTlsConfig;

use crate::run::{self, Parties};
use crate::stats;

/// A request without an answer for this long counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests in flight while the receipts are issued in the set-up.
const SETUP_LANES: usize = 32;

/// The node as a client reaches it: its URL and, for `https://`, the TLS
/// settings (the CA to trust).
#[derive(Debug, Clone)]
pub struct NodeUrl {
    /// `http://IP:PORT` or `https://IP:PORT`.
    pub url: String,
    /// TLS settings for an `https://` URL.
    pub tls: Option<ClientTlsConfig>,
}

/// What the client saw during one phase.
#[derive(Debug)]
pub struct Sample {
    /// `GetHead` latency, µs.
    pub read: Histogram<u64>,
    /// `Submit` (a fresh pledge, answered once durable) latency, µs.
    pub write: Histogram<u64>,
    /// A new connection and its first `GetHead`, once a second, µs.
    pub connect: Histogram<u64>,
    /// Every answer that was not the expected one, by what it was.
    pub errors: BTreeMap<String, u64>,
    /// Seconds the phase lasted.
    pub seconds: f64,
}

/// The client, its runtime and its pre-signed pledges.
#[derive(Debug)]
pub struct WellBehaved {
    /// Always `Some` until dropped (a runtime is shut down in the background
    /// when the client goes, as it may go inside another runtime).
    runtime: Option<tokio::runtime::Runtime>,
    client: LedgerClient,
    pledges: Arc<Vec<Envelope>>,
    used: usize,
    node: NodeUrl,
    from: IpAddr,
}

impl WellBehaved {
    /// Issues `pledges` receipts over `setup` (untimed), signs a fresh
    /// pledge of each, and connects from `from` on a runtime of its own.
    pub async fn prepare(
        setup: &LedgerClient,
        keys_dir: &std::path::Path,
        node: &NodeUrl,
        from: IpAddr,
        pledges: usize,
    ) -> anyhow::Result<WellBehaved> {
        let ledger_id = setup.node_info().await?.ledger_id;
        let parties = Arc::new(run::read_parties(keys_dir)?);
        let tag = run::run_tag()?;
        let tank = run::register_tank(setup, &ledger_id, &parties, &tag).await?;
        issue_receipts(setup, &ledger_id, &parties, &tag, &tank, pledges).await?;
        let signed = sign_pledges(&ledger_id, &parties, &tag, pledges)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("well-behaved")
            .enable_all()
            .build()?;
        let connected = runtime.spawn(connect_from(node.clone(), from)).await;
        let client = match connected {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                runtime.shutdown_background();
                return Err(error);
            }
            Err(error) => {
                runtime.shutdown_background();
                return Err(error.into());
            }
        };
        Ok(WellBehaved {
            runtime: Some(runtime),
            client,
            pledges: Arc::new(signed),
            used: 0,
            node: node.clone(),
            from,
        })
    }

    /// Runs the client for `duration`: a `GetHead`, then the next fresh
    /// pledge, starting a pair every `interval` (never catching up); and
    /// meanwhile, once a second, a new connection and its first `GetHead`.
    pub async fn measure(
        &mut self,
        duration: Duration,
        interval: Duration,
    ) -> anyhow::Result<Sample> {
        let budget = pairs_within(duration, interval);
        let end = self.used + budget;
        anyhow::ensure!(
            end <= self.pledges.len(),
            "the pre-signed pledges ran out ({} prepared)",
            self.pledges.len()
        );
        let (client, pledges) = (self.client.clone(), self.pledges.clone());
        let task = drive(client, pledges, self.used..end, duration, interval);
        let runtime = self
            .runtime
            .as_ref()
            .context("the client's runtime is gone")?;
        let arrivals = runtime.spawn(arrive(self.node.clone(), self.from, duration));
        let mut sample = runtime.spawn(task).await?;
        let (connect, errors) = arrivals.await?;
        sample.connect = connect;
        for (what, n) in errors {
            *sample.errors.entry(what).or_default() += n;
        }
        self.used = end;
        Ok(sample)
    }

    /// Pledges signed for phases still to run.
    pub fn remaining(&self) -> usize {
        self.pledges.len() - self.used
    }
}

impl Drop for WellBehaved {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Pairs (read, write) started within `duration` at one per `interval`.
pub fn pairs_within(duration: Duration, interval: Duration) -> usize {
    let interval = interval.max(Duration::from_micros(1));
    (duration.as_micros().div_ceil(interval.as_micros())) as usize
}

/// When the next pair starts: one interval after the last one was due, or
/// now if that has passed (a slow answer is not made up for by a burst).
fn next_start(due: Instant, interval: Duration, now: Instant) -> Instant {
    (due + interval).max(now)
}

/// A client whose one connection comes from `from`, which gives every
/// refusal to its caller instead of resending.
pub async fn connect_from(node: NodeUrl, from: IpAddr) -> anyhow::Result<LedgerClient> {
    let NodeUrl { url: node, tls } = node;
    let mut endpoint = tonic::transport::Endpoint::from_shared(node.clone())
        .with_context(|| format!("node URL {node}"))?;
    if let Some(tls) = tls {
        endpoint = endpoint
            .tls_config(tls)
            .with_context(|| format!("TLS settings for {node}"))?;
    }
    let channel = endpoint
        .connect_timeout(REQUEST_TIMEOUT)
        .local_address(Some(from))
        .connect()
        .await
        .with_context(|| format!("connecting to {node} from {from}"))?;
    let options = ConnectOptions {
        failover: Failover::never(),
        ..ConnectOptions::default()
    };
    Ok(LedgerClient::from_channel_with(channel, options))
}

async fn drive(
    client: LedgerClient,
    pledges: Arc<Vec<Envelope>>,
    mut range: Range<usize>,
    duration: Duration,
    interval: Duration,
) -> Sample {
    let mut sample = Sample {
        read: stats::histogram(),
        write: stats::histogram(),
        connect: stats::histogram(),
        errors: BTreeMap::new(),
        seconds: 0.0,
    };
    let started = Instant::now();
    let mut due = started;
    while due < started + duration
        && let Some(i) = range.next()
    {
        tokio::time::sleep_until(due.into()).await;
        read_once(&client, &mut sample).await;
        write_once(&client, &pledges[i], &mut sample).await;
        due = next_start(due, interval, Instant::now());
    }
    sample.seconds = started.elapsed().as_secs_f64();
    sample
}

/// Once a second for `duration`: a new connection from `from` and its
/// first `GetHead`, timed together.
async fn arrive(
    node: NodeUrl,
    from: IpAddr,
    duration: Duration,
) -> (Histogram<u64>, BTreeMap<String, u64>) {
    let (mut times, mut errors) = (stats::histogram(), BTreeMap::new());
    let started = Instant::now();
    let mut due = started;
    while due < started + duration {
        tokio::time::sleep_until(due.into()).await;
        let began = Instant::now();
        let arrived = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let client = connect_from(node.clone(), from).await?;
            anyhow::Ok(client.head().await?)
        })
        .await;
        stats::record(&mut times, began.elapsed());
        let error = match arrived {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => Some(format!("new connection: {}", short(&error))),
            Err(_) => Some("new connection: no answer within 10 s".to_owned()),
        };
        if let Some(error) = error {
            *errors.entry(error).or_default() += 1;
        }
        due = next_start(due, Duration::from_secs(1), Instant::now());
    }
    (times, errors)
}

async fn read_once(client: &LedgerClient, sample: &mut Sample) {
    let started = Instant::now();
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, client.head()).await;
    stats::record(&mut sample.read, started.elapsed());
    match answer {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => count(sample, format!("GetHead: {}", run::describe(&error))),
        Err(_) => count(sample, "GetHead: no answer within 10 s".into()),
    }
}

async fn write_once(client: &LedgerClient, pledge: &Envelope, sample: &mut Sample) {
    let started = Instant::now();
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, client.submit(pledge)).await;
    stats::record(&mut sample.write, started.elapsed());
    match answer {
        Ok(Ok(done)) if !done.duplicate && done.entry_hash.len() == 32 => {}
        Ok(Ok(_)) => count(sample, "Submit: a duplicate or no entry hash".into()),
        Ok(Err(error)) => count(sample, format!("Submit: {}", run::describe(&error))),
        Err(_) => count(sample, "Submit: no answer within 10 s".into()),
    }
}

/// An error's first line, at most 100 characters.
fn short(error: &anyhow::Error) -> String {
    format!("{error:#}").chars().take(100).collect()
}

fn count(sample: &mut Sample, what: String) {
    *sample.errors.entry(what).or_default() += 1;
}

async fn issue_receipts(
    client: &LedgerClient,
    ledger_id: &str,
    parties: &Arc<Parties>,
    tag: &str,
    tank: &str,
    count: usize,
) -> anyhow::Result<()> {
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..SETUP_LANES {
        let (client, parties) = (client.clone(), parties.clone());
        let (ledger_id, tag, tank) = (ledger_id.to_owned(), tag.to_owned(), tank.to_owned());
        lanes.spawn(async move {
            for i in (lane..count).step_by(SETUP_LANES) {
                run::issue_receipt(&client, &ledger_id, &parties, &tag, &tank, i).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(lane) = lanes.join_next().await {
        lane??;
    }
    Ok(())
}

/// A fresh pledge of each of the `count` receipts, signed by its holder and
/// a bank.
fn sign_pledges(
    ledger_id: &str,
    parties: &Parties,
    tag: &str,
    count: usize,
) -> anyhow::Result<Vec<Envelope>> {
    (0..count)
        .map(|i| {
            let (holder, bank) = (&parties.holders[i % 2], &parties.banks[(i / 2) % 2]);
            let op = run::pledge_op(&format!("P-{tag}-w{i}"), &run::receipt_id(tag, i), &bank.id);
            let tx = TxHeader::new(ledger_id, &holder.id)?.wrap(op);
            Ok(keys::sign(&tx, &[holder.clone(), bank.clone()]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_needs_one_pledge_per_interval_started() {
        let ms = Duration::from_millis;
        assert_eq!(pairs_within(ms(10_000), ms(10)), 1_000);
        assert_eq!(pairs_within(ms(10_005), ms(10)), 1_001);
        assert_eq!(pairs_within(ms(5), ms(10)), 1);
        assert_eq!(pairs_within(ms(0), ms(10)), 0);
    }

    #[test]
    fn a_late_pair_starts_now_and_is_not_made_up_for() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // On time: the next one is an interval after the last was due.
        assert_eq!(next_start(t0, ms(10), t0 + ms(3)), t0 + ms(10));
        // Late (the answer took 250 ms): the next starts now, not 25 at once.
        assert_eq!(next_start(t0, ms(10), t0 + ms(250)), t0 + ms(250));
    }
}
