//! `pledge-bench generate`: a valid chain of N entries written straight
//! through a `DiskLedger` (no gRPC), in groups, with a realistic mix of
//! operations, then its size on disk.
//!
//! Each receipt lives through eleven entries, and a group holds the same
//! step for a batch of receipts:
//!
//! ```text
//!  certify ─ issue ─ pledge ─ release ─ transfer ─ pledge ─ enforce
//!          ─ freeze ─ unfreeze ─ split in two ─ cancel one part
//! ```
//! One thread builds and signs the next group while the caller's thread
//! applies, seals and commits (one fdatasync per group) the current one.
//!
//! After each group the state map's superseded versions are pruned, as a
//! node prunes them once a checkpoint at that size is served (a node serves
//! one at most every second, about one group here); `keep_map_history`
//! keeps every version instead, as a store that never serves a checkpoint
//! (the state store keeps superseded versions in memory only, so this
//! changes the generator's memory, not the bytes on disk).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, bail};
use pledge_ledger::envelope::VerifiedEnvelope;
use pledge_ledger::ledger::DiskLedger;
use pledge_ledger::store::{CompactionPolicy, StateStore, Upkeep, upkeep_steps_after};
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::fixture::{self, DAY_MS, T0};
use crate::stats;
use pledge_client::export::write_record;
use pledge_client::ops;

/// Steps of a receipt's life in the generated chain.
const STEPS: u64 = 11;
/// Every generated receipt's quantity, kg: small enough that the live
/// receipts of a million-entry chain fit two tanks of 1 Mt.
const RECEIPT_KG: u64 = 1_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Entries in the chain, genesis included.
    pub entries: u64,
    /// Store directory (created; must not hold a store).
    pub out: PathBuf,
    /// Also write an export file of the chain here.
    pub export: Option<PathBuf>,
    /// Entries per group commit.
    pub group: usize,
    /// Keep every version of the state map (no pruning after each group).
    pub keep_map_history: bool,
    /// Compact the state database once generated
    /// (`DiskLedger::compact_state`, as `pledge-node compact-state` does),
    /// and measure the disk again.
    pub compact: bool,
    /// Compact the state while generating, as a node does while it runs:
    /// the suggested policy, and after each group the steps a node takes
    /// after applying as many entries (`upkeep_steps_after`; a node also
    /// copies while idle, which a generator never is).
    pub compact_online: bool,
}

/// What generating measured.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Entries written.
    pub entries: u64,
    /// Seconds spent generating (signing, applying, committing).
    pub seconds: f64,
    /// The store's disk, as generated.
    pub disk: DiskUse,
    /// Seconds spent compacting the state and the disk after, if asked.
    pub compacted: Option<(f64, DiskUse)>,
    /// With `compact_online`: what the compactions did.
    pub online: Option<Online>,
}

/// The compactions while generating, and the disk per entry after each
/// group past the first tenth of the entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Online {
    /// Compactions finished.
    pub switches: u64,
    /// Groups after which a copy was in progress.
    pub groups_copying: u64,
    /// Groups counted (those past the first tenth).
    pub groups: u64,
    /// The most bytes per entry after a group with no copy in progress.
    pub peak_between: f64,
    /// The most bytes per entry after a group with a copy in progress
    /// (the old database and the copy on disk together).
    pub peak_copying: f64,
    /// Seconds spent in the compaction's steps.
    pub seconds: f64,
}

/// Bytes allocated on disk for a store.
#[derive(Debug, Clone, Copy)]
pub struct DiskUse {
    /// The whole store directory.
    pub total: u64,
    /// The entry log (`log/`).
    pub log: u64,
    /// The state (`state/`: sled and the node files beside it).
    pub state: u64,
}

impl DiskUse {
    fn of(out: &Path) -> anyhow::Result<DiskUse> {
        let [log_dir, state_dir] = DiskLedger::paths(out);
        Ok(DiskUse {
            total: stats::disk_usage(out)?.0,
            log: stats::disk_usage(&log_dir)?.0,
            state: stats::disk_usage(&state_dir)?.0,
        })
    }
}

