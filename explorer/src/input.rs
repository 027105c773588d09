//! Every input from the browser, checked before anything is read: the
//! method, the path (which page, which id), the query parameters.
//!
//! Ids follow the ledger's own rule (`pledge_ledger::text::check_id`: 1–64
//! characters of `A–Z a–z 0–9 . _ : / -`), so a page never asks the node
//! about something that cannot exist. Unknown, repeated or malformed
//! parameters are refused with 400 and a message naming them; a request
//! with a body is refused (the explorer only reads).

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use pledge_ledger::text::check_id;

use crate::i18n::Lang;

/// Longest path + query accepted, in bytes.
pub const MAX_TARGET_LEN: usize = 2048;
/// Most query parameters accepted.
pub const MAX_PARAMETERS: usize = 8;

/// A page (or asset) the browser asked for, with its checked inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: search box and the node's identity.
    Home,
    /// `/search?q=…`: finds what an id names and redirects there.
    Search(String),
    /// `/receipt/{id}`.
    Receipt(String),
    /// `/pledge/{id}`.
    Pledge(String),
    /// `/tank/{id}?after=…`: the tank, its receipts from a cursor.
    Tank {
        /// The tank.
        id: String,
        /// Exclusive cursor of the receipt list.
        after: Option<String>,
    },
    /// `/participant/{id}?after=…`: a warehouse, bank, holder, …
    Participant {
        /// The participant.
        id: String,
        /// Exclusive cursor of the receipt list.
        after: Option<String>,
    },
    /// `/chain`: the latest entries and the latest checkpoint.
    Chain,
    /// `/chain/feed?after=N`: entries after N, for the live list.
    ChainFeed {
        /// The largest seq the page shows already, or none.
        after: Option<u64>,
    },
    /// `/entry/{seq}`.
    Entry(u64),
    /// `/evidence`: the in-browser bundle verifier.
    Evidence,
    /// `/evidence/schema.json`: the protobuf schema the verifier decodes
    /// transactions with.
    Schema,
    /// `/regulator`.
    Regulator,
    /// `/bundle?receipt=…`: the receipt's evidence bundle, as a download.
    Bundle(String),
    /// `/assets/{name}`.
    Asset(String),
}

/// A checked request: the route and the language asked for by `?lang=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The page.
    pub route: Route,
    /// `?lang=`, which also sets the cookie.
    pub lang: Option<Lang>,
}

/// Why a request was refused before anything was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not GET or HEAD.
    #[error("method {method} is not allowed: the explorer only reads (GET)")]
    Method {
        /// The method used.
        method: String,
    },
    /// The request carries a body.
    #[error("a request body is not accepted: the explorer only reads")]
    Body,
    /// The path and query are too long.
    #[error("the address is {len} bytes long, at most {MAX_TARGET_LEN} accepted")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// No page at this path.
    #[error("there is no page at {path}")]
    NoSuchPage {
        /// The path (decoded for display).
        path: String,
    },
    /// An id that the ledger could not hold.
    #[error("{field} {value:?} is not a valid id: {reason}")]
    BadId {
        /// What the id was for.
        field: &'static str,
        /// The value given.
        value: String,
        /// The ledger's rule that it breaks.
        reason: String,
    },
    /// A number that is not a plain decimal u64.
    #[error("{field} {value:?} is not a number (digits only, at most 2^64 - 1)")]
    BadNumber {
        /// What the number was for.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// A parameter this page does not take.
    #[error("this page takes no parameter {name:?}")]
    UnknownParameter {
        /// Its name.
        name: String,
    },
    /// A parameter given twice.
    #[error("parameter {name:?} is given more than once")]
    RepeatedParameter {
        /// Its name.
        name: String,
    },
    /// A required parameter is missing.
    #[error("parameter {name:?} is required")]
    MissingParameter {
        /// Its name.
        name: &'static str,
    },
    /// More than [`MAX_PARAMETERS`].
    #[error("at most {MAX_PARAMETERS} parameters are accepted")]
    TooManyParameters,
    /// Percent-encoding that does not decode to UTF-8.
    #[error("the address is not valid percent-encoded UTF-8")]
    BadEncoding,
    /// A development explorer asked for by a host name that is not loopback.
    #[error("host {host:?} is not served: this development explorer answers on localhost only")]
    Host {
        /// The `Host` header.
        host: String,
    },
    /// `?lang=` other than `en` or `zh`.
    #[error("language {value:?} is not offered: use en or zh")]
    BadLang {
        /// The value given.
        value: String,
    },
}

