//! The production store: the entry log for the chain, sled for the state.
//!
//! sled holds one tree, `state`, whose keys are prefixed by kind:
//!
//! | key                               | value (postcard)   |
//! |-----------------------------------|--------------------|
//! | `meta/ledger_id`                  | ledger id (UTF-8)  |
//! | `meta/applied`                    | entries applied, u64 big-endian |
//! | `meta/format`                     | the layout version of this table, ASCII |
//! | `p/` id                           | `Participant`      |
//! | `t/` id                           | `Tank`             |
//! | `c/` agency `\0` number           | `Certificate`      |
//! | `r/` id                           | `Receipt`          |
//! | `g/` id                           | `Pledge`           |
//! | `x/` tx id                        | `TxRecord`         |
//! | `m/` level:u8 index:u64           | Merkle node hash, 32 bytes |
//! | `h/` receipt `\0` seq:u64         | empty: an entry that changed the receipt |
//! | `i/` kind `/` value `\0` receipt   | empty: list index; kind `h` holder, `w` warehouse, `t` tank, `b` pledgee bank, `s` status |
//!
//! Every commit writes its objects and `meta/applied` in one atomic sled
//! batch, after the log group is fdatasynced. sled may lose its last batches
//! in a crash; [`DiskStore::open`] then replays the missing entries from the
//! log, and if sled claims more than the log holds it is rebuilt from scratch.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::log::EntryLog;
use super::{ReceiptFilter, Store, StoreError, active_pledge_id, follow_on, tree_nodes_for};
use crate::chain::{ChainCursor, ChainError};
use crate::crypto::PublicKey;
use crate::entry::{Entry, Sealed};
use crate::merkle::{self, Hash, NodeId, NodeSource};
use crate::model::{
    Certificate, CertificateRef, Participant, Pledge, Receipt, Seq, Tank, TxRecord,
};
use crate::replay::reapply;
use crate::state::{Objects, StateRead};

const APPLIED_KEY: &[u8] = b"meta/applied";
const LEDGER_ID_KEY: &[u8] = b"meta/ledger_id";
const FORMAT_KEY: &[u8] = b"meta/format";
/// The layout of the state table; a cache written by another layout is
/// rebuilt from the log.
const STATE_FORMAT: &[u8] = b"2";
/// sled's page cache. sled's default (1 GiB) lets the node's memory grow
/// with the state until it reaches it; the working set of the rules (the
/// receipts and pledges being touched, the Merkle frontier) is far smaller.
const STATE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Entries in a checksummed, fdatasynced log; state in sled.
#[derive(Debug)]
pub struct DiskStore {
    log: EntryLog,
    db: sled::Db,
    state: sled::Tree,
    head: ChainCursor,
    node_key: PublicKey,
}

/// What opening a store found and repaired.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Entries in the chain.
    pub entries: u64,
    /// Bytes of a torn last group dropped from the log.
    pub dropped_tail_bytes: u64,
    /// Entries replayed into the state because sled had lost them.
    pub replayed: u64,
    /// Whether the state was rebuilt from scratch.
    pub rebuilt: bool,
}

impl DiskStore {
    /// Opens (or creates) the store in `dir`: `dir/log` holds the entry log,
    /// `dir/state` the sled database. Verifies the chain and repairs the
    /// state from the log; refuses a chain that does not verify, naming the
    /// first bad entry. `node_key` is the key that seals this chain.
    pub fn open(dir: &Path, node_key: PublicKey) -> Result<(DiskStore, OpenReport), StoreError> {
        let (log, recovery) = EntryLog::open(&dir.join("log"))?;
        let head = verify_chain(&log, &node_key)?;
        let db = sled::Config::new()
            .path(dir.join("state"))
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(sled_err("open"))?;
        let state = db.open_tree("state").map_err(sled_err("open tree"))?;
        let mut store = DiskStore {
            log,
            db,
            state,
            head,
            node_key,
        };
        let mut report = OpenReport {
            entries: head.next_seq,
            dropped_tail_bytes: recovery.dropped_tail_bytes,
            ..OpenReport::default()
        };
        store.catch_up(&mut report)?;
        Ok((store, report))
    }

    /// The directory layout, for operators' messages.
    pub fn paths(dir: &Path) -> [PathBuf; 2] {
        [dir.join("log"), dir.join("state")]
    }

    /// Makes sled write its caches to its files (not a durability barrier;
    /// used on clean shutdown so the next open replays nothing).
    pub fn flush_state(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(sled_err("flush"))?;
        Ok(())
    }