/// Generates the chain and reports.
pub fn generate(options: &GenerateOptions) -> anyhow::Result<Generated> {
    if options.entries < 3 {
        bail!("--entries must be at least 3 (genesis and two tanks)");
    }
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("create {}", options.out.display()))?;
    let (mut ledger, report) = DiskLedger::open_dir(&options.out, fixture::node_key())?;
    if options.compact_online {
        ledger = ledger.with_state_compaction(CompactionPolicy::DEFAULT);
    }
    let mut online = options.compact_online.then(Online::default);
    if report.entries != 0 {
        bail!(
            "{} already holds {} entries",
            options.out.display(),
            report.entries
        );
    }
    let started = Instant::now();
    let (groups, receiver) = mpsc::sync_channel::<Vec<VerifiedEnvelope>>(4);
    let (entries, group) = (options.entries, options.group.max(1));
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(move || produce(entries, group, &groups));
        for (index, envelopes) in receiver.iter().enumerate() {
            let before = ledger.len();
            let results = ledger.append_owned(envelopes, T0 + index as u64 * 1_000)?;
            if let Some(refused) = results.iter().find_map(|r| r.as_ref().err()) {
                bail!("the generator built a refused transaction: {refused}");
            }
            if !options.keep_map_history {
                ledger.prune_state_map(ledger.len())?;
            }
            if let Some(online) = &mut online {
                let applied = ledger.len() - before;
                online.step(&mut ledger, applied, &options.out, entries)?;
            }
        }
        Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let written = ledger.len();
    if let Some(path) = &options.export {
        export(&ledger.snapshot(), path)?;
    }
    ledger.state().flush()?;
    drop(ledger);
    let disk = DiskUse::of(&options.out)?;
    let compacted = match options.compact {
        false => None,
        true => {
            let started = Instant::now();
            DiskLedger::compact_state(&options.out)?;
            let seconds = started.elapsed().as_secs_f64();
            Some((seconds, DiskUse::of(&options.out)?))
        }
    };
    Ok(Generated {
        entries: written,
        seconds,
        disk,
        compacted,
        online,
    })
}

impl Online {
    /// The compaction's steps after a group of `applied` entries, as a
    /// node takes them, then the disk (once past a tenth of `entries`).
    fn step(
        &mut self,
        ledger: &mut DiskLedger,
        applied: u64,
        out: &Path,
        entries: u64,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut copying = false;
        for _ in 0..upkeep_steps_after(applied) {
            match ledger.upkeep_state()? {
                Upkeep::Working => copying = true,
                Upkeep::Switched => {
                    self.switches += 1;
                    copying = false;
                    break;
                }
                Upkeep::Idle => break,
            }
        }
        self.seconds += started.elapsed().as_secs_f64();
        if ledger.len() >= entries / 10 {
            let per_entry = DiskUse::of(out)?.total as f64 / ledger.len() as f64;
            self.groups += 1;
            match copying {
                true => {
                    self.groups_copying += 1;
                    self.peak_copying = self.peak_copying.max(per_entry);
                }
                false => self.peak_between = self.peak_between.max(per_entry),
            }
        }
        Ok(())
    }
}

/// Builds and signs the groups in order; stops early if the receiver does.
fn produce(entries: u64, group: usize, groups: &mpsc::SyncSender<Vec<VerifiedEnvelope>>) {
    let opening = vec![
        fixture::signed("genesis".into(), fixture::genesis(), fixture::QUORUM),
        fixture::signed("tank-1".into(), tank(1), &["wh-1", fixture::INSPECTOR]),
        fixture::signed("tank-2".into(), tank(2), &["wh-2", fixture::INSPECTOR]),
    ];
    if groups.send(opening).is_err() {
        return;
    }
    let mut left = entries - 3;
    let mut first_receipt = 0u64;
    while left > 0 {
        let batch = (group as u64).min(left);
        for step in 0..STEPS {
            let size = batch.min(left);
            if size == 0 {
                return;
            }
            let envelopes = (first_receipt..first_receipt + size)
                .map(|receipt| lifecycle_step(receipt, step))
                .collect();
            if groups.send(envelopes).is_err() {
                return;
            }
            left -= size;
        }
        first_receipt += batch;
    }
}

fn tank(n: u8) -> Operation {
    ops::register_tank(
        &format!("T-G{n}"),
        &format!("wh-{n}"),
        1_000_000_000,
        "VLSFO 0.5%S",
        ops::physical_tank_id("ZS-GENERATED", &format!("T-G{n}")),
        fixture::INSPECTOR,
        &format!("CAL-G{n}"),
    )
}

