//! One request: check it, answer it (a page, a redirect, JSON or an
//! embedded file), and put the same protective headers on every answer.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::App;
use crate::assets;
use crate::channel::{Connection, ReadChannel};
use crate::i18n::{L, Lang};
use crate::input::{self, Checked, InputError, Route};
use crate::links;
use crate::page::{self, Answer, Ctx, Nav, Page};
use crate::pages;
use crate::reads::Reads;

/// The response type of every request.
pub type Response = http::Response<Full<Bytes>>;

/// Only this origin's scripts, styles and fetches; no framing, no forms
/// elsewhere, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// Answers one request from `connection`.
pub async fn respond(
    app: &App,
    request: http::Request<Incoming>,
    connection: Connection,
) -> Response {
    let lang = viewer_language(request.headers());
    let head_only = request.method() == Method::HEAD;
    let has_body = has_body(request.headers());
    let checked = input::check(request.method(), request.uri(), has_body)
        .and_then(|checked| check_host(app, request.headers()).map(|()| checked));
    let mut response = match checked {
        Err(error) => refusal(lang, &error),
        Ok(checked) => answer(app, checked, lang, request.headers(), connection).await,
    };
    protect(response.headers_mut(), app.tls.is_some());
    if head_only {
        *response.body_mut() = Full::new(Bytes::new());
    }
    response
}

async fn answer(
    app: &App,
    checked: Checked,
    header_lang: Lang,
    headers: &HeaderMap,
    connection: Connection,
) -> Response {
    let lang = checked.lang.unwrap_or(header_lang);
    let mut response = match &checked.route {
        Route::Asset(name) => return asset(name, headers),
        Route::Schema => json(app.schema.clone()),
        route => {
            let reads = Reads::new(ReadChannel::new(app.grpc.clone(), connection));
            let ctx = Ctx {
                lang,
                reads,
                now_ms: now_ms(),
            };
            let work = pages::answer(&ctx, route);
            let answer = match tokio::time::timeout(app.limits.request_timeout, work).await {
                Ok(answer) => answer,
                Err(_) => Answer::Page(page::error_page(
                    &ctx,
                    StatusCode::GATEWAY_TIMEOUT,
                    L::Unavailable,
                    ctx.pick("the node did not answer in time", "节点未能及时应答"),
                    Nav::Search,
                )),
            };
            render(&ctx, route, answer).await
        }
    };
    if let Some(chosen) = checked.lang {
        remember_language(response.headers_mut(), chosen, app.tls.is_some());
    }
    response
}

async fn render(ctx: &Ctx, route: &Route, answer: Answer) -> Response {
    match answer {
        Answer::Page(page) => {
            let info = ctx.reads.node_info().await.ok();
            let switch = switch_href(route, ctx.lang.other());
            html(
                page.status,
                page::document(ctx, &page, info.as_ref(), &switch).into_string(),
            )
        }
        Answer::Redirect(location) => redirect(&location),
        Answer::Json(body) => json(Bytes::from(body)),
        Answer::Download { file_name, body } => download(&file_name, body),
    }
}

/// The error page of a request refused before anything was read.
fn refusal(lang: Lang, error: &InputError) -> Response {
    let label = match error.status() {
        StatusCode::NOT_FOUND => L::NotFound,
        _ => L::BadRequest,
    };
    let page = Page {
        title: label.text(lang).to_owned(),
        body: crate::html!(
            "<h1>{}</h1><p class=\"error\" id=\"error-message\">{}</p><p><a href=\"/\">{}</a></p>",
            label.text(lang),
            error.message(lang),
            L::Home.text(lang)
        ),
        status: error.status(),
        nav: Nav::Search,
        script: None,
    };
    let mut response = html(page.status, bare_document(lang, &page));
    if let InputError::Method { .. } = error {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    response
}

/// An error page for a request that never got as far as the node.
fn bare_document(lang: Lang, page: &Page) -> String {
    crate::html!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"{}\"></head><body><main>{}</main></body></html>",
        lang.code(),
        page.title,
        assets::href("style.css"),
        page.body
    )
    .into_string()
}

/// A development explorer (plain HTTP on loopback) answers only requests
/// addressed to a loopback name: a page on another site cannot read it by
/// pointing its own host name at 127.0.0.1.
fn check_host(app: &App, headers: &HeaderMap) -> Result<(), InputError> {
    let Some(local) = app.loopback_only else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let local_ip = local.ip().to_string();
    let loopback = ["localhost", "127.0.0.1", "[::1]", local_ip.as_str()];
    if loopback.contains(&name) || name == format!("[{local_ip}]") {
        Ok(())
    } else {
        Err(InputError::Host {
            host: host.chars().take(80).collect(),
        })
    }
}

fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0");
    length || headers.contains_key(header::TRANSFER_ENCODING)
}

/// The `lang` cookie, else `Accept-Language`.
fn viewer_language(headers: &HeaderMap) -> Lang {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("lang="))
        .and_then(Lang::parse);
    cookie.unwrap_or_else(|| {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Lang::from_accept_language(accept)
    })
}

fn remember_language(headers: &mut HeaderMap, lang: Lang, tls: bool) {
    let secure = if tls { "; Secure" } else { "" };
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
        lang.code()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
}

/// The same page in the other language.
fn switch_href(route: &Route, lang: Lang) -> String {
    let base = match route {
        Route::Receipt(id) => links::receipt_href(id),
        Route::Pledge(id) => format!("/pledge/{}", links::segment(id)),
        Route::Tank { id, after } => links::tank_href(id, after.as_deref()),
        Route::Participant { id, after } => links::participant_href(id, after.as_deref()),
        Route::Entry(seq) => format!("/entry/{seq}"),
        Route::Chain | Route::ChainFeed { .. } => "/chain".into(),
        Route::Evidence | Route::Schema => "/evidence".into(),
        Route::Regulator => "/regulator".into(),
        Route::Bundle(id) => links::receipt_href(id),
        Route::Home | Route::Search(_) | Route::Asset(_) => "/".into(),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}lang={}", lang.code())
}

fn asset(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets::find(name) else {
        return refusal(
            Lang::En,
            &InputError::NoSuchPage {
                path: format!("/assets/{name}"),
            },
        );
    };
    let etag = assets::etag(asset);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let (status, body) = match fresh {
        true => (StatusCode::NOT_MODIFIED, Bytes::new()),
        false => (StatusCode::OK, Bytes::from_static(asset.body)),
    };
    let mut response = http::Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn json(body: Bytes) -> Response {
    let mut response = http::Response::new(Full::new(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn download(file_name: &str, body: String) -> Response {
    let mut response = json(Bytes::from(body));
    let disposition = format!("attachment; filename=\"{file_name}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn redirect(location: &str) -> Response {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Headers on every answer: no caching of ledger data (assets excepted),
/// a strict Content-Security-Policy, no sniffing, no framing, no referrer.
fn protect(headers: &mut HeaderMap, tls: bool) {
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_wins_over_accept_language() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("zh-CN"));
        assert_eq!(viewer_language(&headers), Lang::Zh);
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; lang=en"));
        assert_eq!(viewer_language(&headers), Lang::En);
    }

    #[test]
    fn the_switch_keeps_the_page_and_its_cursor() {
        let route = Route::Tank {
            id: "T-1".into(),
            after: Some("WR-2".into()),
        };
        assert_eq!(
            switch_href(&route, Lang::Zh),
            "/tank/T-1?after=WR-2&lang=zh"
        );
        assert_eq!(switch_href(&Route::Chain, Lang::En), "/chain?lang=en");
    }
}
