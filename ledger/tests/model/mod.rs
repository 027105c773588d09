//! The reference model of the rules, written from the documented behaviour
//! (docs/FORMAT.md, the proto comments) and nothing else: participants with
//! their keys, legal identities and revocations; tanks with certified stock,
//! re-gauges, shortfall and custodians; certificates, receipts, pledges.
//!
//! [`Model::evaluate`] predicts what the ledger must answer for one
//! submission (accept, retry, or refuse with one of a set of reasons);
//! [`Model::apply`] updates the model when it accepts; [`Model::assert_matches`]
//! compares the ledger's state with the model's.
#![allow(dead_code)]

pub mod invariants;

use std::collections::{BTreeMap, BTreeSet};

use pledge_ledger::model::{PledgeStatus, ReceiptStatus};
use pledge_ledger::state::Objects;
use pledge_proto::v1::{self as pb, transaction::Operation};

use crate::support::{
    self, DAY_MS, HOUR_MS, MAX_VALIDITY_MS, PARTICIPANTS, QUORUM, certify_stock, issue_terms, uscc,
    uscc_of,
};

pub type Reason = &'static str;
/// A certificate: (inspector, number).
pub type CertKey = (String, String);

/// A participant as the model knows it.
#[derive(Debug, Clone)]
pub struct MParticipant {
    pub roles: Vec<pb::Role>,
    pub revoked: bool,
    /// The seed of its current key.
    pub key: u8,
}

