//! Evidence bundles: what a bank is given to check, offline, with the
//! node's public key and its own witness policy, that a receipt's recorded
//! history at a cosigned checkpoint shows its status and pledges
//! (docs/FORMAT.md §7).
//!
//! ```text
//!   Bundle (JSON)
//!     checkpoint   note ── Trust::open: an accepted node key, the witness quorum
//!     entries[i]   record ── decode, seal, leaf included at seq under root,
//!                            party signatures, ledger id, strictly increasing seq
//!     last_entry   record ── seal, verify_head_binding (seq size−1, hash = chain-head,
//!                            leaf included at size−1)
//!     state        each lineage receipt's and the tank's leaf preimage ── map proof
//!                  of presence under the checkpoint's state-root
//!   then entries[] are applied, in order, with the ledger's own rules
//!   (rules::apply) to a partial state seeded from the tank's leaf
//!   (lineage.rs) ─▶ BundleVerdict;
//!   the head entry, if it changes the receipt's lineage, must be among entries[];
//!   each lineage receipt's committed history length and latest entry must
//!   match the entries given, and the fold must end in the committed state
//! ```
//!
//! What a verified bundle proves: each given entry is, byte for byte, entry
//! `seq` of the ledger whose state the node signed at that size, in that
//! order; the receipt's state (and its tank's) at that size is the one the
//! checkpoint commits to; and the entries are the receipt's whole history
//! (as many as the committed history length, the last one the committed
//! latest entry) telling a coherent lifecycle that ends in that state. An
//! entry left out (the latest transfer, an earlier pledge and its release)
//! is therefore refused, not shown as a shorter history.

mod lineage;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{
    Checkpoint, CheckpointError, SignedCheckpoint, ledger_origin, verify_head_binding,
};
use crate::cosigning::{Cosigners, Trust, TrustError};
use crate::crypto::{self, Digest, PublicKey};
use crate::entry::Entry;
use crate::envelope::{EnvelopeError, VerifiedEnvelope};
use crate::error::DecodeError;
use crate::merkle::{self, Hash, MerkleError, ProofError};
use crate::model::{
    CertificateRef, CustodyChange, PhysicalTankId, PledgeStatus, ReceiptStatus, Seq,
};
use crate::rules::EntryContext;
use crate::statemap::leaf::{self, LeafError, LeafFields};
use crate::statemap::{self, Kind, MapHash, MapProof, MapProofError, map_key};
use crate::store::StoreError;
use crate::view::LedgerRead;

use lineage::{Applied, Lineage, TankSeed};

/// The bundle format version this code writes and reads (2: the state
/// map proofs; version 1 bundles prove no completeness and are refused).
pub const BUNDLE_VERSION: u32 = 2;
/// Most entries a bundle may carry (bounds a verifier's work).
pub const MAX_BUNDLE_ENTRIES: usize = 100_000;
/// Most split generations followed back from a receipt to its issue.
const MAX_LINEAGE_DEPTH: usize = 10_000;

/// Evidence about one receipt at one signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_VERSION`].
    pub version: u32,
    /// The ledger; the checkpoint's origin is `pledgeledger/<ledger_id>`.
    pub ledger_id: String,
    /// The receipt the bundle is about.
    pub receipt_id: String,
    /// The signed checkpoint note, exactly as the node signed it.
    pub checkpoint: String,
    /// The node's Ed25519 public key, 64 lower-case hex digits.
    pub node_public_key: String,
    /// The receipt's lineage, in increasing seq (see [`Bundle::build`]).
    pub entries: Vec<BundleEntry>,
    /// Entry `size − 1`, binding the chain head to the Merkle root.
    pub last_entry: BundleEntry,
    /// The committed state of the receipt's lineage and of its tank.
    pub state: BundleState,
}

/// The state map leaves a bundle carries, each with its proof of presence
/// under the checkpoint's `state-root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleState {
    /// One per receipt of the lineage: the issued receipt first, each
    /// split part down to the bundle's receipt last.
    pub receipts: Vec<StateLeaf>,
    /// The tank the receipt is drawn on.
    pub tank: StateLeaf,
}

/// One object's state map leaf: its value's preimage and its map proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateLeaf {
    /// The leaf value's preimage (state tag ‖ fields), lower-case hex.
    pub preimage_hex: String,
    /// The sibling hashes from the leaf up, each 64 lower-case hex digits.
    pub map_proof: Vec<String>,
}

/// One entry of a bundle, with its inclusion proof at the checkpoint's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    /// The entry's position in the chain.
    pub seq: Seq,
    /// The record (`body ‖ seal`), lower-case hex.
    pub record_hex: String,
    /// RFC 9162 inclusion proof of leaf `seq` in the checkpoint's tree, leaf
    /// side first, each hash 64 lower-case hex digits.
    pub inclusion_proof: Vec<String>,
}

