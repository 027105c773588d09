//! `/regulator`: the place for early-warning alerts, and figures per
//! warehouse and per bank.
//!
//! The node serves no alerts or report yet, so the page shows what the
//! existing reads give: figures added up from the live receipts the node
//! lists (at most [`crate::reads::SUM_LIMIT`] of each status, marked as
//! lower bounds beyond), and three lists read straight off the current
//! state: frozen receipts, pledges past maturity, pledged receipts about to
//! expire. When the ledger records alerts and a report, they take the
//! places marked below.

use std::collections::BTreeMap;

use pledge_proto::v1::{self as pb, list_receipts_request::Filter};
use tonic::Status;

use crate::format::{money_sum, time, tonnes};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Totals of one warehouse.
#[derive(Debug, Default)]
struct WarehouseFigures {
    live: u64,
    receipted_kg: u128,
    pledged_kg: u128,
    frozen: u64,
}

/// Totals of one bank.
#[derive(Debug, Default)]
struct BankFigures {
    pledges: u64,
    pledged_kg: u128,
    exposure: BTreeMap<String, u128>,
}

/// The regulators' page.
pub async fn page(ctx: &Ctx) -> Result<Answer, Status> {
    let (active, active_capped) = ctx
        .reads
        .receipts_for_sums(Filter::Status(pb::ReceiptStatus::Active as i32))
        .await?;
    let (pledged, pledged_capped) = ctx
        .reads
        .receipts_for_sums(Filter::Status(pb::ReceiptStatus::Pledged as i32))
        .await?;
    let capped = active_capped || pledged_capped;
    let live: Vec<&pb::ReceiptView> = active.iter().chain(&pledged).collect();
    let scope = match capped {
        true => html!("{}: {}.", ctx.t(L::FiguresScope), ctx.t(L::FiguresCapped)),
        false => html!("{}.", ctx.t(L::FiguresScope)),
    };
    let body = html!(
        "<h1>{}</h1><section class=\"card\" id=\"alerts\"><h2>{}</h2><p>{}</p></section>\
         <h2>{}</h2>{}\
         <h2>{}</h2><p class=\"note\">{}</p>{}<h2>{}</h2>{}",
        ctx.t(L::RegulatorTitle),
        ctx.t(L::Alerts),
        ctx.t(L::AlertsNotServed),
        ctx.t(L::CurrentFacts),
        watch_lists(ctx, &live),
        ctx.t(L::PerWarehouse),
        scope,
        warehouse_table(ctx, &live),
        ctx.t(L::PerBank),
        bank_table(ctx, &pledged)
    );
    Ok(Answer::Page(Page::ok(
        ctx.t(L::RegulatorTitle).to_owned(),
        Nav::Regulator,
        body,
    )))
}

fn watch_lists(ctx: &Ctx, live: &[&pb::ReceiptView]) -> Html {
    let frozen: Vec<Html> = live
        .iter()
        .filter_map(|r| r.frozen.as_ref().map(|f| (r, f)))
        .map(|(r, f)| {
            html!(
                "{} — {} ({}) {}",
                links::receipt(receipt_id(r)),
                links::participant(&f.regulator_id),
                f.order_reference,
                links::entry(f.since_seq)
            )
        })
        .collect();
    let past_maturity: Vec<Html> = live
        .iter()
        .filter_map(|r| r.active_pledge.as_ref().map(|p| (r, p)))
        .filter(|(_, p)| {
            p.terms
                .as_ref()
                .is_some_and(|t| t.maturity_ms <= ctx.now_ms)
        })
        .map(|(r, p)| pledge_line(r, p))
        .collect();
    let expiring: Vec<Html> = live
        .iter()
        .filter(|r| r.active_pledge.is_some())
        .filter(|r| {
            let expires = r.terms.as_ref().map_or(0, |t| t.expires_at_ms);
            expires > 0 && expires <= ctx.now_ms.saturating_add(30 * DAY_MS)
        })
        .map(|r| {
            let expires = r.terms.as_ref().map_or(0, |t| t.expires_at_ms);
            html!("{} — {}", links::receipt(receipt_id(r)), time(expires))
        })
        .collect();
    html!(
        "<div class=\"columns three\">{}{}{}</div>",
        list(ctx, L::FrozenReceipts, "frozen", frozen),
        list(ctx, L::PastMaturity, "past-maturity", past_maturity),
        list(ctx, L::ExpiringPledged, "expiring", expiring)
    )
}

