//! `/participant/{id}`: a warehouse, bank, holder, regulator… For a
//! warehouse, its tanks as bar pictures and the receipts it issued (paged);
//! for a bank, its exposure and the receipts pledged to it (paged); for a
//! holder, the receipts it holds (paged).

use std::collections::{BTreeMap, BTreeSet};

use pledge_proto::v1::{self as pb, list_receipts_request::Filter};
use tonic::Status;

use super::tank::{self, PAGE_SIZE, receipt_list};
use crate::describe;
use crate::format::{full_hex, money_sum};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page, facts};

/// Most tanks drawn on a warehouse's page.
const TANKS_SHOWN: usize = 20;

/// The participant page.
pub async fn page(ctx: &Ctx, id: &str, after: Option<&str>) -> Result<Answer, Status> {
    let participant = ctx.reads.participant(id).await?;
    let spec = participant.spec.clone().unwrap_or_default();
    let has = |role: pb::Role| spec.roles.contains(&(role as i32));
    let mut sections = Html::new();
    // One paged list per page: the receipts a warehouse issued, those
    // pledged to a bank, or those a holder holds.
    if has(pb::Role::Warehouse) {
        sections.push(warehouse(ctx, id, after).await?);
    } else if has(pb::Role::Bank) {
        sections.push(bank(ctx, id, after).await?);
    } else if has(pb::Role::Holder) {
        sections.push(held(ctx, id, after).await?);
    }
    let body = html!(
        "<h1>{} <span class=\"id\">{}</span></h1>{}{}",
        ctx.t(L::Participant),
        id,
        identity(ctx, &participant, &spec),
        sections
    );
    let title = format!("{} {id}", spec.name);
    Ok(Answer::Page(Page::ok(title, Nav::Search, body)))
}

fn identity(ctx: &Ctx, participant: &pb::ParticipantView, spec: &pb::ParticipantSpec) -> Html {
    let roles: Vec<String> = spec
        .roles
        .iter()
        .map(|r| describe::role(ctx.lang, *r))
        .collect();
    let revoked = match participant.revoked {
        true => html!(
            "<span class=\"badge frozen\">{} {}</span>",
            ctx.t(L::Revoked),
            links::entry(participant.revoked_at_seq)
        ),
        false => html!("{}", ctx.t(L::NotRevoked)),
    };
    facts([
        (ctx.t(L::Name), html!("{}", spec.name)),
        (ctx.t(L::Roles), html!("{}", roles.join(", "))),
        (ctx.t(L::PublicKey), full_hex(&spec.public_key)),
        (
            ctx.t(L::Admitted),
            links::entry(participant.admitted_at_seq),
        ),
        (ctx.t(L::KeySince), links::entry(participant.key_since_seq)),
        (ctx.t(L::Status), revoked),
    ])
}

/// Its tanks (those its receipts are drawn on: the node has no tank list)
/// and the receipts it issued.
async fn warehouse(ctx: &Ctx, id: &str, after: Option<&str>) -> Result<Html, Status> {
    let (issued, _) = ctx
        .reads
        .receipts_for_sums(Filter::WarehouseId(id.to_owned()))
        .await?;
    let tank_ids: BTreeSet<String> = issued
        .iter()
        .filter_map(|r| r.terms.as_ref().map(|t| t.tank_id.clone()))
        .take(TANKS_SHOWN)
        .collect();
    let mut tanks = Html::new();
    for tank_id in &tank_ids {
        let view = ctx.reads.tank(tank_id).await?;
        let figures = tank::figures(ctx, &view).await?;
        tanks.push(html!(
            "<figure class=\"bars\"><figcaption>{} {} · {}</figcaption>{}</figure>",
            ctx.t(L::Tank),
            links::tank(tank_id),
            view.product,
            tank::bars(ctx, &figures)
        ));
    }
    if tank_ids.is_empty() {
        tanks.push(html!("<p>{}</p>", ctx.t(L::None)));
    }
    let page = ctx
        .reads
        .receipt_page(Filter::WarehouseId(id.to_owned()), after, PAGE_SIZE)
        .await?;
    Ok(html!(
        "<h2>{}</h2><div id=\"tanks\">{}</div><h2>{}</h2>{}",
        ctx.t(L::TanksOfWarehouse),
        tanks,
        ctx.t(L::ReceiptsIssued),
        receipt_list(ctx, &page, |cursor| links::participant_href(id, cursor))
    ))
}

/// Its exposure and the receipts pledged to it.
async fn bank(ctx: &Ctx, id: &str, after: Option<&str>) -> Result<Html, Status> {
    let (pledged, capped) = ctx
        .reads
        .receipts_for_sums(Filter::PledgeeId(id.to_owned()))
        .await?;
    let mut exposure: BTreeMap<String, u128> = BTreeMap::new();
    for pledge in pledged.iter().filter_map(|r| r.active_pledge.as_ref()) {
        let amount = pledge
            .terms
            .as_ref()
            .and_then(|t| t.secured_amount.clone())
            .unwrap_or_default();
        *exposure.entry(amount.currency).or_default() += u128::from(amount.minor_units);
    }
    let bound = if capped { "≥ " } else { "" };
    let page = ctx
        .reads
        .receipt_page(Filter::PledgeeId(id.to_owned()), after, PAGE_SIZE)
        .await?;
    Ok(html!(
        "<h2>{}</h2>{}<h2>{}</h2>{}",
        ctx.t(L::Exposure),
        facts([
            (
                ctx.t(L::PledgedReceipts),
                html!("{}{}", bound, pledged.len())
            ),
            (ctx.t(L::Amount), html!("{}{}", bound, money_sum(&exposure))),
        ]),
        ctx.t(L::ReceiptsPledgedTo),
        receipt_list(ctx, &page, |cursor| links::participant_href(id, cursor))
    ))
}

/// The receipts it holds.
async fn held(ctx: &Ctx, id: &str, after: Option<&str>) -> Result<Html, Status> {
    let page = ctx
        .reads
        .receipt_page(Filter::HolderId(id.to_owned()), after, PAGE_SIZE)
        .await?;
    Ok(html!(
        "<h2>{}</h2>{}",
        ctx.t(L::ReceiptsHeld),
        receipt_list(ctx, &page, |cursor| links::participant_href(id, cursor))
    ))
}
