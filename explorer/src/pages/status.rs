//! Where a receipt stands, in words: live, pledged to …, frozen by …,
//! split, cancelled, enforced, expired. The receipt page shows every badge
//! that applies; lists show the short form.

use pledge_proto::v1 as pb;

use crate::format::time;
use crate::html;
use crate::html::Html;
use crate::i18n::Lang;
use crate::links;
use crate::page::Ctx;

/// Every badge that applies, most important first. `enforcement` is the
/// receipt's last pledge when it ended in enforcement (the bank took it).
pub fn badges(ctx: &Ctx, view: &pb::ReceiptView, enforcement: Option<&pb::PledgeView>) -> Html {
    let mut out = Html::new();
    out.push(lifecycle(ctx, view, enforcement));
    if let Some(freeze) = &view.frozen {
        out.push(frozen(ctx.lang, freeze));
    }
    if let Some(expiry) = expired(ctx, view) {
        out.push(expiry);
    }
    out
}

/// The lifecycle badge alone (for lists).
pub fn short(ctx: &Ctx, view: &pb::ReceiptView) -> Html {
    let mut out = lifecycle(ctx, view, None);
    if view.frozen.is_some() {
        out.push(html!(
            " <span class=\"badge frozen\">{}</span>",
            ctx.pick("frozen", "冻结")
        ));
    }
    out
}

fn lifecycle(ctx: &Ctx, view: &pb::ReceiptView, enforcement: Option<&pb::PledgeView>) -> Html {
    let zh = ctx.lang == Lang::Zh;
    let at = links::entry(view.updated_at_seq);
    match (pb::ReceiptStatus::try_from(view.status), enforcement) {
        (Ok(pb::ReceiptStatus::Pledged), _) => pledged(ctx.lang, view.active_pledge.as_ref()),
        (Ok(pb::ReceiptStatus::Active), Some(pledge)) => {
            let bank = links::participant(pledge_bank(pledge));
            let holder = links::participant(&view.holder_id);
            let since = links::entry(pledge.ended_at_seq);
            match zh {
                false => html!(
                    "<span class=\"badge enforced\">Enforced by {} at {}: now held by {}</span>",
                    bank,
                    since,
                    holder
                ),
                true => html!(
                    "<span class=\"badge enforced\">质权已由 {} 实现（条目 {}），现由 {} 持有</span>",
                    bank,
                    since,
                    holder
                ),
            }
        }
        (Ok(pb::ReceiptStatus::Active), None) => html!(
            "<span class=\"badge live\">{}</span>",
            ctx.pick("Live, not pledged", "有效，未质押")
        ),
        (Ok(pb::ReceiptStatus::Cancelled), _) => html!(
            "<span class=\"badge ended\">{} {}</span>",
            ctx.pick("Cancelled at", "已注销，条目"),
            at
        ),
        (Ok(pb::ReceiptStatus::Split), _) => {
            let parts = links::join(view.split_into.iter().map(|id| links::receipt(id)), ", ");
            match zh {
                false => html!(
                    "<span class=\"badge ended\">Split into {} at {}</span>",
                    parts,
                    at
                ),
                true => html!(
                    "<span class=\"badge ended\">已拆分为 {}（条目 {}）</span>",
                    parts,
                    at
                ),
            }
        }
        _ => html!(
            "<span class=\"badge\">{}</span>",
            pledge_client::json::receipt_status_name(view.status)
        ),
    }
}

fn pledged(lang: Lang, pledge: Option<&pb::PledgeView>) -> Html {
    let Some(pledge) = pledge else {
        return html!(
            "<span class=\"badge pledged\">{}</span>",
            lang.pick("Pledged", "已质押")
        );
    };
    let bank = links::participant(pledge_bank(pledge));
    let id = links::pledge(pledge.terms.as_ref().map_or("", |t| t.pledge_id.as_str()));
    let since = links::entry(pledge.registered_at_seq);
    match lang {
        Lang::En => html!(
            "<span class=\"badge pledged\">Pledged to {} under {} since {}</span>",
            bank,
            id,
            since
        ),
        Lang::Zh => html!(
            "<span class=\"badge pledged\">已质押给 {}（质押 {}，自条目 {}）</span>",
            bank,
            id,
            since
        ),
    }
}

fn frozen(lang: Lang, freeze: &pb::FreezeView) -> Html {
    let regulator = links::participant(&freeze.regulator_id);
    let since = links::entry(freeze.since_seq);
    match lang {
        Lang::En => html!(
            " <span class=\"badge frozen\">Frozen by {} (order {}) since {}</span>",
            regulator,
            freeze.order_reference,
            since
        ),
        Lang::Zh => html!(
            " <span class=\"badge frozen\">已被 {} 冻结（令状 {}，自条目 {}）</span>",
            regulator,
            freeze.order_reference,
            since
        ),
    }
}

fn expired(ctx: &Ctx, view: &pb::ReceiptView) -> Option<Html> {
    let live = matches!(
        pb::ReceiptStatus::try_from(view.status),
        Ok(pb::ReceiptStatus::Active | pb::ReceiptStatus::Pledged)
    );
    let expires = view.terms.as_ref().map_or(0, |t| t.expires_at_ms);
    (live && expires > 0 && expires <= ctx.now_ms).then(|| {
        html!(
            " <span class=\"badge frozen\">{} {}</span>",
            ctx.pick("Expired", "已到期"),
            time(expires)
        )
    })
}

/// The bank of a pledge.
pub fn pledge_bank(pledge: &pb::PledgeView) -> &str {
    pledge.terms.as_ref().map_or("", |t| t.pledgee_id.as_str())
}