/// What a verified bundle shows about the receipt at the checkpoint's size,
/// according to the entries it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleVerdict {
    /// The ledger.
    pub ledger_id: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's Merkle root.
    pub root: Hash,
    /// The checkpoint's chain head.
    pub head_hash: Digest,
    /// The checkpoint's time, ms since the Unix epoch.
    pub checkpoint_time_ms: u64,
    /// The policy's witnesses that cosigned the checkpoint.
    pub cosigners: Cosigners,
    /// Whether the verifier's policy required cosignatures (`false`: the
    /// checkpoint rests on the node's key alone).
    pub witnessed: bool,
    /// The receipt.
    pub receipt_id: String,
    /// Its issuing warehouse.
    pub warehouse: String,
    /// Its holder.
    pub holder: String,
    /// Its quantity, kg.
    pub quantity_kg: u64,
    /// Its lifecycle status.
    pub status: ReceiptStatus,
    /// The regulator's freeze in force, if any.
    pub freeze: Option<FreezeSeen>,
    /// The pledge in force, if any.
    pub active_pledge: Option<ActivePledge>,
    /// Every pledge registered on the receipt or on a receipt it was split
    /// from, in order, with its status.
    pub pledge_registrations: Vec<PledgeRecord>,
    /// The receipt's ancestry: the issued receipt first, then each split
    /// part down to this receipt (just this receipt if it was issued).
    pub lineage: Vec<String>,
    /// The seqs of the entries checked, in order.
    pub entry_seqs: Vec<Seq>,
    /// The checkpoint's state map root, which the receipt's and the tank's
    /// states were proven under.
    pub state_root: MapHash,
    /// The receipt's latest entry (from its committed state).
    pub latest_entry: Seq,
    /// Entries in the receipt's own history (from its committed state).
    pub history_len: u64,
    /// The tank the receipt is drawn on.
    pub tank_id: String,
    /// Since which entry the tank has been in shortfall (attested oil below
    /// what its receipts claim), if it is.
    pub tank_shortfall_since: Option<Seq>,
}

/// The pledge in force on the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePledge {
    /// Pledge id.
    pub pledge_id: String,
    /// The bank.
    pub pledgee: String,
    /// The entry that registered it.
    pub registered_at: Seq,
}

/// A regulator's freeze in force on the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeSeen {
    /// The regulator that froze it.
    pub regulator: String,
    /// The freezing entry.
    pub since: Seq,
}

/// A pledge registration found in the receipt's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PledgeRecord {
    /// The registering entry.
    pub seq: Seq,
    /// Pledge id.
    pub pledge_id: String,
    /// The pledged receipt (this one, or one it was split from).
    pub receipt_id: String,
    /// The bank.
    pub pledgee: String,
    /// Active, released or enforced (as of the checkpoint).
    pub status: PledgeStatus,
}

impl Bundle {
    /// The bundle for `receipt_id` at `checkpoint`, which must be a
    /// checkpoint of `store` (same root and chain head at its size).
    ///
    /// The entries are the receipt's lineage below the checkpoint's size:
    /// for an issued receipt, the certification of its certificate (which
    /// names the first holder) and every entry that changed the receipt
    /// ([`LedgerRead::receipt_history`], which starts with its issue); for a split
    /// part, the parent's lineage up to and including the split, then the
    /// part's own history.
    pub fn build<S: LedgerRead>(
        store: &S,
        receipt_id: &str,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Bundle, BundleError> {
        let cp = &checkpoint.checkpoint;
        let ledger_id = store
            .ledger_id()?
            .ok_or(BundleError::CheckpointNotFromStore { size: cp.size })?;
        let Some(last) = cp.size.checked_sub(1) else {
            return Err(BundleError::ReceiptNotAtSize {
                receipt_id: receipt_id.to_owned(),
                size: 0,
            });
        };
        let fresh = Checkpoint::from_store(store, cp.size, cp.time_ms, &ledger_origin(&ledger_id))
            .map_err(|error| match error {
                CheckpointError::Store(pruned @ StoreError::MapPruned { .. }) => {
                    BundleError::Store(pruned)
                }
                _ => BundleError::CheckpointNotFromStore { size: cp.size },
            })?;
        if fresh != *cp {
            return Err(BundleError::CheckpointNotFromStore { size: cp.size });
        }
        let seqs = lineage_seqs(store, receipt_id, cp.size)?;
        let entries = seqs
            .into_iter()
            .map(|seq| bundle_entry(store, seq, cp.size))
            .collect::<Result<Vec<_>, _>>()?;
        let state = bundle_state(store, receipt_id, cp)?;
        Ok(Bundle {
            version: BUNDLE_VERSION,
            ledger_id,
            receipt_id: receipt_id.to_owned(),
            checkpoint: checkpoint.to_text(),
            node_public_key: checkpoint.node_key.to_hex(),
            entries,
            last_entry: bundle_entry(store, last, cp.size)?,
            state,
        })
    }

    /// The bundle as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, BundleError> {
        serde_json::to_string_pretty(self).map_err(|e| BundleError::Json {
            reason: e.to_string(),
        })
    }

    /// Reads a bundle from JSON (unknown fields are refused).
    pub fn from_json(text: &str) -> Result<Bundle, BundleError> {
        serde_json::from_str(text).map_err(|e| BundleError::Json {
            reason: e.to_string(),
        })
    }

