//! The regulator's report: what every tank holds, what is pledged on it and
//! by whom, and what each bank has lent against what collateral value. A
//! pure function of the state at a chain size (docs/REPORT.md defines each
//! figure): a replay's [`crate::state::MemoryState`] and a node's published
//! snapshot at the same size give the same rows, in the same order.
//!
//! ```text
//!   StateRead::tanks (a page at a time, tank id order)
//!     └─ each tank ─▶ its receipts (live ones counted) ─▶ TankRow, then its HolderRows
//!                     each active pledge on them      ─▶ added to its bank's totals
//!   after the last tank ─▶ the BankRows, by bank then currency
//! ```
//!
//! [`ReportRows`] yields the rows one tank at a time: what it holds at once
//! is one page of tanks, one tank's receipts and the banks' running totals
//! (they grow with the banks and currencies, not with the ledger). Every
//! object read must have been last changed by an entry below the report's
//! size; one changed later means the state moved under the reader
//! ([`ReportError::StateMoved`]): a consistent report is asked for again.
//! Integer arithmetic only; no clock, no I/O.

mod tank;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};

use crate::model::{Seq, Tank};
use crate::state::{StateError, StateRead};

pub use self::tank::pledged_share_bp;

/// Tanks read from the state at a time.
pub const TANK_PAGE: usize = 256;

/// Which tanks a report covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReportScope {
    /// Every tank.
    #[default]
    All,
    /// The tanks this warehouse holds now (as registrant or custodian); the
    /// banks' figures then count the pledges on those tanks only.
    Warehouse(String),
}

impl ReportScope {
    fn covers(&self, tank: &Tank) -> bool {
        match self {
            ReportScope::All => true,
            ReportScope::Warehouse(id) => tank.warehouse_id == *id,
        }
    }
}

/// One tank's stock, kilograms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TankRow {
    /// The tank.
    pub tank_id: String,
    /// The warehouse holding it now.
    pub warehouse_id: String,
    /// The product it holds.
    pub product: String,
    /// Its capacity.
    pub capacity_kg: u64,
    /// Certified stock.
    pub certified_kg: u64,
    /// The latest re-gauge's measurement; `None` if never re-gauged.
    pub measured_kg: Option<u64>,
    /// Sum of its live receipts' quantities.
    pub receipted_kg: u64,
    /// Sum of the quantities of its receipts under an active pledge.
    pub pledged_kg: u64,
    /// Receipted kilograms beyond the certified stock (0 unless in shortfall).
    pub shortfall_kg: u64,
}

/// One holder's live receipts on one tank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderRow {
    /// The holder.
    pub holder_id: String,
    /// The tank.
    pub tank_id: String,
    /// Sum of the holder's live receipts on the tank, kg.
    pub held_kg: u64,
    /// Of those, the kilograms under an active pledge.
    pub pledged_kg: u64,
    /// `pledged_kg` as a share of the tank's certified stock, basis points,
    /// rounded down ([`pledged_share_bp`]).
    pub pledged_share_bp: u128,
}

/// One bank's active pledges in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankRow {
    /// The bank holding the pledges now (the pledgee, or its successor).
    pub bank_id: String,
    /// The secured amounts' currency.
    pub currency: String,
    /// Active pledges.
    pub active_pledges: u64,
    /// Sum of their secured amounts, minor units.
    pub exposure_minor: u128,
    /// Sum of the collateral values of those with a price, minor units
    /// (each rounded down, `rules/valuation.rs`).
    pub collateral_value_minor: u128,
    /// Active pledges with no price of their receipt's grade in this
    /// currency: not in `collateral_value_minor`.
    pub unpriced_pledges: u64,
    /// Sum of those pledges' secured amounts, minor units (part of
    /// `exposure_minor`).
    pub unpriced_exposure_minor: u128,
}

