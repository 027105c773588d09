//! `/tank/{id}`: a tank's capacity, certified stock, measured quantity,
//! receipted and pledged quantities as a bar picture, and the receipts
//! drawn on it, a page at a time.

use pledge_proto::v1::{self as pb, list_receipts_request::Filter};
use tonic::Status;

use super::status;
use crate::format::{grouped, tonnes, tonnes_text};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page, facts};
use crate::reads::ReceiptPage;

/// Receipts per page of a list.
pub const PAGE_SIZE: u32 = 50;

/// The quantities of a tank's bar picture, in kg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Capacity.
    pub capacity_kg: u64,
    /// Certified stock.
    pub certified_kg: u64,
    /// The last re-gauge, where the ledger records one.
    pub measured_kg: Option<u64>,
    /// Sum of the live receipts.
    pub receipted_kg: u64,
    /// Sum of the pledged receipts.
    pub pledged_kg: u64,
    /// The pledged sum stopped at the read limit: it is a lower bound.
    pub pledged_is_lower_bound: bool,
}

/// The tank page.
pub async fn page(ctx: &Ctx, id: &str, after: Option<&str>) -> Result<Answer, Status> {
    let tank = ctx.reads.tank(id).await?;
    let figures = figures(ctx, &tank).await?;
    let filter = Filter::TankId(id.to_owned());
    let receipts = ctx.reads.receipt_page(filter, after, PAGE_SIZE).await?;
    let body = html!(
        "<h1>{} <span class=\"id\">{}</span></h1>{}<figure class=\"bars\" id=\"tank-bars\">{}</figure>\
         <h2>{}</h2>{}",
        ctx.t(L::Tank),
        id,
        facts([
            (ctx.t(L::Warehouse), links::participant(&tank.warehouse_id)),
            (ctx.t(L::Product), html!("{}", tank.product)),
            (ctx.t(L::RegisteredAt), links::entry(tank.registered_at_seq)),
        ]),
        bars(ctx, &figures),
        ctx.t(L::ReceiptsOnTank),
        receipt_list(ctx, &receipts, |cursor| links::tank_href(id, cursor))
    );
    let title = format!("{} {id}", ctx.t(L::Tank));
    Ok(Answer::Page(Page::ok(title, Nav::Search, body)))
}

/// A tank's figures: the node's view of the tank, and the pledged sum of
/// its receipts (read up to the limit).
pub async fn figures(ctx: &Ctx, tank: &pb::TankView) -> Result<Figures, Status> {
    let filter = Filter::TankId(tank.tank_id.clone());
    let (receipts, capped) = ctx.reads.receipts_for_sums(filter).await?;
    let pledged_kg = receipts
        .iter()
        .filter(|r| r.status == pb::ReceiptStatus::Pledged as i32)
        .filter_map(|r| r.terms.as_ref().map(|t| t.quantity_kg))
        .fold(0u64, u64::saturating_add);
    Ok(Figures {
        capacity_kg: tank.capacity_kg,
        certified_kg: tank.certified_kg,
        measured_kg: None,
        receipted_kg: tank.receipted_kg,
        pledged_kg,
        pledged_is_lower_bound: capped,
    })
}

/// The bar picture: each quantity as a bar scaled to the capacity.
pub fn bars(ctx: &Ctx, figures: &Figures) -> Html {
    let rows: [(L, Option<u64>, &str); 5] = [
        (L::Capacity, Some(figures.capacity_kg), "capacity"),
        (L::Certified, Some(figures.certified_kg), "certified"),
        (L::Measured, figures.measured_kg, "measured"),
        (L::Receipted, Some(figures.receipted_kg), "receipted"),
        (L::Pledged, Some(figures.pledged_kg), "pledged"),
    ];
    let drawn: Html = rows
        .iter()
        .enumerate()
        .map(|(i, (label, value, class))| bar_row(ctx, i, *label, *value, class, figures))
        .collect();
    html!(
        "<svg viewBox=\"0 0 700 {}\" role=\"img\" aria-label=\"{}\" class=\"bar-chart\">{}</svg>",
        rows.len() * ROW,
        ctx.t(L::Capacity),
        drawn
    )
}

const ROW: usize = 34;
const BAR_X: u64 = 230;
const BAR_WIDTH: u64 = 280;

