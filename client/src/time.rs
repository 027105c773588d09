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
//! Output uses RFC 3339 in UTC with millisecond precision when needed.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ClientError, Result};

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Now, in ms since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Parses an RFC 3339 time or a `+<duration>` relative to `now_ms`.
pub fn parse_time(text: &str, now_ms: u64) -> Result<u64> {
    match text.strip_prefix('+') {
        Some(duration) => {
            let offset = parse_duration_ms(duration)?;
            now_ms
                .checked_add(offset)
                .ok_or_else(|| ClientError::input("time", format!("{text:?} is too far away")))
        }
        None => parse_rfc3339(text),
    }
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

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`.
pub fn parse_rfc3339(text: &str) -> Result<u64> {
    let bad = |reason: &str| {
        ClientError::input(
            "time",
            format!("{text:?}: {reason} (write RFC 3339, e.g. 2027-03-31T00:00:00Z, or +90d)"),
        )
    };
    let bytes = text.as_bytes();
    let field = |from: usize, len: usize| -> Result<i64> {
        let part = bytes
            .get(from..from + len)
            .ok_or_else(|| bad("too short"))?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad("expected digits"));
        }
        Ok(part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| -> Result<()> {
        match bytes.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(bad("unexpected character")),
        }
    };
    let (year, month, day) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
    sep(4, b"-")?;
    sep(7, b"-")?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    let days = days_from_civil(year, month, day);
    if bytes.len() == 10 {
        return to_ms(days * DAY_MS as i64).ok_or_else(|| bad("before 1970"));
    }
    sep(10, b"Tt ")?;
    sep(13, b":")?;
    sep(16, b":")?;
    let (hour, minute, second) = (field(11, 2)?, field(14, 2)?, field(17, 2)?);
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("no such time of day"));
    }
    let mut at = 19;
    let mut millis = 0;
    if bytes.get(at) == Some(&b'.') {
        let digits = bytes[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(bad("expected digits after '.'"));
        }
        let kept = digits.min(3);
        millis = field(at + 1, kept)? * 10_i64.pow(3 - kept as u32);
        at += 1 + digits;
    }
    let offset_minutes = match bytes.get(at) {
        Some(b'Z' | b'z') if bytes.len() == at + 1 => 0,
        Some(sign @ (b'+' | b'-')) if bytes.len() == at + 6 => {
            sep(at + 3, b":")?;
            let minutes = field(at + 1, 2)? * 60 + field(at + 4, 2)?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return Err(bad("expected Z or an offset like +08:00 at the end")),
    };
    let ms = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60_000 + second * 1000 + millis;
    to_ms(ms).ok_or_else(|| bad("before 1970"))
}

/// Formats ms since the Unix epoch as RFC 3339 in UTC.
pub fn format_rfc3339(ms: u64) -> String {
    let days = (ms / DAY_MS) as i64;
    let in_day = ms % DAY_MS;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / HOUR_MS, in_day % HOUR_MS / MINUTE_MS);
    let (second, millis) = (in_day % MINUTE_MS / SECOND_MS, in_day % SECOND_MS);
    let date = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    match millis {
        0 => format!("{date}Z"),
        _ => format!("{date}.{millis:03}Z"),
    }
}

fn to_ms(ms: i64) -> Option<u64> {
    u64::try_from(ms).ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
        for text in ["+", "+d", "+90", "+90y", "+-1d", "+99999999999999999999d"] {
            assert!(parse_time(text, now).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn format_roundtrips() {
        for ms in [0, 1_800_000_000_000, 1_800_000_000_250, 951_782_400_000] {
            assert_eq!(parse_time(&format_rfc3339(ms), 0).unwrap(), ms);
        }
        assert_eq!(format_rfc3339(1_800_000_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
