//! Numbers, money, times and hashes as a bank officer reads them.
//!
//! - Quantities are stored in integer kilograms and shown in tonnes with
//!   three decimals ("5,000.000 t"), the exact kilograms on hover.
//! - Money is stored in integer minor units and shown as an amount in the
//!   currency ("3,000,000.00 USD"), using the ISO 4217 number of minor-unit
//!   digits; the minor units are on hover. Integer arithmetic only.
//! - Times are stored in ms since the Unix epoch and written as UTC in a
//!   `<time>` element; the page's script shows them in the viewer's time
//!   zone and keeps UTC on hover.

use pledge_client::time::format_rfc3339;

use crate::html;
use crate::html::Html;

const KG_PER_TONNE: u64 = 1000;

/// Digits grouped by thousands: `5000000` → `5,000,000`.
pub fn grouped(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `5000000` kg → `5,000.000 t`.
pub fn tonnes_text(kg: u64) -> String {
    let whole = grouped(u128::from(kg / KG_PER_TONNE));
    format!("{whole}.{:03} t", kg % KG_PER_TONNE)
}

/// A quantity in tonnes, the kilograms on hover.
pub fn tonnes(kg: u64) -> Html {
    html!(
        "<span class=\"qty\" title=\"{} kg\">{}</span>",
        grouped(u128::from(kg)),
        tonnes_text(kg)
    )
}

/// ISO 4217 minor-unit digits of a currency: the table's exceptions, else 2
/// (most currencies, CNY, USD, EUR and HKD among them).
pub fn minor_unit_digits(currency: &str) -> u32 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    match currency {
        c if ZERO.contains(&c) => 0,
        c if THREE.contains(&c) => 3,
        c if FOUR.contains(&c) => 4,
        _ => 2,
    }
}

/// `300000000` minor units of USD → `3,000,000.00 USD`.
pub fn money_text(minor_units: u64, currency: &str) -> String {
    let digits = minor_unit_digits(currency);
    let scale = 10u64.pow(digits);
    let whole = grouped(u128::from(minor_units / scale));
    match digits {
        0 => format!("{whole} {currency}"),
        d => format!(
            "{whole}.{:0width$} {currency}",
            minor_units % scale,
            width = d as usize
        ),
    }
}

/// An amount of money, the minor units on hover.
pub fn money(minor_units: u64, currency: &str) -> Html {
    html!(
        "<span class=\"money\" title=\"{} minor units\">{}</span>",
        minor_units,
        money_text(minor_units, currency)
    )
}

/// A sum of amounts in several currencies, e.g. `3,000.00 USD + 10,000.00 CNY`.
pub fn money_sum(amounts: &std::collections::BTreeMap<String, u128>) -> Html {
    let parts: Vec<String> = amounts
        .iter()
        .map(|(currency, minor)| {
            let clamped = u64::try_from(*minor).unwrap_or(u64::MAX);
            money_text(clamped, currency)
        })
        .collect();
    Html::text(&parts.join(" + "))
}

/// `2026-05-01 08:30:00 UTC` (what shows without script).
pub fn utc_text(ms: u64) -> String {
    let iso = format_rfc3339(ms);
    let date_time = iso.trim_end_matches('Z').replacen('T', " ", 1);
    let seconds = date_time.split('.').next().unwrap_or(&date_time).to_owned();
    format!("{seconds} UTC")
}

/// A time: UTC in the markup, the viewer's zone once the script runs.
pub fn time(ms: u64) -> Html {
    let utc = utc_text(ms);
    html!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        format_rfc3339(ms),
        utc,
        utc
    )
}

/// A hash or key: the first and last digits, all of it on hover and in
/// the copy buffer.
pub fn short_hex(hex: &str) -> Html {
    if hex.len() <= 20 {
        return html!("<code>{}</code>", hex);
    }
    html!(
        "<code class=\"hex\" title=\"{}\">{}…{}</code>",
        hex,
        &hex[..10],
        &hex[hex.len() - 8..]
    )
}

/// A hash or key in full.
pub fn full_hex(bytes: &[u8]) -> Html {
    html!("<code class=\"hex full\">{}</code>", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonnes_keep_every_kilogram() {
        assert_eq!(tonnes_text(5_000_000), "5,000.000 t");
        assert_eq!(tonnes_text(1), "0.001 t");
        assert_eq!(tonnes_text(1_234_567_891), "1,234,567.891 t");
        assert_eq!(tonnes_text(u64::MAX), "18,446,744,073,709,551.615 t");
    }

    #[test]
    fn money_uses_the_currency_minor_units() {
        assert_eq!(money_text(300_000_000, "USD"), "3,000,000.00 USD");
        assert_eq!(money_text(5, "CNY"), "0.05 CNY");
        assert_eq!(money_text(1_000, "JPY"), "1,000 JPY");
        assert_eq!(money_text(1_234, "KWD"), "1.234 KWD");
        assert_eq!(
            money_text(u64::MAX, "USD"),
            "184,467,440,737,095,516.15 USD"
        );
    }

    #[test]
    fn times_are_utc_in_the_markup() {
        assert_eq!(utc_text(1_800_000_120_000), "2027-01-15 08:02:00 UTC");
        let markup = time(1_800_000_120_500);
        assert!(
            markup
                .as_str()
                .contains("datetime=\"2027-01-15T08:02:00.500Z\""),
            "{markup:?}"
        );
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(123_456_789), "123,456,789");
    }
}