impl InputError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> http::StatusCode {
        match self {
            InputError::Method { .. } => http::StatusCode::METHOD_NOT_ALLOWED,
            InputError::TooLong { .. } => http::StatusCode::URI_TOO_LONG,
            InputError::NoSuchPage { .. } => http::StatusCode::NOT_FOUND,
            InputError::Host { .. } => http::StatusCode::MISDIRECTED_REQUEST,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The message in the viewer's language.
    pub fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::En, error) => error.to_string(),
            (Lang::Zh, InputError::Method { method }) => {
                format!("不允许 {method} 方法：浏览器只能读取（GET）")
            }
            (Lang::Zh, InputError::Body) => "不接受请求正文：本页只读".into(),
            (Lang::Zh, InputError::TooLong { len }) => {
                format!("地址长 {len} 字节，上限 {MAX_TARGET_LEN}")
            }
            (Lang::Zh, InputError::NoSuchPage { path }) => format!("{path} 没有页面"),
            (Lang::Zh, InputError::BadId { field, value, .. }) => format!(
                "{field} {value:?} 不是有效编号：编号为 1–64 个字符（A–Z a–z 0–9 . _ : / -）"
            ),
            (Lang::Zh, InputError::BadNumber { field, value }) => {
                format!("{field} {value:?} 不是数字（仅限数字，最大 2^64 - 1）")
            }
            (Lang::Zh, InputError::UnknownParameter { name }) => {
                format!("本页不接受参数 {name:?}")
            }
            (Lang::Zh, InputError::RepeatedParameter { name }) => {
                format!("参数 {name:?} 重复")
            }
            (Lang::Zh, InputError::MissingParameter { name }) => format!("缺少参数 {name:?}"),
            (Lang::Zh, InputError::TooManyParameters) => {
                format!("参数最多 {MAX_PARAMETERS} 个")
            }
            (Lang::Zh, InputError::BadEncoding) => "地址不是有效的百分号编码 UTF-8".into(),
            (Lang::Zh, InputError::Host { host }) => {
                format!("不服务主机 {host:?}：本开发用浏览器仅在 localhost 上应答")
            }
            (Lang::Zh, InputError::BadLang { value }) => {
                format!("不提供语言 {value:?}：请用 en 或 zh")
            }
        }
    }
}

/// Checks a request's method, body, path and query.
pub fn check(
    method: &http::Method,
    uri: &http::Uri,
    has_body: bool,
) -> Result<Checked, InputError> {
    if method != http::Method::GET && method != http::Method::HEAD {
        return Err(InputError::Method {
            method: method.as_str().chars().take(16).collect(),
        });
    }
    if has_body {
        return Err(InputError::Body);
    }
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > MAX_TARGET_LEN {
        return Err(InputError::TooLong { len: target_len });
    }
    let mut query = Query::parse(uri.query().unwrap_or(""))?;
    let lang = match query.take("lang") {
        None => None,
        Some(code) => Some(Lang::parse(&code).ok_or(InputError::BadLang { value: code })?),
    };
    let route = route(uri.path(), &mut query)?;
    query.finish()?;
    Ok(Checked { route, lang })
}

fn route(path: &str, query: &mut Query) -> Result<Route, InputError> {
    if let Some(rest) = path.strip_prefix("/receipt/") {
        return Ok(Route::Receipt(id("receipt id", rest)?));
    }
    if let Some(rest) = path.strip_prefix("/pledge/") {
        return Ok(Route::Pledge(id("pledge id", rest)?));
    }
    if let Some(rest) = path.strip_prefix("/tank/") {
        let id = id("tank id", rest)?;
        let after = query.take_id("after", "after (receipt id)")?;
        return Ok(Route::Tank { id, after });
    }
    if let Some(rest) = path.strip_prefix("/participant/") {
        let id = id("participant id", rest)?;
        let after = query.take_id("after", "after (receipt id)")?;
        return Ok(Route::Participant { id, after });
    }
    if let Some(rest) = path.strip_prefix("/entry/") {
        return Ok(Route::Entry(number("entry", &decode(rest)?)?));
    }
    if let Some(rest) = path.strip_prefix("/assets/") {
        return Ok(Route::Asset(decode(rest)?.into_owned()));
    }
    match path {
        "/" => Ok(Route::Home),
        "/search" => search(query),
        "/chain" => Ok(Route::Chain),
        "/chain/feed" => {
            let after = match query.take("after") {
                Some(value) => Some(number("after", &value)?),
                None => None,
            };
            Ok(Route::ChainFeed { after })
        }
        "/evidence" => Ok(Route::Evidence),
        "/evidence/schema.json" => Ok(Route::Schema),
        "/regulator" => Ok(Route::Regulator),
        "/bundle" => match query.take_id("receipt", "receipt id")? {
            Some(id) => Ok(Route::Bundle(id)),
            None => Err(InputError::MissingParameter { name: "receipt" }),
        },
        other => Err(InputError::NoSuchPage {
            path: decode(other).map(Cow::into_owned).unwrap_or_default(),
        }),
    }
}

/// `/search?q=`: an id, or an entry number (digits; also `#12`).
fn search(query: &mut Query) -> Result<Route, InputError> {
    let q = query
        .take("q")
        .ok_or(InputError::MissingParameter { name: "q" })?;
    let q = q.trim();
    let q = q.strip_prefix('#').unwrap_or(q);
    check_id("q", q).map_err(|e| InputError::BadId {
        field: "search",
        value: q.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Route::Search(q.to_owned()))
}

fn decode(raw: &str) -> Result<Cow<'_, str>, InputError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| InputError::BadEncoding)
}

