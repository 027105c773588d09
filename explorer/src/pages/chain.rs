//! `/chain`: the latest entries (the page's script asks `/chain/feed` for
//! new ones every few seconds while the tab is visible) and the latest
//! signed checkpoint with every signature line on it.
//!
//! The live list polls rather than holding a stream open per viewer: a
//! browser tab costs the node one short read every few seconds, never a
//! long-lived stream.

use pledge_ledger::checkpoint::{Checkpoint, key_id, ledger_origin};
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::note::{NoteSignature, SignedNote};
use serde_json::json;
use tonic::Status;

use crate::describe;
use crate::format::{full_hex, grouped, short_hex, time};
use crate::html;
use crate::html::Html;
use crate::i18n::L;
use crate::links;
use crate::page::{Answer, Ctx, Nav, Page, facts};
use crate::reads::EntryView;

/// Entries on the chain page and in one answer of the feed.
pub const LATEST: u64 = 25;

/// The chain page.
pub async fn page(ctx: &Ctx) -> Result<Answer, Status> {
    let head = ctx.reads.head().await?;
    let entries = latest(ctx, head.size, None).await?;
    let checkpoint = checkpoint_panel(ctx).await?;
    let body = html!(
        "<h1>{}</h1><div class=\"columns wide-left\"><section>\
         <h2>{} <span class=\"follow\" id=\"live-state\" data-paused=\"{}\">{}</span></h2>\
         <table class=\"list\" id=\"entries\" data-after=\"{}\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\
         <tbody>{}</tbody></table></section><section id=\"checkpoint\">{}</section></div>",
        ctx.t(L::NavChain),
        ctx.t(L::LatestEntries),
        ctx.t(L::Paused),
        ctx.t(L::FollowingLive),
        head.size.saturating_sub(1),
        ctx.t(L::Entry),
        ctx.t(L::Time),
        ctx.t(L::What),
        ctx.t(L::Signers),
        rows(ctx, &entries),
        checkpoint
    );
    Ok(Answer::Page(Page::ok(
        ctx.t(L::NavChain).to_owned(),
        Nav::Chain,
        body,
    )))
}

/// `/chain/feed?after=N`: `{"size", "rows"}`, the rows of the entries after
/// N (at most [`LATEST`], newest first) as HTML.
pub async fn feed(ctx: &Ctx, after: Option<u64>) -> Result<Answer, Status> {
    let head = ctx.reads.head().await?;
    let entries = latest(ctx, head.size, after).await?;
    let body = json!({ "size": head.size, "rows": rows(ctx, &entries).into_string() });
    Ok(Answer::Json(body.to_string()))
}

/// The newest entries below `size`, after `after` if given, oldest first.
async fn latest(ctx: &Ctx, size: u64, after: Option<u64>) -> Result<Vec<EntryView>, Status> {
    let newest_window = size.saturating_sub(LATEST);
    let from = match after {
        Some(seq) => seq.saturating_add(1).max(newest_window),
        None => newest_window,
    };
    if from >= size {
        return Ok(Vec::new());
    }
    ctx.reads.entries(from, LATEST as usize).await
}

fn rows(ctx: &Ctx, entries: &[EntryView]) -> Html {
    entries
        .iter()
        .rev()
        .map(|view| {
            let what = match &view.tx {
                Ok(tx) => describe::operation(ctx.lang, tx),
                Err(reason) => Html::text(reason),
            };
            let signers = links::signers(&view.entry);
            html!(
                "<tr data-seq=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                view.entry.seq,
                links::entry(view.entry.seq),
                time(view.entry.time_ms),
                what,
                signers
            )
        })
        .collect()
}

/// The latest checkpoint: its fields, its note, and every signature line.
async fn checkpoint_panel(ctx: &Ctx) -> Result<Html, Status> {
    let Some(signed) = ctx.reads.checkpoint().await? else {
        return Ok(html!(
            "<h2>{}</h2><p>{}</p>",
            ctx.t(L::Checkpoint),
            ctx.t(L::NoCheckpoint)
        ));
    };
    let info = ctx.reads.node_info().await?;
    let origin = ledger_origin(&info.ledger_id);
    let node_key = PublicKey::from_slice(&info.node_public_key);
    let opened = node_key.map(|key| Checkpoint::verify_note(&signed.note, &origin, &[key]));
    let verdict = match opened {
        Some(Ok(_)) => html!(
            "<span class=\"badge live\">✓ {}</span>",
            ctx.t(L::NodeSignature)
        ),
        Some(Err(error)) => html!(
            "<span class=\"badge frozen\">✗ {}</span>",
            error.to_string()
        ),
        None => html!(
            "<span class=\"badge frozen\">✗ {}</span>",
            ctx.t(L::NodeKey)
        ),
    };
    let lines = signature_lines(ctx, &signed.note, &origin, node_key.as_ref());
    Ok(html!(
        "<h2>{}</h2><p>{}</p>{}<h3>{}</h3>{}<h3>{}</h3><pre class=\"note\" id=\"checkpoint-note\">{}</pre>",
        ctx.t(L::Checkpoint),
        verdict,
        facts([
            (
                ctx.t(L::TreeSize),
                html!("{}", grouped(u128::from(signed.tree_size)))
            ),
            (ctx.t(L::MerkleRoot), full_hex(&signed.tree_root)),
            (ctx.t(L::ChainHead), full_hex(&signed.head_hash)),
            (ctx.t(L::StateRoot), full_hex(&signed.state_root)),
            (ctx.t(L::CheckpointTime), time(signed.time_ms)),
        ]),
        ctx.t(L::Signatures),
        lines,
        ctx.t(L::NoteText),
        signed.note
    ))
}

