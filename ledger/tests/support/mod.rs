//! A small world of participants for rule tests: genesis with an admin, two
//! warehouses, two traders, two banks, two regulators, an auditor and two
//! inspectors, each with a fixed key and a legal identity; the quorum is the
//! admin and the first regulator, 2 of 2; over an in-memory ledger.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use pledge_ledger::Rejection;
use pledge_ledger::crypto;
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::identity::uscc_check_character;
use pledge_ledger::ledger::{Committed, Ledger, SubmitResult};
use pledge_ledger::model::{Participant, Pledge, Receipt, ReceiptStatus, Tank};
use pledge_ledger::replay::Replayer;
use pledge_ledger::state::{Objects, StateRead};
use pledge_ledger::store::{LogStore, MemoryLog, MemoryStateStore, ReceiptFilter, StateStore};
use pledge_ledger::view::{LedgerRead, Snapshot};
use pledge_ledger::{ops, testing};
use pledge_proto::v1::{self as pb, transaction::Operation};

pub const LEDGER_ID: &str = "zhoushan-test";
pub const T0: u64 = 1_800_000_000_000;
pub const DAY_MS: u64 = 86_400_000;
pub const TANK_CAPACITY_KG: u64 = 50_000_000;
pub const HOUR_MS: u64 = 3_600_000;
/// The longest validity window of the test ledger.
pub const MAX_VALIDITY_MS: u64 = 30 * DAY_MS;
/// The inspector the builders use.
pub const INSPECTOR: &str = "insp-1";
/// The product every test tank holds.
pub const PRODUCT: &str = "VLSFO 0.5%S";

/// (id, roles, key seed)
pub const PARTICIPANTS: &[(&str, &[pb::Role], u8)] = &[
    ("admin", &[pb::Role::Admin], 1),
    ("wh-1", &[pb::Role::Warehouse], 2),
    ("wh-2", &[pb::Role::Warehouse], 3),
    ("trader-a", &[pb::Role::Holder], 4),
    ("trader-b", &[pb::Role::Holder], 5),
    ("bank-a", &[pb::Role::Bank], 6),
    ("bank-b", &[pb::Role::Bank], 7),
    ("regulator", &[pb::Role::Regulator], 8),
    ("auditor", &[pb::Role::Auditor], 9),
    ("insp-1", &[pb::Role::Inspector], 10),
    ("insp-2", &[pb::Role::Inspector], 11),
    ("regulator-2", &[pb::Role::Regulator], 12),
];

/// The governance quorum: both must sign.
pub const QUORUM: &[&str] = &["admin", "regulator"];

pub use pledge_ledger::testing::{key, node_key};

/// A valid unified social credit code derived from `id` (Zhoushan, 330900).
pub fn uscc_of(id: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let digest = crypto::Digest::tagged(b"test-uscc\0", &[id.as_bytes()]);
    let org: String = digest.0[..9]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    let first17 = format!("91330900{org}");
    let check = uscc_check_character(&first17).expect("17 alphabet characters");
    format!("{first17}{check}")
}

pub fn uscc(code: &str) -> Option<pb::LegalIdentity> {
    Some(ops::uscc(code))
}

pub fn spec(id: &str, roles: &[pb::Role], key: &SigningKey) -> pb::ParticipantSpec {
    ops::participant_spec(
        id,
        &format!("{id} Ltd"),
        roles,
        &crypto::public_key(key),
        ops::uscc(&uscc_of(id)),
    )
}

pub fn governance() -> pb::Governance {
    ops::governance(QUORUM, 2, MAX_VALIDITY_MS)
}

pub fn genesis_tx() -> pb::Transaction {
    let participants = PARTICIPANTS
        .iter()
        .map(|(id, roles, seed)| spec(id, roles, &key(*seed)))
        .collect();
    ops::transaction(
        LEDGER_ID,
        "genesis",
        (T0 - HOUR_MS, T0 + DAY_MS),
        ops::genesis(participants, governance()),
    )
}

/// The genesis signed by every quorum member.
pub fn genesis_envelope() -> Envelope {
    QUORUM
        .iter()
        .fold(EnvelopeBuilder::new(&genesis_tx()), |b, id| {
            let seed = PARTICIPANTS.iter().find(|p| p.0 == *id).unwrap().2;
            b.sign(id, &key(seed))
        })
        .build()
}

#[derive(Debug)]
pub struct World<L: LogStore = MemoryLog, S: StateStore = MemoryStateStore> {
    pub ledger: Ledger<L, S>,
    pub keys: BTreeMap<String, SigningKey>,
    pub now_ms: u64,
    next_tx: u64,
    session: u64,
}

