//! `/`: what the registry is for, the search box, and the node's identity.

use tonic::Status;

use crate::format::{full_hex, grouped, time};
use crate::html;
use crate::i18n::L;
use crate::page::{Answer, Ctx, Nav, Page, facts};

/// The home page.
pub async fn page(ctx: &Ctx) -> Result<Answer, Status> {
    let info = ctx.reads.node_info().await?;
    let head = ctx.reads.head().await?;
    let identity = facts([
        (ctx.t(L::Ledger), html!("<code>{}</code>", info.ledger_id)),
        (ctx.t(L::NodeKey), full_hex(&info.node_public_key)),
        (
            ctx.t(L::Entries),
            html!(
                "<a href=\"/chain\">{}</a> · {}",
                grouped(u128::from(head.size)),
                time(head.head_time_ms)
            ),
        ),
        (ctx.t(L::Version), html!("{}", info.version)),
    ]);
    let body = html!(
        "<h1>{}</h1><p class=\"lead\">{}</p>\
         <form class=\"search big\" action=\"/search\" method=\"get\" role=\"search\">\
         <input name=\"q\" required maxlength=\"64\" autofocus placeholder=\"{}\" aria-label=\"{}\">\
         <button type=\"submit\">{}</button></form>\
         <ul class=\"cards\">\
         <li><a href=\"/chain\">{}</a></li><li><a href=\"/evidence\">{}</a></li>\
         <li><a href=\"/regulator\">{}</a></li></ul>{}",
        ctx.t(L::SiteName),
        ctx.t(L::HomeIntro),
        ctx.t(L::SearchPlaceholder),
        ctx.t(L::NavSearch),
        ctx.t(L::SearchButton),
        ctx.t(L::NavChain),
        ctx.t(L::NavEvidence),
        ctx.t(L::NavRegulator),
        identity
    );
    Ok(Answer::Page(Page::ok(
        ctx.t(L::Home).to_owned(),
        Nav::Search,
        body,
    )))
}