/// The note's signature lines: the node's, and any witness cosignatures
/// with the time each witness states (checking a cosignature needs the
/// witness's key, which the verifier holds, not the node).
fn signature_lines(ctx: &Ctx, note: &str, origin: &str, node_key: Option<&PublicKey>) -> Html {
    let node_id = node_key.map(|key| key_id(origin, key));
    let signatures = SignedNote::parse(note)
        .map(|parsed| parsed.signatures().to_vec())
        .unwrap_or_default();
    let mut cosigned = false;
    let rows: Html = signatures
        .iter()
        .map(|signature| {
            let is_node = node_id.is_some_and(|id| signature.is_by(origin, &id));
            cosigned |= !is_node;
            let role = match (is_node, cosignature_time(signature)) {
                (true, _) => html!("{}", ctx.t(L::NodeSignature)),
                (false, Some(seconds)) => html!(
                    "{} {}",
                    ctx.t(L::Cosignature),
                    time(seconds.saturating_mul(1000))
                ),
                (false, None) => html!("{}", ctx.t(L::Cosignature)),
            };
            html!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                signature.name,
                short_hex(&hex::encode(signature.key_id)),
                role
            )
        })
        .collect();
    let none = match cosigned {
        true => Html::new(),
        false => html!("<p class=\"note\">{}</p>", ctx.t(L::NoCosignatures)),
    };
    html!(
        "<table class=\"list\" id=\"signatures\"><thead><tr><th>{}</th><th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>{}",
        ctx.t(L::KeyName),
        ctx.t(L::KeyId),
        rows,
        none
    )
}

/// The time (seconds since the epoch) a `cosignature/v1` line states: the
/// 8 big-endian bytes before its 64-byte signature.
fn cosignature_time(signature: &NoteSignature) -> Option<u64> {
    match signature.signature.len() {
        72 => signature.signature[..8]
            .try_into()
            .ok()
            .map(u64::from_be_bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use pledge_ledger::cosigning::cosign;
    use pledge_ledger::crypto::{self, Digest, generate_signing_key};

    use super::*;
    use crate::channel::{Connection, ReadChannel, refusing};
    use crate::i18n::Lang;
    use crate::reads::Reads;

    /// A context whose reads are never made (the function under test
    /// renders from its arguments).
    fn ctx() -> Ctx {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        stream.set_nonblocking(true).unwrap();
        let stream = tokio::net::TcpStream::from_std(stream).unwrap();
        let grpc = refusing(Status::unavailable("not read in this test"));
        Ctx {
            lang: Lang::En,
            reads: Reads::new(ReadChannel::new(grpc, Connection::plain(&stream))),
            now_ms: 0,
        }
    }

    #[tokio::test]
    async fn the_node_signature_and_each_cosignature_with_its_time_are_listed() {
        let origin = ledger_origin("zhoushan-test");
        let node_key = generate_signing_key().unwrap();
        let checkpoint = Checkpoint {
            origin: origin.clone(),
            size: 3,
            root: [7; 32],
            head_hash: Digest([9; 32]),
            state_root: [5; 32],
            time_ms: 1_795_000_000_000,
        };
        let mut signed = checkpoint.sign(&node_key).unwrap();
        let node_public = crypto::public_key(&node_key);
        let ctx = ctx();

        let alone = signature_lines(&ctx, &signed.to_text(), &origin, Some(&node_public));
        let alone = alone.into_string();
        assert!(alone.contains("node signature"), "{alone}");
        assert!(alone.contains("No witness has cosigned"), "{alone}");

        let witness_key = generate_signing_key().unwrap();
        let cosignature = cosign(
            signed.note.text(),
            "witness.bank-a.example",
            &witness_key,
            1_795_000_001,
        )
        .unwrap();
        signed.add_signatures([cosignature]).unwrap();
        let both = signature_lines(&ctx, &signed.to_text(), &origin, Some(&node_public));
        let both = both.into_string();
        assert!(both.contains("witness.bank-a.example"), "{both}");
        assert!(both.contains("cosignature (witness)"), "{both}");
        assert!(both.contains("2026-11-18T"), "the witness's time: {both}");
        assert!(!both.contains("No witness has cosigned"), "{both}");
    }
}
