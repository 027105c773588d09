//! The value of a pledge's collateral and its loan-to-value (LTV): pure
//! integer arithmetic on what the chain holds, the same for the node's
//! views, its alerts, the report and any verifier (docs/FORMAT.md §2.5).
//!
//! ```text
//!  price     = the latest assessment of (receipt's product_grade, secured amount's currency)
//!  value     = ⌊ quantity_kg × price_per_tonne / 1,000 ⌋                    minor units, rounded down
//!  LTV (bp)  = ⌈ secured_minor × 10,000 × 1,000 / (quantity_kg × price_per_tonne) ⌉   rounded up
//!  below the margin level  ⇔  LTV > margin_level_bp
//! ```
//!
//! Both roundings lean against the borrower: the collateral is never
//! valued above what the price gives, and the LTV is never shown below the
//! exact ratio, so a bank is never told it is safer than it is. An LTV
//! exactly at the margin level is within it; one basis point more (after
//! rounding up) is below the margin.
//!
//! Every product is computed in `u128`: a quantity and a price are each
//! below 2⁶⁴, so their product is below 2¹²⁸, and `secured_minor × 10⁷` is
//! below 2⁸⁸. Nothing here can overflow or divide by zero (quantities and
//! prices are positive by decoding; a zero product gives no LTV).
//!
//! A price in another currency than the secured amount's does not value the
//! pledge: there is no exchange rate on the ledger, so such a pledge has no
//! LTV ([`PledgeValuation::NoPrice`] names the grade and currency looked
//! for) until a price in its own currency is assessed.

use crate::model::{Pledge, PriceAssessment, PriceKey, Receipt};
use crate::state::{StateError, StateRead};

/// Basis points in one (100 %).
pub const BASIS_POINTS: u128 = 10_000;
/// Kilograms in a metric tonne: prices are per tonne, quantities in kg.
pub const KG_PER_TONNE: u128 = 1_000;

/// The value of `quantity_kg` at `price_per_tonne_minor`, minor units,
/// rounded down.
pub fn collateral_value_minor(quantity_kg: u64, price_per_tonne_minor: u64) -> u128 {
    u128::from(quantity_kg) * u128::from(price_per_tonne_minor) / KG_PER_TONNE
}

/// The loan-to-value of `secured_minor` against `quantity_kg` at
/// `price_per_tonne_minor`, basis points, rounded up; `None` when the
/// collateral is worth nothing (a zero quantity or price).
pub fn loan_to_value_bp(
    secured_minor: u64,
    quantity_kg: u64,
    price_per_tonne_minor: u64,
) -> Option<u128> {
    let collateral = u128::from(quantity_kg) * u128::from(price_per_tonne_minor);
    if collateral == 0 {
        return None;
    }
    let loan = u128::from(secured_minor) * BASIS_POINTS * KG_PER_TONNE;
    Some(loan.div_ceil(collateral))
}

/// The price that values `pledge`: its receipt's grade in its secured
/// amount's currency.
pub fn price_key(pledge: &Pledge, receipt: &Receipt) -> PriceKey {
    price_key_of_grade(pledge, &receipt.terms.product_grade)
}

/// The price that values `pledge` on a receipt of `product_grade`.
pub fn price_key_of_grade(pledge: &Pledge, product_grade: &str) -> PriceKey {
    PriceKey {
        product_grade: product_grade.to_owned(),
        currency: pledge.terms.secured_amount.currency.clone(),
    }
}

/// A pledge's collateral valued at one assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valuation {
    /// The assessment used: the latest of the grade in the currency.
    pub assessment: PriceAssessment,
    /// The receipt's quantity, kg.
    pub quantity_kg: u64,
    /// The collateral's value, minor units, rounded down.
    pub collateral_value_minor: u128,
    /// The loan-to-value, basis points, rounded up.
    pub loan_to_value_bp: u128,
    /// The pledge's margin level, if it states one.
    pub margin_level_bp: Option<u32>,
}

impl Valuation {
    /// Whether the collateral's value has fallen below the margin level:
    /// the LTV is above it. Never, for a pledge without a margin level.
    pub fn below_margin(&self) -> bool {
        self.margin_level_bp
            .is_some_and(|level| self.loan_to_value_bp > u128::from(level))
    }

