//! The pages, one module each. A page handler reads what it needs through
//! [`crate::reads::Reads`] (as the viewer) and returns an [`Answer`]; a
//! refused or failed read becomes the error page naming what the node said.

pub mod chain;
pub mod entry;
pub mod evidence;
pub mod home;
pub mod participant;
pub mod pledge;
pub mod receipt;
pub mod regulator;
pub mod status;
pub mod tank;

use http::StatusCode;
use tonic::Status;

use crate::i18n::L;
use crate::input::Route;
use crate::links;
use crate::page::{self, Answer, Ctx, Nav};
use crate::reads::Found;

/// Answers a page route (assets and the schema are served before this).
pub async fn answer(ctx: &Ctx, route: &Route) -> Answer {
    let nav = nav_of(route);
    let result = match route {
        Route::Home => home::page(ctx).await,
        Route::Search(query) => search(ctx, query).await,
        Route::Receipt(id) => receipt::page(ctx, id).await,
        Route::Bundle(id) => evidence::bundle(ctx, id).await,
        Route::Pledge(id) => pledge::page(ctx, id).await,
        Route::Tank { id, after } => tank::page(ctx, id, after.as_deref()).await,
        Route::Participant { id, after } => participant::page(ctx, id, after.as_deref()).await,
        Route::Chain => chain::page(ctx).await,
        Route::ChainFeed { after } => chain::feed(ctx, *after).await,
        Route::Entry(seq) => entry::page(ctx, *seq).await,
        Route::Evidence => evidence::page(ctx).await,
        Route::Regulator => regulator::page(ctx).await,
        Route::Asset(_) | Route::Schema => Err(Status::internal("served before the pages")),
    };
    result.unwrap_or_else(|status| Answer::Page(page::read_error(ctx, &status, nav)))
}

fn nav_of(route: &Route) -> Nav {
    match route {
        Route::Chain | Route::ChainFeed { .. } | Route::Entry(_) => Nav::Chain,
        Route::Evidence | Route::Bundle(_) | Route::Schema => Nav::Evidence,
        Route::Regulator => Nav::Regulator,
        _ => Nav::Search,
    }
}

/// The search box: whatever the id names, else a 404 page saying so.
async fn search(ctx: &Ctx, query: &str) -> Result<Answer, Status> {
    let location = match ctx.reads.find(query).await? {
        Some(Found::Receipt) => links::receipt_href(query),
        Some(Found::Pledge) => format!("/pledge/{}", links::segment(query)),
        Some(Found::Tank) => links::tank_href(query, None),
        Some(Found::Participant) => links::participant_href(query, None),
        Some(Found::Entry(seq)) => format!("/entry/{seq}"),
        None => {
            let message = match ctx.lang {
                crate::i18n::Lang::En => format!(
                    "nothing on this ledger is named `{query}`: no receipt, pledge, tank, participant or entry"
                ),
                crate::i18n::Lang::Zh => {
                    format!("本账本中没有名为 `{query}` 的仓单、质押、储罐、参与方或条目")
                }
            };
            let page = page::error_page(
                ctx,
                StatusCode::NOT_FOUND,
                L::NotFound,
                &message,
                Nav::Search,
            );
            return Ok(Answer::Page(page));
        }
    };
    Ok(Answer::Redirect(location))
}