    /// Verifies the bundle against what the verifier trusts (the node keys
    /// and the witness policy, obtained out of band, never from the bundle)
    /// and applies the receipt's lineage with the ledger's rules.
    pub fn verify(&self, trust: &Trust) -> Result<BundleVerdict, BundleError> {
        if self.version != BUNDLE_VERSION {
            return Err(BundleError::UnsupportedVersion {
                found: self.version,
            });
        }
        let sealers = &self.sealers(trust)?;
        let cosigned = trust.open(&self.checkpoint, &ledger_origin(&self.ledger_id))?;
        let cp = cosigned.signed.checkpoint;
        if self.entries.is_empty() {
            return Err(BundleError::EmptyHistory);
        }
        if self.entries.len() > MAX_BUNDLE_ENTRIES {
            return Err(BundleError::TooManyEntries {
                count: self.entries.len(),
                max: MAX_BUNDLE_ENTRIES,
            });
        }

        let (last, last_proof) = open_entry(&self.last_entry, sealers)?;
        verify_head_binding(&cp, &last, &last_proof).map_err(BundleError::HeadBinding)?;

        if let Some(pair) = self.entries.windows(2).find(|p| p[1].seq <= p[0].seq) {
            return Err(BundleError::OutOfOrder {
                previous: pair[0].seq,
                seq: pair[1].seq,
            });
        }
        let committed = CommittedState::open(&self.state, &cp.state_root)?;
        let first = self.entries.first().map_or(0, |e| e.seq);
        let mut lineage = Lineage::new(&self.ledger_id, committed.tank.clone(), first);
        let mut applied = Vec::with_capacity(self.entries.len());
        let mut seen_head = false;
        for item in &self.entries {
            let (entry, proof) = open_entry(item, sealers)?;
            seen_head |= entry.seq == last.seq;
            if entry.seq >= cp.size {
                return Err(BundleError::BeyondCheckpoint {
                    seq: entry.seq,
                    size: cp.size,
                });
            }
            merkle::verify_inclusion(
                &merkle::leaf_hash(&entry.body()),
                entry.seq,
                cp.size,
                &proof,
                &cp.root,
            )
            .map_err(|source| BundleError::NotIncluded {
                seq: entry.seq,
                source,
            })?;
            let verified = verify_parties(&entry)?;
            if verified.tx.ledger_id != self.ledger_id {
                return Err(BundleError::WrongLedger {
                    seq: entry.seq,
                    found: verified.tx.ledger_id,
                });
            }
            if entry.is_attempt() {
                // An attempt entry applied nothing: it is no receipt's history.
                return Err(BundleError::NotAboutReceipt {
                    seq: entry.seq,
                    operation: "attempt",
                });
            }
            applied.push(lineage.apply(&verified, context_of(&entry))?);
        }
        if !seen_head {
            let verified = verify_parties(&last)?;
            let ids = lineage_ids(&lineage, &self.receipt_id);
            // An attempt entry at the head applied nothing.
            if !last.is_attempt() && lineage.would_change(&verified, context_of(&last), &ids) {
                return Err(BundleError::HeadEntryLeftOut { seq: last.seq });
            }
        }
        let verdict = finish(
            &lineage,
            &applied,
            &self.receipt_id,
            cp,
            cosigned.cosigners,
            cosigned.witnessed,
        )?;
        committed.check(verdict)
    }

    /// The keys an entry's seal may verify under: every key the verifier
    /// accepts (in a registry of several nodes, each entry is sealed by the
    /// member that sequenced it, not necessarily the one that signed the
    /// checkpoint), the bundle's node key first. Refused if the verifier
    /// does not accept the bundle's node key.
    fn sealers(&self, trust: &Trust) -> Result<Vec<PublicKey>, BundleError> {
        let node_key = trust
            .log_keys
            .iter()
            .find(|key| key.to_hex() == self.node_public_key)
            .copied()
            .ok_or_else(|| BundleError::NodeKeyNotTrusted {
                found: self.node_public_key.chars().take(64).collect(),
            })?;
        let others = trust.log_keys.iter().filter(|key| **key != node_key);
        Ok(std::iter::once(node_key).chain(others.copied()).collect())
    }
}

/// The state leaves of a bundle: the lineage's receipts and the tank, at the
/// checkpoint's size.
fn bundle_state<S: LedgerRead>(
    store: &S,
    receipt_id: &str,
    cp: &Checkpoint,
) -> Result<BundleState, BundleError> {
    let mut lineage = Vec::new();
    let mut id = Some(receipt_id.to_owned());
    while let Some(current) = id.take() {
        if lineage.len() > MAX_LINEAGE_DEPTH {
            break;
        }
        let receipt = store
            .receipt(&current)?
            .ok_or_else(|| BundleError::ReceiptNotAtSize {
                receipt_id: current.clone(),
                size: cp.size,
            })?;
        id = receipt.parent_id.clone();
        lineage.push(receipt);
    }
    lineage.reverse();
    let mut receipts = Vec::with_capacity(lineage.len());
    for receipt in &lineage {
        let pledge = match receipt.active_pledge() {
            Some(pledge_id) => store.pledge(pledge_id)?,
            None => None,
        };
        let preimage = leaf::receipt_preimage(receipt, pledge.as_ref());
        receipts.push(state_leaf(
            store,
            Kind::Receipt,
            receipt.id(),
            preimage,
            cp,
        )?);
    }
    let tank_id = &lineage
        .last()
        .map(|r| r.terms.tank_id.clone())
        .unwrap_or_default();
    let tank = store
        .tank(tank_id)?
        .ok_or_else(|| BundleError::ReceiptNotAtSize {
            receipt_id: receipt_id.to_owned(),
            size: cp.size,
        })?;
    let tank = state_leaf(store, Kind::Tank, tank_id, leaf::tank_preimage(&tank), cp)?;
    Ok(BundleState { receipts, tank })
}

