//! What the alert watch remembers of the state: live receipts, active
//! pledges, tanks, revoked participants and the latest prices, kept from
//! the objects each entry changed.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Pledge, PledgeStatus, PriceAssessment, PriceKey, Receipt, Tank};
use crate::rules::valuation;
use crate::state::Objects;

/// A live receipt, as the watch needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedReceipt {
    /// Its tank.
    pub tank_id: String,
    /// Its holder.
    pub holder_id: String,
    /// Its product grade (with a loan's currency, the price that values it).
    pub product_grade: String,
    /// Its quantity.
    pub quantity_kg: u64,
    /// When it expires.
    pub expires_at_ms: u64,
    /// Its active pledge, if any.
    pub pledge_id: Option<String>,
}

/// A tank, as the watch needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedTank {
    /// Its custodian.
    pub warehouse_id: String,
    /// Its certified stock.
    pub certified_kg: u64,
    /// Kilograms missing by its latest gauging (0: none).
    pub missing_kg: u64,
    /// The gauging's measured kilograms, when short.
    pub measured_kg: Option<u64>,
}

/// What changed in the view with one entry.
#[derive(Debug, Clone, Default)]
pub struct Touched {
    /// Tanks whose own record, or a receipt of which, changed.
    pub tanks: BTreeSet<String>,
    /// Pledges that became active or ended.
    pub pledges: BTreeSet<String>,
    /// Participants newly revoked.
    pub revoked: BTreeSet<String>,
    /// (tank, holder) pairs whose pledged kilograms changed.
    pub holdings: BTreeSet<(String, String)>,
    /// Grades and currencies newly assessed.
    pub prices: BTreeSet<PriceKey>,
    /// Active pledges whose pledged receipt changed (its quantity values
    /// the collateral).
    pub collateral_changed: BTreeSet<String>,
}

/// The watch's view of the state.
#[derive(Debug, Clone, Default)]
pub struct WatchView {
    /// Live receipts.
    pub receipts: BTreeMap<String, WatchedReceipt>,
    /// Active pledges.
    pub pledges: BTreeMap<String, Pledge>,
    /// Tanks.
    pub tanks: BTreeMap<String, WatchedTank>,
    /// Live receipts of each tank.
    pub tank_receipts: BTreeMap<String, BTreeSet<String>>,
    /// Pledged kilograms by (tank, holder).
    pub pledged_kg: BTreeMap<(String, String), u64>,
    /// Revoked participants.
    pub revoked: BTreeSet<String>,
    /// The latest assessment of each grade in each currency.
    pub prices: BTreeMap<PriceKey, PriceAssessment>,
    /// Active pledges with a margin level, by the price that values them:
    /// an assessment re-values these and no others.
    pub margined_by_price: BTreeMap<PriceKey, BTreeSet<String>>,
    /// The price each pledge of `margined_by_price` is filed under.
    pub price_of_pledge: BTreeMap<String, PriceKey>,
}

impl WatchView {
    /// Takes in the objects an entry changed; returns what moved.
    pub fn merge(&mut self, changes: &Objects) -> Touched {
        let mut touched = Touched::default();
        for (id, participant) in &changes.participants {
            if participant.revoked_at.is_some() && self.revoked.insert(id.clone()) {
                touched.revoked.insert(id.clone());
            }
        }
        for (id, tank) in &changes.tanks {
            self.tanks.insert(id.clone(), watched_tank(tank));
            touched.tanks.insert(id.clone());
        }
        for (id, pledge) in &changes.pledges {
            self.merge_pledge(id, pledge);
            touched.pledges.insert(id.clone());
        }
        for (id, receipt) in &changes.receipts {
            self.merge_receipt(id, receipt, &mut touched);
        }
        for id in &touched.pledges {
            self.file_by_price(id);
        }
        for (key, assessment) in &changes.prices {
            self.prices.insert(key.clone(), assessment.clone());
            touched.prices.insert(key.clone());
        }
        touched
    }

    /// Files an active pledge with a margin level under the price that
    /// values it (its receipt's grade, its loan's currency); takes an
    /// ended one out.
    fn file_by_price(&mut self, pledge_id: &str) {
        if let Some(key) = self.price_of_pledge.remove(pledge_id)
            && let Some(ids) = self.margined_by_price.get_mut(&key)
        {
            ids.remove(pledge_id);
            if ids.is_empty() {
                self.margined_by_price.remove(&key);
            }
        }
        let Some(key) = self.margined_price_key(pledge_id) else {
            return;
        };
        self.margined_by_price
            .entry(key.clone())
            .or_default()
            .insert(pledge_id.to_owned());
        self.price_of_pledge.insert(pledge_id.to_owned(), key);
    }

    fn margined_price_key(&self, pledge_id: &str) -> Option<PriceKey> {
        let pledge = self
            .pledges
            .get(pledge_id)
            .filter(|p| p.terms.margin_level_bp.is_some())?;
        let receipt = self.receipts.get(&pledge.terms.receipt_id)?;
        Some(valuation::price_key_of_grade(
            pledge,
            &receipt.product_grade,
        ))
    }

