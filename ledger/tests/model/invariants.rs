//! Invariants checked on the ledger's own state after every step, whatever
//! the model says: one active pledge per receipt; tank arithmetic (live
//! receipts ≤ certified ≤ measured-or-certified ≤ capacity unless the tank is
//! in flagged shortfall); one registration per physical tank; every pledge's
//! bank live; one owner per key and per legal identity; one lineage per
//! certificate; splits conserve quantity.

use std::collections::{BTreeMap, BTreeSet};

use pledge_ledger::model::{PledgeStatus, ReceiptStatus, Tank};
use pledge_ledger::state::Objects;

pub fn assert_invariants(objects: &Objects) {
    one_active_pledge_per_receipt(objects);
    tank_arithmetic(objects);
    one_registration_per_physical_tank(objects);
    pledges_are_held_by_live_banks(objects);
    keys_and_legal_ids_have_one_owner(objects);
    one_lineage_per_certificate(objects);
    splits_conserve_quantity(objects);
}

fn one_active_pledge_per_receipt(objects: &Objects) {
    let mut active_per_receipt: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, p) in &objects.pledges {
        if p.status == PledgeStatus::Active {
            active_per_receipt
                .entry(p.terms.receipt_id.as_str())
                .or_default()
                .push(id);
        }
    }
    for (receipt, pledges) in &active_per_receipt {
        assert_eq!(
            pledges.len(),
            1,
            "receipt {receipt} under several active pledges"
        );
        let r = &objects.receipts[*receipt];
        assert_eq!(
            r.status,
            ReceiptStatus::Pledged {
                pledge_id: pledges[0].to_string()
            },
            "receipt {receipt} does not name its active pledge"
        );
    }
    for (id, r) in &objects.receipts {
        if let ReceiptStatus::Pledged { pledge_id } = &r.status {
            let p = &objects.pledges[pledge_id];
            assert_eq!(
                p.status,
                PledgeStatus::Active,
                "{id} pledged under a dead pledge"
            );
            assert_eq!(
                &p.terms.receipt_id, id,
                "{id} names another receipt's pledge"
            );
        }
        if r.frozen.is_some() {
            assert!(r.status.is_live(), "frozen receipt {id} is not live");
        }
    }
}

fn tank_arithmetic(objects: &Objects) {
    for (id, t) in &objects.tanks {
        let live: u64 = objects
            .receipts
            .values()
            .filter(|r| r.terms.tank_id == *id && r.status.is_live())
            .map(|r| r.terms.quantity_kg)
            .sum();
        assert_eq!(
            live, t.receipted_kg,
            "tank {id}: live receipts vs receipted_kg"
        );
        assert!(
            t.certified_kg <= t.capacity_kg,
            "tank {id}: certified above capacity"
        );
        assert_eq!(
            t.shortfall.is_some(),
            t.receipted_kg > t.certified_kg,
            "tank {id}: receipted {} certified {}, shortfall flagged: {}",
            t.receipted_kg,
            t.certified_kg,
            t.shortfall.is_some()
        );
        assert!(
            t.certified_kg <= measured_or_certified(objects, t),
            "tank {id}: certified {} above what the last gauging and later certificates allow",
            t.certified_kg
        );
        for r in objects.receipts.values() {
            if r.terms.tank_id == *id && r.status.is_live() {
                assert_eq!(
                    r.warehouse_id,
                    t.warehouse_id,
                    "live receipt {} on {id}",
                    r.id()
                );
            }
        }
    }
}

/// What the inspectors have attested the tank may hold: the last gauging's
/// measurement plus every certificate recorded after it (deliveries only
/// lower certified stock), or the certified stock itself when never gauged.
fn measured_or_certified(objects: &Objects, tank: &Tank) -> u64 {
    let Some(last) = &tank.last_gauging else {
        return tank.certified_kg;
    };
    let later: u64 = objects
        .certificates
        .values()
        .filter(|c| c.tank_id == tank.id && c.certified_at > last.at)
        .map(|c| c.quantity_kg)
        .sum();
    (last.gauging.measured_kg + later).min(tank.capacity_kg)
}