/// One object's leaf at the checkpoint: its current state must still be
/// the committed one (else [`BundleError::StateMoved`]: build again against
/// a newer checkpoint).
fn state_leaf<S: LedgerRead>(
    store: &S,
    kind: Kind,
    id: &str,
    preimage: Vec<u8>,
    cp: &Checkpoint,
) -> Result<StateLeaf, BundleError> {
    let proof = store.state_proof(kind, id, cp.size)?;
    let key = map_key(kind, id);
    if proof
        .verify_present(&cp.state_root, &key, &leaf::value_of(&preimage))
        .is_err()
    {
        return Err(BundleError::StateMoved {
            object: id.to_owned(),
            size: cp.size,
        });
    }
    Ok(StateLeaf {
        preimage_hex: hex::encode(preimage),
        map_proof: proof.siblings.iter().map(hex::encode).collect(),
    })
}

/// The lineage's receipts and the tank as the checkpoint commits to them,
/// each leaf proven under the state root.
#[derive(Debug)]
struct CommittedState {
    state_root: MapHash,
    receipts: Vec<CommittedReceipt>,
    tank: TankSeed,
    tank_shortfall_since: Option<Seq>,
}

/// The fields of a receipt's committed state a verifier compares with the
/// entries (docs/FORMAT.md §7.9 numbers them).
#[derive(Debug)]
struct CommittedReceipt {
    id: String,
    tank_id: String,
    quantity_kg: u64,
    warehouse: String,
    holder: String,
    status: u64,
    parent: Option<String>,
    issued_at: Seq,
    updated_at: Seq,
    history_len: u64,
    frozen_by: Option<String>,
    pledge_id: Option<String>,
    pledgee: Option<String>,
}

impl CommittedReceipt {
    fn read(preimage: &[u8]) -> Result<CommittedReceipt, LeafError> {
        let f = LeafFields::parse(leaf::RECEIPT_STATE_TAG, preimage)?;
        Ok(CommittedReceipt {
            id: f.required_text(1)?,
            tank_id: f.required_text(2)?,
            quantity_kg: f.required_int(7)?,
            warehouse: f.required_text(13)?,
            holder: f.required_text(14)?,
            status: f.required_int(15)?,
            parent: f.text(18)?,
            issued_at: f.required_int(20)?,
            updated_at: f.required_int(21)?,
            history_len: f.required_int(22)?,
            frozen_by: f.text(23)?,
            pledge_id: f.text(32)?,
            // The bank now: the last successor, else the registered pledgee.
            pledgee: match f.texts(41)?.pop() {
                Some(successor) => Some(successor),
                None => f.text(33)?,
            },
        })
    }
}

impl CommittedState {
    /// Reads every leaf and checks its proof under `state_root`.
    fn open(state: &BundleState, state_root: &MapHash) -> Result<CommittedState, BundleError> {
        let mut receipts = Vec::with_capacity(state.receipts.len());
        for item in &state.receipts {
            let preimage =
                proven_preimage(item, state_root, Kind::Receipt, leaf::RECEIPT_STATE_TAG)?;
            let receipt = CommittedReceipt::read(&preimage).map_err(BundleError::BadState)?;
            receipts.push(receipt);
        }
        let preimage = proven_preimage(&state.tank, state_root, Kind::Tank, leaf::TANK_STATE_TAG)?;
        let tank =
            LeafFields::parse(leaf::TANK_STATE_TAG, &preimage).map_err(BundleError::BadState)?;
        Ok(CommittedState {
            state_root: *state_root,
            receipts,
            tank: tank_seed(&tank).map_err(BundleError::BadState)?,
            tank_shortfall_since: tank.int(18).map_err(BundleError::BadState)?,
        })
    }