fn bar_row(
    ctx: &Ctx,
    index: usize,
    label: L,
    value: Option<u64>,
    class: &str,
    figures: &Figures,
) -> Html {
    let y = index * ROW;
    let text_y = y + 21;
    let Some(kg) = value else {
        return html!(
            "<text x=\"0\" y=\"{}\" class=\"label\">{}</text><text x=\"{}\" y=\"{}\" class=\"value none\">{}</text>",
            text_y,
            ctx.t(label),
            BAR_X,
            text_y,
            ctx.t(L::NotMeasured)
        );
    };
    let width = scaled(kg, figures.capacity_kg);
    let bound = if label == L::Pledged && figures.pledged_is_lower_bound {
        "≥ "
    } else {
        ""
    };
    let share = match label {
        L::Capacity => String::new(),
        _ => share_of(kg, figures.capacity_kg),
    };
    html!(
        "<text x=\"0\" y=\"{}\" class=\"label\">{}</text>\
         <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"20\" class=\"track\"></rect>\
         <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"20\" class=\"bar {}\"><title>{} kg</title></rect>\
         <text x=\"{}\" y=\"{}\" class=\"value\">{}{}{}</text>",
        text_y,
        ctx.t(label),
        BAR_X,
        y + 6,
        BAR_WIDTH,
        BAR_X,
        y + 6,
        width,
        class,
        grouped(u128::from(kg)),
        BAR_X + BAR_WIDTH + 8,
        text_y,
        bound,
        tonnes_text(kg),
        share
    )
}

/// ` · 5.0 %` of the capacity, to one decimal (integer arithmetic).
fn share_of(kg: u64, capacity_kg: u64) -> String {
    if capacity_kg == 0 {
        return String::new();
    }
    let per_mille = u128::from(kg) * 1000 / u128::from(capacity_kg);
    format!(" · {}.{} %", per_mille / 10, per_mille % 10)
}

/// A bar's width for `kg` of `capacity_kg`, at most the full width.
fn scaled(kg: u64, capacity_kg: u64) -> u64 {
    if capacity_kg == 0 {
        return 0;
    }
    let width = u128::from(kg) * u128::from(BAR_WIDTH) / u128::from(capacity_kg);
    u64::try_from(width.min(u128::from(BAR_WIDTH))).unwrap_or(BAR_WIDTH)
}

/// A page of receipts with a link to the next; `href` makes the address of
/// a page from its cursor.
pub fn receipt_list(ctx: &Ctx, page: &ReceiptPage, href: impl Fn(Option<&str>) -> String) -> Html {
    if page.receipts.is_empty() {
        return html!("<p>{}</p>", ctx.t(L::NoReceipts));
    }
    let rows: Html = page
        .receipts
        .iter()
        .map(|r| {
            let terms = r.terms.clone().unwrap_or_default();
            html!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                links::receipt(&terms.receipt_id),
                links::participant(&r.holder_id),
                terms.product_grade,
                tonnes(terms.quantity_kg),
                status::short(ctx, r)
            )
        })
        .collect();
    let next = match &page.next_after {
        Some(cursor) => html!(
            "<a href=\"{}\" rel=\"next\">{} →</a>",
            href(Some(cursor)),
            ctx.t(L::NextPage)
        ),
        None => Html::new(),
    };
    html!(
        "<table class=\"list\" id=\"receipts\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\
         <tbody>{}</tbody></table><p class=\"pager\"><a href=\"{}\">{}</a> {}</p>",
        ctx.t(L::Receipt),
        ctx.t(L::Holder),
        ctx.t(L::Grade),
        ctx.t(L::Quantity),
        ctx.t(L::Status),
        rows,
        href(None),
        ctx.t(L::FirstPage),
        next
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_capacity_and_stop_at_full() {
        assert_eq!(scaled(50, 100), BAR_WIDTH / 2);
        assert_eq!(scaled(0, 100), 0);
        assert_eq!(scaled(200, 100), BAR_WIDTH);
        assert_eq!(scaled(5, 0), 0);
        assert_eq!(scaled(u64::MAX, u64::MAX), BAR_WIDTH);
    }

    #[test]
    fn shares_are_tenths_of_a_percent() {
        assert_eq!(share_of(5_000, 100_000), " · 5.0 %");
        assert_eq!(share_of(1, 3), " · 33.3 %");
        assert_eq!(share_of(1, 0), "");
    }
}
