//! What a page handler answers, the frame every page shares (header with
//! search and the language switch, footer with the node's identity), and
//! the error page.

use http::StatusCode;
use pledge_proto::v1 as pb;
use tonic::{Code, Status};

use crate::assets;
use crate::format::short_hex;
use crate::html;
use crate::html::Html;
use crate::i18n::{L, Lang};
use crate::reads::Reads;

/// What a request is answered with.
#[derive(Debug)]
pub enum Answer {
    /// An HTML page.
    Page(Page),
    /// A redirect (303) to another page of the explorer.
    Redirect(String),
    /// A JSON document (the live chain feed, the verifier's schema).
    Json(String),
    /// A JSON file to save (an evidence bundle).
    Download {
        /// The file name offered.
        file_name: String,
        /// The file.
        body: String,
    },
}

/// A page's title, body and HTTP status.
#[derive(Debug)]
pub struct Page {
    /// The title (also the first heading).
    pub title: String,
    /// Everything inside `<main>`.
    pub body: Html,
    /// 200, or the status of an error page.
    pub status: StatusCode,
    /// Which navigation item is this page's.
    pub nav: Nav,
    /// A page's own script module, besides the shared one.
    pub script: Option<&'static str>,
}

/// The navigation items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Look-ups (receipts, tanks, participants…).
    Search,
    /// The chain.
    Chain,
    /// The evidence verifier.
    Evidence,
    /// The regulators' page.
    Regulator,
}

impl Page {
    /// A 200 page.
    pub fn ok(title: String, nav: Nav, body: Html) -> Page {
        Page {
            title,
            body,
            status: StatusCode::OK,
            nav,
            script: None,
        }
    }
}

/// What every page handler gets: the viewer's language and reads.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The viewer's language.
    pub lang: Lang,
    /// The ledger, as this viewer may read it.
    pub reads: Reads,
    /// The server's clock, ms since the Unix epoch (expiry, maturity).
    pub now_ms: u64,
}

impl Ctx {
    /// A label in the viewer's language.
    pub fn t(&self, label: L) -> &'static str {
        label.text(self.lang)
    }

    /// Picks the viewer's language of two texts.
    pub fn pick<'a>(&self, en: &'a str, zh: &'a str) -> &'a str {
        self.lang.pick(en, zh)
    }
}

/// The whole document: header, the page, footer.
pub fn document(ctx: &Ctx, page: &Page, info: Option<&pb::NodeInfo>, switch_href: &str) -> Html {
    let lang = ctx.lang;
    let html_lang = match lang {
        Lang::En => "en",
        Lang::Zh => "zh-CN",
    };
    html!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · {}</title>\
         <link rel=\"stylesheet\" href=\"{}\">\
         <link rel=\"icon\" href=\"data:,\">\
         <script type=\"module\" src=\"{}\"></script>{}</head>\
         <body>{}<main id=\"main\">{}</main>{}</body></html>",
        html_lang,
        page.title,
        ctx.t(L::SiteName),
        assets::href("style.css"),
        assets::href("app.js"),
        page_script(page.script),
        header(ctx, page.nav, switch_href),
        page.body,
        footer(ctx, info)
    )
}

fn page_script(script: Option<&'static str>) -> Html {
    match script {
        Some(name) => html!(
            "<script type=\"module\" src=\"{}\"></script>",
            assets::href(name)
        ),
        None => Html::new(),
    }
}

fn header(ctx: &Ctx, active: Nav, switch_href: &str) -> Html {
    let item = |nav: Nav, href: &str, label: L| {
        let class = if nav == active { "active" } else { "" };
        html!(
            "<a href=\"{}\" class=\"{}\">{}</a>",
            href,
            class,
            ctx.t(label)
        )
    };
    html!(
        "<header><a class=\"brand\" href=\"/\">{}</a><nav>{}{}{}</nav>\
         <form class=\"search\" action=\"/search\" method=\"get\" role=\"search\">\
         <input name=\"q\" required maxlength=\"64\" placeholder=\"{}\" aria-label=\"{}\">\
         <button type=\"submit\">{}</button></form>\
         <a class=\"lang\" href=\"{}\" hreflang=\"{}\">{}</a></header>",
        ctx.t(L::SiteName),
        item(Nav::Chain, "/chain", L::NavChain),
        item(Nav::Evidence, "/evidence", L::NavEvidence),
        item(Nav::Regulator, "/regulator", L::NavRegulator),
        ctx.t(L::SearchPlaceholder),
        ctx.t(L::NavSearch),
        ctx.t(L::SearchButton),
        switch_href,
        ctx.lang.other().code(),
        ctx.lang.other().own_name()
    )
}

fn footer(ctx: &Ctx, info: Option<&pb::NodeInfo>) -> Html {
    let identity = match info {
        Some(info) => html!(
            "{} <code>{}</code> · {} {} · ",
            ctx.t(L::Ledger),
            info.ledger_id,
            ctx.t(L::NodeKey),
            short_hex(&hex::encode(&info.node_public_key))
        ),
        None => Html::new(),
    };
    html!(
        "<footer>{}{} · {}</footer>",
        identity,
        ctx.t(L::ReadOnly),
        ctx.t(L::UtcHint)
    )
}

/// The error page of a refused or failed read, with the node's own message.
pub fn read_error(ctx: &Ctx, status: &Status, nav: Nav) -> Page {
    let (code, label) = match status.code() {
        Code::NotFound | Code::OutOfRange => (StatusCode::NOT_FOUND, L::NotFound),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, L::BadRequest),
        Code::PermissionDenied | Code::Unauthenticated => (StatusCode::FORBIDDEN, L::Forbidden),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, L::TooMany),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, L::Unavailable),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, L::Unavailable),
        _ => (StatusCode::BAD_GATEWAY, L::Failed),
    };
    error_page(ctx, code, label, status.message(), nav)
}

/// An error page: a heading and the message naming what was wrong.
pub fn error_page(ctx: &Ctx, code: StatusCode, label: L, message: &str, nav: Nav) -> Page {
    Page {
        title: ctx.t(label).to_owned(),
        body: html!(
            "<h1>{}</h1><p class=\"error\" id=\"error-message\">{}</p><p><a href=\"/\">{}</a></p>",
            ctx.t(label),
            message,
            ctx.t(L::Home)
        ),
        status: code,
        nav,
        script: None,
    }
}

/// A two-column table of labelled values.
pub fn facts(rows: impl IntoIterator<Item = (&'static str, Html)>) -> Html {
    let rows: Html = rows
        .into_iter()
        .map(|(label, value)| {
            html!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                label,
                value
            )
        })
        .collect();
    html!("<table class=\"facts\">{}</table>", rows)
}