    /// Holds the fold's verdict to the committed state: the same lineage,
    /// every receipt's whole history among the entries, the same holder,
    /// status, freeze and pledge. Returns the verdict with the committed
    /// facts added.
    fn check(self, mut verdict: BundleVerdict) -> Result<BundleVerdict, BundleError> {
        let ids: Vec<&str> = self.receipts.iter().map(|r| r.id.as_str()).collect();
        if ids
            != verdict
                .lineage
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        {
            return Err(mismatch(
                "lineage",
                ids.join(" → "),
                verdict.lineage.join(" → "),
            ));
        }
        for (i, receipt) in self.receipts.iter().enumerate() {
            let parent = i.checked_sub(1).map(|p| self.receipts[p].id.clone());
            if receipt.parent != parent {
                return Err(mismatch(
                    "parent",
                    format!("{:?}", receipt.parent),
                    format!("{parent:?}"),
                ));
            }
            // A receipt's history runs from its issue (or the split that made
            // it) to its latest entry; a split receipt's ends at the split
            // that made the next receipt of the lineage.
            let last = match self.receipts.get(i + 1) {
                Some(child) => child.issued_at,
                None => verdict.tree_size.saturating_sub(1),
            };
            let given: Vec<Seq> = verdict
                .entry_seqs
                .iter()
                .copied()
                .filter(|seq| (receipt.issued_at..=last).contains(seq))
                .collect();
            if given.len() as u64 != receipt.history_len
                || given.last() != Some(&receipt.updated_at)
            {
                return Err(BundleError::HistoryIncomplete {
                    receipt_id: receipt.id.clone(),
                    committed_len: receipt.history_len,
                    committed_latest: receipt.updated_at,
                    given_len: given.len() as u64,
                    given_latest: given.last().copied(),
                });
            }
        }
        let Some(target) = self.receipts.last() else {
            return Err(mismatch(
                "lineage",
                String::new(),
                verdict.lineage.join(" → "),
            ));
        };
        let fold_pledge = verdict.active_pledge.as_ref();
        let pairs = [
            ("holder", target.holder.clone(), verdict.holder.clone()),
            (
                "warehouse",
                target.warehouse.clone(),
                verdict.warehouse.clone(),
            ),
            (
                "quantity_kg",
                target.quantity_kg.to_string(),
                verdict.quantity_kg.to_string(),
            ),
            (
                "status",
                target.status.to_string(),
                leaf::status_number(&verdict.status).to_string(),
            ),
            (
                "frozen by",
                format!("{:?}", target.frozen_by),
                format!("{:?}", verdict.freeze.as_ref().map(|f| &f.regulator)),
            ),
            (
                "pledge",
                format!("{:?}", target.pledge_id),
                format!("{:?}", fold_pledge.map(|p| &p.pledge_id)),
            ),
            (
                "pledgee",
                format!("{:?}", target.pledgee),
                format!("{:?}", fold_pledge.map(|p| &p.pledgee)),
            ),
            ("tank", target.tank_id.clone(), self.tank.id.clone()),
        ];
        if let Some((field, committed, entries)) = pairs.into_iter().find(|(_, a, b)| a != b) {
            return Err(mismatch(field, committed, entries));
        }
        verdict.state_root = self.state_root;
        verdict.latest_entry = target.updated_at;
        verdict.history_len = target.history_len;
        verdict.tank_id = self.tank.id;
        verdict.tank_shortfall_since = self.tank_shortfall_since;
        Ok(verdict)
    }
}

/// The tank as its leaf describes it (docs/FORMAT.md §7.9 numbers the
/// fields): what the partial state of lineage.rs starts from.
fn tank_seed(f: &LeafFields) -> Result<TankSeed, LeafError> {
    let froms = f.texts(19)?;
    let ats: Vec<Seq> = f
        .all(20)
        .iter()
        .map(|v| <[u8; 8]>::try_from(v.as_slice()).map(u64::from_be_bytes))
        .collect::<Result<_, _>>()
        .map_err(|_| LeafError::BadField { number: 20 })?;
    if froms.len() != ats.len() {
        return Err(LeafError::BadField { number: 20 });
    }
    let warehouse_id = f.required_text(2)?;
    // Each change's successor is the next change's revoked warehouse; the
    // last one's is the custodian now.
    let successors = froms.iter().skip(1).chain(std::iter::once(&warehouse_id));
    let custody = froms
        .iter()
        .zip(successors)
        .zip(ats)
        .map(|((from, to), at)| CustodyChange {
            from: from.clone(),
            to: to.clone(),
            at,
        })
        .collect();
    Ok(TankSeed {
        id: f.required_text(1)?,
        warehouse_id,
        capacity_kg: f.required_int(3)?,
        product: f.required_text(4)?,
        registered_at: f.required_int(7)?,
        physical_id: PhysicalTankId {
            facility_code: f.required_text(9)?,
            tank_number: f.required_text(10)?,
        },
        calibration: CertificateRef {
            inspector: f.required_text(11)?,
            number: f.required_text(12)?,
        },
        custody,
    })
}

fn mismatch(field: &'static str, committed: String, entries: String) -> BundleError {
    BundleError::StateMismatch {
        field,
        committed,
        entries,
    }
}

/// A leaf's preimage, once its proof of presence under `state_root` holds.
fn proven_preimage(
    item: &StateLeaf,
    state_root: &MapHash,
    kind: Kind,
    tag: &[u8],
) -> Result<Vec<u8>, BundleError> {
    let bad_hex = |field| BundleError::BadStateHex { field };
    let preimage = crypto::decode_lower_hex(&item.preimage_hex).ok_or(bad_hex("preimage_hex"))?;
    if item.map_proof.len() > statemap::hash::KEY_BITS {
        return Err(BundleError::StateNotProven {
            object: String::new(),
            source: MapProofError::TooLong {
                found: item.map_proof.len(),
            },
        });
    }
    let siblings = hashes_from_hex(&item.map_proof).ok_or(bad_hex("map_proof"))?;
    let fields = LeafFields::parse(tag, &preimage).map_err(BundleError::BadState)?;
    let id = fields.required_text(1).map_err(BundleError::BadState)?;
    let key = map_key(kind, &id);
    let value = leaf::value_of(&preimage);
    let proof = MapProof {
        siblings,
        leaf: Some((key, value)),
    };
    proof
        .verify_present(state_root, &key, &value)
        .map_err(|source| BundleError::StateNotProven { object: id, source })?;
    Ok(preimage)
}

