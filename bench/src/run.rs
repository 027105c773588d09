//! `pledge-bench run`: pledge registrations over gRPC by N concurrent
//! clients, then a self-check of every answer against the chain.
//!
//! ```text
//!  set-up (untimed)  a tank for this run; per receipt: certify stock, issue;
//!                    pledge the conflict pool; pre-sign every envelope
//!  timed             N clients, each on its own connection, take the next
//!                    operation of the schedule (mix of fresh pledges,
//!                    conflicting pledges, receipt reads) until the duration
//!                    ends or the schedule does
//!  self-check        fresh pledges all acknowledged; conflicts all refused
//!                    FAILED_PRECONDITION / RECEIPT_PLEDGED; the chain,
//!                    streamed from entry 0, replays and verifies, each
//!                    acknowledged entry has the acknowledged hash, and it
//!                    holds exactly as many of this run's pledges
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use pledge_ledger::crypto::{Digest, PublicKey};
use pledge_ledger::entry::Entry;
use pledge_ledger::envelope::Envelope;
use pledge_ledger::replay::BatchReplayer;
use pledge_ledger::tx::{Operation, Transaction};
use tokio_stream::StreamExt;

use crate::replay::CHUNK;
use crate::stats;
use pledge_client::keys::{self, Signer};
use pledge_client::ops::{self, TxHeader};
use pledge_client::{ClientError, LedgerClient};

/// The operation mix, in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Pledges of a receipt never pledged: must be acknowledged.
    pub fresh: u32,
    /// Pledges of a receipt pledged in the set-up: must be refused.
    pub conflict: u32,
    /// `GetReceipt` reads.
    pub read: u32,
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// Parses `fresh=90,conflict=5,read=5` (missing parts are 0).
    fn from_str(text: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            fresh: 0,
            conflict: 0,
            read: 0,
        };
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected name=parts"))?;
            let value: u32 = value.trim().parse().map_err(|e| format!("{part:?}: {e}"))?;
            match name.trim() {
                "fresh" => mix.fresh = value,
                "conflict" => mix.conflict = value,
                "read" => mix.read = value,
                other => {
                    return Err(format!(
                        "unknown operation {other:?} (fresh, conflict, read)"
                    ));
                }
            }
        }
        if mix.fresh == 0 {
            return Err("the mix needs fresh pledges (fresh=N with N > 0)".into());
        }
        Ok(mix)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The node's URL, e.g. `http://127.0.0.1:50051`.
    pub node: String,
    /// The node's development keys (`<data>/dev-keys`).
    pub keys: PathBuf,
    /// Concurrent clients, each with its own connection.
    pub clients: usize,
    /// How long the timed phase lasts at most.
    pub duration: Duration,
    /// The operation mix.
    pub mix: Mix,
    /// Fresh receipts to issue in the set-up (one fresh pledge each).
    pub receipts: usize,
    /// Concurrent requests during the set-up.
    pub setup_concurrency: usize,
}

/// One scheduled operation.
#[derive(Debug, Clone, Copy)]
enum Op {
    Fresh(usize),
    Conflict(usize),
    Read(usize),
}

/// Everything signed before the clock starts.
struct Work {
    schedule: Vec<Op>,
    fresh: Vec<Envelope>,
    conflicts: Vec<Envelope>,
    receipts: Vec<String>,
    next: AtomicUsize,
}

/// What one client saw.
struct ClientLog {
    pledge_latency: Histogram<u64>,
    read_latency: Histogram<u64>,
    /// seq → (entry hash, fresh pledge index)
    acknowledged: Vec<(u64, Digest, usize)>,
    refused_as_expected: u64,
    reads: u64,
    /// (kind, code, reason) → count, for every answer that was not expected
    unexpected: BTreeMap<String, u64>,
}

