//! The derived state on disk, in sled: one tree, `state`, whose keys are
//! prefixed by kind:
//!
//! | key                               | value (postcard)   |
//! |-----------------------------------|--------------------|
//! | `meta/ledger_id`                  | ledger id (UTF-8)  |
//! | `meta/governance`                 | `Governance`       |
//! | `meta/membership`                 | `Membership`       |
//! | `meta/applied`                    | entries applied, u64 big-endian |
//! | `meta/format`                     | the layout version of this table, ASCII |
//! | `p/` id                           | `Participant`      |
//! | `k/` public key (32 bytes)        | `KeyOwner`         |
//! | `l/` scheme `\0` code             | participant id     |
//! | `t/` id                           | `Tank`             |
//! | `f/` facility code `\0` tank number | tank id         |
//! | `c/` inspector `\0` number        | `Certificate`      |
//! | `r/` id                           | `Receipt`          |
//! | `g/` id                           | `Pledge`           |
//! | `x/` tx id                        | `TxRecord`         |
//! | `a/` tx hash (32 bytes)           | the attempt entry that recorded it, `Seq` |
//! | `q/` grade `\0` currency          | the latest `PriceAssessment` |
//! | `m/` level:u8 index:u64           | Merkle node hash, 32 bytes |
//! | `h/` receipt `\0` seq:u64         | empty: an entry that changed the receipt |
//! | `i/` kind `/` value `\0` receipt   | empty: list index; kind `h` holder, `w` warehouse, `t` tank, `b` pledgee bank, `s` status |
//! | `s/` depth:u16 prefix:32 version:u64 | state map node (`MapNode::to_bytes`) written at that version |
//! | `v/` version:u64                  | state map root after `version` entries, 32 bytes |
//! | `o/` at:u64 depth:u16 prefix:32 version:u64 | empty: the node version written at `version` was superseded by one written at `at` |
//! | `meta/map_floor`                  | the state map was pruned below this size, u64 big-endian |
//!
//! [`StateStore::prune_map`] to a floor deletes, in one batch, every node
//! version an `o/` key at or below the floor names (with that key) and every
//! root below the floor: its cost is what it deletes, never a scan of the map.
//!
//! A table written by another layout (another `meta/format`) is cleared
//! when it opens, and the ledger rebuilds it from the log.
//!
//! Every [`StateStore::apply`] writes its objects, indexes, nodes and
//! `meta/applied` in one atomic sled batch. sled 0.34's `flush()` ends in
//! `sync_file_range`, not a durability barrier, so sled may lose its last
//! batches in a crash; the ledger then replays them from the log.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ReceiptFilter, StateStore, StateUpdate, StateView, StoreError, check_follows};
use crate::crypto::{Digest, PublicKey};
use crate::merkle::{Hash, NodeId, NodeSource};
use crate::model::{
    Certificate, CertificateRef, Governance, KeyOwner, LegalId, Membership, Participant,
    PhysicalTankId, Pledge, PriceAssessment, PriceKey, Receipt, Seq, Tank, TxRecord,
};
use crate::state::{Objects, StateError, StateRead};
use crate::statemap::{EMPTY, MapHash, MapNode, MapNodeId, VersionedMap, versioned};

const APPLIED_KEY: &[u8] = b"meta/applied";
const LEDGER_ID_KEY: &[u8] = b"meta/ledger_id";
const GOVERNANCE_KEY: &str = "meta/governance";
const MEMBERSHIP_KEY: &str = "meta/membership";
const FORMAT_KEY: &[u8] = b"meta/format";
/// The layout of the state table; a table written by another layout is
/// cleared on open and rebuilt from the log (3: attested oil's objects and
/// indexes; 4: the state map; 5: superseded map nodes indexed for pruning;
/// 6: price assessments and pledges' margin levels).
const STATE_FORMAT: &[u8] = b"6";
const MAP_FLOOR_KEY: &[u8] = b"meta/map_floor";
/// sled's page cache. sled's default (1 GiB) lets the node's memory grow
/// with the state until it reaches it; the working set of the rules (the
/// receipts and pledges being touched, the Merkle frontier) is far smaller.
const STATE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The state in a sled database.
#[derive(Debug)]
pub struct DiskStateStore {
    db: sled::Db,
    tree: sled::Tree,
    applied: u64,
    /// Whether opening found a table of another layout and cleared it.
    reformatted: bool,
}

