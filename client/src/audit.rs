//! The auditor's replay: every entry of a chain checked from genesis.
//!
//! ```text
//!  StreamEntries(from 0)  ─┐
//!                          ├─▶ records ─▶ pledge_ledger::replay::BatchReplayer ─▶ Verdict
//!  export file (frames)   ─┘              chain links, node seals,           "verified N entries, head hash H"
//!                                         every signature, every rule         "entry N is bad: reason"
//! ```
//! The node's public key, which seals every entry, comes from the auditor
//! (pinned, the point of an audit) or from the node's `GetNodeInfo`.
//!
//! At the sizes of the checkpoints it will check, the replay also computes
//! the state map's root from the replayed objects, from scratch
//! ([`pledge_ledger::statemap::root_of_state`]), so that a checkpoint whose
//! `state-root` is not the true state is caught ([`audit_records_at`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::BufReader;
use std::path::Path;

use pledge_ledger::crypto::{Digest, PublicKey};
use pledge_ledger::replay::{BatchReplayer, ReplayError, Replayer};
use pledge_ledger::statemap::{self, MapHash};
use tokio_stream::StreamExt;

use crate::client::LedgerClient;
use crate::error::{ClientError, Result};
use crate::export::ExportReader;

/// The outcome of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry replays.
    Verified {
        /// Entries checked.
        entries: u64,
        /// Hash of the last entry (zeros for an empty chain).
        head_hash: Digest,
        /// The keys allowed to seal the next entry (docs/FORMAT.md §3.1):
        /// the ledger key, or the voters of the last membership entry. A
        /// checkpoint of this size is signed by one of them.
        sealers: Vec<PublicKey>,
    },
    /// An entry does not replay; entries before it do.
    Bad {
        /// The first bad entry.
        seq: u64,
        /// Why, as the replay says.
        reason: String,
        /// The reason code (docs/ERRORS.md) when the envelope checks or the
        /// rules refuse the entry; `None` for a broken chain or a repeated
        /// transaction.
        reason_code: Option<&'static str>,
        /// Hash of the last good entry.
        good_head_hash: Digest,
    },
}