    fn applied(&self) -> Result<u64, StoreError> {
        match self
            .state
            .get(APPLIED_KEY)
            .map_err(sled_err("read applied count"))?
        {
            None => Ok(0),
            Some(bytes) => {
                let array: [u8; 8] = bytes.as_ref().try_into().map_err(|_| StoreError::Codec {
                    key: "meta/applied".into(),
                    reason: format!("{} bytes, expected 8", bytes.len()),
                })?;
                Ok(u64::from_be_bytes(array))
            }
        }
    }

    /// Brings sled up to the log: replays what it lacks, or rebuilds it.
    fn catch_up(&mut self, report: &mut OpenReport) -> Result<(), StoreError> {
        let mut applied = self.applied()?;
        let format = self
            .state
            .get(FORMAT_KEY)
            .map_err(sled_err("read format"))?;
        if applied > self.log.len() || format.as_deref() != Some(STATE_FORMAT) {
            self.state.clear().map_err(sled_err("clear state"))?;
            self.state
                .insert(FORMAT_KEY, STATE_FORMAT)
                .map_err(sled_err("write format"))?;
            report.rebuilt = applied > 0;
            applied = 0;
        }
        for seq in applied..self.log.len() {
            let entry = self.entry(seq)?;
            let changes = reapply(&*self, &entry, Some(&self.node_key)).map_err(|fault| {
                StoreError::InvalidEntry {
                    seq,
                    reason: fault.to_string(),
                }
            })?;
            let leaf = merkle::leaf_hash(&entry.body());
            let nodes = tree_nodes_for(&*self, seq, std::iter::once(leaf))?;
            self.write_state(&changes, &nodes, seq + 1)?;
            report.replayed += 1;
        }
        Ok(())
    }

    fn write_state(
        &self,
        changes: &Objects,
        nodes: &[(NodeId, Hash)],
        applied: u64,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (id, hash) in nodes {
            batch.insert([b"m/".as_slice(), &id.to_key()].concat(), hash.as_slice());
        }
        if let Some(id) = &changes.ledger_id {
            batch.insert(LEDGER_ID_KEY, id.as_bytes());
        }
        put_all(
            &mut batch,
            "p/",
            changes
                .participants
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v)),
        )?;
        put_all(
            &mut batch,
            "t/",
            changes
                .tanks
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v)),
        )?;
        put_all(
            &mut batch,
            "c/",
            changes
                .certificates
                .iter()
                .map(|(k, v)| (certificate_key(k), v)),
        )?;
        put_all(
            &mut batch,
            "r/",
            changes
                .receipts
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v)),
        )?;
        put_all(
            &mut batch,
            "g/",
            changes
                .pledges
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v)),
        )?;
        put_all(
            &mut batch,
            "x/",
            changes
                .transactions
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v)),
        )?;
        self.index_receipts(&mut batch, changes)?;
        for (id, seqs) in &changes.receipt_history {
            for seq in seqs {
                batch.insert(history_key(id, *seq), &[]);
            }
        }
        batch.insert(APPLIED_KEY, &applied.to_be_bytes());
        self.state
            .apply_batch(batch)
            .map_err(sled_err("apply batch"))
    }

    /// Moves each changed receipt's list-index keys from its old to its new
    /// values.
    fn index_receipts(&self, batch: &mut sled::Batch, changes: &Objects) -> Result<(), StoreError> {
        for (id, new) in &changes.receipts {
            let old: Option<Receipt> = self.get("r/", id.as_bytes())?;
            let old_keys = match &old {
                Some(old) => index_keys(old, self.pledgee_of(old, &Objects::default())?.as_deref()),
                None => Vec::new(),
            };
            let new_keys = index_keys(new, self.pledgee_of(new, changes)?.as_deref());
            for key in old_keys.iter().filter(|k| !new_keys.contains(k)) {
                batch.remove(key.as_slice());
            }
            for key in new_keys {
                batch.insert(key, &[]);
            }
        }
        Ok(())
    }

    /// The bank of the receipt's active pledge, looking in `pending` first.
    fn pledgee_of(
        &self,
        receipt: &Receipt,
        pending: &Objects,
    ) -> Result<Option<String>, StoreError> {
        let Some(pledge_id) = active_pledge_id(receipt) else {
            return Ok(None);
        };
        let pledge = match pending.pledges.get(pledge_id) {
            Some(pledge) => Some(pledge.clone()),
            None => self.pledge(pledge_id)?,
        };
        Ok(pledge.map(|p| p.terms.pledgee_id))
    }

    fn get<T: DeserializeOwned>(&self, prefix: &str, id: &[u8]) -> Result<Option<T>, StoreError> {
        let key = [prefix.as_bytes(), id].concat();
        match self.state.get(&key).map_err(sled_err("read"))? {
            None => Ok(None),
            Some(bytes) => decode_value(&key, &bytes).map(Some),
        }
    }

    fn scan<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> impl Iterator<Item = Result<T, StoreError>> + '_ {
        self.state.scan_prefix(prefix.as_bytes()).map(|item| {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            decode_value(&key, &bytes)
        })
    }
}

