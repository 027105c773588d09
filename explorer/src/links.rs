//! Links between pages. Ids are percent-encoded as one path segment (an id
//! may hold `/` and `:`), then escaped like any attribute value.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::html;
use crate::html::Html;

/// Everything but the unreserved characters of RFC 3986 is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An id as one path segment.
pub fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// The address of a receipt's page.
pub fn receipt_href(id: &str) -> String {
    format!("/receipt/{}", segment(id))
}

/// The address of a tank's page, optionally from a receipt cursor.
pub fn tank_href(id: &str, after: Option<&str>) -> String {
    with_after(format!("/tank/{}", segment(id)), after)
}

/// The address of a participant's page, optionally from a receipt cursor.
pub fn participant_href(id: &str, after: Option<&str>) -> String {
    with_after(format!("/participant/{}", segment(id)), after)
}

fn with_after(base: String, after: Option<&str>) -> String {
    match after {
        Some(cursor) => format!("{base}?after={}", segment(cursor)),
        None => base,
    }
}

/// A link to a receipt.
pub fn receipt(id: &str) -> Html {
    html!("<a href=\"{}\" class=\"id\">{}</a>", receipt_href(id), id)
}

/// A link to a pledge.
pub fn pledge(id: &str) -> Html {
    html!(
        "<a href=\"/pledge/{}\" class=\"id\">{}</a>",
        segment(id),
        id
    )
}

/// A link to a tank.
pub fn tank(id: &str) -> Html {
    html!(
        "<a href=\"{}\" class=\"id\">{}</a>",
        tank_href(id, None),
        id
    )
}

/// A link to a participant.
pub fn participant(id: &str) -> Html {
    html!(
        "<a href=\"{}\" class=\"id\">{}</a>",
        participant_href(id, None),
        id
    )
}

/// A link to an entry, shown as `#seq`.
pub fn entry(seq: u64) -> Html {
    html!("<a href=\"/entry/{}\" class=\"seq\">#{}</a>", seq, seq)
}

/// Links to several participants, comma-separated.
pub fn participants<'a>(ids: impl IntoIterator<Item = &'a str>) -> Html {
    join(ids.into_iter().map(participant), ", ")
}

/// Links to the parties who signed an entry's transaction, in envelope order.
pub fn signers(entry: &pledge_ledger::entry::Entry) -> Html {
    participants(entry.envelope.signatures.iter().map(|s| s.signer.as_str()))
}

/// Fragments joined by a separator (text).
pub fn join(parts: impl IntoIterator<Item = Html>, separator: &str) -> Html {
    let mut out = Html::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(separator);
        }
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_one_segment() {
        assert_eq!(receipt_href("WR-0001"), "/receipt/WR-0001");
        assert_eq!(receipt_href("a/b:c"), "/receipt/a%2Fb%3Ac");
        assert_eq!(tank_href("T 1", Some("WR/2")), "/tank/T%201?after=WR%2F2");
    }
}