/// A row of the report. The order: for each tank in tank id order, its
/// [`ReportRow::Tank`] and then its [`ReportRow::Holder`]s in holder id
/// order; after the last tank, the [`ReportRow::Bank`]s in (bank id,
/// currency) order. Ids compare as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportRow {
    /// A tank's stock.
    Tank(TankRow),
    /// A holder's share of the tank above it.
    Holder(HolderRow),
    /// A bank's exposure in a currency.
    Bank(BankRow),
}

/// The report could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// An object was changed by an entry at or after the report's size:
    /// the state moved while the report was read. Ask again.
    #[error("{object} was changed by entry {changed_at}, after the report's size {size}")]
    StateMoved {
        /// The object, e.g. `receipt R-1`.
        object: String,
        /// The entry that last changed it.
        changed_at: Seq,
        /// The size the report is computed at.
        size: u64,
    },
    /// A receipt names an active pledge the state does not hold.
    #[error("receipt {receipt_id} is under pledge {pledge_id}, which the state does not hold")]
    MissingPledge {
        /// The receipt.
        receipt_id: String,
        /// The pledge it names.
        pledge_id: String,
    },
}

/// The report's rows of `state`, which reflects the chain's first `size`
/// entries, over `scope`, one tank at a time.
pub fn rows<S: StateRead + ?Sized>(state: &S, size: u64, scope: ReportScope) -> ReportRows<'_, S> {
    ReportRows {
        state,
        size,
        scope,
        after: None,
        page: VecDeque::new(),
        listed_all: false,
        ready: VecDeque::new(),
        banks: BTreeMap::new(),
        banks_out: false,
        failed: false,
    }
}

/// The whole report at once: for tests and small ledgers.
pub fn report<S: StateRead + ?Sized>(
    state: &S,
    size: u64,
    scope: ReportScope,
) -> Result<Vec<ReportRow>, ReportError> {
    rows(state, size, scope).collect()
}

/// The report's rows, computed a tank at a time (see [`rows`]). After an
/// error it yields nothing more.
#[derive(Debug)]
pub struct ReportRows<'a, S: ?Sized> {
    state: &'a S,
    size: u64,
    scope: ReportScope,
    after: Option<String>,
    page: VecDeque<Tank>,
    listed_all: bool,
    ready: VecDeque<ReportRow>,
    banks: BTreeMap<(String, String), BankRow>,
    banks_out: bool,
    failed: bool,
}

impl<S: StateRead + ?Sized> ReportRows<'_, S> {
    /// The size the report is computed at.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Computes the next rows; false when there are none left.
    fn step(&mut self) -> Result<bool, ReportError> {
        while let Some(tank) = self.next_tank()? {
            if self.scope.covers(&tank) {
                let rows = tank::rows_of(self.state, self.size, &tank, &mut self.banks)?;
                self.ready.extend(rows);
                return Ok(true);
            }
        }
        if self.banks_out {
            return Ok(false);
        }
        self.banks_out = true;
        let banks = std::mem::take(&mut self.banks);
        self.ready.extend(banks.into_values().map(ReportRow::Bank));
        Ok(true)
    }

    /// The next tank in id order, reading a page when needed.
    fn next_tank(&mut self) -> Result<Option<Tank>, ReportError> {
        if self.page.is_empty() && !self.listed_all {
            let page = self.state.tanks(self.after.as_deref(), TANK_PAGE)?;
            self.listed_all = page.len() < TANK_PAGE;
            self.after = page.last().map(|tank| tank.id.clone());
            self.page = page.into();
        }
        let Some(tank) = self.page.pop_front() else {
            return Ok(None);
        };
        tank::check_before(self.size, format!("tank {}", tank.id), tank.updated_at)?;
        Ok(Some(tank))
    }
}

impl<S: StateRead + ?Sized> Iterator for ReportRows<'_, S> {
    type Item = Result<ReportRow, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.ready.pop_front() {
                return Some(Ok(row));
            }
            if self.failed {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
        }
    }
}
