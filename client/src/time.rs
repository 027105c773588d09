//! Times on the command line and in output.
//!
//! The ledger counts milliseconds since the Unix epoch (UTC). People write
//! either an RFC 3339 time or a duration from now:
//!
//! | input                         | meaning                                  |
//! |-------------------------------|------------------------------------------|
//! | `2027-03-31T00:00:00Z`        | that instant (UTC)                       |
//! | `2027-03-31T08:00:00+08:00`   | the same instant, written in UTC+8       |
//! | `2027-03-31T00:00:00.250Z`    | fractions of a second, to the millisecond |
//! | `2027-03-31`                  | midnight UTC that day                    |
//! | `+90d`, `+12h`, `+30m`, `+45s` | that long after now                     |
//! | `+1d12h`                      | units add up                             |
//!
//! Output uses RFC 3339 in UTC with millisecond precision when needed. The
//! calendar is the `time` crate's.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};

use crate::error::{ClientError, Result};

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;
const NANOS_PER_MS: i128 = 1_000_000;

/// Now, in ms since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Parses an RFC 3339 time, or a `+<duration>` (later) or `-<duration>`
/// (earlier, e.g. when oil was gauged) relative to `now_ms`.
pub fn parse_time(text: &str, now_ms: u64) -> Result<u64> {
    let too_far = || ClientError::input("time", format!("{text:?} is too far away"));
    if let Some(duration) = text.strip_prefix('+') {
        return now_ms
            .checked_add(parse_duration_ms(duration)?)
            .ok_or_else(too_far);
    }
    if let Some(duration) = text.strip_prefix('-') {
        return now_ms
            .checked_sub(parse_duration_ms(duration)?)
            .ok_or_else(too_far);
    }
    parse_rfc3339(text)
}

/// Parses a duration such as `90d`, `12h`, `1d12h`, `30m`, `45s` into ms.
pub fn parse_duration_ms(text: &str) -> Result<u64> {
    let bad = |reason: &str| ClientError::input("duration", format!("{text:?}: {reason}"));
    if text.is_empty() {
        return Err(bad("empty; write e.g. 90d, 12h, 30m or 45s"));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        let unit = rest[digits..]
            .chars()
            .next()
            .ok_or_else(|| bad("missing unit d, h, m or s"))?;
        let unit_ms = match unit {
            'd' => DAY_MS,
            'h' => HOUR_MS,
            'm' => MINUTE_MS,
            's' => SECOND_MS,
            other => return Err(bad(&format!("unknown unit {other:?}; use d, h, m or s"))),
        };
        let part = number.checked_mul(unit_ms).ok_or_else(|| bad("too long"))?;
        total = total.checked_add(part).ok_or_else(|| bad("too long"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Ok(total)
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date and time
/// (`YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`); digits beyond the millisecond
/// are dropped.
pub fn parse_rfc3339(text: &str) -> Result<u64> {
    let bad = |reason: String| {
        ClientError::input(
            "time",
            format!("{text:?}: {reason} (write RFC 3339, e.g. 2027-03-31T00:00:00Z, or +90d)"),
        )
    };
    let instant = match text.len() {
        10 => Date::parse(text, format_description!("[year]-[month]-[day]"))
            .map(|date| date.with_time(Time::MIDNIGHT).assume_utc()),
        _ => OffsetDateTime::parse(text, &Rfc3339),
    }
    .map_err(|e| bad(e.to_string()))?;
    let ms = instant.unix_timestamp_nanos().div_euclid(NANOS_PER_MS);
    u64::try_from(ms).map_err(|_| bad("before 1970".into()))
}

/// Formats ms since the Unix epoch as RFC 3339 in UTC, with milliseconds
/// when there are any. A time past the year 9999 is written as the number
/// of ms.
pub fn format_rfc3339(ms: u64) -> String {
    let Some(instant) = i128::from(ms)
        .checked_mul(NANOS_PER_MS)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
    else {
        return format!("{ms} ms after the Unix epoch");
    };
    let formatted = match ms % SECOND_MS {
        0 => instant.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        )),
        _ => instant.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        )),
    };
    formatted.unwrap_or_else(|_| format!("{ms} ms after the Unix epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z", 0).unwrap(), 0);
        assert_eq!(
            parse_time("2027-01-15T08:00:00Z", 0).unwrap(),
            1_800_000_000_000
        );
        assert_eq!(
            parse_time("2027-01-15T16:00:00+08:00", 0).unwrap(),
            1_800_000_000_000
        );
        assert_eq!(
            parse_time("2027-01-15T03:00:00-05:00", 0).unwrap(),
            1_800_000_000_000
        );
        assert_eq!(
            parse_time("2027-01-15T08:00:00.25Z", 0).unwrap(),
            1_800_000_000_250
        );
        assert_eq!(
            parse_time("2027-01-15T08:00:00.123456Z", 0).unwrap(),
            1_800_000_000_123
        );
        assert_eq!(parse_time("2024-02-29", 0).unwrap(), 1_709_164_800_000);
    }

    #[test]
    fn rfc3339_refusals() {
        for text in [
            "",
            "2027-13-01",
            "2023-02-29",
            "2027-01-15T08:00:00",
            "2027-01-15T24:00:00Z",
            "2027-01-15T08:00:00+0800",
            "2027-01-15T08:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "2027/01/15",
            "tomorrow",
            "2027-01-15T08:00:00.Z",
        ] {
            assert!(parse_time(text, 0).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn a_refusal_says_what_to_write() {
        let error = parse_time("1969-12-31T23:59:59Z", 0)
            .unwrap_err()
            .to_string();
        assert!(error.contains("before 1970"), "{error}");
        assert!(error.contains("2027-03-31T00:00:00Z"), "{error}");
    }

    #[test]
    fn relative_durations() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time("+90d", now).unwrap(), now + 90 * DAY_MS);
        assert_eq!(parse_time("+12h", now).unwrap(), now + 12 * HOUR_MS);
        assert_eq!(parse_time("+30m", now).unwrap(), now + 30 * MINUTE_MS);
        assert_eq!(parse_time("+45s", now).unwrap(), now + 45 * SECOND_MS);
        assert_eq!(
            parse_time("+1d12h", now).unwrap(),
            now + DAY_MS + 12 * HOUR_MS
        );
        assert_eq!(parse_time("-1h", now).unwrap(), now - HOUR_MS);
        assert_eq!(
            parse_time("-1d12h", now).unwrap(),
            now - DAY_MS - 12 * HOUR_MS
        );
        for text in [
            "+",
            "+d",
            "+90",
            "+90y",
            "+-1d",
            "+99999999999999999999d",
            "-",
            "--1d",
            "-100000d",
        ] {
            assert!(parse_time(text, now).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn format_roundtrips() {
        for ms in [0, 1_800_000_000_000, 1_800_000_000_250, 951_782_400_000] {
            assert_eq!(parse_time(&format_rfc3339(ms), 0).unwrap(), ms);
        }
        assert_eq!(format_rfc3339(1_800_000_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(
            format_rfc3339(1_800_000_000_250),
            "2027-01-15T08:00:00.250Z"
        );
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn times_past_the_year_9999_are_written_as_numbers() {
        assert_eq!(
            format_rfc3339(u64::MAX),
            format!("{} ms after the Unix epoch", u64::MAX)
        );
    }
}
