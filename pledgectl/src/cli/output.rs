//! Printing results: JSON for scripts (`--json`), indented text for people.

use serde_json::Value;

use pledge_client::time::format_rfc3339;

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// JSON when `json`, text otherwise.
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// Whether output is JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a value: pretty JSON, or as indented text.
    pub fn value(&self, value: &Value) {
        match self.json {
            true => println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            false => print!("{}", render(value)),
        }
    }

    /// Prints `value` as JSON, or `text` for people.
    pub fn either(&self, value: &Value, text: &str) {
        match self.json {
            true => println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            false => println!("{text}"),
        }
    }

    /// Prints one item of a stream: one JSON object per line, or `text`.
    pub fn line(&self, value: &Value, text: &str) {
        match self.json {
            true => println!("{value}"),
            false => println!("{text}"),
        }
    }
}

/// A JSON value as indented `key: value` lines, keys in alphabetical order
/// (serde_json's map order; `preserve_order` would change the ledger's
/// JSON test vectors in a workspace build). Nulls and empty strings
/// (unset proto fields) are left out; `*_ms` times get their RFC 3339 form.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    render_into(value, 0, &mut out);
    out
}

fn render_into(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if is_unset(item) {
                    continue;
                }
                match scalar(key, item) {
                    Some(text) => out.push_str(&format!("{pad}{key}: {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        render_into(item, indent + 1, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar("", item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        render_into(item, indent + 1, out);
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar("", other).unwrap_or_default())),
    }
}

fn is_unset(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str() == Some("")
}

/// One-line text of a scalar, or of an array of scalars; `None` for nested
/// values.
fn scalar(key: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => match (key.ends_with("_ms"), n.as_u64()) {
            (true, Some(ms)) if ms > 0 => Some(format!("{ms} ({})", format_rfc3339(ms))),
            _ => Some(n.to_string()),
        },
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("-".into()),
        Value::Array(items) if items.is_empty() => Some("(none)".into()),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => Some(
            items
                .iter()
                .filter_map(|i| scalar("", i))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_nested_values_as_indented_lines() {
        let value = json!({
            "holder_id": "trader-a",
            "parent_id": "",
            "frozen": null,
            "history": [0, 4, 7],
            "terms": { "expires_at_ms": 1_800_000_000_000u64, "quantity_kg": 5 },
            "split_into": [],
        });
        let text = render(&value);
        assert_eq!(
            text,
            "history: 0, 4, 7\nholder_id: trader-a\nsplit_into: (none)\nterms:\n  \
             expires_at_ms: 1800000000000 (2027-01-15T08:00:00Z)\n  quantity_kg: 5\n"
        );
    }
}