/// A bundle's list of hex hashes (a map or inclusion proof), or `None` if
/// any is not 64 lowercase hex digits.
fn hashes_from_hex(list: &[String]) -> Option<Vec<Hash>> {
    list.iter()
        .map(|h| Digest::from_hex(h).map(|d| d.0))
        .collect()
}

/// Hex-decodes, decodes and seal-checks one bundle entry (its seal must
/// verify under one of `sealers`).
fn open_entry(
    item: &BundleEntry,
    sealers: &[PublicKey],
) -> Result<(Entry, Vec<Hash>), BundleError> {
    let seq = item.seq;
    let record = crypto::decode_lower_hex(&item.record_hex).ok_or(BundleError::BadHex {
        seq,
        field: "record_hex",
    })?;
    let entry = Entry::decode(&record).map_err(|source| BundleError::BadRecord { seq, source })?;
    if entry.seq != seq {
        return Err(BundleError::SeqMismatch {
            claimed: seq,
            found: entry.seq,
        });
    }
    if !sealers.iter().any(|key| entry.seal_verifies(key)) {
        return Err(BundleError::BadSeal { seq });
    }
    if item.inclusion_proof.len() > 64 {
        return Err(BundleError::NotIncluded {
            seq,
            source: ProofError::WrongProofLength {
                expected: 64,
                found: item.inclusion_proof.len(),
            },
        });
    }
    let proof = hashes_from_hex(&item.inclusion_proof).ok_or(BundleError::BadHex {
        seq,
        field: "inclusion_proof",
    })?;
    Ok((entry, proof))
}

fn bundle_entry<S: LedgerRead>(store: &S, seq: Seq, size: u64) -> Result<BundleEntry, BundleError> {
    let proof = merkle::inclusion_proof(seq, size, store).map_err(merkle_error)?;
    Ok(BundleEntry {
        seq,
        record_hex: hex::encode(store.record(seq)?),
        inclusion_proof: proof.iter().map(hex::encode).collect(),
    })
}

fn merkle_error(error: MerkleError<StoreError>) -> BundleError {
    match error {
        MerkleError::Storage(error) => BundleError::Store(error),
        other => BundleError::Store(StoreError::Tree {
            reason: other.to_string(),
        }),
    }
}

/// The seqs below `size` of the receipt's lineage (see [`Bundle::build`]).
fn lineage_seqs<S: LedgerRead>(
    store: &S,
    receipt_id: &str,
    size: u64,
) -> Result<BTreeSet<Seq>, BundleError> {
    let not_at_size = || BundleError::ReceiptNotAtSize {
        receipt_id: receipt_id.to_owned(),
        size,
    };
    let mut seqs = BTreeSet::new();
    let mut id = receipt_id.to_owned();
    let mut below = size;
    for _ in 0..MAX_LINEAGE_DEPTH {
        let receipt = store.receipt(&id)?.ok_or_else(not_at_size)?;
        if receipt.issued_at >= below {
            return Err(not_at_size());
        }
        seqs.extend(
            store
                .receipt_history(&id)?
                .into_iter()
                .filter(|s| *s < below),
        );
        match receipt.parent_id {
            Some(parent) => {
                below = receipt.issued_at + 1;
                id = parent;
            }
            None => {
                let certificate = store
                    .certificate(&receipt.terms.certificate)?
                    .ok_or_else(not_at_size)?;
                seqs.insert(certificate.certified_at);
                // A custodian appointed between certification and issue
                // explains who issued.
                if let Some(tank) = store.tank(&receipt.terms.tank_id)? {
                    seqs.extend(
                        tank.custody
                            .iter()
                            .map(|c| c.at)
                            .filter(|at| *at > certificate.certified_at && *at < receipt.issued_at),
                    );
                }
                return Ok(seqs);
            }
        }
    }
    Err(not_at_size())
}