/// The `step`th entry of receipt `r`'s life.
fn lifecycle_step(r: u64, step: u64) -> VerifiedEnvelope {
    let n = r % 2 + 1;
    let (warehouse, tank) = (format!("wh-{n}"), format!("T-G{n}"));
    let (holder, other_holder) = match (r / 2) % 2 {
        0 => ("trader-a", "trader-b"),
        _ => ("trader-b", "trader-a"),
    };
    let (bank, other_bank) = match (r / 4) % 2 {
        0 => ("bank-a", "bank-b"),
        _ => ("bank-b", "bank-a"),
    };
    let receipt = format!("R-{r}");
    let cert = format!("C-{r}");
    let order = format!("(2026) Zhe 09 Min Chu {r}");
    let pledge = |id: &str, bank: &str| {
        let amount = ops::money(300_000_000 + r, "USD");
        let maturity = T0 + 1_800 * DAY_MS;
        ops::register_pledge(id, &receipt, bank, amount, &format!("LN-{id}"), maturity)
    };
    let (operation, signers): (Operation, Vec<&str>) = match step {
        0 => (
            ops::certify_stock(&ops::StockCertificate {
                tank_id: &tank,
                inspector_id: fixture::INSPECTOR,
                certificate_no: &cert,
                quantity_kg: RECEIPT_KG,
                product_grade: "VLSFO 0.5%S",
                gauged_at_ms: T0,
                depositor_id: holder,
            }),
            vec![&warehouse, fixture::INSPECTOR, holder],
        ),
        1 => (
            ops::issue_receipt(fixture::issue_terms(&receipt, &tank, &cert, RECEIPT_KG)),
            vec![&warehouse],
        ),
        2 => (pledge(&format!("P-{r}-1"), bank), vec![holder, bank]),
        3 => (ops::release_pledge(&format!("P-{r}-1")), vec![bank]),
        4 => (
            ops::transfer_receipt(&receipt, other_holder),
            vec![holder, &warehouse],
        ),
        5 => (
            pledge(&format!("P-{r}-2"), other_bank),
            vec![other_holder, other_bank],
        ),
        6 => (
            ops::enforce_pledge(
                &format!("P-{r}-2"),
                None,
                pb::EnforcementGrounds::HolderConsent,
                "",
            ),
            vec![other_bank, other_holder],
        ),
        7 => (ops::freeze_receipt(&receipt, &order), vec!["regulator"]),
        8 => (ops::unfreeze_receipt(&receipt, &order), vec!["regulator"]),
        9 => (
            ops::split_receipt(
                &receipt,
                &[
                    (format!("{receipt}-a"), RECEIPT_KG * 2 / 5),
                    (format!("{receipt}-b"), RECEIPT_KG * 3 / 5),
                ],
            ),
            vec![other_bank, &warehouse],
        ),
        _ => (
            ops::cancel_receipt(&format!("{receipt}-a"), "delivered ex-tank"),
            vec![other_bank, &warehouse],
        ),
    };
    fixture::signed(format!("g-{r}-{step}"), operation, &signers)
}

/// Writes every record of `store` to an export file.
pub fn export(store: &impl LedgerRead, path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for seq in 0..store.len() {
        write_record(&mut out, &store.record(seq)?)?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pledge_client::audit;

    #[test]
    fn a_generated_chain_audits_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("store");
        let export = dir.path().join("chain.export");
        let options = GenerateOptions {
            entries: 3 + 2 * STEPS * 4 + 5,
            out: out.clone(),
            export: Some(export.clone()),
            group: 4,
            keep_map_history: false,
            compact: true,
            compact_online: false,
        };
        let generated = generate(&options).unwrap();
        assert_eq!(generated.entries, options.entries);
        assert!(generated.disk.total > 0);
        let (_, compacted) = generated.compacted.unwrap();
        assert_eq!(compacted.log, generated.disk.log);
        assert!(compacted.state > 0);
        let verdict = audit::audit_file(&export, fixture::node_public_key(), &mut |_| {}).unwrap();
        assert!(verdict.is_verified(), "{verdict}");
        let (store, report) = DiskLedger::open_dir(&out, fixture::node_key()).unwrap();
        assert_eq!((store.len(), report.replayed), (options.entries, 0));
    }
}
