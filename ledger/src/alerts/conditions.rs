//! The conditions watched: each is raised when it begins to hold and
//! cleared when it ends. Entry-driven ones (a pledge's collateral below
//! its margin level, a tank's shortfall, a holder's concentration, a
//! revoked custodian) are checked for what an entry touched; clock-driven
//! ones (a pledge's maturity, its receipt's expiry) are kept on an agenda
//! by the time they fall due.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{Touched, WatchView};
use super::{AlertKind, AlertPolicy, AlertState, Draft};
use crate::rules::valuation;

type Key = (AlertKind, String);

/// The conditions raised and the clock's agenda.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    /// Raised and not yet cleared, with the parties told.
    raised: BTreeMap<Key, BTreeSet<String>>,
    /// Clock alerts to come: (due time, kind, pledge id).
    agenda: BTreeSet<(u64, AlertKind, String)>,
    /// The due time of each alert on the agenda.
    scheduled: BTreeMap<Key, u64>,
}

impl Conditions {
    /// What the entry at `time_ms`, which touched `touched`, raised or cleared.
    pub(crate) fn after_entry(
        &mut self,
        view: &WatchView,
        touched: &Touched,
        policy: &AlertPolicy,
        time_ms: u64,
    ) -> Vec<Draft> {
        let mut drafts = Vec::new();
        for pledge_id in &touched.pledges {
            drafts.extend(self.pledge_changed(view, policy, pledge_id, time_ms));
        }
        for pledge_id in pledges_to_value(view, touched) {
            let draft = collateral_below_margin(view, &pledge_id);
            drafts.extend(self.check(AlertKind::CollateralBelowMargin, &pledge_id, draft));
        }
        for tank_id in tanks_to_check(view, touched) {
            drafts.extend(self.check(
                AlertKind::TankShortfall,
                &tank_id,
                shortfall(view, &tank_id),
            ));
            drafts.extend(self.check(
                AlertKind::CustodianRevoked,
                &tank_id,
                custodian_revoked(view, &tank_id),
            ));
        }
        for (tank_id, holder_id) in holdings_to_check(view, touched) {
            let subject = format!("{tank_id}/{holder_id}");
            let draft = concentration(view, policy, &tank_id, &holder_id);
            drafts.extend(self.check(AlertKind::HolderConcentration, &subject, draft));
        }
        drafts
    }

    /// The clock alerts due at or before `now_ms`, by due time.
    pub(crate) fn due(
        &mut self,
        view: &WatchView,
        policy: &AlertPolicy,
        now_ms: u64,
    ) -> Vec<(u64, Vec<Draft>)> {
        let mut out: Vec<(u64, Vec<Draft>)> = Vec::new();
        while let Some(first) = self.agenda.first().cloned() {
            if first.0 > now_ms {
                break;
            }
            self.agenda.remove(&first);
            let (due_ms, kind, pledge_id) = first;
            self.scheduled.remove(&(kind, pledge_id.clone()));
            let draft = pledge_condition(view, policy, kind, &pledge_id);
            let Some(draft) = self.check(kind, &pledge_id, draft) else {
                continue;
            };
            match out.last_mut() {
                Some((time, drafts)) if *time == due_ms => drafts.push(draft),
                _ => out.push((due_ms, vec![draft])),
            }
        }
        out
    }

    /// A pledge became active (its clock alerts scheduled, or raised now
    /// if already due) or ended (its alerts cleared).
    fn pledge_changed(
        &mut self,
        view: &WatchView,
        policy: &AlertPolicy,
        pledge_id: &str,
        time_ms: u64,
    ) -> Vec<Draft> {
        let mut drafts = Vec::new();
        for kind in [
            AlertKind::PledgePastMaturity,
            AlertKind::PledgedReceiptExpiring,
        ] {
            self.unschedule(kind, pledge_id);
            match due_time(view, policy, kind, pledge_id) {
                Some(due) if due <= time_ms => {
                    let draft = pledge_condition(view, policy, kind, pledge_id);
                    drafts.extend(self.check(kind, pledge_id, draft));
                }
                Some(due) => self.schedule(due, kind, pledge_id),
                None => drafts.extend(self.check(kind, pledge_id, None)),
            }
        }
        drafts
    }