fn one_registration_per_physical_tank(objects: &Objects) {
    assert_eq!(
        objects.physical_tanks.len(),
        objects.tanks.len(),
        "physical tank index"
    );
    for (physical, tank_id) in &objects.physical_tanks {
        assert_eq!(&objects.tanks[tank_id].physical_id, physical);
    }
}

fn pledges_are_held_by_live_banks(objects: &Objects) {
    for (id, p) in &objects.pledges {
        if p.status != PledgeStatus::Active {
            continue;
        }
        let bank = &objects.participants[p.pledgee()];
        assert!(
            bank.revoked_at.is_none(),
            "active pledge {id} is held by revoked bank {}",
            p.pledgee()
        );
        for succession in &p.successions {
            let from = &objects.participants[&succession.from];
            assert_eq!(from.successor_id.as_ref(), Some(&succession.to));
        }
    }
}

fn keys_and_legal_ids_have_one_owner(objects: &Objects) {
    for (id, p) in &objects.participants {
        let owner = &objects.key_owners[&p.spec.public_key];
        assert_eq!(&owner.participant_id, id, "current key of {id}");
        assert_eq!(owner.retired_at, None, "current key of {id} retired");
        assert_eq!(objects.legal_ids[&p.spec.legal_id], *id, "legal id of {id}");
    }
    assert_eq!(objects.legal_ids.len(), objects.participants.len());
    let retired = objects
        .key_owners
        .values()
        .filter(|o| o.retired_at.is_some())
        .count();
    assert_eq!(
        objects.key_owners.len() - retired,
        objects.participants.len()
    );
}

fn one_lineage_per_certificate(objects: &Objects) {
    fn root(objects: &Objects, start: &str) -> String {
        let mut id = start;
        let mut hops = 0;
        while let Some(parent) = &objects.receipts[id].parent_id {
            id = parent;
            hops += 1;
            assert!(hops <= objects.receipts.len(), "cycle in split lineage");
        }
        id.to_owned()
    }
    let mut roots_per_cert: BTreeMap<_, BTreeSet<String>> = BTreeMap::new();
    for (id, r) in &objects.receipts {
        roots_per_cert
            .entry(r.terms.certificate.clone())
            .or_default()
            .insert(root(objects, id));
    }
    for (cert, roots) in &roots_per_cert {
        assert_eq!(roots.len(), 1, "{cert} backs several lineages: {roots:?}");
        let c = objects
            .certificates
            .get(cert)
            .unwrap_or_else(|| panic!("{cert} backs receipts but is not recorded"));
        let root = roots.iter().next().unwrap();
        assert_eq!(
            c.receipt_id.as_ref(),
            Some(root),
            "{cert} names another receipt"
        );
        let live: u64 = objects
            .receipts
            .values()
            .filter(|r| r.terms.certificate == *cert && r.status.is_live())
            .map(|r| r.terms.quantity_kg)
            .sum();
        assert!(
            live <= c.quantity_kg,
            "{cert}: {live} kg live, {} certified",
            c.quantity_kg
        );
    }
    for (cert, c) in &objects.certificates {
        if let Some(receipt) = &c.receipt_id {
            let r = &objects.receipts[receipt];
            assert_eq!(r.parent_id, None, "{cert} backs a split part");
            assert_eq!(&r.terms.certificate, cert);
            assert_eq!(r.terms.tank_id, c.tank_id);
        }
    }
}

fn splits_conserve_quantity(objects: &Objects) {
    for (id, r) in &objects.receipts {
        if let ReceiptStatus::Split { parts, .. } = &r.status {
            let mut sum = 0u64;
            for part in parts {
                let p = &objects.receipts[part];
                assert_eq!(
                    p.parent_id.as_deref(),
                    Some(id.as_str()),
                    "parent of {part}"
                );
                assert_eq!(p.terms.tank_id, r.terms.tank_id);
                assert_eq!(p.terms.certificate, r.terms.certificate);
                assert_eq!(p.terms.expires_at_ms, r.terms.expires_at_ms);
                sum = sum
                    .checked_add(p.terms.quantity_kg)
                    .expect("parts overflow");
            }
            assert_eq!(
                sum, r.terms.quantity_kg,
                "split of {id} does not conserve quantity"
            );
        }
    }
}