impl World {
    pub fn new() -> Self {
        World::with_ledger(pledge_ledger::ledger::MemoryLedger::in_memory(node_key()))
    }
}

impl<L: LogStore, S: StateStore> World<L, S> {
    /// A world over `ledger`, writing the genesis if it is empty.
    pub fn with_ledger(ledger: Ledger<L, S>) -> Self {
        let mut world = World::empty(ledger);
        if world.ledger.is_empty() {
            world.submit_envelope(genesis_envelope()).expect("genesis");
        }
        world
    }

    pub fn empty(ledger: Ledger<L, S>) -> Self {
        let keys = PARTICIPANTS
            .iter()
            .map(|(id, _, seed)| (id.to_string(), key(*seed)))
            .collect();
        let session = ledger.len();
        let now_ms = match ledger.is_empty() {
            true => T0,
            false => ledger.snapshot().head().head_time_ms,
        };
        World {
            session,
            ledger,
            keys,
            now_ms,
            next_tx: 0,
        }
    }

    /// A transaction valid from an hour ago to a day from now.
    pub fn tx(&mut self, op: Operation) -> pb::Transaction {
        self.tx_valid(op, self.now_ms - HOUR_MS, self.now_ms + DAY_MS)
    }

    /// A transaction with the validity window given.
    pub fn tx_valid(
        &mut self,
        op: Operation,
        not_before_ms: u64,
        not_after_ms: u64,
    ) -> pb::Transaction {
        self.next_tx += 1;
        let tx_id = format!("tx-{}-{}", self.session, self.next_tx);
        ops::transaction(LEDGER_ID, &tx_id, (not_before_ms, not_after_ms), op)
    }

    pub fn sign(&self, tx: &pb::Transaction, signers: &[&str]) -> Envelope {
        signers
            .iter()
            .fold(EnvelopeBuilder::new(tx), |b, s| b.sign(s, &self.keys[*s]))
            .build()
    }

    pub fn submit(&mut self, op: Operation, signers: &[&str]) -> SubmitResult {
        let tx = self.tx(op);
        let envelope = self.sign(&tx, signers);
        self.submit_envelope(envelope)
    }

    pub fn submit_envelope(&mut self, envelope: Envelope) -> SubmitResult {
        let verified = envelope.verify().expect("signatures verify");
        let mut results = self
            .ledger
            .append_group(&[verified], self.now_ms)
            .expect("store");
        results.remove(0)
    }

    pub fn ok(&mut self, op: Operation, signers: &[&str]) -> Committed {
        let name = format!("{op:?}");
        self.submit(op, signers)
            .unwrap_or_else(|r| panic!("{name} refused: {r}"))
    }

    pub fn refused(&mut self, op: Operation, signers: &[&str]) -> Rejection {
        let head = self.ledger.len();
        let rejection = self.submit(op, signers).expect_err("should be refused");
        assert_eq!(self.ledger.len(), head, "a refusal appended an entry");
        rejection
    }

    // ----- builders for the usual set-up -----

    pub fn tank(&mut self, tank_id: &str, warehouse: &str) {
        self.ok(
            register_tank(tank_id, warehouse, TANK_CAPACITY_KG),
            &[warehouse, INSPECTOR],
        );
    }

    pub fn certify(&mut self, tank_id: &str, cert: &str, kg: u64, depositor: &str) {
        let warehouse = self.store().tank(tank_id).unwrap().unwrap().warehouse_id;
        self.ok(
            certify_stock(tank_id, cert, kg, depositor, self.now_ms),
            &[&warehouse, INSPECTOR, depositor],
        );
    }

    /// `insp-1` re-gauges a tank now.
    pub fn regauge(&mut self, tank_id: &str, measured_kg: u64) -> Committed {
        let report = format!("RG-{}-{}", tank_id, self.len());
        self.ok(
            regauge(tank_id, INSPECTOR, &report, measured_kg, self.now_ms),
            &[INSPECTOR],
        )
    }

    /// Tank `T-<receipt>` at wh-1, a certificate, and the receipt issued to
    /// trader-a for `kg`.
    pub fn receipt_of(&mut self, receipt_id: &str, kg: u64) {
        let tank = format!("T-{receipt_id}");
        let cert = format!("C-{receipt_id}");
        self.tank(&tank, "wh-1");
        self.certify(&tank, &cert, kg, "trader-a");
        self.ok(
            issue(receipt_id, &tank, &cert, kg, self.now_ms + 365 * DAY_MS),
            &["wh-1"],
        );
    }

    pub fn pledged_receipt(&mut self, receipt_id: &str, pledge_id: &str, bank: &str) {
        self.receipt_of(receipt_id, 1_000_000);
        let holder = self.receipt(receipt_id).holder_id;
        self.ok(
            pledge(pledge_id, receipt_id, bank, self.now_ms + 90 * DAY_MS),
            &[&holder, bank],
        );
    }

