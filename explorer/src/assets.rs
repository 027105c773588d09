//! The files the pages load, compiled into the binary: the style sheet, the
//! page script and the in-browser verifier's modules. Nothing is fetched
//! from anywhere else (the pages' Content-Security-Policy allows only this
//! origin). Each is served with an ETag so that a browser revalidates it
//! cheaply.

use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its name under `/assets/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

macro_rules! assets {
    ($(($name:literal, $type:expr)),* $(,)?) => {
        &[$(Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../assets/", $name)) }),*]
    };
}

/// Every embedded file.
pub const ASSETS: &[Asset] = assets![
    ("style.css", CSS),
    ("app.js", JS),
    ("evidence.js", JS),
    ("bytes.js", JS),
    ("webcrypto.js", JS),
    ("merkle.js", JS),
    ("note.js", JS),
    ("record.js", JS),
    ("protobuf.js", JS),
    ("fold.js", JS),
    ("statemap.js", JS),
    ("bundle.js", JS),
];

/// The embedded file of that name.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// Where a page loads an asset from.
pub fn href(name: &str) -> String {
    format!("/assets/{name}")
}

/// The asset's ETag: a quoted prefix of its SHA-256.
pub fn etag(asset: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..16]))
            .collect()
    });
    let index = ASSETS
        .iter()
        .position(|a| a.name == asset.name)
        .unwrap_or_default();
    tags.get(index).map_or("\"\"", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_scripts_import_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .rsplit("'./")
                    .next()
                    .and_then(|rest| rest.split('\'').next())
                    .unwrap();
                assert!(find(target).is_some(), "{} imports {target}", asset.name);
            }
        }
    }

    #[test]
    fn etags_differ_per_file() {
        let css = etag(find("style.css").unwrap());
        let js = etag(find("app.js").unwrap());
        assert_ne!(css, js);
        assert_eq!(css.len(), 18);
    }
}
