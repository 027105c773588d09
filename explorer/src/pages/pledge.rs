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
