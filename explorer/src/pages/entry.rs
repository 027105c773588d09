//! `/entry/{seq}`: one entry in full: its hashes and the node's seal
//! (checked against the node's key), the decoded transaction, and every
//! party's signature.

use pledge_ledger::crypto::{self, PublicKey};
use pledge_ledger::merkle;
use tonic::Status;

use crate::describe;
use crate::format::{full_hex, time};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page, facts};
use crate::reads::EntryView;

/// The entry page.
pub async fn page(ctx: &Ctx, seq: u64) -> Result<Answer, Status> {
    let view = ctx.reads.entry(seq).await?;
    let size = ctx.reads.head().await?.size;
    let info = ctx.reads.node_info().await?;
    let node_key = PublicKey::from_slice(&info.node_public_key);
    let body = html!(
        "<h1>{} #{}</h1><p class=\"pager\">{} {}</p><p class=\"status-line\">{}</p>{}<h2>{}</h2>{}<h2>{}</h2>{}",
        ctx.t(L::Entry),
        seq,
        neighbour(ctx, seq.checked_sub(1), L::Previous),
        neighbour(ctx, seq.checked_add(1).filter(|n| *n < size), L::Next),
        summary(ctx, &view),
        hashes(ctx, &view, node_key.as_ref()),
        ctx.t(L::Decoded),
        transaction(ctx, &view),
        ctx.t(L::Signatures),
        signatures(ctx, &view)
    );
    let title = format!("{} #{seq}", ctx.t(L::Entry));
    Ok(Answer::Page(Page::ok(title, Nav::Chain, body)))
}

fn neighbour(ctx: &Ctx, seq: Option<u64>, label: L) -> Html {
    match seq {
        Some(seq) => html!("<a href=\"/entry/{}\">{} #{}</a>", seq, ctx.t(label), seq),
        None => Html::new(),
    }
}

fn summary(ctx: &Ctx, view: &EntryView) -> Html {
    match &view.tx {
        Ok(tx) => describe::operation(ctx.lang, tx),
        Err(reason) => html!("<span class=\"error\">{}</span>", reason),
    }
}

fn hashes(ctx: &Ctx, view: &EntryView, node_key: Option<&PublicKey>) -> Html {
    let entry = &view.entry;
    let body = entry.body();
    let seal_ok = node_key.is_some_and(|key| entry.seal_verifies(key));
    let seal_verdict = match seal_ok {
        true => html!(
            "<span class=\"badge live\">✓ {}</span>",
            ctx.t(L::SealVerifies)
        ),
        false => html!(
            "<span class=\"badge frozen\">✗ {}</span>",
            ctx.t(L::SealFails)
        ),
    };
    let tx_hash = crypto::tx_hash(&entry.envelope.tx_bytes);
    let prev = match entry.seq.checked_sub(1) {
        Some(prev) => html!("{} {}", full_hex(&entry.prev_hash.0), links::entry(prev)),
        None => full_hex(&entry.prev_hash.0),
    };
    facts([
        (ctx.t(L::Time), time(entry.time_ms)),
        (ctx.t(L::EntryHash), full_hex(&entry.hash().0)),
        (ctx.t(L::LeafHash), full_hex(&merkle::leaf_hash(&body))),
        (ctx.t(L::PrevHash), prev),
        (ctx.t(L::TxHash), full_hex(&tx_hash.0)),
        (
            ctx.t(L::Seal),
            html!("{}<br>{}", full_hex(&entry.seal), seal_verdict),
        ),
    ])
}

fn transaction(ctx: &Ctx, view: &EntryView) -> Html {
    let tx = match &view.tx {
        Ok(tx) => tx,
        Err(reason) => return html!("<p class=\"error\">{}</p>", reason),
    };
    let json = pledge_client::json::transaction(tx);
    let operation = json["operation"].as_str().unwrap_or("").to_owned();
    html!(
        "{}{}<h3>{} <code>{}</code></h3>{}",
        refused(ctx, view),
        facts([
            (ctx.t(L::TxId), html!("<code>{}</code>", tx.tx_id)),
            (ctx.t(L::ValidFrom), time(tx.not_before_ms)),
            (ctx.t(L::ValidUntil), time(tx.not_after_ms)),
            (ctx.t(L::Ledger), html!("<code>{}</code>", tx.ledger_id)),
        ]),
        describe::operation_name(ctx.lang, &operation),
        operation,
        describe::fields_table(&json[operation.as_str()])
    )
}

/// For an attempt entry: the refusal it records.
fn refused(ctx: &Ctx, view: &EntryView) -> Html {
    let Some(refusal) = &view.entry.refusal else {
        return Html::default();
    };
    let fields: Html = refusal
        .fields
        .iter()
        .map(|(key, value)| html!(" <code>{}={}</code>", key, value))
        .collect();
    html!(
        "<p class=\"error\" id=\"entry-refused\">{}: <code>{}</code>{}</p>",
        ctx.t(L::RefusedAttempt),
        refusal.reason,
        fields
    )
}

fn signatures(ctx: &Ctx, view: &EntryView) -> Html {
    let rows: Html = view
        .entry
        .envelope
        .signatures
        .iter()
        .map(|s| {
            html!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                links::participant(&s.signer),
                full_hex(&s.public_key.0),
                full_hex(&s.signature)
            )
        })
        .collect();
    html!(
        "<table class=\"list\" id=\"entry-signatures\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        ctx.t(L::Signer),
        ctx.t(L::PublicKey),
        ctx.t(L::Signature),
        rows
    )
}