    pub fn store(&self) -> Snapshot<L::Reader, S::View> {
        self.ledger.snapshot()
    }

    pub fn receipt(&self, id: &str) -> Receipt {
        self.store().receipt(id).unwrap().expect("receipt exists")
    }

    pub fn pledge(&self, id: &str) -> Pledge {
        self.store().pledge(id).unwrap().expect("pledge exists")
    }

    pub fn participant(&self, id: &str) -> Participant {
        self.store()
            .participant(id)
            .unwrap()
            .expect("participant exists")
    }

    pub fn tank_state(&self, id: &str) -> Tank {
        self.store().tank(id).unwrap().expect("tank exists")
    }

    pub fn len(&self) -> u64 {
        self.store().len()
    }

    /// Replays the chain from genesis and compares with the stored state.
    pub fn assert_replays(&self) {
        let mut replayer = Replayer::new(Some(self.ledger.node_public_key()));
        for seq in 0..self.store().len() {
            replayer
                .push_record(&self.store().record(seq).unwrap())
                .unwrap_or_else(|e| panic!("replay failed: {e}"));
        }
        assert_eq!(
            replayer.state(),
            &self.store().objects().unwrap(),
            "replayed state differs"
        );
    }
}

// ----- operation builders -----
//
// The world here is not the demo's (its inspector is `insp-1`), but the
// operations are built by `pledge_ledger::ops`, with the sample terms of
// `pledge_ledger::testing` wherever the two worlds agree.

/// The physical identity the builders give a tank id: the fixtures' facility,
/// the tank id in canonical form (`testing::tank_number`) as the tank number.
pub fn physical_of(tank_id: &str) -> pb::PhysicalTankId {
    physical(testing::FACILITY_CODE, &testing::tank_number(tank_id))
}

pub fn physical(facility_code: &str, tank_number: &str) -> pb::PhysicalTankId {
    ops::physical_tank_id(facility_code, tank_number)
}

/// A tank calibrated by `insp-1`, with the physical identity of `physical_of`.
pub fn register_tank(tank_id: &str, warehouse: &str, capacity_kg: u64) -> Operation {
    register_tank_at(
        tank_id,
        warehouse,
        capacity_kg,
        physical_of(tank_id),
        INSPECTOR,
    )
}

pub fn register_tank_at(
    tank_id: &str,
    warehouse: &str,
    capacity_kg: u64,
    physical_id: pb::PhysicalTankId,
    inspector: &str,
) -> Operation {
    ops::register_tank(
        tank_id,
        warehouse,
        capacity_kg,
        PRODUCT,
        physical_id,
        inspector,
        &format!("CAL-{}", testing::tank_number(tank_id)),
    )
}

/// `insp-1` certifies `kg` of `depositor`'s oil, gauged at `gauged_at_ms`.
pub fn certify_stock(
    tank_id: &str,
    cert: &str,
    kg: u64,
    depositor: &str,
    gauged_at_ms: u64,
) -> Operation {
    ops::certify_stock(&ops::StockCertificate {
        tank_id,
        inspector_id: INSPECTOR,
        certificate_no: cert,
        quantity_kg: kg,
        product_grade: PRODUCT,
        gauged_at_ms,
        depositor_id: depositor,
    })
}

pub fn gauging(inspector: &str, report: &str, measured_kg: u64, gauged_at_ms: u64) -> pb::Gauging {
    ops::gauging(inspector, report, measured_kg, gauged_at_ms)
}

pub fn regauge(
    tank_id: &str,
    inspector: &str,
    report: &str,
    measured_kg: u64,
    gauged_at_ms: u64,
) -> Operation {
    ops::regauge_tank(
        tank_id,
        gauging(inspector, report, measured_kg, gauged_at_ms),
    )
}

pub fn appoint_custodian(
    tank_id: &str,
    warehouse: &str,
    measured_kg: u64,
    gauged_at_ms: u64,
) -> Operation {
    ops::appoint_custodian(
        tank_id,
        warehouse,
        gauging(INSPECTOR, "HANDOVER-1", measured_kg, gauged_at_ms),
    )
}

/// `testing::issue_terms` against `insp-1`'s certificate `cert`.
pub fn issue_terms(
    receipt_id: &str,
    tank_id: &str,
    cert: &str,
    kg: u64,
    expires_at_ms: u64,
) -> pb::IssueReceipt {
    pb::IssueReceipt {
        inspector_id: INSPECTOR.into(),
        ..testing::issue_terms(receipt_id, tank_id, cert, kg, expires_at_ms)
    }
}