    fn schedule(&mut self, due: u64, kind: AlertKind, pledge_id: &str) {
        self.agenda.insert((due, kind, pledge_id.to_owned()));
        self.scheduled.insert((kind, pledge_id.to_owned()), due);
    }

    fn unschedule(&mut self, kind: AlertKind, pledge_id: &str) {
        if let Some(due) = self.scheduled.remove(&(kind, pledge_id.to_owned())) {
            self.agenda.remove(&(due, kind, pledge_id.to_owned()));
        }
    }

    /// Raises `holds` if not raised, clears the condition if it no longer
    /// holds; nothing when nothing changed.
    fn check(&mut self, kind: AlertKind, subject: &str, holds: Option<Draft>) -> Option<Draft> {
        let key = (kind, subject.to_owned());
        match (holds, self.raised.contains_key(&key)) {
            (Some(draft), false) => {
                self.raised.insert(key, draft.parties.clone());
                Some(draft)
            }
            (None, true) => {
                let parties = self.raised.remove(&key).unwrap_or_default();
                Some(Draft::new(kind, AlertState::Cleared, subject).parties(parties))
            }
            _ => None,
        }
    }
}

/// The pledges registered or ended, those whose receipt changed, and the
/// active pledges with a margin level valued by a price newly assessed
/// (found by the view's index, not by a scan of every pledge).
fn pledges_to_value(view: &WatchView, touched: &Touched) -> BTreeSet<String> {
    let mut pledges = touched.pledges.clone();
    pledges.extend(touched.collateral_changed.iter().cloned());
    for key in &touched.prices {
        pledges.extend(view.margined_pledges_of(key).cloned());
    }
    pledges
}

/// An active pledge's loan-to-value at the latest price of its receipt's
/// grade in its loan's currency, above its margin level
/// (`rules/valuation.rs` does the arithmetic and says how it rounds).
fn collateral_below_margin(view: &WatchView, pledge_id: &str) -> Option<Draft> {
    let (pledge, receipt, price) = view.priced_pledge(pledge_id)?;
    let valued = valuation::value_collateral(pledge, receipt.quantity_kg, price)?;
    if !valued.below_margin() {
        return None;
    }
    let margin_level_bp = pledge.terms.margin_level_bp?;
    let secured = &pledge.terms.secured_amount;
    Some(
        Draft::new(
            AlertKind::CollateralBelowMargin,
            AlertState::Raised,
            pledge_id,
        )
        .field("pledge", pledge_id)
        .field("receipt", &pledge.terms.receipt_id)
        .field("pledgee", pledge.pledgee())
        .field("pledgor", &pledge.pledgor_id)
        .field("grade", &price.key.product_grade)
        .field("currency", &secured.currency)
        .field("price_per_tonne_minor", price.price_per_tonne_minor)
        .field("assessed_at_ms", price.assessed_at_ms)
        .field("price_entry", price.at)
        .field("reporter", &price.reporter_id)
        .field("quantity_kg", valued.quantity_kg)
        .field("collateral_value_minor", valued.collateral_value_minor)
        .field("secured_minor", secured.minor_units)
        .field("ltv_bp", valued.loan_to_value_bp)
        .field("margin_level_bp", margin_level_bp)
        .parties([pledge.pledgee().to_owned()]),
    )
}

fn tanks_to_check(view: &WatchView, touched: &Touched) -> BTreeSet<String> {
    let mut tanks = touched.tanks.clone();
    for (tank_id, tank) in &view.tanks {
        if touched.revoked.contains(&tank.warehouse_id) {
            tanks.insert(tank_id.clone());
        }
    }
    tanks
}

/// The holdings whose pledged kilograms changed, and every holding of a
/// tank whose certified stock may have changed.
fn holdings_to_check(view: &WatchView, touched: &Touched) -> BTreeSet<(String, String)> {
    let mut holdings = touched.holdings.clone();
    for tank_id in &touched.tanks {
        let from = (tank_id.clone(), String::new());
        holdings.extend(
            view.pledged_kg
                .range(from..)
                .take_while(|((t, _), _)| t == tank_id)
                .map(|(key, _)| key.clone()),
        );
    }
    holdings
}