/// Checks every link of the chain in the log, and the head's seal. Seals of
/// inner entries are implied by the links up to the sealed head; where a link
/// breaks, the previous entry's seal tells which of the two was altered.
fn verify_chain(log: &EntryLog, node_key: &PublicKey) -> Result<ChainCursor, StoreError> {
    let mut cursor = ChainCursor::default();
    let mut last: Option<Entry> = None;
    for item in log.iter_from(0) {
        let (_, record) = item?;
        match cursor.check_record(&record, None) {
            Ok(entry) => last = Some(entry),
            Err(broken) => return Err(first_bad_entry(broken, last.as_ref(), node_key).into()),
        }
    }
    if let Some(entry) = last {
        require_seal(&entry, node_key)?;
    }
    Ok(cursor)
}

/// A broken link at entry n means entry n-1 or entry n was altered: an
/// altered n-1 no longer matches its seal.
fn first_bad_entry(
    broken: ChainError,
    previous: Option<&Entry>,
    node_key: &PublicKey,
) -> ChainError {
    match (&broken, previous) {
        (ChainError::BrokenLink { .. }, Some(previous)) => {
            require_seal(previous, node_key).err().unwrap_or(broken)
        }
        _ => broken,
    }
}

fn require_seal(entry: &Entry, node_key: &PublicKey) -> Result<(), ChainError> {
    match entry.seal_verifies(node_key) {
        true => Ok(()),
        false => Err(ChainError::BadSeal {
            seq: entry.seq,
            node_key: *node_key,
        }),
    }
}