pub fn issue(
    receipt_id: &str,
    tank_id: &str,
    cert: &str,
    kg: u64,
    expires_at_ms: u64,
) -> Operation {
    ops::issue_receipt(issue_terms(receipt_id, tank_id, cert, kg, expires_at_ms))
}

pub fn transfer(receipt_id: &str, to: &str) -> Operation {
    ops::transfer_receipt(receipt_id, to)
}

pub fn split(receipt_id: &str, parts: &[(&str, u64)]) -> Operation {
    ops::split_receipt(receipt_id, parts)
}

pub fn cancel(receipt_id: &str) -> Operation {
    ops::cancel_receipt(receipt_id, "delivered ex-tank")
}

/// `testing::pledge`: USD 4,500,000.00 under loan `LOAN-<pledge id>`.
pub fn pledge(pledge_id: &str, receipt_id: &str, bank: &str, maturity_ms: u64) -> Operation {
    testing::pledge(pledge_id, receipt_id, bank, maturity_ms)
}

pub fn release(pledge_id: &str) -> Operation {
    ops::release_pledge(pledge_id)
}

/// Enforcement on the grounds of maturity.
pub fn enforce(pledge_id: &str, transferee: &str) -> Operation {
    enforce_on(pledge_id, transferee, pb::EnforcementGrounds::Maturity, "")
}

/// Enforcement to `transferee` (empty: the pledgee) on `grounds`.
pub fn enforce_on(
    pledge_id: &str,
    transferee: &str,
    grounds: pb::EnforcementGrounds,
    order_reference: &str,
) -> Operation {
    let transferee = (!transferee.is_empty()).then_some(transferee);
    ops::enforce_pledge(pledge_id, transferee, grounds, order_reference)
}

pub fn freeze(receipt_id: &str) -> Operation {
    ops::freeze_receipt(receipt_id, testing::ORDER_REFERENCE)
}

pub fn unfreeze(receipt_id: &str) -> Operation {
    ops::unfreeze_receipt(receipt_id, testing::ORDER_REFERENCE)
}

pub fn admit(id: &str, roles: &[pb::Role], key: &SigningKey) -> Operation {
    ops::admit_participant(spec(id, roles, key))
}

pub fn rotate(id: &str, new_key: &SigningKey) -> Operation {
    ops::rotate_key(id, &crypto::public_key(new_key))
}

pub fn recover(id: &str, new_key: &SigningKey) -> Operation {
    ops::recover_key(
        id,
        &crypto::public_key(new_key),
        "HSM failure, ticket OPS-4411",
    )
}

pub fn revoke(id: &str) -> Operation {
    revoke_for(id, "")
}

/// Revokes `id`, naming `successor` (empty: none).
pub fn revoke_for(id: &str, successor: &str) -> Operation {
    let successor = (!successor.is_empty()).then_some(successor);
    ops::revoke_participant(id, "licence withdrawn", successor)
}

/// Checks a listing, `list(filter, after, limit)`, against the state `all`
/// it should reflect: for every filter, the matching receipts in id order,
/// in one page and one page of one at a time.
pub fn assert_lists_every_filter(
    all: &Objects,
    list: impl Fn(&ReceiptFilter, &str, usize) -> Vec<Receipt>,
) {
    let filters = [
        ReceiptFilter::All,
        ReceiptFilter::Holder("trader-a".into()),
        ReceiptFilter::Holder("trader-b".into()),
        ReceiptFilter::Warehouse("wh-1".into()),
        ReceiptFilter::Tank("T-R-1".into()),
        ReceiptFilter::Pledgee("bank-b".into()),
        ReceiptFilter::Pledgee("bank-a".into()),
        ReceiptFilter::Status("pledged"),
        ReceiptFilter::Status("split"),
        ReceiptFilter::Status("cancelled"),
        ReceiptFilter::Status("active"),
    ];
    for filter in &filters {
        let expected: Vec<String> = all
            .receipts
            .values()
            .filter(|r| {
                let pledgee = match &r.status {
                    ReceiptStatus::Pledged { pledge_id } => {
                        Some(all.pledges[pledge_id].terms.pledgee_id.as_str())
                    }
                    _ => None,
                };
                filter.matches(r, pledgee)
            })
            .map(|r| r.id().to_owned())
            .collect();
        let listed: Vec<String> = list(filter, "", 100)
            .iter()
            .map(|r| r.id().to_owned())
            .collect();
        assert_eq!(listed, expected, "{filter:?}");
        let mut paged = Vec::new();
        let mut cursor = String::new();
        while let Some(next) = list(filter, &cursor, 1).pop() {
            cursor = next.id().to_owned();
            paged.push(cursor.clone());
        }
        assert_eq!(paged, expected, "paging {filter:?}");
    }
}