fn shortfall(view: &WatchView, tank_id: &str) -> Option<Draft> {
    let tank = view.tanks.get(tank_id)?;
    let measured_kg = tank.measured_kg?;
    Some(
        Draft::new(AlertKind::TankShortfall, AlertState::Raised, tank_id)
            .field("tank", tank_id)
            .field("warehouse", &tank.warehouse_id)
            .field("measured_kg", measured_kg)
            .field("certified_kg", tank.certified_kg)
            .field("missing_kg", tank.missing_kg)
            .parties(view.tank_parties(tank_id)),
    )
}

fn custodian_revoked(view: &WatchView, tank_id: &str) -> Option<Draft> {
    let tank = view.tanks.get(tank_id)?;
    if !view.revoked.contains(&tank.warehouse_id) {
        return None;
    }
    let live = view.tank_receipts.get(tank_id).map_or(0, BTreeSet::len);
    Some(
        Draft::new(AlertKind::CustodianRevoked, AlertState::Raised, tank_id)
            .field("tank", tank_id)
            .field("warehouse", &tank.warehouse_id)
            .field("live_receipts", live)
            .parties(view.tank_parties(tank_id)),
    )
}

/// The holder's pledged share of the tank's certified stock, in basis
/// points rounded down; raised when strictly above the policy's.
fn concentration(
    view: &WatchView,
    policy: &AlertPolicy,
    tank_id: &str,
    holder_id: &str,
) -> Option<Draft> {
    let tank = view.tanks.get(tank_id)?;
    let key = (tank_id.to_owned(), holder_id.to_owned());
    let pledged_kg = *view.pledged_kg.get(&key)?;
    let share_bp = crate::report::pledged_share_bp(pledged_kg, tank.certified_kg);
    if share_bp <= u128::from(policy.holder_share_bp) {
        return None;
    }
    let mut parties = view.holding_pledgees(tank_id, holder_id);
    parties.insert(holder_id.to_owned());
    parties.insert(tank.warehouse_id.clone());
    Some(
        Draft::new(
            AlertKind::HolderConcentration,
            AlertState::Raised,
            format!("{tank_id}/{holder_id}"),
        )
        .field("tank", tank_id)
        .field("holder", holder_id)
        .field("pledged_kg", pledged_kg)
        .field("certified_kg", tank.certified_kg)
        .field("share_bp", share_bp)
        .field("threshold_bp", policy.holder_share_bp)
        .parties(parties),
    )
}

/// When a pledge's clock alert of `kind` falls due (`None`: the pledge is
/// not active).
fn due_time(
    view: &WatchView,
    policy: &AlertPolicy,
    kind: AlertKind,
    pledge_id: &str,
) -> Option<u64> {
    let pledge = view.pledges.get(pledge_id)?;
    match kind {
        AlertKind::PledgePastMaturity => Some(pledge.terms.maturity_ms),
        _ => {
            let receipt = view.receipts.get(&pledge.terms.receipt_id)?;
            Some(
                receipt
                    .expires_at_ms
                    .saturating_sub(policy.expiry_warning_ms),
            )
        }
    }
}

fn pledge_condition(
    view: &WatchView,
    policy: &AlertPolicy,
    kind: AlertKind,
    pledge_id: &str,
) -> Option<Draft> {
    let pledge = view.pledges.get(pledge_id)?;
    let parties = [pledge.terms.pledgee_id.clone(), pledge.pledgor_id.clone()];
    let draft = Draft::new(kind, AlertState::Raised, pledge_id)
        .field("pledge", pledge_id)
        .field("receipt", &pledge.terms.receipt_id)
        .field("pledgee", &pledge.terms.pledgee_id)
        .field("pledgor", &pledge.pledgor_id)
        .parties(parties);
    match kind {
        AlertKind::PledgePastMaturity => Some(draft.field("maturity_ms", pledge.terms.maturity_ms)),
        _ => {
            let receipt = view.receipts.get(&pledge.terms.receipt_id)?;
            Some(
                draft
                    .field("expires_at_ms", receipt.expires_at_ms)
                    .field("warning_ms", policy.expiry_warning_ms),
            )
        }
    }
}
