//! `/pledge/{id}`: one pledge, its terms and where it stands.

use pledge_proto::v1 as pb;
use tonic::Status;

use crate::describe;
use crate::format::{money, time};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page, facts};

/// The pledge page.
pub async fn page(ctx: &Ctx, id: &str) -> Result<Answer, Status> {
    let pledge = ctx.reads.pledge(id).await?;
    let body = html!(
        "<h1>{} <span class=\"id\">{}</span></h1><p class=\"status-line\" id=\"pledge-status\">{}</p>{}",
        ctx.t(L::Pledge),
        id,
        describe::pledge_status(ctx.lang, &pledge),
        pledge_facts(ctx, &pledge)
    );
    let title = format!("{} {id}", ctx.t(L::Pledge));
    Ok(Answer::Page(Page::ok(title, Nav::Search, body)))
}

/// A pledge's terms and state as a table.
pub fn pledge_facts(ctx: &Ctx, pledge: &pb::PledgeView) -> Html {
    let terms = pledge.terms.clone().unwrap_or_default();
    let amount = terms.secured_amount.clone().unwrap_or_default();
    let mut rows = vec![
        (ctx.t(L::Pledge), links::pledge(&terms.pledge_id)),
        (ctx.t(L::Receipt), links::receipt(&terms.receipt_id)),
        (ctx.t(L::Pledgee), links::participant(&terms.pledgee_id)),
        (ctx.t(L::Pledgor), links::participant(&pledge.pledgor_id)),
        (
            ctx.t(L::SecuredAmount),
            money(amount.minor_units, &amount.currency),
        ),
        (ctx.t(L::LoanReference), html!("{}", terms.loan_reference)),
        (
            ctx.t(L::Registered),
            html!(
                "{} · {}",
                time(pledge.started_at_ms),
                links::entry(pledge.registered_at_seq)
            ),
        ),
        (ctx.t(L::Maturity), maturity(ctx, pledge, terms.maturity_ms)),
    ];
    if terms.margin_level_bp != 0 {
        rows.push((
            ctx.pick("Margin level (LTV)", "质押率警戒线"),
            Html::text(&percent(u64::from(terms.margin_level_bp))),
        ));
    }
    if let Some(value) = &pledge.collateral_value {
        rows.extend(collateral_rows(ctx, value, &amount.currency));
    }
    if pledge.status != pb::PledgeStatus::Active as i32 {
        rows.push((ctx.t(L::Ended), links::entry(pledge.ended_at_seq)));
    }
    if !pledge.transferee_id.is_empty() {
        rows.push((
            ctx.t(L::Transferee),
            links::participant(&pledge.transferee_id),
        ));
    }
    facts(rows)
}

/// Basis points as a percentage: 8001 → "80.01%".
fn percent(bp: u64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// An active pledge's collateral value and loan-to-value at the latest
/// price, or which price is missing.
fn collateral_rows(
    ctx: &Ctx,
    value: &pb::CollateralValueView,
    currency: &str,
) -> Vec<(&'static str, Html)> {
    let Some(assessment) = value.assessment.as_ref().filter(|_| value.priced) else {
        return vec![(
            ctx.pick("Collateral value", "押品价值"),
            Html::text(&value.unpriced_reason),
        )];
    };
    let price = assessment.price_per_tonne.clone().unwrap_or_default();
    let worth = html!(
        "{} ({} / t, {} · {} · {})",
        money(value.collateral_value_minor, currency),
        money(price.minor_units, &price.currency),
        links::participant(&assessment.reporter_id),
        time(assessment.assessed_at_ms),
        links::entry(assessment.at_seq)
    );
    let ltv = match value.below_margin {
        true => html!(
            "{} <span class=\"badge frozen\">{}</span>",
            percent(value.loan_to_value_bp),
            ctx.pick("below the margin level", "低于警戒线")
        ),
        false => Html::text(&percent(value.loan_to_value_bp)),
    };
    vec![
        (ctx.pick("Collateral value", "押品价值"), worth),
        (ctx.pick("Loan-to-value", "质押率"), ltv),
    ]
}

fn maturity(ctx: &Ctx, pledge: &pb::PledgeView, maturity_ms: u64) -> Html {
    let past = pledge.status == pb::PledgeStatus::Active as i32 && maturity_ms <= ctx.now_ms;
    match past {
        true => html!(
            "{} <span class=\"badge frozen\">{}</span>",
            time(maturity_ms),
            ctx.pick("past maturity", "已过到期日")
        ),
        false => time(maturity_ms),
    }
}