/// The figures of a run.
#[derive(Debug)]
pub struct RunReport {
    /// Acknowledged fresh pledges.
    pub pledges: u64,
    /// Refused conflicting pledges.
    pub conflicts: u64,
    /// Reads answered.
    pub reads: u64,
    /// Seconds of the timed phase.
    pub seconds: f64,
    /// Submit latency (fresh and conflicting pledges), µs.
    pub pledge_latency: Histogram<u64>,
    /// Read latency, µs.
    pub read_latency: Histogram<u64>,
    /// Unexpected answers by kind, code and reason.
    pub unexpected: BTreeMap<String, u64>,
    /// Whether the schedule ran out before the duration.
    pub ran_out: bool,
    /// Entries in the chain after the run.
    pub chain_entries: u64,
    /// Problems the self-check found (empty: passed).
    pub self_check: Vec<String>,
}

impl RunReport {
    /// Whether every answer was as expected and the chain holds exactly them.
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty() && self.self_check.is_empty()
    }
}

/// Parties used by the run (and by `attack`'s well-behaved client).
pub(crate) struct Parties {
    pub(crate) warehouse: Signer,
    pub(crate) inspector: Signer,
    pub(crate) holders: [Signer; 2],
    pub(crate) banks: [Signer; 2],
}

/// Runs set-up, the timed phase and the self-check.
pub async fn run(options: &RunOptions) -> anyhow::Result<RunReport> {
    let client = LedgerClient::connect(&options.node).await?;
    let info = client.node_info().await?;
    let node_key = PublicKey::from_slice(&info.node_public_key)
        .context("the node's public key is not an ed25519 key")?;
    let parties = Arc::new(read_parties(&options.keys)?);
    let tag = run_tag()?;
    let setup_started = Instant::now();
    let work = set_up(&client, &info.ledger_id, parties, options, &tag).await?;
    println!(
        "set-up: {} receipts issued ({} of them pledged for conflicts), {} envelopes pre-signed, in {:.1} s (run tag {tag})",
        work.receipts.len(),
        conflict_pool(options),
        work.fresh.len() + work.conflicts.len(),
        setup_started.elapsed().as_secs_f64()
    );
    let work = Arc::new(work);
    let (logs, seconds) = timed_phase(options, work.clone()).await?;
    let ran_out = work.next.load(Ordering::Relaxed) >= work.schedule.len();
    let acknowledged: Vec<(u64, Digest, usize)> = logs
        .iter()
        .flat_map(|log| log.acknowledged.iter().copied())
        .collect();
    let mut report = merge(logs, seconds, ran_out);
    let (entries, problems) = self_check(&client, node_key, &tag, &acknowledged).await?;
    report.chain_entries = entries;
    report.self_check = problems;
    Ok(report)
}

/// The development ledger's parties, from its keys directory.
pub(crate) fn read_parties(keys: &Path) -> anyhow::Result<Parties> {
    let signer = |id: &str| {
        let path = keys.join(format!("{id}.json"));
        Signer::from_file(&path).with_context(|| format!("key of {id} in {}", keys.display()))
    };
    Ok(Parties {
        warehouse: signer("wh-1")?,
        inspector: signer(INSPECTOR)?,
        holders: [signer("trader-a")?, signer("trader-b")?],
        banks: [signer("bank-a")?, signer("bank-b")?],
    })
}

/// The inspector of the development ledger, which calibrates the run's tank
/// and certifies its stock.
const INSPECTOR: &str = "insp-sgs";

/// A random tag that keeps this run's ids apart from earlier runs'.
pub(crate) fn run_tag() -> anyhow::Result<String> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    Ok(hex::encode(bytes))
}

/// Receipts pledged in the set-up, which conflicting pledges aim at.
fn conflict_pool(options: &RunOptions) -> usize {
    match options.mix.conflict {
        0 => 0,
        _ => options.clients.max(16),
    }
}

pub(crate) fn receipt_id(tag: &str, i: usize) -> String {
    format!("R-{tag}-{i}")
}

/// Submits a transaction signed by `signers`; any refusal is an error.
async fn submit_ok(
    client: &LedgerClient,
    ledger_id: &str,
    operation: pledge_proto::v1::transaction::Operation,
    signers: &[&Signer],
) -> anyhow::Result<()> {
    let tx = TxHeader::new(ledger_id, &signers[0].id)?.wrap(operation);
    let signers: Vec<Signer> = signers.iter().map(|s| (*s).clone()).collect();
    client.submit(&keys::sign(&tx, &signers)).await?;
    Ok(())
}