fn id(field: &'static str, raw: &str) -> Result<String, InputError> {
    let value = decode(raw)?;
    check_id(field, &value).map_err(|e| InputError::BadId {
        field,
        value: value.chars().take(80).collect(),
        reason: e.to_string(),
    })?;
    Ok(value.into_owned())
}

fn number(field: &'static str, value: &str) -> Result<u64, InputError> {
    let digits =
        !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit());
    let parsed = digits.then(|| value.parse::<u64>().ok()).flatten();
    parsed.ok_or_else(|| InputError::BadNumber {
        field,
        value: value.chars().take(40).collect(),
    })
}

/// Query parameters, each taken once by the page that knows it; whatever
/// is left over is refused.
#[derive(Debug)]
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, InputError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            if pairs.len() == MAX_PARAMETERS {
                return Err(InputError::TooManyParameters);
            }
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = form_decode(name)?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(InputError::RepeatedParameter { name });
            }
            pairs.push((name, form_decode(value)?));
        }
        Ok(Query { pairs })
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index).1)
    }

    fn take_id(&mut self, name: &str, field: &'static str) -> Result<Option<String>, InputError> {
        match self.take(name) {
            None => Ok(None),
            Some(value) => id(field, &value).map(Some),
        }
    }

    fn finish(self) -> Result<(), InputError> {
        match self.pairs.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => Err(InputError::UnknownParameter {
                name: name.chars().take(40).collect(),
            }),
        }
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space.
fn form_decode(raw: &str) -> Result<String, InputError> {
    let spaced = raw.replace('+', " ");
    decode(&spaced).map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(target: &str) -> Result<Checked, InputError> {
        check(&http::Method::GET, &target.parse().unwrap(), false)
    }

    fn route_of(target: &str) -> Route {
        get(target).unwrap().route
    }

    #[test]
    fn pages_and_their_ids() {
        assert_eq!(route_of("/"), Route::Home);
        assert_eq!(
            route_of("/receipt/WR-0001"),
            Route::Receipt("WR-0001".into())
        );
        assert_eq!(route_of("/receipt/a%2Fb"), Route::Receipt("a/b".into()));
        assert_eq!(route_of("/receipt/a/b"), Route::Receipt("a/b".into()));
        assert_eq!(
            route_of("/tank/T-101?after=WR-9"),
            Route::Tank {
                id: "T-101".into(),
                after: Some("WR-9".into())
            }
        );
        assert_eq!(route_of("/entry/42"), Route::Entry(42));
        assert_eq!(route_of("/search?q=+WR-1+"), Route::Search("WR-1".into()));
        assert_eq!(route_of("/search?q=%2312"), Route::Search("12".into()));
        assert_eq!(
            route_of("/chain/feed?after=7"),
            Route::ChainFeed { after: Some(7) }
        );
        let checked = get("/chain?lang=zh").unwrap();
        assert_eq!(checked.lang, Some(Lang::Zh));
    }

    #[test]
    fn bad_ids_name_the_rule() {
        for target in ["/receipt/", "/receipt/a%20b", "/receipt/%3Cscript%3E"] {
            match get(target) {
                Err(InputError::BadId { field, .. }) => assert_eq!(field, "receipt id"),
                other => panic!("{target}: {other:?}"),
            }
        }
        let long = format!("/pledge/{}", "x".repeat(65));
        assert!(matches!(get(&long), Err(InputError::BadId { .. })));
        assert_eq!(get("/receipt/%FF"), Err(InputError::BadEncoding));
    }

    #[test]
    fn bad_numbers_and_parameters_are_refused() {
        for target in [
            "/entry/-1",
            "/entry/1e3",
            "/entry/18446744073709551616",
            "/entry/",
        ] {
            assert!(
                matches!(get(target), Err(InputError::BadNumber { .. })),
                "{target}"
            );
        }
        assert_eq!(
            get("/receipt/WR-1?x=1"),
            Err(InputError::UnknownParameter { name: "x".into() })
        );
        assert_eq!(
            get("/chain?lang=en&lang=zh"),
            Err(InputError::RepeatedParameter {
                name: "lang".into()
            })
        );
        assert_eq!(
            get("/chain?lang=fr"),
            Err(InputError::BadLang { value: "fr".into() })
        );
        assert_eq!(
            get("/search"),
            Err(InputError::MissingParameter { name: "q" })
        );
        assert!(matches!(
            get("/nothing"),
            Err(InputError::NoSuchPage { .. })
        ));
        let many = format!(
            "/chain?{}",
            (0..9)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join("&")
        );
        assert_eq!(get(&many), Err(InputError::TooManyParameters));
    }

    #[test]
    fn only_reads_without_a_body() {
        let uri: http::Uri = "/".parse().unwrap();
        assert!(matches!(
            check(&http::Method::POST, &uri, false),
            Err(InputError::Method { .. })
        ));
        assert_eq!(check(&http::Method::GET, &uri, true), Err(InputError::Body));
        assert!(check(&http::Method::HEAD, &uri, false).is_ok());
        let long: http::Uri = format!("/receipt/{}", "a".repeat(3000)).parse().unwrap();
        assert!(matches!(
            check(&http::Method::GET, &long, false),
            Err(InputError::TooLong { .. })
        ));
    }
}
