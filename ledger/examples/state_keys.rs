//! The state table's keys by kind: how many, and their live bytes (key and
//! value), to see what the state store's sled database holds per entry.
//!
//! ```sh
//! cargo run -p pledge-ledger --example state_keys -- DIR/state
//! ```
//!
//! `DIR/state` is a store's state directory (`pledge-bench generate --out
//! DIR` writes one); the node must not be running on it.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The kind of a key: its prefix up to the first `/` (`s/` map nodes also
/// by depth), `meta/...` keys whole.
fn kind(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    if text.starts_with("meta/") {
        return text.into_owned();
    }
    let Some(slash) = key.iter().position(|b| *b == b'/') else {
        return "(no prefix)".into();
    };
    let prefix = String::from_utf8_lossy(&key[..=slash]).into_owned();
    match (prefix.as_str(), key.get(slash + 1..slash + 3)) {
        ("s/", Some(depth)) => format!("s/ depth {}", u16::from_be_bytes([depth[0], depth[1]])),
        ("i/", _) => format!(
            "i/{}",
            key.get(slash + 1).map(|b| *b as char).unwrap_or('?')
        ),
        _ => prefix,
    }
}

#[derive(Default)]
struct Tally {
    keys: u64,
    key_bytes: u64,
    value_bytes: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: state_keys DIR/state")?
        .into();
    let db = sled::Config::new().path(&dir).open()?;
    let tree = db.open_tree("state")?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for item in tree.iter() {
        let (key, value) = item?;
        let tally = tallies.entry(kind(&key)).or_default();
        tally.keys += 1;
        tally.key_bytes += key.len() as u64;
        tally.value_bytes += value.len() as u64;
    }
    let total = tallies.values().fold(Tally::default(), |sum, t| Tally {
        keys: sum.keys + t.keys,
        key_bytes: sum.key_bytes + t.key_bytes,
        value_bytes: sum.value_bytes + t.value_bytes,
    });
    println!(
        "{:<20} {:>10} {:>12} {:>12}",
        "kind", "keys", "key bytes", "value bytes"
    );
    for (kind, t) in tallies
        .iter()
        .chain(std::iter::once((&"total".to_string(), &total)))
    {
        println!(
            "{:<20} {:>10} {:>12} {:>12}",
            kind, t.keys, t.key_bytes, t.value_bytes
        );
    }
    println!("sled size on disk: {} bytes", db.size_on_disk()?);
    Ok(())
}
