//! `/receipt/{id}`: what a credit officer checks before lending. The
//! receipt's terms and holder, where it stands (pledged to whom, frozen by
//! whom), the pledge in force, every pledge registered on it, and its
//! history on the chain, each entry linked.

use pledge_proto::v1::{self as pb, transaction::Operation};
use tonic::Status;

use super::status;
use crate::describe;
use crate::format::{money, time, tonnes};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page, facts};
use crate::reads::EntryView;

/// Most history entries shown (the newest).
pub const HISTORY_SHOWN: usize = 100;

/// The receipt page.
pub async fn page(ctx: &Ctx, id: &str) -> Result<Answer, Status> {
    let view = ctx.reads.receipt(id).await?;
    let shown_from = view.history.len().saturating_sub(HISTORY_SHOWN);
    let mut history = Vec::new();
    for seq in &view.history[shown_from..] {
        history.push(ctx.reads.entry(*seq).await?);
    }
    let pledges = pledges_in(ctx, &history).await?;
    let enforcement = pledges
        .last()
        .filter(|p| p.status == pb::PledgeStatus::Enforced as i32);
    let body = html!(
        "<h1>{} <span class=\"id\">{}</span></h1>\
         <p class=\"status-line\" id=\"receipt-status\">{}</p>\
         <div class=\"columns\"><section>{}</section><section>{}</section></div>\
         <h2>{}</h2>{}<h2>{}</h2><p class=\"note\">{}</p>{}{}",
        ctx.t(L::Receipt),
        id,
        status::badges(ctx, &view, enforcement),
        terms(ctx, &view),
        active_pledge(ctx, view.active_pledge.as_ref()),
        ctx.t(L::Pledges),
        pledge_table(ctx, &pledges),
        ctx.t(L::History),
        ctx.t(L::HistoryNote),
        timeline(ctx, &history, shown_from),
        evidence_hint(ctx, id)
    );
    let title = format!("{} {id}", ctx.t(L::Receipt));
    Ok(Answer::Page(Page::ok(title, Nav::Search, body)))
}

fn terms(ctx: &Ctx, view: &pb::ReceiptView) -> Html {
    let terms = view.terms.clone().unwrap_or_default();
    let customs = match pb::CustomsStatus::try_from(terms.customs_status) {
        Ok(pb::CustomsStatus::Bonded) => ctx.t(L::Bonded),
        Ok(pb::CustomsStatus::DutyPaid) => ctx.t(L::DutyPaid),
        _ => "—",
    };
    let mut rows = vec![
        (ctx.t(L::Holder), links::participant(&view.holder_id)),
        (ctx.t(L::Warehouse), links::participant(&view.warehouse_id)),
        (ctx.t(L::Tank), links::tank(&terms.tank_id)),
        (ctx.t(L::Grade), html!("{}", terms.product_grade)),
        (ctx.t(L::Quantity), tonnes(terms.quantity_kg)),
        (
            ctx.t(L::Customs),
            html!("{} · {}", customs, terms.customs_reference),
        ),
        (
            ctx.t(L::Certificate),
            html!(
                "{} {}",
                links::participant(&terms.inspector_id),
                terms.certificate_no
            ),
        ),
        (
            ctx.t(L::Issued),
            html!(
                "{} · {}",
                time(view.issued_at_ms),
                links::entry(view.issued_at_seq)
            ),
        ),
        (ctx.t(L::Expires), optional_time(terms.expires_at_ms)),
    ];
    if !terms.specification.is_empty() {
        rows.push((ctx.t(L::Specification), html!("{}", terms.specification)));
    }
    if terms.loss_allowance_ppm > 0 {
        let percent = format!(
            "{}.{:04} %",
            terms.loss_allowance_ppm / 10_000,
            terms.loss_allowance_ppm % 10_000
        );
        rows.push((ctx.t(L::LossAllowance), html!("{}", percent)));
    }
    if !terms.insurance_reference.is_empty() {
        rows.push((ctx.t(L::Insurance), html!("{}", terms.insurance_reference)));
    }
    if !view.parent_id.is_empty() {
        rows.push((ctx.t(L::ParentReceipt), links::receipt(&view.parent_id)));
    }
    if !view.split_into.is_empty() {
        let parts = links::join(view.split_into.iter().map(|p| links::receipt(p)), ", ");
        rows.push((ctx.t(L::SplitInto), parts));
    }
    facts(rows)
}