impl Verdict {
    /// Whether the chain verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verdict::Verified { .. })
    }

    fn bad(error: &ReplayError, good_head_hash: Digest) -> Verdict {
        let reason = error.fault.to_string();
        // Chain faults name the entry themselves; say it once.
        let prefix = format!("entry {}: ", error.seq);
        let reason = reason.strip_prefix(&prefix).unwrap_or(&reason).to_owned();
        Verdict::Bad {
            seq: error.seq,
            reason,
            reason_code: error.fault.reason(),
            good_head_hash,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Verified {
                entries, head_hash, ..
            } => {
                write!(f, "verified {entries} entries, head hash {head_hash}")
            }
            Verdict::Bad {
                seq,
                reason,
                reason_code,
                ..
            } => {
                write!(f, "entry {seq} is bad: {reason}")?;
                match reason_code {
                    Some(code) => write!(f, " [{code}]"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Replays records one by one.
#[derive(Debug)]
pub struct Auditor {
    replayer: Replayer,
    bad: Option<Verdict>,
}

impl Auditor {
    /// An auditor checking seals against `node_key`.
    pub fn new(node_key: PublicKey) -> Auditor {
        Auditor {
            replayer: Replayer::new(Some(node_key)),
            bad: None,
        }
    }

    /// Checks and applies the next record. Returns `false` once an entry is
    /// bad: later records are not looked at.
    pub fn push_record(&mut self, record: &[u8]) -> bool {
        if self.bad.is_some() {
            return false;
        }
        match self.replayer.push_record(record) {
            Ok(()) => true,
            Err(error) => {
                self.bad = Some(Verdict::bad(&error, self.replayer.head_hash()));
                false
            }
        }
    }

    /// Entries verified so far.
    pub fn entries(&self) -> u64 {
        self.replayer.entries()
    }

    /// The verdict on the records pushed.
    pub fn verdict(&self) -> Verdict {
        match &self.bad {
            Some(bad) => bad.clone(),
            None => Verdict::Verified {
                entries: self.replayer.entries(),
                head_hash: self.replayer.head_hash(),
                sealers: sealer_keys(&self.replayer),
            },
        }
    }
}

fn sealer_keys(replayer: &Replayer) -> Vec<PublicKey> {
    replayer
        .sealers()
        .map(|s| s.keys().to_vec())
        .unwrap_or_default()
}

/// Records per chunk of the batch replay.
const AUDIT_CHUNK: usize = 4096;

/// The batch replay ([`BatchReplayer`]) behind the `audit_*` functions:
/// signatures verified in batches on every core, a chunk at a time.
struct BatchAudit {
    replayer: BatchReplayer,
    chunk: Vec<Vec<u8>>,
    /// Records taken so far.
    taken: u64,
    reported: u64,
    bad: Option<Verdict>,
    /// Sizes to compute the state root at, and the roots computed.
    state_roots_at: BTreeSet<u64>,
    state_roots: StateRoots,
}

/// State map roots a replay computed, by size.
pub type StateRoots = BTreeMap<u64, MapHash>;

impl BatchAudit {
    fn new(node_key: PublicKey, state_roots_at: &BTreeSet<u64>) -> BatchAudit {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut audit = BatchAudit {
            replayer: BatchReplayer::new(Some(node_key), threads),
            chunk: Vec::with_capacity(AUDIT_CHUNK),
            taken: 0,
            reported: 0,
            bad: None,
            state_roots_at: state_roots_at.clone(),
            state_roots: StateRoots::new(),
        };
        audit.capture_state_root();
        audit
    }

    /// Takes the next record; `false` once a bad entry is found. At a size
    /// whose state root is wanted, the chunk ends and the replay catches up
    /// with the records taken.
    fn push(&mut self, record: Vec<u8>, progress: &mut dyn FnMut(u64)) -> bool {
        self.chunk.push(record);
        self.taken += 1;
        let root_wanted = self.state_roots_at.contains(&self.taken);
        if self.chunk.len() < AUDIT_CHUNK && !root_wanted {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(AUDIT_CHUNK));
        let mut verdict = self.replayer.push_records(chunk);
        if root_wanted {
            verdict = verdict.and_then(|()| self.replayer.finish());
        }
        self.settle(verdict, progress)
    }

    /// The state root, if the replay stands at a wanted size (the batch
    /// replay applies records some chunks behind those taken, and all of
    /// them at a wanted size).
    fn capture_state_root(&mut self) {
        let at = self.replayer.replayer().entries();
        if self.state_roots_at.contains(&at) && !self.state_roots.contains_key(&at) {
            let root = statemap::root_of_state(self.replayer.replayer().state());
            self.state_roots.insert(at, root);
        }
    }

    /// Verifies what is left and gives the verdict.
    fn finish(mut self, progress: &mut dyn FnMut(u64)) -> (Verdict, StateRoots) {
        if self.bad.is_none() {
            let chunk = std::mem::take(&mut self.chunk);
            let verdict = self.replayer.push_records(chunk);
            if self.settle(verdict, progress) {
                let verdict = self.replayer.finish();
                self.settle(verdict, progress);
            }
        }
        let replayed = self.replayer.into_replayer();
        let verdict = match self.bad {
            Some(bad) => bad,
            None => Verdict::Verified {
                entries: replayed.entries(),
                head_hash: replayed.head_hash(),
                sealers: sealer_keys(&replayed),
            },
        };
        // The replayed state holds every object of the chain: freeing it
        // takes a while at a million entries, and the verdict needs none.
        drop_elsewhere(replayed);
        (verdict, self.state_roots)
    }

    /// A read failed: the verdict if an entry before it is bad (as the
    /// one-by-one replay would have found first), else the read error.
    fn bad_before(self, error: ClientError, progress: &mut dyn FnMut(u64)) -> Result<Verdict> {
        match self.finish(progress).0 {
            bad @ Verdict::Bad { .. } => Ok(bad),
            Verdict::Verified { .. } => Err(error),
        }
    }

    /// Reports progress entry by entry; records a bad entry.
    fn settle(&mut self, verdict: Result<(), ReplayError>, progress: &mut dyn FnMut(u64)) -> bool {
        let done = self.replayer.replayer();
        for n in self.reported + 1..=done.entries() {
            progress(n);
        }
        self.reported = done.entries();
        let head_hash = done.head_hash();
        self.capture_state_root();
        match verdict {
            Ok(()) => true,
            Err(error) => {
                self.bad = Some(Verdict::bad(&error, head_hash));
                false
            }
        }
    }
}

/// Drops `value` on a thread of its own, or here if none can be started.
fn drop_elsewhere<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("audit-drop".into())
        .spawn(move || drop(value));
}

/// Audits records from any source; `progress` is told the number of entries
/// verified, entry by entry (in bursts: signatures are verified in batches).
/// Errors are failures to read the records; a bad entry is a verdict.
pub fn audit_records<I>(
    records: I,
    node_key: PublicKey,
    progress: &mut dyn FnMut(u64),
) -> Result<Verdict>
where
    I: IntoIterator<Item = Result<Vec<u8>>>,
{
    Ok(audit_records_at(records, node_key, &BTreeSet::new(), progress)?.0)
}

/// [`audit_records`], also computing the state map's root from the
/// replayed objects at each size of `state_roots_at` the replay reaches.
pub fn audit_records_at<I>(
    records: I,
    node_key: PublicKey,
    state_roots_at: &BTreeSet<u64>,
    progress: &mut dyn FnMut(u64),
) -> Result<(Verdict, StateRoots)>
where
    I: IntoIterator<Item = Result<Vec<u8>>>,
{
    let mut audit = BatchAudit::new(node_key, state_roots_at);
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                return audit
                    .bad_before(error, progress)
                    .map(|v| (v, StateRoots::new()));
            }
        };
        if !audit.push(record, progress) {
            break;
        }
    }
    Ok(audit.finish(progress))
}

/// Audits an export file (see [`crate::export`]).
pub fn audit_file(
    path: &Path,
    node_key: PublicKey,
    progress: &mut dyn FnMut(u64),
) -> Result<Verdict> {
    let file = std::fs::File::open(path).map_err(|source| ClientError::Io {
        op: "open",
        path: path.to_owned(),
        source,
    })?;
    audit_records(ExportReader::new(BufReader::new(file)), node_key, progress)
}

/// Audits the node's chain as it streams it, from genesis to its head;
/// `observe` sees every record as it arrives (e.g. to build the Merkle tree
/// that signed checkpoints are checked against).
pub async fn audit_node(
    client: &LedgerClient,
    node_key: PublicKey,
    progress: &mut (dyn FnMut(u64) + Send),
    observe: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<Verdict> {
    let audited = audit_node_at(client, node_key, &BTreeSet::new(), progress, observe).await?;
    Ok(audited.0)
}

/// [`audit_node`], also computing the state map's root at each size of
/// `state_roots_at` the replay reaches (see [`audit_records_at`]).
pub async fn audit_node_at(
    client: &LedgerClient,
    node_key: PublicKey,
    state_roots_at: &BTreeSet<u64>,
    progress: &mut (dyn FnMut(u64) + Send),
    observe: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<(Verdict, StateRoots)> {
    let mut audit = BatchAudit::new(node_key, state_roots_at);
    let mut stream = client.entries(0, false).await?;
    while let Some(entry) = stream.next().await {
        let record = match entry {
            Ok(entry) => entry.record,
            Err(error) => {
                return audit
                    .bad_before(error, progress)
                    .map(|v| (v, StateRoots::new()));
            }
        };
        observe(&record);
        if !audit.push(record, progress) {
            break;
        }
    }
    Ok(audit.finish(progress))
}

/// The ledger key (docs/FORMAT.md §3.1) as `GetNodeInfo` gives it: the
/// key that sealed the genesis, from which replay learns every later
/// sealing key. A node that does not report one is a single node whose
/// ledger key is its own key.
pub async fn ledger_key_of(client: &LedgerClient) -> Result<PublicKey> {
    let info = client.node_info().await?;
    let key = match info.ledger_key.is_empty() {
        true => &info.node_public_key,
        false => &info.ledger_key,
    };
    PublicKey::from_slice(key)
        .ok_or_else(|| ClientError::bad_answer("the ledger key is not an ed25519 key"))
}

/// The keys the node reports may sign checkpoints and seal entries: the
/// ledger key and, in a registry of several nodes, the keys of the voters
/// of the membership it applied last (docs/FORMAT.md §7.2). The node's word:
/// a verifier that does not take it pins the keys (a trust file).
pub async fn signing_keys_of(client: &LedgerClient) -> Result<Vec<PublicKey>> {
    let mut keys = vec![ledger_key_of(client).await?];
    let info = client.node_info().await?;
    let voters = info.cluster.iter().flat_map(|c| &c.ledger_members);
    for member in voters.filter(|m| m.voter) {
        let key = PublicKey::from_slice(&member.public_key)
            .ok_or_else(|| ClientError::bad_answer("a member's key is not an ed25519 key"))?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::write_record;
    use crate::keys::{self, Signer};
    use crate::ops::{self, TxHeader};
    use ed25519_dalek::SigningKey;
    use pledge_ledger::crypto;
    use pledge_ledger::ledger::MemoryLedger;
    use pledge_ledger::view::LedgerRead;
    use pledge_proto::v1::{self as pb, transaction::Operation};

    const T0: u64 = 1_800_000_000_000;
    const DAY_MS: u64 = 86_400_000;

    fn signer(id: &str, seed: u8) -> Signer {
        Signer::new(id, SigningKey::from_bytes(&[seed; 32]))
    }

    fn node_key() -> SigningKey {
        SigningKey::from_bytes(&[100; 32])
    }

    /// A chain of a receipt's life, built through the ops builders, with
    /// the ledger's own sequencer.
    fn chain() -> (Vec<Vec<u8>>, Digest) {
        let (admin, regulator, wh, trader, bank, inspector) = (
            signer("admin", 1),
            signer("regulator", 8),
            signer("wh-1", 2),
            signer("trader-a", 4),
            signer("bank-a", 6),
            signer("insp", 10),
        );
        let spec = |s: &Signer, role, code: &str| {
            ops::participant_spec(&s.id, &s.id, &[role], &s.public_key(), ops::lei(code))
        };
        let steps: Vec<(Operation, Vec<&Signer>)> = vec![
            (
                ops::genesis(
                    vec![
                        spec(&admin, pb::Role::Admin, "529900TESTADMIN00181"),
                        spec(&regulator, pb::Role::Regulator, "529900TESTREGUL00266"),
                        spec(&wh, pb::Role::Warehouse, "529900TESTWAREH00346"),
                        spec(&trader, pb::Role::Holder, "529900TESTTRADE00454"),
                        spec(&bank, pb::Role::Bank, "529900TESTBANKA00583"),
                        spec(&inspector, pb::Role::Inspector, "529900TESTINSPE00667"),
                    ],
                    ops::governance(&["admin", "regulator"], 2, 30 * DAY_MS),
                ),
                vec![&admin, &regulator],
            ),
            (
                ops::register_tank(
                    "T-1",
                    "wh-1",
                    50_000_000,
                    "VLSFO 0.5%S",
                    ops::physical_tank_id("ZS-BONDED-01", "T-1"),
                    "insp",
                    "CAL-1",
                ),
                vec![&wh, &inspector],
            ),
            (
                ops::certify_stock(&ops::StockCertificate {
                    tank_id: "T-1",
                    inspector_id: "insp",
                    certificate_no: "C-1",
                    quantity_kg: 1_000_000,
                    product_grade: "VLSFO 0.5%S",
                    gauged_at_ms: T0,
                    depositor_id: "trader-a",
                }),
                vec![&wh, &inspector, &trader],
            ),
            (
                ops::issue_receipt(pb::IssueReceipt {
                    receipt_id: "R-1".into(),
                    tank_id: "T-1".into(),
                    inspector_id: "insp".into(),
                    certificate_no: "C-1".into(),
                    product_grade: "VLSFO 0.5%S".into(),
                    specification: "ISO 8217:2017 RMG 380".into(),
                    quantity_kg: 1_000_000,
                    customs_status: pb::CustomsStatus::Bonded as i32,
                    customs_reference: "ZS-2026-000123".into(),
                    expires_at_ms: T0 + 365 * DAY_MS,
                    loss_allowance_ppm: 3_000,
                    insurance_reference: "PICC-OIL-77".into(),
                }),
                vec![&wh],
            ),
            (
                ops::register_pledge(
                    "PL-1",
                    "R-1",
                    "bank-a",
                    ops::money(450_000_000, "USD"),
                    "LOAN-1",
                    T0 + 90 * DAY_MS,
                ),
                vec![&trader, &bank],
            ),
            (ops::release_pledge("PL-1"), vec![&bank]),
        ];
        let mut ledger = MemoryLedger::in_memory(node_key());
        for (i, (op, signers)) in steps.into_iter().enumerate() {
            let header = TxHeader::new("zhoushan-test", "t")
                .unwrap()
                .with_tx_id(&format!("tx-{i}"))
                .valid_between(T0, T0 + DAY_MS);
            let signers: Vec<Signer> = signers.into_iter().cloned().collect();
            let envelope = keys::sign(&header.wrap(op), &signers).verify().unwrap();
            let results = ledger
                .append_group(&[envelope], T0 + i as u64 * 1000)
                .unwrap();
            results[0]
                .as_ref()
                .unwrap_or_else(|r| panic!("step {i} refused: {r}"));
        }
        let store = ledger.snapshot();
        let records = (0..store.len())
            .map(|seq| store.record(seq).unwrap())
            .collect();
        (records, store.head().head_hash)
    }

    fn export_file(records: &[Vec<u8>]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for record in records {
            write_record(&mut file, record).unwrap();
        }
        file
    }

    fn node_public() -> PublicKey {
        crypto::public_key(&node_key())
    }

    /// The state roots the replay computes from scratch are the ones the
    /// node's store keeps incrementally, at every size.
    #[test]
    fn the_replay_recomputes_the_state_root_at_each_size_asked() {
        let (records, _) = chain();
        let mut ledger = MemoryLedger::in_memory(node_key());
        let mut expected = StateRoots::new();
        expected.insert(0, statemap::EMPTY);
        for (i, record) in records.iter().enumerate() {
            let entry = pledge_ledger::entry::Entry::decode(record).unwrap();
            let envelope = entry.envelope.verify().unwrap();
            ledger.append_group(&[envelope], entry.time_ms).unwrap();
            let snapshot = ledger.snapshot();
            expected.insert(i as u64 + 1, snapshot.state_root(i as u64 + 1).unwrap());
        }
        let sizes: BTreeSet<u64> = expected.keys().copied().collect();
        let (verdict, roots) = audit_records_at(
            records.iter().cloned().map(Ok),
            node_public(),
            &sizes,
            &mut |_| {},
        )
        .unwrap();
        assert!(verdict.is_verified());
        assert_eq!(roots, expected);
        assert_ne!(roots[&3], roots[&4], "an issue changes the state");
    }

    #[test]
    fn an_export_of_a_good_chain_verifies() {
        let (records, head_hash) = chain();
        let file = export_file(&records);
        let mut seen = Vec::new();
        let verdict = audit_file(file.path(), node_public(), &mut |n| seen.push(n)).unwrap();
        assert_eq!(
            verdict,
            Verdict::Verified {
                entries: 6,
                head_hash,
                sealers: vec![node_public()],
            }
        );
        assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            verdict.to_string(),
            format!("verified 6 entries, head hash {head_hash}")
        );
    }

    #[test]
    fn a_flipped_byte_names_the_entry() {
        let (records, _) = chain();
        let offset_of = |seq: usize| records[..seq].iter().map(|r| 4 + r.len()).sum::<usize>();
        let mut bytes = std::fs::read(export_file(&records).path()).unwrap();
        // A byte in the middle of entry 4's transaction (the pledge).
        let at = offset_of(4) + 4 + records[4].len() / 2;
        bytes[at] ^= 0x01;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        let verdict = audit_file(file.path(), node_public(), &mut |_| {}).unwrap();
        let Verdict::Bad {
            seq,
            ref reason,
            reason_code,
            good_head_hash,
        } = verdict
        else {
            panic!("tampered chain verified: {verdict}");
        };
        assert_eq!(seq, 4);
        assert!(
            verdict.to_string().starts_with("entry 4 is bad: "),
            "{verdict}"
        );
        assert!(!reason.starts_with("entry 4"), "{reason}");
        // The seal no longer verifies: a broken chain, which has no code.
        assert_eq!(reason_code, None);
        assert_ne!(good_head_hash, Digest::ZERO);
    }

    #[test]
    fn a_flipped_seal_byte_names_the_entry() {
        let (mut records, _) = chain();
        let last = records[2].len() - 1;
        records[2][last] ^= 0x80;
        let verdict =
            audit_records(records.into_iter().map(Ok), node_public(), &mut |_| {}).unwrap();
        assert!(matches!(verdict, Verdict::Bad { seq: 2, .. }), "{verdict}");
        assert!(verdict.to_string().contains("seal"), "{verdict}");
    }

    #[test]
    fn another_node_key_fails_at_genesis() {
        let (records, _) = chain();
        let other = crypto::public_key(&SigningKey::from_bytes(&[101; 32]));
        let verdict = audit_records(records.into_iter().map(Ok), other, &mut |_| {}).unwrap();
        assert!(matches!(verdict, Verdict::Bad { seq: 0, .. }), "{verdict}");
    }

    #[test]
    fn a_dropped_entry_breaks_the_chain() {
        let (mut records, _) = chain();
        records.remove(3);
        let verdict =
            audit_records(records.into_iter().map(Ok), node_public(), &mut |_| {}).unwrap();
        assert!(matches!(verdict, Verdict::Bad { seq: 3, .. }), "{verdict}");
    }

    #[test]
    fn a_truncated_export_is_an_error_not_a_verdict() {
        let (records, _) = chain();
        let bytes = std::fs::read(export_file(&records).path()).unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &bytes[..bytes.len() - 10]).unwrap();
        let error = audit_file(file.path(), node_public(), &mut |_| {}).unwrap_err();
        assert!(
            matches!(error, ClientError::Export { index: 5, .. }),
            "{error}"
        );
    }
}
