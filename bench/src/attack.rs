//! `pledge-bench attack`: what a well-behaved client sees while a running
//! node is attacked, next to what it sees while the node is quiet.
//!
//! ```text
//!  set-up   a tank and one receipt per pledge the client will make
//!           (untimed); every pledge pre-signed
//!  quiet    the client for the duration: GetHead, then a fresh pledge
//!           (answered once durable), a pair per interval; a new
//!           connection and its first GetHead each second; node VmRSS
//!           before, peak, after
//!  attack   each in turn, started and torn down here (floods.rs): the
//!           client measured while it goes on; VmRSS before, peak, after
//!           the teardown; then quiet again. A shared machine drifts, so
//!           each attack is compared with the quiet run just before it
//!  verdict  the table; a non-zero exit if the client got any error
//! ```
//! The attackers connect from one loopback address (127.0.0.2 by default)
//! and the client from another (127.0.0.1): the node's connection, stream
//! and rate bounds are per source address, and that is what is measured.

pub mod floods;
pub mod node;
pub mod report;
pub mod well_behaved;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use floods::{Attack, Target};
use report::Phase;
pub use well_behaved::NodeUrl;
use well_behaved::WellBehaved;

/// What to attack, with what, and how long to measure.
#[derive(Debug, Clone)]
pub struct AttackOptions {
    /// The node, e.g. `http://127.0.0.1:50061`, or `https://` with the CA
    /// to trust.
    pub node: NodeUrl,
    /// The node's development keys (`<data>/dev-keys`).
    pub keys: PathBuf,
    /// The node's process id, for its VmRSS.
    pub node_pid: u32,
    /// The node's metrics address (host:port), to read its refusal counters.
    pub metrics: Option<String>,
    /// How long the client is measured in each phase.
    pub duration: Duration,
    /// One read and one write start every interval.
    pub interval: Duration,
    /// How long the node is left after an attack before its VmRSS is read.
    pub settle: Duration,
    /// The well-behaved client's source address.
    pub client_from: IpAddr,
    /// The attackers' source address.
    pub attacker_from: IpAddr,
    /// The attacks, in order.
    pub attacks: Vec<Attack>,
}

/// Quiet, then each attack followed by quiet again.
pub fn plan(attacks: &[Attack]) -> Vec<Option<Attack>> {
    std::iter::once(None)
        .chain(attacks.iter().flat_map(|attack| [Some(*attack), None]))
        .collect()
}

/// Runs every phase of the plan; `on_phase` sees each as it ends.
pub async fn attack(
    options: &AttackOptions,
    mut on_phase: impl FnMut(&Phase),
) -> anyhow::Result<Vec<Phase>> {
    let target = Target {
        node: options.node.clone(),
        address: floods::socket_address(&options.node.url)?,
        from: options.attacker_from,
    };
    let plan = plan(&options.attacks);
    let per_phase = well_behaved::pairs_within(options.duration, options.interval);
    let setup = well_behaved::connect_from(options.node.clone(), options.client_from).await?;
    let mut client = WellBehaved::prepare(
        &setup,
        &options.keys,
        &options.node,
        options.client_from,
        per_phase * plan.len(),
    )
    .await?;
    let mut phases = Vec::with_capacity(plan.len());
    for step in plan {
        let phase = match step {
            None => quiet(options, &mut client).await?,
            Some(attack) => attacked(options, &mut client, attack, &target).await?,
        };
        on_phase(&phase);
        phases.push(phase);
    }
    debug_assert_eq!(client.remaining(), 0);
    Ok(phases)
}

async fn quiet(options: &AttackOptions, client: &mut WellBehaved) -> anyhow::Result<Phase> {
    let before = node::rss_kb(options.node_pid)?;
    let (sample, peak, _) = measure(options, client).await?;
    Ok(Phase {
        name: "quiet".into(),
        attacked: false,
        sample,
        rss_kb: [before, peak, node::rss_kb(options.node_pid)?],
        tally: None,
        node_counters: Vec::new(),
    })
}

