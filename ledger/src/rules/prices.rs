//! Price assessments: a price reporter states the price of a grade in a
//! currency at a time, and the latest one values every pledged receipt of
//! that grade whose loan is in that currency (`valuation.rs`).
//!
//! The grade is compared byte for byte with the receipts' `product_grade`;
//! the ledger keeps, for each grade and currency, the assessment with the
//! latest assessment time. An assessment must be newer than that one: a
//! late or replayed report cannot take the place of a newer price (a bank
//! reading a pledge's loan-to-value sees the newest price the ledger
//! knows, and the chain shows when it was stated).

use super::{EntryContext, RuleResult, load_active_with_role, require_past};
use crate::model::{PriceAssessment, Role};
use crate::rejection::Rejection;
use crate::state::{Objects, StateRead};
use crate::tx::PriceReport;

pub(super) fn assess<S: StateRead + ?Sized>(
    state: &S,
    report: &PriceReport,
    ctx: EntryContext,
) -> RuleResult<Objects> {
    load_active_with_role(state, &report.reporter_id, &[Role::PriceReporter])?;
    require_past("assessed_at_ms", report.assessed_at_ms, ctx)?;
    if let Some(latest) = state.price(&report.key)?
        && report.assessed_at_ms <= latest.assessed_at_ms
    {
        return Err(Rejection::AssessmentSuperseded {
            product_grade: report.key.product_grade.clone(),
            currency: report.key.currency.clone(),
            assessed_at_ms: report.assessed_at_ms,
            latest_assessed_at_ms: latest.assessed_at_ms,
            latest_at: latest.at,
        }
        .into());
    }
    let mut changes = Objects::default();
    changes.put_price(PriceAssessment {
        key: report.key.clone(),
        price_per_tonne_minor: report.price_per_tonne_minor,
        assessed_at_ms: report.assessed_at_ms,
        reporter_id: report.reporter_id.clone(),
        at: ctx.seq,
    });
    Ok(changes)
}