async fn set_up(
    client: &LedgerClient,
    ledger_id: &str,
    parties: Arc<Parties>,
    options: &RunOptions,
    tag: &str,
) -> anyhow::Result<Work> {
    let tank = register_tank(client, ledger_id, &parties, tag).await?;
    let pool = conflict_pool(options);
    let total = options.receipts + pool;
    let lanes = options.setup_concurrency.clamp(1, 256);
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let (client, parties) = (client.clone(), parties.clone());
        let (ledger_id, tag, tank) = (ledger_id.to_owned(), tag.to_owned(), tank.clone());
        let receipts = options.receipts;
        tasks.spawn(async move {
            for i in (lane..total).step_by(lanes) {
                issue_receipt(&client, &ledger_id, &parties, &tag, &tank, i).await?;
                if i >= receipts {
                    let (holder, bank) = (&parties.holders[i % 2], &parties.banks[i % 2]);
                    let op = pledge_op(&format!("P-{tag}-s{i}"), &receipt_id(&tag, i), &bank.id);
                    submit_ok(&client, &ledger_id, op, &[holder, bank]).await?;
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let (ledger_id, tag, receipts) = (ledger_id.to_owned(), tag.to_owned(), options.receipts);
    let mix = options.mix;
    let work = tokio::task::spawn_blocking(move || {
        presign(&ledger_id, &parties, &tag, receipts, pool, mix)
    });
    work.await?
}

/// Registers the run's tank `BT-{tag}` (the warehouse and the inspector
/// sign) and returns its id.
pub(crate) async fn register_tank(
    client: &LedgerClient,
    ledger_id: &str,
    parties: &Parties,
    tag: &str,
) -> anyhow::Result<String> {
    let tank = format!("BT-{tag}");
    let (wh, inspector) = (&parties.warehouse, &parties.inspector);
    let register = ops::register_tank(
        &tank,
        &wh.id,
        1_000_000_000,
        "VLSFO 0.5%S",
        ops::physical_tank_id("BENCH", &tag.to_ascii_uppercase()),
        &inspector.id,
        &format!("CAL-{tag}"),
    );
    submit_ok(client, ledger_id, register, &[wh, inspector]).await?;
    Ok(tank)
}

/// Certifies stock for receipt `i` of the run on `tank` and issues it.
pub(crate) async fn issue_receipt(
    client: &LedgerClient,
    ledger_id: &str,
    parties: &Parties,
    tag: &str,
    tank: &str,
    i: usize,
) -> anyhow::Result<()> {
    let (wh, inspector) = (&parties.warehouse, &parties.inspector);
    let cert = format!("C-{tag}-{i}");
    let holder = &parties.holders[i % 2];
    let now = pledge_client::time::now_ms();
    let certify = ops::certify_stock(&ops::StockCertificate {
        tank_id: tank,
        inspector_id: &inspector.id,
        certificate_no: &cert,
        quantity_kg: 1_000,
        product_grade: "VLSFO 0.5%S",
        gauged_at_ms: now,
        depositor_id: &holder.id,
    });
    submit_ok(client, ledger_id, certify, &[wh, inspector, holder]).await?;
    let terms = pledge_proto::v1::IssueReceipt {
        receipt_id: receipt_id(tag, i),
        tank_id: tank.into(),
        inspector_id: inspector.id.clone(),
        certificate_no: cert,
        product_grade: "VLSFO 0.5%S".into(),
        specification: "ISO 8217:2017 RMG 380".into(),
        quantity_kg: 1_000,
        customs_status: pledge_proto::v1::CustomsStatus::Bonded as i32,
        customs_reference: format!("ZS-{tag}-{i}"),
        expires_at_ms: now + 180 * 86_400_000,
        loss_allowance_ppm: 2_000,
        insurance_reference: "PICC-1".into(),
    };
    submit_ok(client, ledger_id, ops::issue_receipt(terms), &[wh]).await
}

/// A pledge of `receipt` to `bank`, maturing in 90 days.
pub(crate) fn pledge_op(
    pledge_id: &str,
    receipt: &str,
    bank: &str,
) -> pledge_proto::v1::transaction::Operation {
    let maturity = pledge_client::time::now_ms() + 90 * 86_400_000;
    ops::register_pledge(
        pledge_id,
        receipt,
        bank,
        ops::money(300_000_000, "USD"),
        &format!("LN-{pledge_id}"),
        maturity,
    )
}

/// Builds the schedule and signs every pledge it needs, on every core.
fn presign(
    ledger_id: &str,
    parties: &Parties,
    tag: &str,
    receipts: usize,
    pool: usize,
    mix: Mix,
) -> anyhow::Result<Work> {
    let schedule = schedule(receipts, receipts + pool, mix);
    let conflicts = schedule
        .iter()
        .filter(|op| matches!(op, Op::Conflict(_)))
        .count();
    let sign_fresh = |i: usize| -> anyhow::Result<Envelope> {
        let (holder, bank) = (&parties.holders[i % 2], &parties.banks[(i / 2) % 2]);
        let op = pledge_op(&format!("P-{tag}-f{i}"), &receipt_id(tag, i), &bank.id);
        let tx = TxHeader::new(ledger_id, &holder.id)?.wrap(op);
        Ok(keys::sign(&tx, &[holder.clone(), bank.clone()]))
    };
    let sign_conflict = |j: usize| -> anyhow::Result<Envelope> {
        let target = receipts + j % pool.max(1);
        let (holder, bank) = (
            &parties.holders[target % 2],
            &parties.banks[(target + 1) % 2],
        );
        let op = pledge_op(&format!("P-{tag}-c{j}"), &receipt_id(tag, target), &bank.id);
        let tx = TxHeader::new(ledger_id, &holder.id)?.wrap(op);
        Ok(keys::sign(&tx, &[holder.clone(), bank.clone()]))
    };
    let fresh = parallel_map(receipts, &sign_fresh)?;
    let conflicts = parallel_map(conflicts, &sign_conflict)?;
    Ok(Work {
        schedule,
        fresh,
        conflicts,
        receipts: (0..receipts + pool).map(|i| receipt_id(tag, i)).collect(),
        next: AtomicUsize::new(0),
    })
}

fn parallel_map<T: Send>(
    n: usize,
    f: &(dyn Fn(usize) -> anyhow::Result<T> + Sync),
) -> anyhow::Result<Vec<T>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..n)
            .step_by(per)
            .map(|start| {
                scope.spawn(move || (start..(start + per).min(n)).map(f).collect::<Vec<_>>())
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for part in parts {
            let part = part.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            for item in part {
                out.push(item?);
            }
        }
        Ok(out)
    })
}

/// The operations in order: every fresh pledge once, conflicts and reads
/// in their share, shuffled within blocks of one share each.
fn schedule(fresh: usize, receipts: usize, mix: Mix) -> Vec<Op> {
    let block = (mix.fresh + mix.conflict + mix.read) as usize;
    let mut random = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    let (mut schedule, mut f, mut c) = (Vec::new(), 0, 0);
    while f < fresh {
        let mut kinds: Vec<u8> = [(0u8, mix.fresh), (1, mix.conflict), (2, mix.read)]
            .iter()
            .flat_map(|(kind, n)| std::iter::repeat_n(*kind, *n as usize))
            .collect();
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        for kind in kinds.into_iter().take(block) {
            match kind {
                0 if f < fresh => {
                    schedule.push(Op::Fresh(f));
                    f += 1;
                }
                0 => {}
                1 => {
                    schedule.push(Op::Conflict(c));
                    c += 1;
                }
                _ => schedule.push(Op::Read((next() % receipts as u64) as usize)),
            }
        }
    }
    schedule
}

async fn timed_phase(
    options: &RunOptions,
    work: Arc<Work>,
) -> anyhow::Result<(Vec<ClientLog>, f64)> {
    let mut clients = Vec::with_capacity(options.clients);
    for _ in 0..options.clients.max(1) {
        clients.push(LedgerClient::connect(&options.node).await?);
    }
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        tasks.spawn(drive(client, work.clone(), deadline));
    }
    let mut logs = Vec::new();
    while let Some(log) = tasks.join_next().await {
        logs.push(log?);
    }
    Ok((logs, started.elapsed().as_secs_f64()))
}

/// One client: the next operation of the schedule until the deadline.
async fn drive(client: LedgerClient, work: Arc<Work>, deadline: Instant) -> ClientLog {
    let mut log = ClientLog {
        pledge_latency: stats::histogram(),
        read_latency: stats::histogram(),
        acknowledged: Vec::new(),
        refused_as_expected: 0,
        reads: 0,
        unexpected: BTreeMap::new(),
    };
    while Instant::now() < deadline {
        let k = work.next.fetch_add(1, Ordering::Relaxed);
        let Some(op) = work.schedule.get(k).copied() else {
            break;
        };
        let started = Instant::now();
        match op {
            Op::Fresh(i) => {
                let answer = client.submit(&work.fresh[i]).await;
                stats::record(&mut log.pledge_latency, started.elapsed());
                match answer {
                    Ok(response) if !response.duplicate && response.entry_hash.len() == 32 => {
                        let mut hash = [0u8; 32];
                        hash.copy_from_slice(&response.entry_hash);
                        log.acknowledged.push((response.seq, Digest(hash), i));
                    }
                    Ok(_) => count(
                        &mut log,
                        "fresh: acknowledged as a duplicate or without a hash",
                    ),
                    Err(error) => count(&mut log, &format!("fresh: {}", describe(&error))),
                }
            }
            Op::Conflict(j) => {
                let answer = client.submit(&work.conflicts[j]).await;
                stats::record(&mut log.pledge_latency, started.elapsed());
                match answer {
                    Err(error) if is_receipt_pledged(&error) => log.refused_as_expected += 1,
                    Err(error) => count(&mut log, &format!("conflict: {}", describe(&error))),
                    Ok(_) => count(&mut log, "conflict: acknowledged"),
                }
            }
            Op::Read(r) => {
                let answer = client.receipt(&work.receipts[r]).await;
                stats::record(&mut log.read_latency, started.elapsed());
                match answer {
                    Ok(_) => log.reads += 1,
                    Err(error) => count(&mut log, &format!("read: {}", describe(&error))),
                }
            }
        }
    }
    log
}

fn count(log: &mut ClientLog, what: &str) {
    *log.unexpected.entry(what.to_owned()).or_default() += 1;
}

fn is_receipt_pledged(error: &ClientError) -> bool {
    error.refusal().is_some_and(|r| {
        r.code == tonic::Code::FailedPrecondition
            && r.info
                .as_ref()
                .is_some_and(|i| i.reason == "RECEIPT_PLEDGED")
    })
}

/// "CODE REASON" of a refusal, or the error itself.
pub(crate) fn describe(error: &ClientError) -> String {
    match error.refusal() {
        Some(refusal) => format!(
            "{:?} {}",
            refusal.code,
            refusal.info.as_ref().map_or("", |i| i.reason.as_str())
        ),
        None => error.to_string().chars().take(120).collect(),
    }
}

fn merge(logs: Vec<ClientLog>, seconds: f64, ran_out: bool) -> RunReport {
    let mut report = RunReport {
        pledges: 0,
        conflicts: 0,
        reads: 0,
        seconds,
        pledge_latency: stats::histogram(),
        read_latency: stats::histogram(),
        unexpected: BTreeMap::new(),
        ran_out,
        chain_entries: 0,
        self_check: Vec::new(),
    };
    for log in logs {
        report.pledges += log.acknowledged.len() as u64;
        report.conflicts += log.refused_as_expected;
        report.reads += log.reads;
        let _ = report.pledge_latency.add(&log.pledge_latency);
        let _ = report.read_latency.add(&log.read_latency);
        for (what, n) in log.unexpected {
            *report.unexpected.entry(what).or_default() += n;
        }
    }
    report
}

/// Streams the chain from entry 0, replays it (every link, seal, signature
/// and rule) and compares it with what the clients were told.
async fn self_check(
    client: &LedgerClient,
    node_key: PublicKey,
    tag: &str,
    acknowledged: &[(u64, Digest, usize)],
) -> anyhow::Result<(u64, Vec<String>)> {
    let mut problems = Vec::new();
    let mut expected: HashMap<u64, Digest> = HashMap::with_capacity(acknowledged.len());
    for (seq, hash, _) in acknowledged {
        if expected.insert(*seq, *hash).is_some() {
            problems.push(format!("entry {seq} was acknowledged twice"));
        }
    }
    let (fresh_prefix, conflict_prefix) = (format!("P-{tag}-f"), format!("P-{tag}-c"));
    let (mut fresh_in_chain, mut conflicts_in_chain, mut entries) = (0u64, 0u64, 0u64);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut replayer = BatchReplayer::new(Some(node_key), threads);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut stream = client.entries(0, false).await?;
    while let Some(item) = stream.next().await {
        let item = item?;
        if item.seq != entries {
            bail!("the stream sent entry {} where {entries} was due", item.seq);
        }
        entries += 1;
        let entry =
            Entry::decode(&item.record).map_err(|e| anyhow::anyhow!("entry {}: {e}", item.seq))?;
        if let Some(hash) = expected.remove(&item.seq)
            && hash != entry.hash()
        {
            problems.push(format!(
                "entry {}: the chain's hash differs from the acknowledged one",
                item.seq
            ));
        }
        if !entry.is_attempt()
            && let Ok(tx) = Transaction::decode(&entry.envelope.tx_bytes)
            && let Operation::RegisterPledge(terms) = &tx.operation
        {
            fresh_in_chain += u64::from(terms.pledge_id.starts_with(&fresh_prefix));
            conflicts_in_chain += u64::from(terms.pledge_id.starts_with(&conflict_prefix));
        }
        chunk.push(item.record);
        if chunk.len() == CHUNK {
            let verdict = tokio::task::block_in_place(|| replayer.push_chunk(&chunk));
            if let Err(error) = verdict {
                problems.push(format!("the chain does not replay: {error}"));
                return Ok((entries, problems));
            }
            chunk.clear();
        }
    }
    let verdict = tokio::task::block_in_place(|| {
        replayer.push_chunk(&chunk).and_then(|()| replayer.finish())
    });
    if let Err(error) = verdict {
        problems.push(format!("the chain does not replay: {error}"));
    }
    if let Some(seq) = expected.keys().min() {
        problems.push(format!(
            "{} acknowledged entries are missing from the chain, the first {seq}",
            expected.len()
        ));
    }
    if fresh_in_chain != acknowledged.len() as u64 {
        problems.push(format!(
            "the chain holds {fresh_in_chain} of this run's pledges, {} were acknowledged",
            acknowledged.len()
        ));
    }
    if conflicts_in_chain != 0 {
        problems.push(format!(
            "the chain holds {conflicts_in_chain} conflicting pledges"
        ));
    }
    Ok((entries, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse() {
        let mix: Mix = "fresh=90,conflict=5,read=5".parse().unwrap();
        assert_eq!((mix.fresh, mix.conflict, mix.read), (90, 5, 5));
        assert!("conflict=5".parse::<Mix>().is_err());
        assert!("fresh=1,bogus=2".parse::<Mix>().is_err());
    }

    #[test]
    fn the_schedule_has_every_fresh_pledge_once_and_the_shares() {
        let mix: Mix = "fresh=90,conflict=5,read=5".parse().unwrap();
        let schedule = schedule(900, 950, mix);
        let fresh: Vec<usize> = schedule
            .iter()
            .filter_map(|op| match op {
                Op::Fresh(i) => Some(*i),
                _ => None,
            })
            .collect();
        assert_eq!(fresh, (0..900).collect::<Vec<_>>());
        let conflicts = schedule
            .iter()
            .filter(|op| matches!(op, Op::Conflict(_)))
            .count();
        assert_eq!((schedule.len(), conflicts), (1000, 50));
    }
}