async fn attacked(
    options: &AttackOptions,
    client: &mut WellBehaved,
    attack: Attack,
    target: &Target,
) -> anyhow::Result<Phase> {
    let before = node::rss_kb(options.node_pid)?;
    let counters_before = counters(options).await?;
    let running = floods::start(attack, target).await;
    let (sample, peak, open_streams_peak) = measure(options, client).await?;
    let tally = running.stop().await?;
    let mut node_counters = node::growth(
        &counters_before,
        &counters(options).await?,
        node::ATTACK_COUNTERS,
    );
    if let Some(peak) = open_streams_peak.filter(|peak| *peak > 0.0) {
        node_counters.push((format!("{} (peak)", node::OPEN_STREAMS), peak));
    }
    tokio::time::sleep(options.settle).await;
    Ok(Phase {
        name: attack.to_string(),
        attacked: true,
        sample,
        rss_kb: [before, peak, node::rss_kb(options.node_pid)?],
        tally: Some(tally),
        node_counters,
    })
}

async fn counters(
    options: &AttackOptions,
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    match &options.metrics {
        Some(address) => Ok(node::samples(&node::metrics_page(address).await?)),
        None => Ok(Default::default()),
    }
}

/// The client's sample, with the node's peak VmRSS and (given its metrics)
/// peak open streams while it was measured.
async fn measure(
    options: &AttackOptions,
    client: &mut WellBehaved,
) -> anyhow::Result<(well_behaved::Sample, u64, Option<f64>)> {
    let (stop, stopped) = watch::channel(false);
    let sampler = tokio::spawn(sample_node(
        options.node_pid,
        options.metrics.clone(),
        stopped,
    ));
    let sample = client.measure(options.duration, options.interval).await;
    let _ = stop.send(true);
    let (rss_peak, streams_peak) = sampler.await??;
    Ok((sample?, rss_peak, streams_peak))
}

/// Reads the node's VmRSS (and open streams) every 250 ms until stopped;
/// returns the peaks.
async fn sample_node(
    pid: u32,
    metrics: Option<String>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<(u64, Option<f64>)> {
    let (mut rss_peak, mut streams_peak) = (0u64, None::<f64>);
    loop {
        rss_peak = rss_peak.max(node::rss_kb(pid)?);
        if let Some(address) = &metrics {
            let page = node::samples(&node::metrics_page(address).await?);
            let open = page.get(node::OPEN_STREAMS).copied().unwrap_or(0.0);
            streams_peak = Some(streams_peak.unwrap_or(0.0).max(open));
        }
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return Ok((rss_peak, streams_peak)),
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

/// Parses `20x100` (or `20×100`) into its two factors.
pub fn parse_product(text: &str) -> Result<(usize, usize), String> {
    let (a, b) = text
        .split_once(['x', '×'])
        .ok_or_else(|| format!("{text:?}: expected AxB, e.g. 20x100"))?;
    let factor = |f: &str| {
        f.trim()
            .parse::<usize>()
            .map_err(|e| format!("{text:?}: {e}"))
    };
    Ok((factor(a)?, factor(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_parse() {
        assert_eq!(parse_product("20x100"), Ok((20, 100)));
        assert_eq!(parse_product("32×4"), Ok((32, 4)));
        assert!(parse_product("20").is_err());
        assert!(parse_product("ax4").is_err());
    }

    #[test]
    fn every_attack_has_a_quiet_run_before_and_after_it() {
        let (a, b) = (
            Attack::ConnectionFlood { connections: 10 },
            Attack::SlowLoris { connections: 5 },
        );
        assert_eq!(plan(&[a, b]), vec![None, Some(a), None, Some(b), None]);
        assert_eq!(plan(&[]), vec![None]);
    }
}
