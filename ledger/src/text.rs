//! Validation of identifiers and free text taken from outside.
//!
//! Every id and text field of a transaction passes through here before the
//! rules see it, so the rules can assume well-formed values. Ids are short and
//! drawn from a small alphabet so that they print unambiguously in logs, on
//! paper and in court; free text refuses control characters and Unicode
//! bidirectional overrides, which can make a receipt id or a reference read
//! differently from what is stored.

use crate::error::DecodeError;

/// Longest id accepted (participants, tanks, receipts, pledges, transactions).
pub const MAX_ID_LEN: usize = 64;

/// Longest free-text field accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 256;

/// Checks an id: 1..=64 bytes of `A-Z a-z 0-9 . _ : / -`.
pub fn check_id(field: &'static str, value: &str) -> Result<(), DecodeError> {
    if value.is_empty() {
        return Err(DecodeError::EmptyField { field });
    }
    if value.len() > MAX_ID_LEN {
        return Err(DecodeError::TooLong {
            field,
            max: MAX_ID_LEN,
            found: value.len(),
        });
    }
    match value.chars().find(|c| !is_id_char(*c)) {
        Some(bad) => Err(DecodeError::BadCharacter { field, found: bad }),
        None => Ok(()),
    }
}

/// Checks a free-text field that must not be empty.
pub fn check_required_text(field: &'static str, value: &str) -> Result<(), DecodeError> {
    if value.trim().is_empty() {
        return Err(DecodeError::EmptyField { field });
    }
    check_text(field, value)
}

/// Checks a free-text field that may be empty: at most 256 bytes, no control
/// characters, no bidirectional formatting characters.
pub fn check_text(field: &'static str, value: &str) -> Result<(), DecodeError> {
    if value.len() > MAX_TEXT_LEN {
        return Err(DecodeError::TooLong {
            field,
            max: MAX_TEXT_LEN,
            found: value.len(),
        });
    }
    match value.chars().find(|c| is_forbidden_in_text(*c)) {
        Some(bad) => Err(DecodeError::BadCharacter { field, found: bad }),
        None => Ok(()),
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-')
}

fn is_forbidden_in_text(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Unicode bidirectional formatting characters (UAX #9): embeddings,
/// overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet() {
        assert!(check_id("id", "ZS-TF1/T-101:a_b.c").is_ok());
    }

    #[test]
    fn ids_refuse_empty_long_and_odd_characters() {
        assert_eq!(
            check_id("id", ""),
            Err(DecodeError::EmptyField { field: "id" })
        );
        assert!(matches!(
            check_id("id", &"a".repeat(65)),
            Err(DecodeError::TooLong { found: 65, .. })
        ));
        assert_eq!(
            check_id("id", "R 1"),
            Err(DecodeError::BadCharacter {
                field: "id",
                found: ' '
            })
        );
    }

    #[test]
    fn text_refuses_controls_and_bidi_overrides() {
        assert!(check_text("t", "VLSFO 0.5%S 仓单").is_ok());
        assert!(check_text("t", "a\nb").is_err());
        assert!(check_text("t", "abc\u{202E}def").is_err());
        assert!(check_text("t", "\u{2067}x").is_err());
        assert!(check_required_text("t", "  ").is_err());
    }
}