/// Why a bundle could not be built or was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The store failed (building).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state could not be read (building).
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The receipt does not exist below the checkpoint's size (building).
    #[error("receipt {receipt_id} does not exist in the first {size} entries")]
    ReceiptNotAtSize {
        /// The receipt.
        receipt_id: String,
        /// The checkpoint's size.
        size: u64,
    },
    /// The checkpoint is not one of this store (building).
    #[error("the checkpoint of size {size} does not match the store")]
    CheckpointNotFromStore {
        /// The checkpoint's size.
        size: u64,
    },
    /// The bundle is not valid JSON of the bundle format.
    #[error("bundle JSON: {reason}")]
    Json {
        /// serde_json's report.
        reason: String,
    },
    /// The bundle's version is not [`BUNDLE_VERSION`].
    #[error("bundle version {found} is not supported")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The bundle names a node key the verifier does not accept.
    #[error("the bundle's node key {found:?} is not one the verifier trusts")]
    NodeKeyNotTrusted {
        /// The key as the bundle writes it (cut to 64 characters).
        found: String,
    },
    /// The checkpoint is malformed, not signed by a trusted node key, or
    /// lacks the witness quorum (the message names the missing witnesses).
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The last entry does not bind the chain head to the Merkle root.
    #[error("head binding: {0}")]
    HeadBinding(#[source] CheckpointError),
    /// The bundle carries no history entry.
    #[error("the bundle carries no history entries")]
    EmptyHistory,
    /// More entries than [`MAX_BUNDLE_ENTRIES`].
    #[error("bundle has {count} entries, at most {max} allowed")]
    TooManyEntries {
        /// Entries found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A hex field is not lower-case hex (of the right length).
    #[error("entry {seq}: {field} is not lower-case hex of the right length")]
    BadHex {
        /// The entry's claimed seq.
        seq: Seq,
        /// `record_hex` or `inclusion_proof`.
        field: &'static str,
    },
    /// A record does not decode as an entry.
    #[error("entry {seq}: {source}")]
    BadRecord {
        /// The entry's claimed seq.
        seq: Seq,
        /// The decoder's report.
        #[source]
        source: DecodeError,
    },
    /// A record's seq is not the seq the bundle gives it.
    #[error("entry listed as {claimed} is entry {found}")]
    SeqMismatch {
        /// The bundle's `seq`.
        claimed: Seq,
        /// The record's seq.
        found: Seq,
    },
    /// A record's seal does not verify under any accepted node key.
    #[error("entry {seq}: the node's seal does not verify")]
    BadSeal {
        /// The entry.
        seq: Seq,
    },
    /// Entries are not in strictly increasing seq.
    #[error("entry {seq} follows entry {previous}: not strictly increasing")]
    OutOfOrder {
        /// The entry before.
        previous: Seq,
        /// The entry out of place.
        seq: Seq,
    },
    /// An entry lies beyond the checkpoint.
    #[error("entry {seq} lies beyond the checkpoint's size {size}")]
    BeyondCheckpoint {
        /// The entry.
        seq: Seq,
        /// The checkpoint's size.
        size: u64,
    },
    /// An entry's leaf is not included at its seq under the checkpoint root.
    #[error("entry {seq} is not included under the checkpoint's root: {source}")]
    NotIncluded {
        /// The entry.
        seq: Seq,
        /// Why the inclusion proof failed.
        #[source]
        source: ProofError,
    },
    /// A party signature does not verify or the transaction does not decode.
    #[error("entry {seq}: {source}")]
    BadSignatures {
        /// The entry.
        seq: Seq,
        /// The envelope check's report.
        #[source]
        source: EnvelopeError,
    },
    /// An entry's transaction names another ledger.
    #[error("entry {seq} is a transaction of ledger {found}")]
    WrongLedger {
        /// The entry.
        seq: Seq,
        /// The ledger id it names.
        found: String,
    },
    /// An entry's transaction does not concern the receipt or its lineage.
    #[error("entry {seq} ({operation}) does not concern the receipt")]
    NotAboutReceipt {
        /// The entry.
        seq: Seq,
        /// The operation.
        operation: &'static str,
    },
    /// A release or enforcement names a pledge that no earlier entry of the
    /// bundle registered on the receipt.
    #[error("entry {seq} ends pledge {pledge_id}, which the bundle never registered")]
    UnknownPledge {
        /// The entry.
        seq: Seq,
        /// The pledge.
        pledge_id: String,
    },
    /// An entry is impossible after the entries before it (a history with
    /// a gap, or entries out of their real order).
    #[error("entry {seq} does not follow from the history before it: {reason}")]
    Incoherent {
        /// The entry.
        seq: Seq,
        /// What does not fit.
        reason: String,
    },
    /// The entries never create the receipt.
    #[error("the bundle's entries never create receipt {receipt_id}")]
    ReceiptNotShown {
        /// The receipt.
        receipt_id: String,
    },
    /// A receipt's or the tank's state moved on after the checkpoint
    /// (building): build again against a newer checkpoint.
    #[error("{object} changed after the checkpoint of size {size}; build against a newer one")]
    StateMoved {
        /// The receipt or tank.
        object: String,
        /// The checkpoint's size.
        size: u64,
    },
    /// A state leaf's hex is not lower-case hex of the right length.
    #[error("state: {field} is not lower-case hex of the right length")]
    BadStateHex {
        /// `preimage_hex` or `map_proof`.
        field: &'static str,
    },
    /// A state leaf's preimage does not read.
    #[error("state: {0}")]
    BadState(#[source] LeafError),
    /// A state leaf is not in the map under the checkpoint's state root.
    #[error("the state of {object} is not proven under the checkpoint's state root: {source}")]
    StateNotProven {
        /// The receipt or tank id the preimage names.
        object: String,
        /// Why the map proof failed.
        #[source]
        source: MapProofError,
    },
    /// The entries do not lead to the committed state.
    #[error("the committed {field} is {committed}, but the bundle's entries show {entries}")]
    StateMismatch {
        /// What differs.
        field: &'static str,
        /// The committed state's value.
        committed: String,
        /// What the entries show.
        entries: String,
    },
    /// Entries of a receipt's history are left out of the bundle.
    #[error(
        "receipt {receipt_id} has {committed_len} entries in its history, the latest {committed_latest}, but the bundle gives {given_len} (the latest {given_latest:?}): entries are left out"
    )]
    HistoryIncomplete {
        /// The receipt.
        receipt_id: String,
        /// Its committed history length.
        committed_len: u64,
        /// Its committed latest entry.
        committed_latest: Seq,
        /// Entries of its history the bundle gives.
        given_len: u64,
        /// The latest of them.
        given_latest: Option<Seq>,
    },
    /// The checkpoint's head entry changes the receipt (or a receipt it was
    /// split from) but is not among the bundle's entries: the bundle hides
    /// the receipt's latest change.
    #[error(
        "the checkpoint's head entry {seq} changes the receipt but is left out of the bundle's entries"
    )]
    HeadEntryLeftOut {
        /// The head entry.
        seq: Seq,
    },
}

