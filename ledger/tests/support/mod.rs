//! A small world of participants for rule tests: the demo participants of
//! `pledge_ledger::demo` (an admin, two warehouses, two traders, two banks,
//! a regulator and an auditor) with the fixed keys and the operations of
//! `pledge_ledger::testing`, over an in-memory ledger.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use pledge_ledger::Rejection;
use pledge_ledger::demo;
use pledge_ledger::envelope::{Envelope, EnvelopeBuilder};
use pledge_ledger::ledger::{Committed, Ledger, SubmitResult};
use pledge_ledger::model::{Pledge, Receipt, Tank};
use pledge_ledger::replay::Replayer;
use pledge_ledger::state::StateRead;
use pledge_ledger::store::{LogStore, MemoryLog, MemoryStateStore, StateStore};
pub use pledge_ledger::testing::*;
use pledge_ledger::view::{LedgerRead, Snapshot};
use pledge_proto::v1::{self as pb, transaction::Operation};

/// The genesis of the test ledger, signed by nobody yet.
pub fn genesis_tx() -> pb::Transaction {
    genesis(LEDGER_ID, T0)
}

/// The roles of a demo participant.
pub fn roles_of(id: &str) -> Option<&'static [pb::Role]> {
    demo::participant(id).map(|p| p.roles)
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
            let genesis = sign(&genesis_tx(), &["admin"]);
            world.submit_envelope(genesis).expect("genesis");
        }
        world
    }

    pub fn empty(ledger: Ledger<L, S>) -> Self {
        let keys = demo::PARTICIPANTS
            .iter()
            .map(|p| (p.id.to_owned(), key_of(p.id)))
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
        let tx_id = format!("tx-{}-{}", self.session, self.next_tx);
        pledge_ledger::ops::transaction(LEDGER_ID, &tx_id, self.now_ms, op)
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
