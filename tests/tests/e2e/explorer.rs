//! The web explorer over HTTP: every page against a real node with a
//! pledged receipt, every kind of bad input, the protective headers, and
//! the node's TLS and client CA in front of it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use pledge_ledger::bundle::Bundle;
use pledge_ledger::cosigning::Trust;
use pledge_ledger::crypto::PublicKey;
use pledge_tests::{Node, pledgectl, refused_start};

use super::common::*;

/// An HTTP answer: status, headers (names lower case), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn expect(self, status: u16, fragments: &[&str]) -> Answer {
        assert_eq!(self.status, status, "{}", self.body);
        for fragment in fragments {
            assert!(
                self.body.contains(fragment),
                "{fragment:?} not in:\n{}",
                self.body
            );
        }
        self
    }
}

/// The text of escaped HTML (for comparing messages).
fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("0");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status: status.parse().unwrap(),
        headers,
        body: body.to_owned(),
    }
}

/// Sends `request` as it is and reads the answer until the server closes.
fn send(address: &str, request: &str) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn get_with(address: &str, path: &str, extra_headers: &str) -> Answer {
    send(
        address,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{extra_headers}\r\n"
        ),
    )
}

fn get(address: &str, path: &str) -> Answer {
    get_with(address, path, "")
}

/// The explorer's `host:port`, from the node's announcement.
pub(crate) fn explorer_address(node: &Node) -> String {
    let url = node
        .announced("explorer")
        .expect("the node announces its explorer");
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

/// A development node with WR-1 (5,000 t) pledged to bank-a under PL-1
/// and WR-2 live; the explorer's address.
async fn pledged_world(dir: &Path) -> (Node, String) {
    let node = Node::start(dir);
    let client = node.client().await;
    issue(&node, &client, "WR-1", 5_000_000).await;
    issue(&node, &client, "WR-2", 1_000_000).await;
    pledge(&node, &client, "PL-1", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    let address = explorer_address(&node);
    (node, address)
}

/// Every page against one node (a node start per test would cost more than
/// the pages).
#[tokio::test(flavor = "multi_thread")]
async fn every_page_shows_what_the_node_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (node, web) = pledged_world(dir.path()).await;
    receipt_page(&web);
    other_pages(&node, &web).await;
    bundle_download(&node, &web).await;
    search(&web);
}

fn receipt_page(web: &str) {
    let web = web.to_owned();
    let page = get(&web, "/receipt/WR-1").expect(
        200,
        &[
            "id=\"receipt-status\"",
            "Pledged to <a href=\"/participant/bank-a\"",
            "/pledge/PL-1",
            "5,000.000 t",
            "title=\"5,000,000 kg\"",
            "VLSFO 0.5%S",
            "bonded · ZS-2026-0001",
            "/participant/trader-a",
            "/tank/T-101",
            "3,000,000.00 USD",
            "LOAN-PL-1",
            "id=\"history\"",
            "Issued receipt <a href=\"/receipt/WR-1\"",
            "Pledged <a href=\"/receipt/WR-1\" class=\"id\">WR-1</a> to",
            "<time datetime=\"",
            " UTC</time>",
            "/bundle?receipt=WR-1",
        ],
    );
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let chinese = get(&web, "/receipt/WR-1?lang=zh").expect(
        200,
        &[
            "<html lang=\"zh-CN\">",
            "已质押给",
            "持有人",
            "保税",
            "历史",
        ],
    );
    let cookie = chinese.header("set-cookie").unwrap();
    assert!(cookie.starts_with("lang=zh; Path=/"), "{cookie}");
    get_with(&web, "/receipt/WR-2", "Cookie: lang=zh\r\n").expect(200, &["有效，未质押"]);
    get_with(&web, "/receipt/WR-2", "Accept-Language: zh-CN,zh;q=0.9\r\n")
        .expect(200, &["有效，未质押"]);
    get(&web, "/receipt/WR-2").expect(200, &["Live, not pledged", "No pledge in force."]);
}

async fn other_pages(node: &Node, web: &str) {
    let web = web.to_owned();
    let client = node.client().await;
    let size = client.head().await.unwrap().size;

    get(&web, "/").expect(200, &["zhoushan-dev", "action=\"/search\""]);
    get(&web, "/pledge/PL-1").expect(
        200,
        &[
            "in force",
            "/receipt/WR-1",
            "/participant/bank-a",
            "3,000,000.00 USD",
        ],
    );
    get(&web, "/tank/T-101").expect(
        200,
        &[
            "id=\"tank-bars\"",
            "<svg",
            "100,000.000 t",
            "6,000.000 t",
            "no re-gauge recorded",
            "/receipt/WR-1",
            "/receipt/WR-2",
        ],
    );
    // Pledged: WR-1's 5,000 t of the 6,000 t receipted.
    let tank = get(&web, "/tank/T-101").body;
    assert!(tank.contains(">5,000.000 t · 5.0 %</text>"), "{tank}");
    get(&web, "/tank/T-101?after=WR-1").expect(200, &["/receipt/WR-2"]);
    get(&web, "/participant/wh-1").expect(
        200,
        &[
            "Zhoushan Bonded Tank Farm No.1",
            "id=\"tanks\"",
            "/tank/T-101",
            "/receipt/WR-2",
        ],
    );
    get(&web, "/participant/bank-a")
        .expect(200, &["Exposure", "3,000,000.00 USD", "/receipt/WR-1"]);
    get(&web, "/participant/trader-a").expect(200, &["Receipts held", "/receipt/WR-1"]);
    get(&web, "/chain").expect(
        200,
        &[
            "id=\"entries\"",
            &format!("data-after=\"{}\"", size - 1),
            "Pledged <a href=\"/receipt/WR-1\"",
            "id=\"checkpoint\"",
            "node signature: verifies",
            "pledgeledger/zhoushan-dev",
            "No witness has cosigned this checkpoint",
        ],
    );
    let feed = get(&web, &format!("/chain/feed?after={}", size - 3));
    assert_eq!(feed.status, 200);
    assert_eq!(feed.header("content-type"), Some("application/json"));
    let feed: serde_json::Value = serde_json::from_str(&feed.body).unwrap();
    assert_eq!(feed["size"], size);
    let rows = feed["rows"].as_str().unwrap();
    assert_eq!(rows.matches("<tr data-seq=").count(), 2, "{rows}");
    get(&web, &format!("/entry/{}", size - 1)).expect(
        200,
        &[
            "verifies under the node key",
            "register_pledge",
            "/participant/trader-a",
            "/participant/bank-a",
            "id=\"entry-signatures\"",
        ],
    );
    get(&web, "/evidence").expect(
        200,
        &[
            "id=\"verifier\"",
            "id=\"bundle-file\"",
            "/assets/evidence.js",
            "data-reported-key=\"",
        ],
    );
    get(&web, "/regulator").expect(
        200,
        &[
            "id=\"alerts\"",
            "id=\"per-warehouse\"",
            "id=\"per-bank\"",
            "/participant/bank-a",
            "3,000,000.00 USD",
        ],
    );
    let schema = get(&web, "/evidence/schema.json").expect(200, &["pledgeledger.v1.Transaction"]);
    serde_json::from_str::<serde_json::Value>(&schema.body).unwrap();
}

/// The bundle a page offers verifies offline with the node's key.
async fn bundle_download(node: &Node, web: &str) {
    let web = web.to_owned();
    let key = node
        .client()
        .await
        .node_info()
        .await
        .unwrap()
        .node_public_key;
    // The checkpoint must cover the pledge: it is signed within a second.
    let mut answer = get(&web, "/bundle?receipt=WR-1");
    for _ in 0..50 {
        if answer.status == 200 && answer.body.contains("\"receipt_id\": \"WR-1\"") {
            let bundle = Bundle::from_json(&answer.body).unwrap();
            let verdict = bundle
                .verify(&Trust::log_key_only(PublicKey::from_slice(&key).unwrap()))
                .unwrap();
            if verdict.active_pledge.is_some() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        answer = get(&web, "/bundle?receipt=WR-1");
    }
    assert_eq!(
        answer.header("content-disposition"),
        Some("attachment; filename=\"WR-1.bundle.json\"")
    );
    let verdict = Bundle::from_json(&answer.body)
        .unwrap()
        .verify(&Trust::log_key_only(PublicKey::from_slice(&key).unwrap()))
        .unwrap();
    assert_eq!(verdict.active_pledge.unwrap().pledgee, "bank-a");
}

/// The search box goes to whatever the id names.
fn search(web: &str) {
    let web = web.to_owned();
    for (query, location) in [
        ("WR-1", "/receipt/WR-1"),
        ("+WR-1+", "/receipt/WR-1"),
        ("PL-1", "/pledge/PL-1"),
        ("T-101", "/tank/T-101"),
        ("bank-a", "/participant/bank-a"),
        ("3", "/entry/3"),
        ("%233", "/entry/3"),
    ] {
        let answer = get(&web, &format!("/search?q={query}"));
        assert_eq!(answer.status, 303, "{query}");
        assert_eq!(answer.header("location"), Some(location), "{query}");
    }
    get(&web, "/search?q=WR-404").expect(404, &["nothing on this ledger is named `WR-404`"]);
}

/// Bad input, and the headers on every answer, against one node.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_and_every_answer_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, web) = pledged_world(dir.path()).await;
    bad_input_is_refused_with_the_rule_it_breaks(&web);
    every_answer_carries_the_protective_headers(&web);
}

fn bad_input_is_refused_with_the_rule_it_breaks(web: &str) {
    let web = web.to_owned();
    let cases: &[(&str, u16, &str)] = &[
        ("/receipt/", 400, "receipt id \"\" is not a valid id"),
        (
            "/receipt/a%20b",
            400,
            "receipt id \"a b\" is not a valid id",
        ),
        ("/receipt/%FF", 400, "not valid percent-encoded UTF-8"),
        ("/receipt/WR-404", 404, "WR-404"),
        ("/pledge/PL-404", 404, "PL-404"),
        ("/tank/T-404", 404, "T-404"),
        ("/participant/nobody", 404, "nobody"),
        (
            "/tank/T-101?after=a%20b",
            400,
            "after (receipt id) \"a b\" is not a valid id",
        ),
        ("/entry/abc", 400, "entry \"abc\" is not a number"),
        ("/entry/-1", 400, "is not a number"),
        ("/entry/99999999999999999999", 400, "is not a number"),
        ("/entry/999999", 404, "past the head"),
        ("/chain/feed?after=x", 400, "after \"x\" is not a number"),
        ("/chain?lang=fr", 400, "language \"fr\" is not offered"),
        (
            "/receipt/WR-1?x=1",
            400,
            "this page takes no parameter \"x\"",
        ),
        ("/receipt/WR-1?lang=en&lang=zh", 400, "given more than once"),
        ("/search", 400, "parameter \"q\" is required"),
        (
            "/search?q=%3Cscript%3E",
            400,
            "search \"<script>\" is not a valid id",
        ),
        ("/bundle", 400, "parameter \"receipt\" is required"),
        ("/bundle?receipt=WR-404", 404, "WR-404"),
        ("/assets/nothing.js", 404, "/assets/nothing.js"),
        ("/admin", 404, "there is no page at /admin"),
    ];
    for (path, status, fragment) in cases {
        let answer = get(&web, path);
        assert_eq!(answer.status, *status, "{path}: {}", answer.body);
        let text = unescape(&answer.body);
        assert!(
            text.contains(fragment),
            "{path}: {fragment:?} not in {text}"
        );
        assert!(
            !answer.body.contains("<script>"),
            "{path}: unescaped markup"
        );
    }
    get(&web, "/receipt/WR-404?lang=zh").expect(404, &["未找到"]);

    let long = format!("/receipt/{}", "a".repeat(3000));
    get(&web, &long).expect(414, &["at most 2048 accepted"]);
    let post = send(
        &web,
        &format!("POST /receipt/WR-1 HTTP/1.1\r\nHost: {web}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    )
    .expect(405, &["method POST is not allowed"]);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    send(
        &web,
        &format!("GET /receipt/WR-1 HTTP/1.1\r\nHost: {web}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
    )
    .expect(400, &["request body is not accepted"]);
    // A page elsewhere cannot read the development explorer by pointing its
    // own name at 127.0.0.1 (DNS rebinding).
    send(
        &web,
        "GET /receipt/WR-1 HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
    )
    .expect(421, &["localhost only"]);
    get_with(&web, "/receipt/WR-1", "").expect(200, &[]);
    send(
        &web,
        "GET /receipt/WR-1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .expect(200, &[]);
}

fn every_answer_carries_the_protective_headers(web: &str) {
    let web = web.to_owned();
    for path in [
        "/receipt/WR-1",
        "/receipt/%20",
        "/assets/app.js",
        "/chain/feed",
        "/nope",
    ] {
        let answer = get(&web, path);
        let csp = answer.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            answer.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert!(answer.header("cache-control").is_some(), "{path}");
    }
    assert_eq!(
        get(&web, "/receipt/WR-1").header("cache-control"),
        Some("no-store")
    );
    let script = get(&web, "/assets/app.js").expect(200, &["localizeTimes"]);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let etag = script.header("etag").unwrap().to_owned();
    let again = get_with(
        &web,
        "/assets/app.js",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let head = send(
        &web,
        &format!("HEAD /receipt/WR-1 HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn the_explorer_is_off_when_asked_and_refuses_plain_http_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(&dir.path().join("a"), &["--no-http"]);
    node.announced("transport").unwrap();
    assert!(node.announced("explorer").is_none());
    drop(node);

    let data = dir.path().join("b");
    let stderr = refused_start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "0.0.0.0:0",
    ]);
    assert!(
        stderr.contains("refusing to serve the web explorer over plain HTTP"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn under_mutual_tls_the_explorer_wants_a_certificate_from_the_node_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let server = dir.path().join("node-tls");
    let clients = dir.path().join("clients");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    for args in [
        vec!["tls", "dev-ca", "--out", &path(&ca)],
        vec![
            "tls",
            "issue-server",
            "--ca-dir",
            &path(&ca),
            "--host",
            "127.0.0.1",
            "--out",
            &path(&server),
        ],
        vec![
            "tls",
            "issue-client",
            "--ca-dir",
            &path(&ca),
            "--participant",
            "bank-a",
            "--out",
            &path(&clients),
        ],
    ] {
        assert!(pledgectl(&args).status.success(), "{args:?}");
    }
    let node = Node::start_with(
        &dir.path().join("node"),
        &[
            "--dev-genesis",
            "--tls-cert",
            &path(&server.join("server.pem")),
            "--tls-key",
            &path(&server.join("server-key.pem")),
            "--tls-client-ca",
            &path(&ca.join("ca.pem")),
        ],
    );
    let url = node.announced("explorer").unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let address = explorer_address(&node);

    let identity = (clients.join("bank-a.pem"), clients.join("bank-a-key.pem"));
    let page = https_get(&address, &ca.join("ca.pem"), Some(&identity), "/chain")
        .await
        .unwrap();
    let page = parse(&page);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"entries\""));
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // No client certificate: the handshake fails, nothing is read.
    let refused = https_get(&address, &ca.join("ca.pem"), None, "/chain").await;
    assert!(refused.is_err(), "{refused:?}");
    // Plain HTTP to the TLS port gets no page.
    let mut plain = TcpStream::connect(&address).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(format!("GET /chain HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("id=\"entries\""));
}

/// GET over TLS trusting `ca`, with a client certificate if given; the raw answer.
pub(crate) async fn https_get(
    address: &str,
    ca: &Path,
    identity: Option<&(std::path::PathBuf, std::path::PathBuf)>,
    path: &str,
) -> Result<Vec<u8>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap())
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    if raw.is_empty() {
        return Err("no answer".into());
    }
    Ok(raw)
}