impl DiskStateStore {
    /// Opens (or creates) the sled database in `dir`.
    pub fn open(dir: &Path) -> Result<DiskStateStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(sled_err("open"))?;
        let tree = db.open_tree("state").map_err(sled_err("open tree"))?;
        let format = tree.get(FORMAT_KEY).map_err(sled_err("read format"))?;
        let reformatted = format.as_deref() != Some(STATE_FORMAT) && !tree.is_empty();
        if format.as_deref() != Some(STATE_FORMAT) {
            tree.clear().map_err(sled_err("clear state"))?;
            tree.insert(FORMAT_KEY, STATE_FORMAT)
                .map_err(sled_err("write format"))?;
        }
        let applied = read_applied(&tree)?;
        Ok(DiskStateStore {
            db,
            tree,
            applied,
            reformatted,
        })
    }

    /// Creates an empty sled database in `dir` that sled deletes when the
    /// store is dropped: the state of a node that cannot write to its data
    /// directory (a full disk), rebuilt from the entry log at every start
    /// and kept nowhere else. Whatever `dir` held is removed first (what a
    /// process that did not stop cleanly left): the caller makes sure no
    /// one else uses it.
    pub fn open_temporary(dir: &Path) -> Result<DiskStateStore, StoreError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|error| StoreError::Sled {
                op: "remove a stale temporary database",
                source: sled::Error::Io(error),
            })?;
        }
        let db = sled::Config::new()
            .path(dir)
            .temporary(true)
            .create_new(true)
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(sled_err("create temporary database"))?;
        let tree = db.open_tree("state").map_err(sled_err("open tree"))?;
        tree.insert(FORMAT_KEY, STATE_FORMAT)
            .map_err(sled_err("write format"))?;
        Ok(DiskStateStore {
            db,
            tree,
            applied: 0,
            reformatted: false,
        })
    }

    /// Whether opening found a table written by another layout and cleared
    /// it: everything is replayed from the log.
    pub fn reformatted(&self) -> bool {
        self.reformatted
    }

    fn view_now(&self) -> DiskStateView {
        DiskStateView {
            tree: self.tree.clone(),
            applied: self.applied,
        }
    }

    fn write(&self, update: &StateUpdate) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (id, hash) in &update.nodes {
            batch.insert(node_key(*id), hash.as_slice());
        }
        let view = self.view_now();
        let map = versioned::update_for(&view, &update.changes)?;
        for (id, node) in &map.writes {
            if let Some(superseded) = view.newest_map_version(id)? {
                batch.insert(superseded_key(update.end, id, superseded).as_slice(), &[]);
            }
            batch.insert(map_node_key(id, update.end).as_slice(), node.to_bytes());
        }
        batch.insert(map_root_key(update.end).as_slice(), map.root.as_slice());
        let changes = &update.changes;
        if let Some(id) = &changes.ledger_id {
            batch.insert(LEDGER_ID_KEY, id.as_bytes());
        }
        put_objects(&mut batch, changes)?;
        self.index_receipts(&mut batch, changes)?;
        for (id, seqs) in &changes.receipt_history {
            for seq in seqs {
                batch.insert(history_key(id, *seq), &[]);
            }
        }
        batch.insert(APPLIED_KEY, &update.end.to_be_bytes());
        self.tree
            .apply_batch(batch)
            .map_err(sled_err("apply batch"))
    }

    /// Moves each changed receipt's list-index keys from its old to its new
    /// values. A key whose value did not change (most steps change only the
    /// status, or only the pledgee) is left alone: rewriting it would add a
    /// version of it to sled's log for nothing.
    fn index_receipts(&self, batch: &mut sled::Batch, changes: &Objects) -> Result<(), StoreError> {
        let view = self.view_now();
        for (id, new) in &changes.receipts {
            let old: Option<Receipt> = view.get("r/", id.as_bytes())?;
            let old_keys = match &old {
                Some(old) => index_keys(old, view.pledgee_of(old, &Objects::default())?.as_deref()),
                None => Vec::new(),
            };
            let new_keys = index_keys(new, view.pledgee_of(new, changes)?.as_deref());
            for key in old_keys.iter().filter(|k| !new_keys.contains(k)) {
                batch.remove(key.as_slice());
            }
            for key in new_keys.into_iter().filter(|k| !old_keys.contains(k)) {
                batch.insert(key, &[]);
            }
        }
        Ok(())
    }
}

