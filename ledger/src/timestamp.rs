//! Times as people read them: RFC 3339 in UTC, for messages. The ledger
//! itself keeps milliseconds since the Unix epoch.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `ms` since 1970-01-01T00:00:00Z as RFC 3339 UTC, e.g.
/// `2027-01-15T08:00:00Z` (fractions of a second only when there are some).
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms after 1970-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(1_800_000_000_250), "2027-01-15T08:00:00.25Z");
        assert!(rfc3339(u64::MAX).contains("ms after"));
    }
}