    /// The active pledges with a margin level valued by `key`.
    pub fn margined_pledges_of(&self, key: &PriceKey) -> impl Iterator<Item = &String> {
        self.margined_by_price.get(key).into_iter().flatten()
    }

    /// The latest assessment of the price that values `pledge_id`, with its
    /// pledge and receipt, if it is active and priced.
    pub fn priced_pledge(
        &self,
        pledge_id: &str,
    ) -> Option<(&Pledge, &WatchedReceipt, &PriceAssessment)> {
        let pledge = self.pledges.get(pledge_id)?;
        let receipt = self.receipts.get(&pledge.terms.receipt_id)?;
        let key = valuation::price_key_of_grade(pledge, &receipt.product_grade);
        Some((pledge, receipt, self.prices.get(&key)?))
    }

    fn merge_pledge(&mut self, id: &str, pledge: &Pledge) {
        match pledge.status {
            PledgeStatus::Active => self.pledges.insert(id.to_owned(), pledge.clone()),
            _ => self.pledges.remove(id),
        };
    }

    fn merge_receipt(&mut self, id: &str, receipt: &Receipt, touched: &mut Touched) {
        if let Some(old) = self.receipts.remove(id) {
            self.count_pledged(&old, false, touched);
            if let Some(ids) = self.tank_receipts.get_mut(&old.tank_id) {
                ids.remove(id);
            }
            touched.tanks.insert(old.tank_id);
        }
        if !receipt.status.is_live() {
            return;
        }
        let watched = WatchedReceipt {
            tank_id: receipt.terms.tank_id.clone(),
            holder_id: receipt.holder_id.clone(),
            product_grade: receipt.terms.product_grade.clone(),
            quantity_kg: receipt.terms.quantity_kg,
            expires_at_ms: receipt.terms.expires_at_ms,
            pledge_id: receipt.active_pledge().map(str::to_owned),
        };
        self.count_pledged(&watched, true, touched);
        if let Some(pledge_id) = &watched.pledge_id {
            touched.collateral_changed.insert(pledge_id.clone());
        }
        self.tank_receipts
            .entry(watched.tank_id.clone())
            .or_default()
            .insert(id.to_owned());
        touched.tanks.insert(watched.tank_id.clone());
        self.receipts.insert(id.to_owned(), watched);
    }

    fn count_pledged(&mut self, receipt: &WatchedReceipt, add: bool, touched: &mut Touched) {
        if receipt.pledge_id.is_none() {
            return;
        }
        let key = (receipt.tank_id.clone(), receipt.holder_id.clone());
        let kg = self.pledged_kg.entry(key.clone()).or_default();
        *kg = match add {
            true => kg.saturating_add(receipt.quantity_kg),
            false => kg.saturating_sub(receipt.quantity_kg),
        };
        if *kg == 0 {
            self.pledged_kg.remove(&key);
        }
        touched.holdings.insert(key);
    }

    /// Holders and pledgees of the live receipts of `tank_id`, and its
    /// custodian: who a tank's trouble concerns.
    pub fn tank_parties(&self, tank_id: &str) -> BTreeSet<String> {
        let mut parties = BTreeSet::new();
        if let Some(tank) = self.tanks.get(tank_id) {
            parties.insert(tank.warehouse_id.clone());
        }
        for receipt_id in self.tank_receipts.get(tank_id).into_iter().flatten() {
            parties.extend(self.receipt_parties(receipt_id));
        }
        parties
    }

    /// A live receipt's holder and its pledgee, if pledged.
    pub fn receipt_parties(&self, receipt_id: &str) -> BTreeSet<String> {
        let mut parties = BTreeSet::new();
        let Some(receipt) = self.receipts.get(receipt_id) else {
            return parties;
        };
        parties.insert(receipt.holder_id.clone());
        if let Some(pledge) = receipt
            .pledge_id
            .as_ref()
            .and_then(|id| self.pledges.get(id))
        {
            parties.insert(pledge.terms.pledgee_id.clone());
        }
        parties
    }

    /// The pledgees of `holder_id`'s pledged receipts in `tank_id`.
    pub fn holding_pledgees(&self, tank_id: &str, holder_id: &str) -> BTreeSet<String> {
        self.tank_receipts
            .get(tank_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.receipts.get(id))
            .filter(|r| r.holder_id == holder_id)
            .filter_map(|r| r.pledge_id.as_ref().and_then(|id| self.pledges.get(id)))
            .map(|p| p.terms.pledgee_id.clone())
            .collect()
    }
}

fn watched_tank(tank: &Tank) -> WatchedTank {
    WatchedTank {
        warehouse_id: tank.warehouse_id.clone(),
        certified_kg: tank.certified_kg,
        missing_kg: tank.shortfall.as_ref().map_or(0, |_| tank.missing_kg()),
        measured_kg: tank.shortfall.as_ref().map(|s| s.gauging.measured_kg),
    }
}