/// Every kind of object and its key prefix: the one list the disk store
/// keeps (see `crate::state::Objects`).
fn put_objects(batch: &mut sled::Batch, changes: &Objects) -> Result<(), StoreError> {
    let by_id = |id: &String| id.as_bytes().to_vec();
    if let Some(governance) = &changes.governance {
        put_all(
            batch,
            GOVERNANCE_KEY,
            std::iter::once((Vec::new(), governance)),
        )?;
    }
    if let Some(membership) = &changes.membership {
        put_all(
            batch,
            MEMBERSHIP_KEY,
            std::iter::once((Vec::new(), membership)),
        )?;
    }
    put_all(
        batch,
        "p/",
        changes.participants.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "k/",
        changes.key_owners.iter().map(|(k, v)| (k.0.to_vec(), v)),
    )?;
    put_all(
        batch,
        "l/",
        changes.legal_ids.iter().map(|(k, v)| (legal_id_key(k), v)),
    )?;
    put_all(
        batch,
        "t/",
        changes.tanks.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "f/",
        changes
            .physical_tanks
            .iter()
            .map(|(k, v)| (physical_tank_key(k), v)),
    )?;
    put_all(
        batch,
        "c/",
        changes
            .certificates
            .iter()
            .map(|(k, v)| (certificate_key(k), v)),
    )?;
    put_all(
        batch,
        "r/",
        changes.receipts.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "g/",
        changes.pledges.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "x/",
        changes.transactions.iter().map(|(k, v)| (by_id(k), v)),
    )?;
    put_all(
        batch,
        "a/",
        changes.attempts.iter().map(|(k, v)| (k.0.to_vec(), v)),
    )?;
    put_all(
        batch,
        "q/",
        changes.prices.iter().map(|(k, v)| (price_key(k), v)),
    )
}