fn put_all<'a, T: Serialize + 'a>(
    batch: &mut sled::Batch,
    prefix: &str,
    items: impl Iterator<Item = (Vec<u8>, &'a T)>,
) -> Result<(), StoreError> {
    for (id, value) in items {
        let key = [prefix.as_bytes(), &id].concat();
        let bytes = postcard::to_stdvec(value).map_err(|e| StoreError::Codec {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: e.to_string(),
        })?;
        batch.insert(key, bytes);
    }
    Ok(())
}

fn decode_value<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Codec {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn history_key(receipt_id: &str, seq: Seq) -> Vec<u8> {
    [
        b"h/".as_slice(),
        receipt_id.as_bytes(),
        b"\0",
        &seq.to_be_bytes(),
    ]
    .concat()
}

fn index_prefix(kind: &str, value: &str) -> Vec<u8> {
    [
        b"i/".as_slice(),
        kind.as_bytes(),
        b"/",
        value.as_bytes(),
        b"\0",
    ]
    .concat()
}

fn filter_prefix(filter: &ReceiptFilter) -> Vec<u8> {
    match filter {
        ReceiptFilter::All => b"r/".to_vec(),
        ReceiptFilter::Holder(id) => index_prefix("h", id),
        ReceiptFilter::Warehouse(id) => index_prefix("w", id),
        ReceiptFilter::Tank(id) => index_prefix("t", id),
        ReceiptFilter::Pledgee(id) => index_prefix("b", id),
        ReceiptFilter::Status(name) => index_prefix("s", name),
    }
}

fn index_keys(receipt: &Receipt, pledgee: Option<&str>) -> Vec<Vec<u8>> {
    let id = receipt.id().as_bytes();
    let mut keys = vec![
        [index_prefix("h", &receipt.holder_id), id.to_vec()].concat(),
        [index_prefix("w", &receipt.warehouse_id), id.to_vec()].concat(),
        [index_prefix("t", &receipt.terms.tank_id), id.to_vec()].concat(),
        [index_prefix("s", receipt.status.name()), id.to_vec()].concat(),
    ];
    if let Some(bank) = pledgee {
        keys.push([index_prefix("b", bank), id.to_vec()].concat());
    }
    keys
}

fn certificate_key(reference: &CertificateRef) -> Vec<u8> {
    [
        reference.agency.as_bytes(),
        b"\0",
        reference.number.as_bytes(),
    ]
    .concat()
}

fn sled_err(op: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |source| StoreError::Sled { op, source }
}

impl Store for DiskStore {
    fn len(&self) -> u64 {
        self.log.len()
    }

    fn head(&self) -> ChainCursor {
        self.head
    }

    fn entry(&self, seq: Seq) -> Result<Entry, StoreError> {
        let record = self.record(seq)?;
        Entry::decode(&record).map_err(|source| ChainError::Malformed { seq, source }.into())
    }

    fn record(&self, seq: Seq) -> Result<Vec<u8>, StoreError> {
        if seq >= self.log.len() {
            return Err(StoreError::OutOfRange {
                seq,
                len: self.log.len(),
            });
        }
        Ok(self.log.read(seq)?)
    }

    fn commit(&mut self, entries: &[Sealed], changes: &Objects) -> Result<(), StoreError> {
        let head = follow_on(self.head, entries)?;
        let leaves = entries.iter().map(|s| merkle::leaf_hash(s.body()));
        let nodes = tree_nodes_for(&*self, self.len(), leaves)?;
        let slices: Vec<&[u8]> = entries.iter().map(|s| s.record.as_slice()).collect();
        self.log.append_group(&slices)?;
        self.head = head;
        self.write_state(changes, &nodes, head.next_seq)
    }

    fn receipts(
        &self,
        filter: &ReceiptFilter,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError> {
        let prefix = filter_prefix(filter);
        let start = match after.is_empty() {
            true => prefix.clone(),
            false => [prefix.as_slice(), after.as_bytes(), b"\0"].concat(),
        };
        let mut found = Vec::new();
        for item in self.state.range(start..) {
            let (key, value) = item.map_err(sled_err("list receipts"))?;
            let Some(id) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            // Scanning `r/` yields the receipts themselves; an index key
            // names one to read.
            let receipt = match filter {
                ReceiptFilter::All => Some(decode_value(&key, &value)?),
                _ => self.receipt(&String::from_utf8_lossy(id))?,
            };
            if let Some(receipt) = receipt {
                found.push(receipt);
            }
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    fn receipt_history(&self, id: &str) -> Result<Vec<Seq>, StoreError> {
        let prefix = [b"h/".as_slice(), id.as_bytes(), b"\0"].concat();
        self.state
            .scan_prefix(&prefix)
            .map(|item| {
                let (key, _) = item.map_err(sled_err("read history"))?;
                parse_history_key(&key).map(|(_, seq)| seq)
            })
            .collect()
    }

    fn objects(&self) -> Result<Objects, StoreError> {
        let mut all = Objects {
            ledger_id: self.ledger_id()?,
            ..Objects::default()
        };
        for p in self.scan::<Participant>("p/") {
            all.put_participant(p?);
        }
        for t in self.scan::<Tank>("t/") {
            all.put_tank(t?);
        }
        for c in self.scan::<Certificate>("c/") {
            all.put_certificate(c?);
        }
        for r in self.scan::<Receipt>("r/") {
            all.put_receipt(r?);
        }
        for g in self.scan::<Pledge>("g/") {
            all.put_pledge(g?);
        }
        for item in self.state.scan_prefix(b"h/") {
            let (key, _) = item.map_err(sled_err("scan"))?;
            let (id, seq) = parse_history_key(&key)?;
            all.receipt_history.entry(id).or_default().push(seq);
        }
        for item in self.state.scan_prefix(b"x/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let record: TxRecord = decode_value(&key, &bytes)?;
            all.transactions
                .insert(String::from_utf8_lossy(&key[2..]).into_owned(), record);
        }
        Ok(all)
    }
}

fn parse_history_key(key: &[u8]) -> Result<(String, Seq), StoreError> {
    let bad = || StoreError::Codec {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: "not a history key".into(),
    };
    let rest = key.strip_prefix(b"h/").ok_or_else(bad)?;
    let split = rest.len().checked_sub(9).ok_or_else(bad)?;
    let (id, tail) = rest.split_at(split);
    let seq: [u8; 8] = tail
        .get(1..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(bad)?;
    Ok((
        String::from_utf8_lossy(id).into_owned(),
        u64::from_be_bytes(seq),
    ))
}

impl StateRead for DiskStore {
    fn ledger_id(&self) -> Result<Option<String>, StoreError> {
        let bytes = self
            .state
            .get(LEDGER_ID_KEY)
            .map_err(sled_err("read ledger id"))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StoreError> {
        self.get("p/", id.as_bytes())
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StoreError> {
        self.get("t/", id.as_bytes())
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StoreError> {
        self.get("c/", &certificate_key(reference))
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StoreError> {
        self.get("r/", id.as_bytes())
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StoreError> {
        self.get("g/", id.as_bytes())
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StoreError> {
        self.get("x/", tx_id.as_bytes())
    }
}

impl NodeSource for DiskStore {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        let key = [b"m/".as_slice(), &id.to_key()].concat();
        let bytes = self.state.get(&key).map_err(sled_err("read Merkle node"))?;
        let bytes = bytes.ok_or_else(|| StoreError::Tree {
            reason: format!("node {id:?} is not stored"),
        })?;
        bytes.as_ref().try_into().map_err(|_| StoreError::Codec {
            key: format!("m/{id:?}"),
            reason: format!("{} bytes, expected 32", bytes.len()),
        })
    }
}