fn pledge_line(receipt: &pb::ReceiptView, pledge: &pb::PledgeView) -> Html {
    let terms = pledge.terms.clone().unwrap_or_default();
    html!(
        "{} — {} {} ({})",
        links::receipt(receipt_id(receipt)),
        links::pledge(&terms.pledge_id),
        links::participant(&terms.pledgee_id),
        time(terms.maturity_ms)
    )
}

fn list(ctx: &Ctx, title: L, id: &str, items: Vec<Html>) -> Html {
    let body = match items.is_empty() {
        true => html!("<p>{}</p>", ctx.t(L::None)),
        false => {
            let items: Html = items.into_iter().map(|i| html!("<li>{}</li>", i)).collect();
            html!("<ul>{}</ul>", items)
        }
    };
    html!(
        "<section class=\"card\" id=\"{}\"><h3>{}</h3>{}</section>",
        id,
        ctx.t(title),
        body
    )
}

fn warehouse_table(ctx: &Ctx, live: &[&pb::ReceiptView]) -> Html {
    let mut by_warehouse: BTreeMap<&str, WarehouseFigures> = BTreeMap::new();
    for receipt in live {
        let figures = by_warehouse.entry(&receipt.warehouse_id).or_default();
        let kg = u128::from(receipt.terms.as_ref().map_or(0, |t| t.quantity_kg));
        figures.live += 1;
        figures.receipted_kg += kg;
        if receipt.active_pledge.is_some() {
            figures.pledged_kg += kg;
        }
        figures.frozen += u64::from(receipt.frozen.is_some());
    }
    let rows: Html = by_warehouse
        .iter()
        .map(|(id, f)| {
            html!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                links::participant(id),
                f.live,
                tonnes(clamp(f.receipted_kg)),
                tonnes(clamp(f.pledged_kg)),
                f.frozen
            )
        })
        .collect();
    html!(
        "<table class=\"list\" id=\"per-warehouse\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        ctx.t(L::Warehouse),
        ctx.t(L::LiveReceipts),
        ctx.t(L::Receipted),
        ctx.t(L::Pledged),
        ctx.t(L::Frozen),
        rows
    )
}

fn bank_table(ctx: &Ctx, pledged: &[pb::ReceiptView]) -> Html {
    let mut by_bank: BTreeMap<String, BankFigures> = BTreeMap::new();
    for receipt in pledged {
        let Some(terms) = receipt.active_pledge.as_ref().and_then(|p| p.terms.clone()) else {
            continue;
        };
        let figures = by_bank.entry(terms.pledgee_id).or_default();
        let amount = terms.secured_amount.unwrap_or_default();
        figures.pledges += 1;
        figures.pledged_kg += u128::from(receipt.terms.as_ref().map_or(0, |t| t.quantity_kg));
        *figures.exposure.entry(amount.currency).or_default() += u128::from(amount.minor_units);
    }
    let rows: Html = by_bank
        .iter()
        .map(|(id, f)| {
            html!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                links::participant(id),
                f.pledges,
                tonnes(clamp(f.pledged_kg)),
                money_sum(&f.exposure)
            )
        })
        .collect();
    html!(
        "<table class=\"list\" id=\"per-bank\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        ctx.t(L::Pledgee),
        ctx.t(L::PledgedReceipts),
        ctx.t(L::Pledged),
        ctx.t(L::Exposure),
        rows
    )
}

fn receipt_id(receipt: &pb::ReceiptView) -> &str {
    receipt.terms.as_ref().map_or("", |t| t.receipt_id.as_str())
}

fn clamp(kg: u128) -> u64 {
    u64::try_from(kg).unwrap_or(u64::MAX)
}