fn optional_time(ms: u64) -> Html {
    if ms == 0 { Html::text("—") } else { time(ms) }
}

/// The pledge in force, as a card.
pub fn active_pledge(ctx: &Ctx, pledge: Option<&pb::PledgeView>) -> Html {
    let Some(pledge) = pledge else {
        return html!(
            "<div class=\"card\"><h2>{}</h2><p id=\"active-pledge\">{}</p></div>",
            ctx.t(L::ActivePledge),
            ctx.t(L::NoActivePledge)
        );
    };
    html!(
        "<div class=\"card pledged\" id=\"active-pledge\"><h2>{}</h2>{}</div>",
        ctx.t(L::ActivePledge),
        super::pledge::pledge_facts(ctx, pledge)
    )
}

/// The pledges registered on the receipt (within the history shown), with
/// their status now.
async fn pledges_in(ctx: &Ctx, history: &[EntryView]) -> Result<Vec<pb::PledgeView>, Status> {
    let mut pledges = Vec::new();
    for entry in history {
        if let Ok(pb::Transaction {
            operation: Some(Operation::RegisterPledge(terms)),
            ..
        }) = &entry.tx
        {
            pledges.push(ctx.reads.pledge(&terms.pledge_id).await?);
        }
    }
    Ok(pledges)
}

fn pledge_table(ctx: &Ctx, pledges: &[pb::PledgeView]) -> Html {
    if pledges.is_empty() {
        return html!("<p>{}</p>", ctx.t(L::None));
    }
    let rows: Html = pledges
        .iter()
        .map(|p| {
            let terms = p.terms.clone().unwrap_or_default();
            let amount = terms.secured_amount.unwrap_or_default();
            html!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                links::pledge(&terms.pledge_id),
                links::participant(&terms.pledgee_id),
                money(amount.minor_units, &amount.currency),
                links::entry(p.registered_at_seq),
                describe::pledge_status(ctx.lang, p)
            )
        })
        .collect();
    html!(
        "<table class=\"list\" id=\"pledges\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        ctx.t(L::Pledge),
        ctx.t(L::Pledgee),
        ctx.t(L::SecuredAmount),
        ctx.t(L::Registered),
        ctx.t(L::Status),
        rows
    )
}

/// Entries as a timeline, newest first.
pub fn timeline(ctx: &Ctx, entries: &[EntryView], not_shown: usize) -> Html {
    let items: Html = entries
        .iter()
        .rev()
        .map(|e| timeline_item(ctx, e))
        .collect();
    let earlier = match not_shown {
        0 => Html::new(),
        n => html!(
            "<li class=\"more\">{} {}</li>",
            n,
            ctx.t(L::EarlierNotShown)
        ),
    };
    html!(
        "<ol class=\"timeline\" id=\"history\">{}{}</ol>",
        items,
        earlier
    )
}

fn timeline_item(ctx: &Ctx, view: &EntryView) -> Html {
    let what = match &view.tx {
        Ok(tx) => describe::operation(ctx.lang, tx),
        Err(reason) => html!("<span class=\"error\">{}</span>", reason),
    };
    let signers = links::signers(&view.entry);
    html!(
        "<li><div class=\"when\">{} {}</div><div class=\"what\">{}</div><div class=\"who\">{}: {}</div></li>",
        links::entry(view.entry.seq),
        time(view.entry.time_ms),
        what,
        ctx.t(L::Signers),
        signers
    )
}

fn evidence_hint(ctx: &Ctx, id: &str) -> Html {
    html!(
        "<p class=\"evidence-hint\"><a class=\"button\" href=\"/bundle?receipt={}\" download>{}</a> {} <a href=\"/evidence\">{}</a></p>",
        links::segment(id),
        ctx.pick("Download the evidence bundle", "下载证据包"),
        ctx.pick(
            "— then check it offline with the node's key:",
            "——再用节点公钥离线核验："
        ),
        ctx.t(L::NavEvidence)
    )
}