    /// The LTV as a `u64` for wire formats, saturating (an LTV above
    /// 2⁶⁴ − 1 basis points is shown as that; it needs a loan 10¹² times
    /// the collateral's value).
    pub fn loan_to_value_bp_u64(&self) -> u64 {
        u64::try_from(self.loan_to_value_bp).unwrap_or(u64::MAX)
    }
}

/// What can be said of a pledge's collateral value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PledgeValuation {
    /// Valued at the latest assessment of its grade in its currency.
    Valued(Valuation),
    /// No assessment of the receipt's grade in the secured amount's
    /// currency exists (none at all, or only in other currencies).
    NoPrice {
        /// The grade and currency looked for.
        key: PriceKey,
    },
}

impl PledgeValuation {
    /// The valuation, if there is a price.
    pub fn valued(&self) -> Option<&Valuation> {
        match self {
            PledgeValuation::Valued(valuation) => Some(valuation),
            PledgeValuation::NoPrice { .. } => None,
        }
    }
}

/// Values `pledge` on `receipt` (its pledged receipt) at `latest`, the
/// latest assessment of [`price_key`], if any. Whether the pledge is still
/// active is the caller's concern: an ended pledge secures nothing.
pub fn value_pledge(
    pledge: &Pledge,
    receipt: &Receipt,
    latest: Option<&PriceAssessment>,
) -> PledgeValuation {
    let key = price_key(pledge, receipt);
    let valued = latest
        .filter(|a| a.key == key)
        .and_then(|a| value_collateral(pledge, receipt.terms.quantity_kg, a));
    match valued {
        Some(valuation) => PledgeValuation::Valued(valuation),
        None => PledgeValuation::NoPrice { key },
    }
}

/// Values `quantity_kg` of collateral securing `pledge` at `assessment`,
/// which the caller has checked is the pledge's [`price_key`]. `None` when
/// the collateral is worth nothing (see [`loan_to_value_bp`]).
pub fn value_collateral(
    pledge: &Pledge,
    quantity_kg: u64,
    assessment: &PriceAssessment,
) -> Option<Valuation> {
    let price = assessment.price_per_tonne_minor;
    let secured = pledge.terms.secured_amount.minor_units;
    Some(Valuation {
        assessment: assessment.clone(),
        quantity_kg,
        collateral_value_minor: collateral_value_minor(quantity_kg, price),
        loan_to_value_bp: loan_to_value_bp(secured, quantity_kg, price)?,
        margin_level_bp: pledge.terms.margin_level_bp,
    })
}

/// Values `pledge` as `state` stands: its receipt and the latest price of
/// its grade in its currency. `None` when the receipt is not in the state.
pub fn pledge_valuation<S: StateRead + ?Sized>(
    state: &S,
    pledge: &Pledge,
) -> Result<Option<PledgeValuation>, StateError> {
    let Some(receipt) = state.receipt(&pledge.terms.receipt_id)? else {
        return Ok(None);
    };
    let latest = state.price(&price_key(pledge, &receipt))?;
    Ok(Some(value_pledge(pledge, &receipt, latest.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_rounds_down_and_the_ltv_up() {
        // 1,001 kg at 999 per tonne: 999.999 → 999 minor units.
        assert_eq!(collateral_value_minor(1_001, 999), 999);
        // 800 against 1,000 kg at 1,000 per tonne: exactly 80 %.
        assert_eq!(loan_to_value_bp(800, 1_000, 1_000), Some(8_000));
        // One minor unit more is 80.01 %; a hair more than exact rounds up.
        assert_eq!(loan_to_value_bp(801, 1_000, 1_000), Some(8_010));
        assert_eq!(loan_to_value_bp(800, 999, 1_000), Some(8_009));
        assert_eq!(loan_to_value_bp(800, 0, 1_000), None);
    }

    #[test]
    fn the_largest_figures_do_not_overflow() {
        let ltv = loan_to_value_bp(u64::MAX, 1, 1).unwrap_or_default();
        assert_eq!(ltv, u128::from(u64::MAX) * 10_000_000);
        assert_eq!(
            collateral_value_minor(u64::MAX, u64::MAX),
            u128::from(u64::MAX) * u128::from(u64::MAX) / 1_000
        );
        assert_eq!(loan_to_value_bp(1, u64::MAX, u64::MAX), Some(1));
    }
}