/// The entry's position and time, as the rules take them.
fn context_of(entry: &Entry) -> EntryContext {
    EntryContext {
        seq: entry.seq,
        time_ms: entry.time_ms,
    }
}

/// The entry's party signatures, checked, with its transaction.
fn verify_parties(entry: &Entry) -> Result<VerifiedEnvelope, BundleError> {
    entry
        .envelope
        .clone()
        .verify()
        .map_err(|source| BundleError::BadSignatures {
            seq: entry.seq,
            source,
        })
}

/// The receipt, its parent, … up to the issued receipt, issued first (just
/// the receipt if the entries never created it).
fn lineage_ids(lineage: &Lineage, target: &str) -> Vec<String> {
    let receipts = &lineage.objects().receipts;
    let mut ids = vec![target.to_owned()];
    let mut parent = receipts.get(target).and_then(|r| r.parent_id.clone());
    while let Some(id) = parent {
        if ids.contains(&id) || ids.len() > MAX_LINEAGE_DEPTH {
            break;
        }
        parent = receipts.get(&id).and_then(|r| r.parent_id.clone());
        ids.push(id);
    }
    ids.reverse();
    ids
}

/// The verdict, once every entry was applied: the receipt as the entries
/// left it, each entry one that changed a receipt of its lineage (a
/// certification or appointment before the issue aside), and every
/// certification backing the issue.
fn finish(
    lineage: &Lineage,
    applied: &[Applied],
    target: &str,
    cp: Checkpoint,
    cosigners: Cosigners,
    witnessed: bool,
) -> Result<BundleVerdict, BundleError> {
    let objects = lineage.objects();
    let receipt = objects
        .receipts
        .get(target)
        .ok_or_else(|| BundleError::ReceiptNotShown {
            receipt_id: target.to_owned(),
        })?;
    let ids = lineage_ids(lineage, target);
    let issued_at = ids
        .first()
        .and_then(|id| objects.receipts.get(id))
        .map_or(0, |r| r.issued_at);
    // A sibling part's history is not this receipt's.
    let stray = applied.iter().find(|a| {
        let changed_lineage = a.receipts.iter().any(|id| ids.contains(id));
        let explains_issue = a.before_issue && a.seq < issued_at;
        !(changed_lineage || explains_issue)
    });
    if let Some(entry) = stray {
        return Err(BundleError::NotAboutReceipt {
            seq: entry.seq,
            operation: entry.operation,
        });
    }
    if let Some(unused) = objects
        .certificates
        .values()
        .find(|c| c.receipt_id.is_none())
    {
        return Err(BundleError::NotAboutReceipt {
            seq: unused.certified_at,
            operation: "certify_stock",
        });
    }
    let mut pledge_registrations: Vec<PledgeRecord> = objects
        .pledges
        .values()
        .filter(|p| ids.contains(&p.terms.receipt_id))
        .map(|p| PledgeRecord {
            seq: p.registered_at,
            pledge_id: p.terms.pledge_id.clone(),
            receipt_id: p.terms.receipt_id.clone(),
            pledgee: p.pledgee().to_owned(),
            status: p.status.clone(),
        })
        .collect();
    pledge_registrations.sort_by_key(|p| p.seq);
    let active_pledge = receipt
        .active_pledge()
        .and_then(|id| objects.pledges.get(id))
        .map(|p| ActivePledge {
            pledge_id: p.terms.pledge_id.clone(),
            pledgee: p.pledgee().to_owned(),
            registered_at: p.registered_at,
        });
    Ok(BundleVerdict {
        ledger_id: cp.ledger_id().to_owned(),
        tree_size: cp.size,
        root: cp.root,
        head_hash: cp.head_hash,
        checkpoint_time_ms: cp.time_ms,
        cosigners,
        witnessed,
        receipt_id: target.to_owned(),
        warehouse: receipt.warehouse_id.clone(),
        holder: receipt.holder_id.clone(),
        quantity_kg: receipt.terms.quantity_kg,
        status: receipt.status.clone(),
        freeze: receipt.frozen.as_ref().map(|f| FreezeSeen {
            regulator: f.regulator_id.clone(),
            since: f.since,
        }),
        active_pledge,
        pledge_registrations,
        lineage: ids,
        entry_seqs: applied.iter().map(|a| a.seq).collect(),
        state_root: statemap::EMPTY,
        latest_entry: 0,
        history_len: 0,
        tank_id: receipt.terms.tank_id.clone(),
        tank_shortfall_since: None,
    })
}