fn read_applied(tree: &sled::Tree) -> Result<u64, StoreError> {
    match tree
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

impl StateStore for DiskStateStore {
    type View = DiskStateView;

    fn applied(&self) -> u64 {
        self.applied
    }

    fn view(&self) -> DiskStateView {
        self.view_now()
    }

    fn apply(&mut self, update: &StateUpdate) -> Result<(), StoreError> {
        check_follows(self.applied, update)?;
        self.write(update)?;
        self.applied = update.end;
        Ok(())
    }

    fn prune_map(&mut self, floor: u64) -> Result<u64, StoreError> {
        let floor = floor.min(self.applied);
        let view = self.view_now();
        let pruned_to = view.map_floor()?;
        if floor <= pruned_to {
            return Ok(0);
        }
        let mut batch = sled::Batch::default();
        let mut dropped = 0;
        let superseded = self.tree.range(
            superseded_key(0, &MapNodeId::ROOT, 0)..superseded_key(floor + 1, &MapNodeId::ROOT, 0),
        );
        for item in superseded {
            let (key, _) = item.map_err(sled_err("read superseded map nodes"))?;
            let (id, version) = parse_superseded_key(&key)?;
            batch.remove(map_node_key(&id, version).as_slice());
            batch.remove(key);
            dropped += 1;
        }
        for item in self
            .tree
            .range(map_root_key(pruned_to)..map_root_key(floor))
        {
            let (key, _) = item.map_err(sled_err("read state map roots"))?;
            batch.remove(key);
            dropped += 1;
        }
        batch.insert(MAP_FLOOR_KEY, &floor.to_be_bytes());
        self.tree
            .apply_batch(batch)
            .map_err(sled_err("prune state map"))?;
        Ok(dropped)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.tree.clear().map_err(sled_err("clear state"))?;
        self.tree
            .insert(FORMAT_KEY, STATE_FORMAT)
            .map_err(sled_err("write format"))?;
        self.applied = 0;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(sled_err("flush"))?;
        Ok(())
    }
}

/// A view of a [`DiskStateStore`]. It reads sled's live tree: it reflects at
/// least the entries `0..applied()` and may see entries applied after it
/// was taken (whole objects of a later version, never a torn one).
#[derive(Debug, Clone)]
pub struct DiskStateView {
    tree: sled::Tree,
    applied: u64,
}

impl DiskStateView {
    fn get<T: DeserializeOwned>(&self, prefix: &str, id: &[u8]) -> Result<Option<T>, StoreError> {
        let key = [prefix.as_bytes(), id].concat();
        match self.tree.get(&key).map_err(sled_err("read"))? {
            None => Ok(None),
            Some(bytes) => decode_value(&key, &bytes).map(Some),
        }
    }

    fn scan<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> impl Iterator<Item = Result<T, StoreError>> + '_ {
        self.tree.scan_prefix(prefix.as_bytes()).map(|item| {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            decode_value(&key, &bytes)
        })
    }

    /// The bank of the receipt's active pledge, looking in `pending` first.
    fn pledgee_of(
        &self,
        receipt: &Receipt,
        pending: &Objects,
    ) -> Result<Option<String>, StoreError> {
        let Some(pledge_id) = receipt.active_pledge() else {
            return Ok(None);
        };
        let pledge = match pending.pledges.get(pledge_id) {
            Some(pledge) => Some(pledge.clone()),
            None => self.get::<Pledge>("g/", pledge_id.as_bytes())?,
        };
        Ok(pledge.map(|p| p.pledgee().to_owned()))
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

fn price_key(key: &PriceKey) -> Vec<u8> {
    [key.product_grade.as_bytes(), b"\0", key.currency.as_bytes()].concat()
}

fn certificate_key(reference: &CertificateRef) -> Vec<u8> {
    [
        reference.inspector.as_bytes(),
        b"\0",
        reference.number.as_bytes(),
    ]
    .concat()
}

fn legal_id_key(legal_id: &LegalId) -> Vec<u8> {
    [
        legal_id.scheme().as_bytes(),
        b"\0",
        legal_id.code().as_bytes(),
    ]
    .concat()
}

fn physical_tank_key(physical_id: &PhysicalTankId) -> Vec<u8> {
    [
        physical_id.facility_code.as_bytes(),
        b"\0",
        physical_id.tank_number.as_bytes(),
    ]
    .concat()
}

fn sled_err(op: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |source| StoreError::Sled { op, source }
}

impl StateView for DiskStateView {
    fn applied(&self) -> u64 {
        self.applied
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
        for item in self.tree.range(start..) {
            let (key, value) = item.map_err(sled_err("list receipts"))?;
            let Some(id) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            // Scanning `r/` yields the receipts themselves; an index key
            // names one to read.
            let receipt = match filter {
                ReceiptFilter::All => Some(decode_value(&key, &value)?),
                _ => self.get("r/", id)?,
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
        self.tree
            .scan_prefix(&prefix)
            .map(|item| {
                let (key, _) = item.map_err(sled_err("read history"))?;
                parse_history_key(&key).map(|(_, seq)| seq)
            })
            .collect()
    }

    fn objects(&self) -> Result<Objects, StoreError> {
        let mut all = Objects {
            ledger_id: self.ledger_id_stored()?,
            governance: self.governance_stored()?,
            membership: self.membership_stored()?,
            ..Objects::default()
        };
        for p in self.scan::<Participant>("p/") {
            all.put_participant(p?);
        }
        for item in self.tree.scan_prefix(b"k/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let public_key = PublicKey::from_slice(&key[2..]).ok_or_else(|| StoreError::Codec {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: "not a public key".into(),
            })?;
            all.put_key_owner(public_key, decode_value(&key, &bytes)?);
        }
        for item in self.tree.scan_prefix(b"l/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let (scheme, code) = split_pair(&key)?;
            let legal_id = match scheme.as_str() {
                "uscc" => LegalId::Uscc(code),
                _ => LegalId::Lei(code),
            };
            all.put_legal_id(legal_id, &decode_value::<String>(&key, &bytes)?);
        }
        for t in self.scan::<Tank>("t/") {
            all.put_tank(t?);
        }
        for item in self.tree.scan_prefix(b"f/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let (facility_code, tank_number) = split_pair(&key)?;
            let physical_id = PhysicalTankId {
                facility_code,
                tank_number,
            };
            all.put_physical_tank(physical_id, &decode_value::<String>(&key, &bytes)?);
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
        for p in self.scan::<PriceAssessment>("q/") {
            all.put_price(p?);
        }
        for item in self.tree.scan_prefix(b"h/") {
            let (key, _) = item.map_err(sled_err("scan"))?;
            let (id, seq) = parse_history_key(&key)?;
            all.receipt_history.entry(id).or_default().push(seq);
        }
        for item in self.tree.scan_prefix(b"x/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let record: TxRecord = decode_value(&key, &bytes)?;
            all.transactions
                .insert(String::from_utf8_lossy(&key[2..]).into_owned(), record);
        }
        for item in self.tree.scan_prefix(b"a/") {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let hash: [u8; 32] = key[2..].try_into().map_err(|_| StoreError::Codec {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: "an attempt key is not a 32-byte hash".into(),
            })?;
            all.attempts
                .insert(Digest(hash), decode_value(&key, &bytes)?);
        }
        Ok(all)
    }
}

/// The two parts of a `prefix/first\0second` key.
fn split_pair(key: &[u8]) -> Result<(String, String), StoreError> {
    let text = String::from_utf8_lossy(key.get(2..).unwrap_or_default()).into_owned();
    match text.split_once('\0') {
        Some((first, second)) => Ok((first.to_owned(), second.to_owned())),
        None => Err(StoreError::Codec {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "not a two-part key".into(),
        }),
    }
}

impl DiskStateView {
    fn ledger_id_stored(&self) -> Result<Option<String>, StoreError> {
        let bytes = self
            .tree
            .get(LEDGER_ID_KEY)
            .map_err(sled_err("read ledger id"))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn governance_stored(&self) -> Result<Option<Governance>, StoreError> {
        self.get(GOVERNANCE_KEY, b"")
    }

    fn membership_stored(&self) -> Result<Option<Membership>, StoreError> {
        self.get(MEMBERSHIP_KEY, b"")
    }
}

impl StateRead for DiskStateView {
    fn ledger_id(&self) -> Result<Option<String>, StateError> {
        Ok(self.ledger_id_stored()?)
    }
    fn governance(&self) -> Result<Option<Governance>, StateError> {
        Ok(self.governance_stored()?)
    }
    fn membership(&self) -> Result<Option<Membership>, StateError> {
        Ok(self.membership_stored()?)
    }
    fn participant(&self, id: &str) -> Result<Option<Participant>, StateError> {
        Ok(self.get("p/", id.as_bytes())?)
    }
    fn key_owner(&self, key: &PublicKey) -> Result<Option<KeyOwner>, StateError> {
        Ok(self.get("k/", &key.0)?)
    }
    fn legal_id_owner(&self, legal_id: &LegalId) -> Result<Option<String>, StateError> {
        Ok(self.get("l/", &legal_id_key(legal_id))?)
    }
    fn tank(&self, id: &str) -> Result<Option<Tank>, StateError> {
        Ok(self.get("t/", id.as_bytes())?)
    }
    fn physical_tank(&self, physical_id: &PhysicalTankId) -> Result<Option<String>, StateError> {
        Ok(self.get("f/", &physical_tank_key(physical_id))?)
    }
    fn certificate(&self, reference: &CertificateRef) -> Result<Option<Certificate>, StateError> {
        Ok(self.get("c/", &certificate_key(reference))?)
    }
    fn receipt(&self, id: &str) -> Result<Option<Receipt>, StateError> {
        Ok(self.get("r/", id.as_bytes())?)
    }
    fn pledge(&self, id: &str) -> Result<Option<Pledge>, StateError> {
        Ok(self.get("g/", id.as_bytes())?)
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxRecord>, StateError> {
        Ok(self.get("x/", tx_id.as_bytes())?)
    }
    fn attempt(&self, tx_hash: &Digest) -> Result<Option<Seq>, StateError> {
        Ok(self.get("a/", &tx_hash.0)?)
    }
    fn price(&self, key: &PriceKey) -> Result<Option<PriceAssessment>, StateError> {
        Ok(self.get("q/", &price_key(key))?)
    }
    fn receipt_ids(&self, filter: &ReceiptFilter) -> Result<Vec<String>, StateError> {
        Ok(self
            .receipts(filter, "", usize::MAX)?
            .iter()
            .map(|r| r.id().to_owned())
            .collect())
    }
    fn tanks(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tank>, StateError> {
        let start = match after {
            None => b"t/".to_vec(),
            // The first key after every `t/<after>`: ids hold no NUL.
            Some(after) => [b"t/".as_slice(), after.as_bytes(), b"\0"].concat(),
        };
        let mut tanks = Vec::new();
        for item in self.tree.range(start..).take(limit) {
            let (key, bytes) = item.map_err(sled_err("list tanks"))?;
            if !key.starts_with(b"t/") {
                break;
            }
            tanks.push(decode_value(&key, &bytes)?);
        }
        Ok(tanks)
    }
}

fn map_node_key(id: &MapNodeId, version: u64) -> [u8; 44] {
    let mut key = [0u8; 44];
    key[..2].copy_from_slice(b"s/");
    key[2..36].copy_from_slice(&id.to_key());
    key[36..].copy_from_slice(&version.to_be_bytes());
    key
}

/// `o/` at ‖ node position ‖ superseded version.
fn superseded_key(at: u64, id: &MapNodeId, version: u64) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..2].copy_from_slice(b"o/");
    key[2..10].copy_from_slice(&at.to_be_bytes());
    key[10..44].copy_from_slice(&id.to_key());
    key[44..].copy_from_slice(&version.to_be_bytes());
    key
}

fn parse_superseded_key(key: &[u8]) -> Result<(MapNodeId, u64), StoreError> {
    let bad = || StoreError::Codec {
        key: hex::encode(key),
        reason: "not a superseded map node key".into(),
    };
    if key.len() != 52 {
        return Err(bad());
    }
    let id = MapNodeId::from_key(&key[10..44]).ok_or_else(bad)?;
    let version = u64::from_be_bytes(key[44..].try_into().map_err(|_| bad())?);
    Ok((id, version))
}

fn map_root_key(version: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[..2].copy_from_slice(b"v/");
    key[2..].copy_from_slice(&version.to_be_bytes());
    key
}

impl DiskStateView {
    /// The version of the newest node stored at `id`, if any.
    fn newest_map_version(&self, id: &MapNodeId) -> Result<Option<u64>, StoreError> {
        let newest = self
            .tree
            .range(map_node_key(id, 0)..=map_node_key(id, u64::MAX))
            .next_back()
            .transpose()
            .map_err(sled_err("read state map node"))?;
        Ok(newest.and_then(|(key, _)| Some(u64::from_be_bytes(key.get(36..)?.try_into().ok()?))))
    }
}

impl VersionedMap for DiskStateView {
    fn map_node_at(&self, id: &MapNodeId, version: u64) -> Result<Option<MapNode>, StoreError> {
        let newest = self
            .tree
            .range(map_node_key(id, 0)..=map_node_key(id, version))
            .next_back()
            .transpose()
            .map_err(sled_err("read state map node"))?;
        let Some((key, bytes)) = newest else {
            return Ok(None);
        };
        MapNode::from_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| StoreError::Codec {
                key: hex::encode(&key),
                reason: "not a state map node".into(),
            })
    }

    fn map_floor(&self) -> Result<u64, StoreError> {
        let bytes = self
            .tree
            .get(MAP_FLOOR_KEY)
            .map_err(sled_err("read state map floor"))?;
        let Some(bytes) = bytes else {
            return Ok(0);
        };
        let array: [u8; 8] = bytes.as_ref().try_into().map_err(|_| StoreError::Codec {
            key: "meta/map_floor".into(),
            reason: format!("{} bytes, expected 8", bytes.len()),
        })?;
        Ok(u64::from_be_bytes(array))
    }

    fn map_node_versions(&self) -> Result<u64, StoreError> {
        let mut count = 0;
        for item in self.tree.scan_prefix(b"s/") {
            item.map_err(sled_err("count state map nodes"))?;
            count += 1;
        }
        Ok(count)
    }

    fn state_root_at(&self, version: u64) -> Result<Option<MapHash>, StoreError> {
        if version == 0 {
            return Ok(Some(EMPTY));
        }
        let bytes = self
            .tree
            .get(map_root_key(version))
            .map_err(sled_err("read state root"))?;
        bytes
            .map(|b| {
                MapHash::try_from(b.as_ref()).map_err(|_| StoreError::Codec {
                    key: format!("v/{version}"),
                    reason: format!("{} bytes, expected 32", b.len()),
                })
            })
            .transpose()
    }
}

fn node_key(id: NodeId) -> Vec<u8> {
    [b"m/".as_slice(), &id.to_key()].concat()
}

impl NodeSource for DiskStateView {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        let bytes = self
            .tree
            .get(node_key(id))
            .map_err(sled_err("read Merkle node"))?;
        let bytes = bytes.ok_or_else(|| StoreError::Tree {
            reason: format!("node {id:?} is not stored"),
        })?;
        bytes.as_ref().try_into().map_err(|_| StoreError::Codec {
            key: format!("m/{id:?}"),
            reason: format!("{} bytes, expected 32", bytes.len()),
        })
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
