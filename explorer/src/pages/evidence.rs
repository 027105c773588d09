//! `/evidence`: verify an evidence bundle in the browser, and
//! `/bundle?receipt=…`: a receipt's bundle as a file to keep.
//!
//! The page is a form for the browser's script (`assets/evidence.js`):
//! nothing is sent back to the node. The node key the bundle is checked
//! against is the one the officer pastes or pinned earlier; the key this
//! node reports is shown for comparison only, because a node that lies
//! about history would lie about its key too.

use tonic::Status;

use crate::html;
use crate::i18n::L;
use crate::page::{Answer, Ctx, Nav, Page};

/// The evidence page.
pub async fn page(ctx: &Ctx) -> Result<Answer, Status> {
    let info = ctx.reads.node_info().await?;
    let reported = hex::encode(&info.node_public_key);
    let body = html!(
        "<h1>{}</h1><p class=\"lead\">{}</p>\
         <noscript><p class=\"error\">{}</p></noscript>\
         <form id=\"verifier\" class=\"verifier\" data-ledger=\"{}\" data-reported-key=\"{}\">\
         <label for=\"node-key\">{}</label>\
         <input id=\"node-key\" name=\"node-key\" autocomplete=\"off\" spellcheck=\"false\" maxlength=\"64\" pattern=\"[0-9a-fA-F]{{64}}\" placeholder=\"64 hex digits\">\
         <p class=\"note\">{} <span id=\"key-compare\"></span></p>\
         <p class=\"note\">{} <code>{}</code></p>\
         <p><button type=\"button\" id=\"pin-key\">{}</button> <button type=\"button\" id=\"forget-key\">{}</button></p>\
         <label class=\"drop\" id=\"drop\" for=\"bundle-file\">{}<input type=\"file\" id=\"bundle-file\" accept=\".json,application/json\"></label>\
         </form>\
         <section id=\"verdict\" aria-live=\"polite\"></section>",
        ctx.t(L::EvidenceTitle),
        ctx.t(L::EvidenceIntro),
        ctx.t(L::NeedsScript),
        info.ledger_id,
        reported,
        ctx.t(L::NodeKey),
        ctx.t(L::EvidenceKeyNote),
        ctx.t(L::NodeReports),
        reported,
        ctx.t(L::PinKey),
        ctx.t(L::ForgetKey),
        ctx.t(L::DropBundle)
    );
    let mut page = Page::ok(ctx.t(L::EvidenceTitle).to_owned(), Nav::Evidence, body);
    page.script = Some("evidence.js");
    Ok(Answer::Page(page))
}

/// A receipt's evidence bundle, as the node proves it, to download.
pub async fn bundle(ctx: &Ctx, receipt_id: &str) -> Result<Answer, Status> {
    let bundle = ctx.reads.prove(receipt_id).await?;
    Ok(Answer::Download {
        file_name: format!("{}.bundle.json", file_name_part(receipt_id)),
        body: bundle.json,
    })
}

/// An id as part of a file name: `/` and `:` become `_`.
fn file_name_part(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_hold_no_separators() {
        assert_eq!(file_name_part("WR-0001"), "WR-0001");
        assert_eq!(file_name_part("a/b:c"), "a_b_c");
    }
}
