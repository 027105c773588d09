//! A small world of participants for rule tests: genesis with an admin, two
//! warehouses, two traders, two banks, a regulator and an auditor, each with a
//! fixed key, over an in-memory ledger.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use pledge_ledger::Rejection;
use pledge_ledger::crypto;
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::ledger::{Committed, Ledger, SubmitResult};
use pledge_ledger::model::{Pledge, Receipt, Tank};
use pledge_ledger::replay::Replayer;
use pledge_ledger::state::StateRead;
use pledge_ledger::store::{LogStore, MemoryLog, MemoryStateStore, StateStore};
use pledge_ledger::view::{LedgerRead, Snapshot};
use pledge_proto::v1::{self as pb, transaction::Operation};

pub const LEDGER_ID: &str = "zhoushan-test";
pub const T0: u64 = 1_800_000_000_000;
pub const DAY_MS: u64 = 86_400_000;
pub const TANK_CAPACITY_KG: u64 = 50_000_000;

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
];

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn spec(id: &str, roles: &[pb::Role], key: &SigningKey) -> pb::ParticipantSpec {
    pb::ParticipantSpec {
        id: id.into(),
        name: format!("{id} Ltd"),
        roles: roles.iter().map(|r| *r as i32).collect(),
        public_key: crypto::public_key(key).0.to_vec(),
    }
}

pub fn genesis_tx() -> pb::Transaction {
    pb::Transaction {
        ledger_id: LEDGER_ID.into(),
        tx_id: "genesis".into(),
        client_time_ms: T0,
        operation: Some(Operation::Genesis(pb::Genesis {
            participants: PARTICIPANTS
                .iter()
                .map(|(id, roles, seed)| spec(id, roles, &key(*seed)))
                .collect(),
        })),
    }
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
            let genesis = EnvelopeBuilder::new(&genesis_tx())
                .sign("admin", &key(1))
                .build();
            world.submit_envelope(genesis).expect("genesis");
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

    pub fn tx(&mut self, op: Operation) -> pb::Transaction {
        self.next_tx += 1;
        pb::Transaction {
            ledger_id: LEDGER_ID.into(),
            tx_id: format!("tx-{}-{}", self.session, self.next_tx),
            client_time_ms: self.now_ms,
            operation: Some(op),
        }
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
            &[warehouse],
        );
    }

    pub fn certify(&mut self, tank_id: &str, cert: &str, kg: u64, depositor: &str) {
        let warehouse = self.store().tank(tank_id).unwrap().unwrap().warehouse_id;
        self.ok(certify_stock(tank_id, cert, kg, depositor), &[&warehouse]);
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

pub fn node_key() -> SigningKey {
    key(100)
}

// ----- operation builders -----

pub fn register_tank(tank_id: &str, warehouse: &str, capacity_kg: u64) -> Operation {
    Operation::RegisterTank(pb::RegisterTank {
        tank_id: tank_id.into(),
        capacity_kg,
        product: "VLSFO 0.5%S".into(),
        warehouse_id: warehouse.into(),
    })
}

pub fn certify_stock(tank_id: &str, cert: &str, kg: u64, depositor: &str) -> Operation {
    Operation::CertifyStock(pb::CertifyStock {
        tank_id: tank_id.into(),
        inspection_agency: "SGS Zhoushan".into(),
        certificate_no: cert.into(),
        quantity_kg: kg,
        depositor_id: depositor.into(),
    })
}

pub fn issue_terms(
    receipt_id: &str,
    tank_id: &str,
    cert: &str,
    kg: u64,
    expires_at_ms: u64,
) -> pb::IssueReceipt {
    pb::IssueReceipt {
        receipt_id: receipt_id.into(),
        tank_id: tank_id.into(),
        inspection_agency: "SGS Zhoushan".into(),
        certificate_no: cert.into(),
        product_grade: "VLSFO 0.5%S".into(),
        specification: "ISO 8217:2017 RMG 380".into(),
        quantity_kg: kg,
        customs_status: pb::CustomsStatus::Bonded as i32,
        customs_reference: "ZS-2026-000123".into(),
        expires_at_ms,
        loss_allowance_ppm: 3_000,
        insurance_reference: "PICC-OIL-77".into(),
    }
}

pub fn issue(
    receipt_id: &str,
    tank_id: &str,
    cert: &str,
    kg: u64,
    expires_at_ms: u64,
) -> Operation {
    Operation::IssueReceipt(issue_terms(receipt_id, tank_id, cert, kg, expires_at_ms))
}

pub fn transfer(receipt_id: &str, to: &str) -> Operation {
    Operation::TransferReceipt(pb::TransferReceipt {
        receipt_id: receipt_id.into(),
        new_holder_id: to.into(),
    })
}

pub fn split(receipt_id: &str, parts: &[(&str, u64)]) -> Operation {
    Operation::SplitReceipt(pb::SplitReceipt {
        receipt_id: receipt_id.into(),
        parts: parts
            .iter()
            .map(|(id, kg)| pb::SplitPart {
                receipt_id: (*id).into(),
                quantity_kg: *kg,
            })
            .collect(),
    })
}

pub fn cancel(receipt_id: &str) -> Operation {
    Operation::CancelReceipt(pb::CancelReceipt {
        receipt_id: receipt_id.into(),
        reason: "delivered ex-tank".into(),
    })
}

pub fn pledge(pledge_id: &str, receipt_id: &str, bank: &str, maturity_ms: u64) -> Operation {
    Operation::RegisterPledge(pb::RegisterPledge {
        pledge_id: pledge_id.into(),
        receipt_id: receipt_id.into(),
        pledgee_id: bank.into(),
        secured_amount: Some(pb::Money {
            minor_units: 450_000_000,
            currency: "USD".into(),
        }),
        loan_reference: format!("LOAN-{pledge_id}"),
        maturity_ms,
    })
}

pub fn release(pledge_id: &str) -> Operation {
    Operation::ReleasePledge(pb::ReleasePledge {
        pledge_id: pledge_id.into(),
    })
}

pub fn enforce(pledge_id: &str, transferee: &str) -> Operation {
    Operation::EnforcePledge(pb::EnforcePledge {
        pledge_id: pledge_id.into(),
        transferee_id: transferee.into(),
    })
}

pub fn freeze(receipt_id: &str) -> Operation {
    Operation::FreezeReceipt(pb::FreezeReceipt {
        receipt_id: receipt_id.into(),
        order_reference: "(2026) Zhe 09 Min Chu 1".into(),
    })
}

pub fn unfreeze(receipt_id: &str) -> Operation {
    Operation::UnfreezeReceipt(pb::UnfreezeReceipt {
        receipt_id: receipt_id.into(),
        order_reference: "(2026) Zhe 09 Min Chu 1".into(),
    })
}

pub fn admit(id: &str, roles: &[pb::Role], key: &SigningKey) -> Operation {
    Operation::AdmitParticipant(pb::AdmitParticipant {
        participant: Some(spec(id, roles, key)),
    })
}

pub fn rotate(id: &str, new_key: &SigningKey) -> Operation {
    Operation::RotateKey(pb::RotateKey {
        participant_id: id.into(),
        new_public_key: crypto::public_key(new_key).0.to_vec(),
    })
}

pub fn revoke(id: &str) -> Operation {
    Operation::RevokeParticipant(pb::RevokeParticipant {
        participant_id: id.into(),
        reason: "licence withdrawn".into(),
    })
}