impl MParticipant {
    fn holds(&self, roles: &[pb::Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MStatus {
    Active,
    Pledged(String),
    Cancelled,
    Split(Vec<String>),
}

impl MStatus {
    pub fn is_live(&self) -> bool {
        matches!(self, MStatus::Active | MStatus::Pledged(_))
    }
}

#[derive(Debug, Clone)]
pub struct MReceipt {
    pub tank: String,
    pub warehouse: String,
    pub holder: String,
    pub qty: u64,
    pub status: MStatus,
    /// The regulator whose freeze is in force.
    pub frozen: Option<String>,
    pub expires: u64,
    pub cert: CertKey,
    pub parent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MTank {
    pub warehouse: String,
    pub capacity: u64,
    pub certified: u64,
    pub receipted: u64,
    pub shortfall: bool,
    pub last_gauged_at: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct MCert {
    pub tank: String,
    pub qty: u64,
    pub depositor: String,
    pub receipt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MPledgeStatus {
    Active,
    Released,
    Enforced(String),
}

#[derive(Debug, Clone)]
pub struct MPledge {
    pub receipt: String,
    /// The bank holding it now (after any succession).
    pub bank: String,
    pub status: MPledgeStatus,
    pub maturity: u64,
}

/// Grounds of an enforcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grounds {
    Maturity,
    Order,
    Consent,
}

/// A resolved operation: concrete ids and quantities.
#[derive(Debug, Clone)]
pub enum Act {
    Certify {
        tank: String,
        cert: String,
        kg: u64,
        depositor: String,
        inspector: String,
        gauged_at: u64,
    },
    Issue {
        receipt: String,
        tank: String,
        cert: CertKey,
        kg: u64,
        expires: u64,
        product_ok: bool,
    },
    Transfer {
        receipt: String,
        to: String,
    },
    Split {
        receipt: String,
        parts: Vec<(String, u64)>,
    },
    Cancel {
        receipt: String,
    },
    Pledge {
        pledge: String,
        receipt: String,
        bank: String,
        maturity: u64,
    },
    Release {
        pledge: String,
    },
    Enforce {
        pledge: String,
        transferee: Option<String>,
        grounds: Grounds,
    },
    Freeze {
        receipt: String,
    },
    Unfreeze {
        receipt: String,
    },
    Regauge {
        tank: String,
        inspector: String,
        measured: u64,
        gauged_at: u64,
    },
    Appoint {
        tank: String,
        warehouse: String,
        measured: u64,
        gauged_at: u64,
    },
    Admit {
        id: String,
        role: pb::Role,
        key: u8,
        /// Whose legal identity it claims (its own id for a fresh one).
        legal_of: String,
    },
    Rotate {
        id: String,
        key: u8,
    },
    Revoke {
        id: String,
        successor: Option<String>,
    },
}

impl Act {
    pub fn operation(&self) -> Operation {
        match self {
            Act::Certify {
                tank,
                cert,
                kg,
                depositor,
                inspector,
                gauged_at,
            } => {
                let mut op = certify_stock(tank, cert, *kg, depositor, *gauged_at);
                if let Operation::CertifyStock(c) = &mut op {
                    c.inspector_id = inspector.clone();
                }
                op
            }
            Act::Issue {
                receipt,
                tank,
                cert,
                kg,
                expires,
                product_ok,
            } => {
                let mut terms = issue_terms(receipt, tank, &cert.1, *kg, *expires);
                terms.inspector_id = cert.0.clone();
                if !product_ok {
                    terms.product_grade = "MGO DMA".into();
                }
                Operation::IssueReceipt(terms)
            }
            Act::Transfer { receipt, to } => support::transfer(receipt, to),
            Act::Split { receipt, parts } => Operation::SplitReceipt(pb::SplitReceipt {
                receipt_id: receipt.clone(),
                parts: parts
                    .iter()
                    .map(|(id, kg)| pb::SplitPart {
                        receipt_id: id.clone(),
                        quantity_kg: *kg,
                    })
                    .collect(),
            }),
            Act::Cancel { receipt } => support::cancel(receipt),
            Act::Pledge {
                pledge,
                receipt,
                bank,
                maturity,
            } => support::pledge(pledge, receipt, bank, *maturity),
            Act::Release { pledge } => support::release(pledge),
            Act::Enforce {
                pledge,
                transferee,
                grounds,
            } => {
                let (grounds, order) = match grounds {
                    Grounds::Maturity => (pb::EnforcementGrounds::Maturity, ""),
                    Grounds::Order => (pb::EnforcementGrounds::Order, "(2026) Zhe 09 Zhi 77"),
                    Grounds::Consent => (pb::EnforcementGrounds::HolderConsent, ""),
                };
                support::enforce_on(pledge, transferee.as_deref().unwrap_or(""), grounds, order)
            }
            Act::Freeze { receipt } => support::freeze(receipt),
            Act::Unfreeze { receipt } => support::unfreeze(receipt),
            Act::Regauge {
                tank,
                inspector,
                measured,
                gauged_at,
            } => support::regauge(tank, inspector, "RG-1", *measured, *gauged_at),
            Act::Appoint {
                tank,
                warehouse,
                measured,
                gauged_at,
            } => support::appoint_custodian(tank, warehouse, *measured, *gauged_at),
            Act::Admit {
                id,
                role,
                key,
                legal_of,
            } => {
                let mut spec = support::spec(id, &[*role], &support::key(*key));
                spec.legal_identity = uscc(&uscc_of(legal_of));
                Operation::AdmitParticipant(pb::AdmitParticipant {
                    participant: Some(spec),
                })
            }
            Act::Rotate { id, key } => support::rotate(id, &support::key(*key)),
            Act::Revoke { id, successor } => {
                support::revoke_for(id, successor.as_deref().unwrap_or(""))
            }
        }
    }

    /// Whether the transaction is well formed (only splits and quantities
    /// can be generated ill formed: repeated part ids, a zero part, parts
    /// that overflow, a certified parcel above the largest tank).
    pub fn well_formed(&self) -> bool {
        let tank_sized = |kg: u64| kg <= pledge_ledger::tx::MAX_TANK_CAPACITY_KG;
        match self {
            Act::Certify { kg, .. } => *kg > 0 && tank_sized(*kg),
            Act::Regauge { measured, .. } | Act::Appoint { measured, .. } => tank_sized(*measured),
            Act::Split { parts, .. } => {
                let ids: BTreeSet<&str> = parts.iter().map(|(id, _)| id.as_str()).collect();
                ids.len() == parts.len()
                    && parts.iter().all(|(_, kg)| *kg > 0)
                    && parts
                        .iter()
                        .try_fold(0u64, |sum, (_, kg)| sum.checked_add(*kg))
                        .is_some()
            }
            _ => true,
        }
    }
}

/// A party whose signature an operation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    Id(String),
    AnyRegulator,
    Quorum,
    /// The regulator that froze, or the quorum.
    FreezerOrQuorum(String),
}

/// One signature on an envelope: `genuine` means made with the signer's
/// current key (otherwise with a key nobody holds).
#[derive(Debug, Clone)]
pub struct Sig {
    pub id: String,
    pub genuine: bool,
}

/// The validity window a transaction states, relative to the entry's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Current,
    Expired,
    NotYet,
    TooLong,
}

impl Window {
    /// The window's bounds for a transaction drafted at `now`.
    pub fn bounds(self, now: u64) -> (u64, u64) {
        match self {
            Window::Current => (now - HOUR_MS, now + DAY_MS),
            Window::Expired => (now - 2 * DAY_MS, now - 1),
            Window::NotYet => (now + 1, now + DAY_MS),
            Window::TooLong => (now - HOUR_MS, now - HOUR_MS + MAX_VALIDITY_MS + 1),
        }
    }
}

/// Why a window refuses an entry at `now`, if it does.
fn window_refusal((not_before, not_after): (u64, u64), now: u64) -> Option<Reason> {
    if not_after - not_before > MAX_VALIDITY_MS {
        Some("VALIDITY_TOO_LONG")
    } else if now < not_before {
        Some("TX_NOT_YET_VALID")
    } else if now > not_after {
        Some("TX_EXPIRED")
    } else {
        None
    }
}

/// What the model expects of one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `Envelope::verify` refuses it (no signature, or ill-formed).
    Unverifiable,
    /// The identical transaction was committed before.
    Duplicate,
    /// Refused, with one of these reasons.
    Refuse(BTreeSet<Reason>),
    /// Applied as a new entry.
    Apply,
}

fn refuse(reason: Reason) -> Verdict {
    Verdict::Refuse(BTreeSet::from([reason]))
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub participants: BTreeMap<String, MParticipant>,
    /// Every key seed ever held, and by whom.
    pub keys: BTreeMap<u8, String>,
    /// Legal identities (as the id whose code it is) and their participant.
    pub legal_ids: BTreeMap<String, String>,
    pub tanks: BTreeMap<String, MTank>,
    pub certs: BTreeMap<CertKey, MCert>,
    pub receipts: BTreeMap<String, MReceipt>,
    pub pledges: BTreeMap<String, MPledge>,
    /// Transaction id → the exact bytes applied under it.
    pub applied: BTreeMap<String, Vec<u8>>,
}

impl Model {
    /// The genesis participants and the tanks registered in the set-up.
    pub fn new(tanks: &[(&str, &str, u64)]) -> Model {
        let mut model = Model::default();
        for (id, roles, seed) in PARTICIPANTS {
            model.participants.insert(
                (*id).into(),
                MParticipant {
                    roles: roles.to_vec(),
                    revoked: false,
                    key: *seed,
                },
            );
            model.keys.insert(*seed, (*id).into());
            model.legal_ids.insert((*id).into(), (*id).into());
        }
        for (id, warehouse, capacity) in tanks {
            model.tanks.insert(
                (*id).into(),
                MTank {
                    warehouse: (*warehouse).into(),
                    capacity: *capacity,
                    certified: 0,
                    receipted: 0,
                    shortfall: false,
                    last_gauged_at: None,
                },
            );
        }
        model
    }

    fn live(&self, id: &str) -> bool {
        self.participants.get(id).is_some_and(|p| !p.revoked)
    }

    fn custodian(&self, tank: &str) -> Result<String, Reason> {
        let t = self.tanks.get(tank).ok_or("TANK_NOT_FOUND")?;
        match self.live(&t.warehouse) {
            true => Ok(t.warehouse.clone()),
            false => Err("CUSTODIAN_REVOKED"),
        }
    }

    /// Who must sign, or why that cannot even be said.
    pub fn required(&self, act: &Act) -> Result<Vec<Req>, Reason> {
        let receipt = |id: &str| self.receipts.get(id).ok_or("RECEIPT_NOT_FOUND");
        let pledge = |id: &str| self.pledges.get(id).ok_or("PLEDGE_NOT_FOUND");
        let id = |s: &str| Req::Id(s.to_owned());
        let mut reqs = match act {
            Act::Certify {
                tank,
                depositor,
                inspector,
                ..
            } => vec![id(&self.custodian(tank)?), id(inspector), id(depositor)],
            Act::Issue { tank, .. } => vec![id(&self.custodian(tank)?)],
            Act::Transfer { receipt: r, .. }
            | Act::Split { receipt: r, .. }
            | Act::Cancel { receipt: r } => {
                let r = receipt(r)?;
                vec![id(&r.holder), id(&self.custodian(&r.tank)?)]
            }
            Act::Pledge {
                receipt: r, bank, ..
            } => vec![id(&receipt(r)?.holder), id(bank)],
            Act::Release { pledge: p } => vec![id(&pledge(p)?.bank)],
            Act::Enforce {
                pledge: p, grounds, ..
            } => {
                let p = pledge(p)?;
                let mut reqs = vec![id(&p.bank)];
                match grounds {
                    Grounds::Maturity => {}
                    Grounds::Order => reqs.push(Req::AnyRegulator),
                    Grounds::Consent => reqs.push(id(&receipt(&p.receipt)?.holder)),
                }
                reqs
            }
            Act::Freeze { .. } => vec![Req::AnyRegulator],
            Act::Unfreeze { receipt: r } => match &receipt(r)?.frozen {
                Some(freezer) => vec![Req::FreezerOrQuorum(freezer.clone())],
                None => return Err("RECEIPT_NOT_FROZEN"),
            },
            Act::Regauge { inspector, .. } => vec![id(inspector)],
            Act::Appoint { warehouse, .. } => {
                vec![id(warehouse), id(support::INSPECTOR), Req::Quorum]
            }
            Act::Admit { .. } | Act::Revoke { .. } => vec![Req::Quorum],
            Act::Rotate { id: who, .. } => vec![id(who)],
        };
        // One participant in two capacities signs once.
        let mut seen = BTreeSet::new();
        reqs.retain(|r| match r {
            Req::Id(id) => seen.insert(id.clone()),
            _ => true,
        });
        Ok(reqs)
    }

    fn is_regulator(&self, id: &str) -> bool {
        self.participants
            .get(id)
            .is_some_and(|p| p.roles.contains(&pb::Role::Regulator))
    }

    /// Takes the signers satisfying `req` out of `unused`, as the ledger does.
    fn take(&self, req: &Req, unused: &mut Vec<String>) -> bool {
        let first = |unused: &mut Vec<String>, fits: &dyn Fn(&str) -> bool| match unused
            .iter()
            .position(|s| fits(s))
        {
            Some(i) => {
                unused.remove(i);
                true
            }
            None => false,
        };
        match req {
            Req::Id(id) => first(unused, &|s| s == id),
            Req::AnyRegulator => first(unused, &|s| self.is_regulator(s)),
            Req::Quorum => {
                let members = unused
                    .iter()
                    .filter(|s| QUORUM.contains(&s.as_str()))
                    .count();
                if members < 2 {
                    return false;
                }
                unused.retain(|s| !QUORUM.contains(&s.as_str()));
                true
            }
            Req::FreezerOrQuorum(freezer) => {
                let mut trial = unused.clone();
                if first(&mut trial, &|s| s == freezer) || self.take(&Req::Quorum, &mut trial) {
                    *unused = trial;
                    return true;
                }
                false
            }
        }
    }

    /// The model's decision on one submission.
    pub fn evaluate(
        &self,
        tx_id: &str,
        bytes: &[u8],
        act: &Act,
        sigs: &[Sig],
        window: (u64, u64),
        now: u64,
    ) -> Verdict {
        if sigs.is_empty() || !act.well_formed() {
            return Verdict::Unverifiable;
        }
        if let Some(previous) = self.applied.get(tx_id) {
            return match previous.as_slice() == bytes {
                true => Verdict::Duplicate,
                false => refuse("TX_ID_REUSED"),
            };
        }
        if let Some(reason) = window_refusal(window, now) {
            return refuse(reason);
        }
        for sig in sigs {
            match self.participants.get(&sig.id) {
                None => return refuse("UNKNOWN_SIGNER"),
                Some(p) if p.revoked => return refuse("SIGNER_REVOKED"),
                Some(_) if !sig.genuine => return refuse("KEY_NEVER_OWNED"),
                Some(_) => {}
            }
        }
        let required = match self.required(act) {
            Ok(required) => required,
            Err(reason) => return refuse(reason),
        };
        let mut unused: Vec<String> = sigs.iter().map(|s| s.id.clone()).collect();
        for req in &required {
            if !self.take(req, &mut unused) {
                return refuse(match req {
                    Req::Quorum => "QUORUM_NOT_MET",
                    _ => "MISSING_SIGNATURE",
                });
            }
        }
        if !unused.is_empty() {
            return refuse("UNEXPECTED_SIGNER");
        }
        let reasons = self.violations(act, sigs, now);
        match reasons.is_empty() {
            true => Verdict::Apply,
            false => Verdict::Refuse(reasons),
        }
    }

    /// Every rule of the operation that the state breaks.
    fn violations(&self, act: &Act, sigs: &[Sig], now: u64) -> BTreeSet<Reason> {
        let mut v = BTreeSet::new();
        match act {
            Act::Certify {
                tank,
                cert,
                kg,
                depositor,
                inspector,
                gauged_at,
            } => {
                let t = &self.tanks[tank];
                if self.certs.contains_key(&(inspector.clone(), cert.clone())) {
                    v.insert("CERTIFICATE_EXISTS");
                }
                self.party_with_role(&mut v, inspector, &[pb::Role::Inspector]);
                self.party_with_role(&mut v, depositor, &[pb::Role::Holder]);
                distinct(&mut v, &[&t.warehouse, inspector, depositor]);
                gauging_time(&mut v, t, *gauged_at, now);
                match t.certified.checked_add(*kg) {
                    None => {
                        v.insert("QUANTITY_OVERFLOW");
                    }
                    Some(total) if total > t.capacity => {
                        v.insert("CAPACITY_EXCEEDED");
                    }
                    Some(_) => {}
                }
            }
            Act::Issue {
                receipt,
                tank,
                cert,
                kg,
                expires,
                product_ok,
            } => {
                self.issue_violations(&mut v, receipt, tank, cert, *kg, *expires, *product_ok, now)
            }
            Act::Transfer { receipt, to } => {
                let r = &self.receipts[receipt];
                changeable(&mut v, r);
                unexpired(&mut v, r, now);
                if r.holder == *to {
                    v.insert("ALREADY_HOLDER");
                }
                self.party_with_role(&mut v, to, &[pb::Role::Holder, pb::Role::Bank]);
            }
            Act::Split { receipt, parts } => {
                let r = &self.receipts[receipt];
                changeable(&mut v, r);
                unexpired(&mut v, r, now);
                if parts.iter().map(|(_, kg)| *kg).sum::<u64>() != r.qty {
                    v.insert("SPLIT_MISMATCH");
                }
                if parts.iter().any(|(id, _)| self.receipts.contains_key(id)) {
                    v.insert("RECEIPT_EXISTS");
                }
            }
            Act::Cancel { receipt } => changeable(&mut v, &self.receipts[receipt]),
            Act::Pledge {
                pledge,
                receipt,
                bank,
                maturity,
            } => {
                if self.pledges.contains_key(pledge) {
                    v.insert("PLEDGE_EXISTS");
                }
                let r = &self.receipts[receipt];
                changeable(&mut v, r);
                unexpired(&mut v, r, now);
                if self.custodian(&r.tank).is_err() {
                    v.insert("CUSTODIAN_REVOKED");
                }
                if self.tanks[&r.tank].shortfall {
                    v.insert("TANK_SHORTFALL");
                }
                self.party_with_role(&mut v, bank, &[pb::Role::Bank]);
                if r.holder == *bank {
                    v.insert("PARTIES_NOT_DISTINCT");
                }
                if *maturity <= now {
                    v.insert("NOT_IN_FUTURE");
                }
            }
            Act::Release { pledge } => self.pledge_ending(&mut v, pledge),
            Act::Enforce {
                pledge,
                transferee,
                grounds,
            } => {
                let p = &self.pledges[pledge];
                let to = transferee.as_ref().unwrap_or(&p.bank);
                self.party_with_role(&mut v, to, &[pb::Role::Holder, pb::Role::Bank]);
                if *grounds == Grounds::Maturity
                    && p.status == MPledgeStatus::Active
                    && now < p.maturity
                {
                    v.insert("ENFORCEMENT_BEFORE_MATURITY");
                }
                self.pledge_ending(&mut v, pledge);
            }
            Act::Freeze { receipt } => match self.receipts.get(receipt) {
                None => {
                    v.insert("RECEIPT_NOT_FOUND");
                }
                Some(r) => {
                    if r.frozen.is_some() {
                        v.insert("RECEIPT_FROZEN");
                    }
                    if !r.status.is_live() {
                        v.insert("RECEIPT_NOT_LIVE");
                    }
                }
            },
            Act::Unfreeze { .. } => {}
            Act::Regauge {
                tank,
                inspector,
                measured,
                gauged_at,
            } => {
                let Some(t) = self.tanks.get(tank) else {
                    v.insert("TANK_NOT_FOUND");
                    return v;
                };
                self.gauging_violations(
                    &mut v,
                    t,
                    &t.warehouse,
                    inspector,
                    *measured,
                    *gauged_at,
                    now,
                );
            }
            Act::Appoint {
                tank,
                warehouse,
                measured,
                gauged_at,
            } => {
                let Some(t) = self.tanks.get(tank) else {
                    v.insert("TANK_NOT_FOUND");
                    return v;
                };
                if self.live(&t.warehouse) {
                    v.insert("CUSTODIAN_NOT_REVOKED");
                }
                self.party_with_role(&mut v, warehouse, &[pb::Role::Warehouse]);
                let inspector = support::INSPECTOR;
                self.gauging_violations(
                    &mut v, t, warehouse, inspector, *measured, *gauged_at, now,
                );
            }
            Act::Admit {
                id, key, legal_of, ..
            } => {
                if self.participants.contains_key(id) {
                    v.insert("PARTICIPANT_EXISTS");
                }
                if self.legal_ids.contains_key(legal_of) {
                    v.insert("LEGAL_ID_IN_USE");
                }
                if self.keys.contains_key(key) {
                    v.insert("KEY_IN_USE");
                }
            }
            Act::Rotate { id, key } => {
                self.active(&mut v, id);
                match self.participants.get(id) {
                    Some(p) if p.key == *key => {
                        v.insert("SAME_KEY");
                    }
                    _ if self.keys.contains_key(key) => {
                        v.insert("KEY_IN_USE");
                    }
                    _ => {}
                }
            }
            Act::Revoke { id, successor } => {
                self.revoke_violations(&mut v, id, successor.as_deref())
            }
        }
        let _ = sigs;
        v
    }

    #[allow(clippy::too_many_arguments)]
    fn issue_violations(
        &self,
        v: &mut BTreeSet<Reason>,
        receipt: &str,
        tank: &str,
        cert: &CertKey,
        kg: u64,
        expires: u64,
        product_ok: bool,
        now: u64,
    ) {
        if self.receipts.contains_key(receipt) {
            v.insert("RECEIPT_EXISTS");
        }
        let Some(c) = self.certs.get(cert) else {
            v.insert("CERTIFICATE_NOT_FOUND");
            return;
        };
        if c.tank != *tank {
            v.insert("CERTIFICATE_TANK_MISMATCH");
        }
        if c.receipt.is_some() {
            v.insert("CERTIFICATE_IN_USE");
        }
        if kg > c.qty {
            v.insert("QUANTITY_EXCEEDS_CERTIFICATE");
        }
        if !product_ok {
            v.insert("PRODUCT_MISMATCH");
        }
        if expires <= now {
            v.insert("NOT_IN_FUTURE");
        }
        self.party_with_role(v, &c.depositor, &[pb::Role::Holder]);
        let t = &self.tanks[tank];
        if t.shortfall {
            v.insert("TANK_SHORTFALL");
        }
        match t.receipted.checked_add(kg) {
            None => {
                v.insert("QUANTITY_OVERFLOW");
            }
            Some(total) if total > t.certified => {
                v.insert("STOCK_EXCEEDED");
            }
            Some(_) => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn gauging_violations(
        &self,
        v: &mut BTreeSet<Reason>,
        t: &MTank,
        custodian: &str,
        inspector: &str,
        measured: u64,
        gauged_at: u64,
        now: u64,
    ) {
        self.party_with_role(v, inspector, &[pb::Role::Inspector]);
        distinct(v, &[custodian, inspector]);
        gauging_time(v, t, gauged_at, now);
        if measured > t.capacity {
            v.insert("MEASURED_ABOVE_CAPACITY");
        }
    }

    fn revoke_violations(&self, v: &mut BTreeSet<Reason>, id: &str, successor: Option<&str>) {
        if !self.active(v, id) {
            return;
        }
        if QUORUM.contains(&id) {
            v.insert("QUORUM_WOULD_BREAK");
        }
        let holds_pledges = self
            .pledges
            .values()
            .any(|p| p.status == MPledgeStatus::Active && p.bank == id);
        match successor {
            Some(successor) => {
                let is_bank = self.participants[id].roles.contains(&pb::Role::Bank);
                if !is_bank || successor == id {
                    v.insert("SUCCESSOR_NOT_APPLICABLE");
                }
                self.party_with_role(v, successor, &[pb::Role::Bank]);
            }
            None if holds_pledges => {
                v.insert("SUCCESSOR_REQUIRED");
            }
            None => {}
        }
    }

    /// Records why `id` is not an active participant; true if it is.
    fn active(&self, v: &mut BTreeSet<Reason>, id: &str) -> bool {
        let reason = match self.participants.get(id) {
            None => "PARTICIPANT_NOT_FOUND",
            Some(p) if p.revoked => "PARTICIPANT_REVOKED",
            Some(_) => return true,
        };
        v.insert(reason);
        false
    }

    fn party_with_role(&self, v: &mut BTreeSet<Reason>, id: &str, roles: &[pb::Role]) {
        if self.active(v, id) && !self.participants[id].holds(roles) {
            v.insert("MISSING_ROLE");
        }
    }

    fn pledge_ending(&self, v: &mut BTreeSet<Reason>, pledge: &str) {
        let p = &self.pledges[pledge];
        if p.status != MPledgeStatus::Active {
            v.insert("PLEDGE_NOT_ACTIVE");
        }
        if self.receipts[&p.receipt].frozen.is_some() {
            v.insert("RECEIPT_FROZEN");
        }
    }

    /// Applies an accepted operation. `freezer` is the regulator that signed
    /// a freeze.
    pub fn apply(&mut self, act: &Act, tx_id: &str, bytes: &[u8], freezer: &str) {
        self.applied.insert(tx_id.into(), bytes.to_vec());
        match act {
            Act::Certify {
                tank,
                cert,
                kg,
                depositor,
                inspector,
                ..
            } => {
                let t = self.tanks.get_mut(tank).unwrap();
                t.certified += kg;
                t.shortfall = t.receipted > t.certified;
                self.certs.insert(
                    (inspector.clone(), cert.clone()),
                    MCert {
                        tank: tank.clone(),
                        qty: *kg,
                        depositor: depositor.clone(),
                        receipt: None,
                    },
                );
            }
            Act::Issue {
                receipt,
                tank,
                cert,
                kg,
                expires,
                ..
            } => {
                let t = self.tanks.get_mut(tank).unwrap();
                t.receipted += kg;
                let warehouse = t.warehouse.clone();
                let c = self.certs.get_mut(cert).unwrap();
                c.receipt = Some(receipt.clone());
                let holder = c.depositor.clone();
                self.receipts.insert(
                    receipt.clone(),
                    MReceipt {
                        tank: tank.clone(),
                        warehouse,
                        holder,
                        qty: *kg,
                        status: MStatus::Active,
                        frozen: None,
                        expires: *expires,
                        cert: cert.clone(),
                        parent: None,
                    },
                );
            }
            Act::Transfer { receipt, to } => {
                self.receipts.get_mut(receipt).unwrap().holder = to.clone();
            }
            Act::Split { receipt, parts } => {
                let parent = self.receipts[receipt].clone();
                for (id, kg) in parts {
                    let mut part = parent.clone();
                    part.qty = *kg;
                    part.parent = Some(receipt.clone());
                    self.receipts.insert(id.clone(), part);
                }
                self.receipts.get_mut(receipt).unwrap().status =
                    MStatus::Split(parts.iter().map(|(id, _)| id.clone()).collect());
            }
            Act::Cancel { receipt } => {
                let r = self.receipts.get_mut(receipt).unwrap();
                r.status = MStatus::Cancelled;
                let t = self.tanks.get_mut(&r.tank).unwrap();
                t.receipted -= r.qty;
                t.certified = match t.shortfall {
                    true => t.certified.min(t.receipted),
                    false => t.certified - r.qty,
                };
                t.shortfall = t.receipted > t.certified;
            }
            Act::Pledge {
                pledge,
                receipt,
                bank,
                maturity,
            } => {
                self.pledges.insert(
                    pledge.clone(),
                    MPledge {
                        receipt: receipt.clone(),
                        bank: bank.clone(),
                        status: MPledgeStatus::Active,
                        maturity: *maturity,
                    },
                );
                self.receipts.get_mut(receipt).unwrap().status = MStatus::Pledged(pledge.clone());
            }
            Act::Release { pledge } => {
                let p = self.pledges.get_mut(pledge).unwrap();
                p.status = MPledgeStatus::Released;
                self.receipts.get_mut(&p.receipt).unwrap().status = MStatus::Active;
            }
            Act::Enforce {
                pledge, transferee, ..
            } => {
                let p = self.pledges.get_mut(pledge).unwrap();
                let to = transferee.clone().unwrap_or_else(|| p.bank.clone());
                p.status = MPledgeStatus::Enforced(to.clone());
                let r = self.receipts.get_mut(&p.receipt).unwrap();
                r.status = MStatus::Active;
                r.holder = to;
            }
            Act::Freeze { receipt } => {
                self.receipts.get_mut(receipt).unwrap().frozen = Some(freezer.to_owned())
            }
            Act::Unfreeze { receipt } => self.receipts.get_mut(receipt).unwrap().frozen = None,
            Act::Regauge {
                tank,
                measured,
                gauged_at,
                ..
            } => self.gauge(tank, *measured, *gauged_at),
            Act::Appoint {
                tank,
                warehouse,
                measured,
                gauged_at,
            } => {
                self.gauge(tank, *measured, *gauged_at);
                self.tanks.get_mut(tank).unwrap().warehouse = warehouse.clone();
                for r in self.receipts.values_mut() {
                    if r.tank == *tank && r.status.is_live() {
                        r.warehouse = warehouse.clone();
                    }
                }
            }
            Act::Admit {
                id,
                role,
                key,
                legal_of,
            } => {
                self.participants.insert(
                    id.clone(),
                    MParticipant {
                        roles: vec![*role],
                        revoked: false,
                        key: *key,
                    },
                );
                self.keys.insert(*key, id.clone());
                self.legal_ids.insert(legal_of.clone(), id.clone());
            }
            Act::Rotate { id, key } => {
                self.participants.get_mut(id).unwrap().key = *key;
                self.keys.insert(*key, id.clone());
            }
            Act::Revoke { id, successor } => {
                self.participants.get_mut(id).unwrap().revoked = true;
                if let Some(successor) = successor {
                    for p in self.pledges.values_mut() {
                        if p.status == MPledgeStatus::Active && p.bank == *id {
                            p.bank = successor.clone();
                        }
                    }
                }
            }
        }
    }

    fn gauge(&mut self, tank: &str, measured: u64, gauged_at: u64) {
        let t = self.tanks.get_mut(tank).unwrap();
        t.certified = t.certified.min(measured);
        t.shortfall = t.receipted > t.certified;
        t.last_gauged_at = Some(gauged_at);
    }

    /// Asserts that the ledger's state is the model's.
    pub fn assert_matches(&self, objects: &Objects) {
        assert_same_ids(&objects.receipts, &self.receipts, "receipt ids");
        for (id, m) in &self.receipts {
            let r = &objects.receipts[id];
            let status = match &r.status {
                ReceiptStatus::Active => MStatus::Active,
                ReceiptStatus::Pledged { pledge_id } => MStatus::Pledged(pledge_id.clone()),
                ReceiptStatus::Cancelled { .. } => MStatus::Cancelled,
                ReceiptStatus::Split { parts, .. } => MStatus::Split(parts.clone()),
            };
            assert_eq!(status, m.status, "status of {id}");
            assert_eq!(r.holder_id, m.holder, "holder of {id}");
            assert_eq!(r.warehouse_id, m.warehouse, "warehouse of {id}");
            assert_eq!(r.terms.quantity_kg, m.qty, "quantity of {id}");
            assert_eq!(r.terms.tank_id, m.tank, "tank of {id}");
            assert_eq!(
                (&r.terms.certificate.inspector, &r.terms.certificate.number),
                (&m.cert.0, &m.cert.1),
                "certificate of {id}"
            );
            assert_eq!(r.terms.expires_at_ms, m.expires, "expiry of {id}");
            assert_eq!(
                r.frozen.as_ref().map(|f| f.regulator_id.clone()),
                m.frozen,
                "freeze of {id}"
            );
            assert_eq!(r.parent_id, m.parent, "parent of {id}");
        }
        assert_same_ids(&objects.pledges, &self.pledges, "pledge ids");
        for (id, m) in &self.pledges {
            let p = &objects.pledges[id];
            let status = match &p.status {
                PledgeStatus::Active => MPledgeStatus::Active,
                PledgeStatus::Released { .. } => MPledgeStatus::Released,
                PledgeStatus::Enforced { transferee_id, .. } => {
                    MPledgeStatus::Enforced(transferee_id.clone())
                }
            };
            assert_eq!(status, m.status, "status of pledge {id}");
            assert_eq!(p.terms.receipt_id, m.receipt, "receipt of pledge {id}");
            assert_eq!(p.pledgee(), m.bank, "pledgee of pledge {id}");
        }
        assert_eq!(objects.tanks.len(), self.tanks.len(), "tank count");
        for (id, m) in &self.tanks {
            let t = &objects.tanks[id];
            assert_eq!(
                (t.certified_kg, t.receipted_kg, t.capacity_kg),
                (m.certified, m.receipted, m.capacity),
                "tank {id}: (certified, receipted, capacity)"
            );
            assert_eq!(t.shortfall.is_some(), m.shortfall, "shortfall of {id}");
            assert_eq!(t.warehouse_id, m.warehouse, "custodian of {id}");
        }
        let certs: BTreeMap<CertKey, _> = objects
            .certificates
            .iter()
            .map(|(k, c)| ((k.inspector.clone(), k.number.clone()), c))
            .collect();
        assert_same_ids(&certs, &self.certs, "certificates");
        for (id, m) in &self.certs {
            let c = certs[id];
            assert_eq!(c.receipt_id, m.receipt, "receipt of certificate {id:?}");
            assert_eq!(c.quantity_kg, m.qty, "quantity of certificate {id:?}");
            assert_eq!(c.tank_id, m.tank, "tank of certificate {id:?}");
            assert_eq!(
                c.depositor_id, m.depositor,
                "depositor of certificate {id:?}"
            );
        }
        assert_same_ids(&objects.participants, &self.participants, "participants");
        for (id, m) in &self.participants {
            let p = &objects.participants[id];
            assert_eq!(p.revoked_at.is_some(), m.revoked, "revocation of {id}");
            assert_eq!(
                p.spec.public_key,
                pledge_ledger::crypto::public_key(&support::key(m.key)),
                "key of {id}"
            );
        }
        assert_eq!(objects.key_owners.len(), self.keys.len(), "keys ever held");
    }
}

/// The ledger holds exactly the ids the model holds.
fn assert_same_ids<K: Ord + std::fmt::Debug, A, B>(
    ledger: &BTreeMap<K, A>,
    model: &BTreeMap<K, B>,
    what: &str,
) {
    assert_eq!(
        ledger.keys().collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>(),
        "{what}"
    );
}

/// Participants in capacities that must be distinct.
fn distinct(v: &mut BTreeSet<Reason>, ids: &[&str]) {
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    if unique.len() != ids.len() {
        v.insert("PARTIES_NOT_DISTINCT");
    }
}

fn gauging_time(v: &mut BTreeSet<Reason>, t: &MTank, gauged_at: u64, now: u64) {
    if gauged_at > now {
        v.insert("NOT_IN_PAST");
    }
    if t.last_gauged_at.is_some_and(|last| gauged_at <= last) {
        v.insert("GAUGING_SUPERSEDED");
    }
}

fn changeable(v: &mut BTreeSet<Reason>, r: &MReceipt) {
    if r.frozen.is_some() {
        v.insert("RECEIPT_FROZEN");
    }
    match r.status {
        MStatus::Active => {}
        MStatus::Pledged(_) => {
            v.insert("RECEIPT_PLEDGED");
        }
        MStatus::Cancelled | MStatus::Split(_) => {
            v.insert("RECEIPT_NOT_LIVE");
        }
    }
}

fn unexpired(v: &mut BTreeSet<Reason>, r: &MReceipt, now: u64) {
    if now >= r.expires {
        v.insert("RECEIPT_EXPIRED");
    }
}
