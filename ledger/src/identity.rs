//! Identities from the physical and legal world, validated where they enter.
//!
//! - [`LegalId`]: a participant's legal identity, a Chinese unified social
//!   credit code (统一社会信用代码, GB 32100-2015) or an ISO 17442 Legal Entity
//!   Identifier, each with its check characters verified. One legal entity,
//!   one participant: the rules refuse a second participant with the same
//!   legal identity, whatever name it gives.
//! - [`PhysicalTankId`]: a tank's bonded facility code and tank number, as on
//!   its calibration certificate. One physical tank, one registration,
//!   ledger-wide.
//!
//! Both accept only their canonical form (upper case, no spaces), so that
//! uniqueness on the stored string is uniqueness of the thing: "sgs" and
//! "SGS" cannot be two entities.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// The 31 characters of a unified social credit code, in value order
/// (GB 32100-2015 excludes I, O, Z, S and V).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Length of a unified social credit code.
pub const USCC_LEN: usize = 18;
/// Length of a Legal Entity Identifier.
pub const LEI_LEN: usize = 20;
/// Longest facility code.
pub const MAX_FACILITY_CODE_LEN: usize = 32;
/// Longest tank number.
pub const MAX_TANK_NUMBER_LEN: usize = 16;

/// A participant's legal identity, in canonical form, check characters valid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LegalId {
    /// Unified social credit code (统一社会信用代码), 18 characters.
    Uscc(String),
    /// ISO 17442 Legal Entity Identifier, 20 characters.
    Lei(String),
}

impl LegalId {
    /// Validates a unified social credit code.
    pub fn uscc(code: &str) -> Result<LegalId, DecodeError> {
        let field = "legal_identity.unified_social_credit_code";
        let values = uscc_values(field, code)?;
        let expected = uscc_check_value(&values[..USCC_LEN - 1]);
        if values[USCC_LEN - 1] != expected {
            return Err(DecodeError::BadCheckCharacters {
                field,
                expected: char::from(USCC_ALPHABET[expected as usize]).to_string(),
            });
        }
        Ok(LegalId::Uscc(code.to_owned()))
    }

    /// Validates a Legal Entity Identifier.
    pub fn lei(code: &str) -> Result<LegalId, DecodeError> {
        let field = "legal_identity.lei";
        if code.len() != LEI_LEN {
            return Err(DecodeError::BadLength {
                field,
                expected: LEI_LEN,
                found: code.len(),
            });
        }
        if let Some(bad) = code
            .chars()
            .find(|c| !c.is_ascii_digit() && !c.is_ascii_uppercase())
        {
            return Err(DecodeError::BadCharacter { field, found: bad });
        }
        if mod97(code) != 1 {
            let expected = lei_check_digits(&code[..LEI_LEN - 2]).unwrap_or_default();
            return Err(DecodeError::BadCheckCharacters { field, expected });
        }
        Ok(LegalId::Lei(code.to_owned()))
    }

    /// The identifier itself.
    pub fn code(&self) -> &str {
        match self {
            LegalId::Uscc(code) | LegalId::Lei(code) => code,
        }
    }

    /// "uscc" or "lei".
    pub fn scheme(&self) -> &'static str {
        match self {
            LegalId::Uscc(_) => "uscc",
            LegalId::Lei(_) => "lei",
        }
    }
}

impl fmt::Display for LegalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegalId::Uscc(code) => write!(f, "USCC {code}"),
            LegalId::Lei(code) => write!(f, "LEI {code}"),
        }
    }
}

/// The check character that completes the first 17 characters of a unified
/// social credit code, or `None` if they are not 17 characters of its
/// alphabet. For tools that make demonstration identities.
pub fn uscc_check_character(first17: &str) -> Option<char> {
    if first17.len() != USCC_LEN - 1 {
        return None;
    }
    let values = first17
        .bytes()
        .map(uscc_value)
        .collect::<Option<Vec<u8>>>()?;
    Some(char::from(
        USCC_ALPHABET[uscc_check_value(&values) as usize],
    ))
}

/// The ISO 7064 MOD 97-10 check digits that complete an 18-character LEI
/// prefix, or `None` if it is not 18 characters of 0-9 A-Z.
pub fn lei_check_digits(first18: &str) -> Option<String> {
    let valid = first18.len() == LEI_LEN - 2
        && first18
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    valid.then(|| format!("{:02}", 98 - mod97(&format!("{first18}00"))))
}

fn uscc_values(field: &'static str, code: &str) -> Result<Vec<u8>, DecodeError> {
    if code.len() != USCC_LEN {
        return Err(DecodeError::BadLength {
            field,
            expected: USCC_LEN,
            found: code.len(),
        });
    }
    code.chars()
        .map(|c| {
            u8::try_from(c)
                .ok()
                .and_then(uscc_value)
                .ok_or(DecodeError::BadCharacter { field, found: c })
        })
        .collect()
}

fn uscc_value(byte: u8) -> Option<u8> {
    USCC_ALPHABET
        .iter()
        .position(|c| *c == byte)
        .map(|i| i as u8)
}

/// GB 32100-2015: weights 3^i mod 31, check = (31 − Σ mod 31) mod 31.
fn uscc_check_value(values: &[u8]) -> u8 {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for value in values {
        sum += u32::from(*value) * weight;
        weight = weight * 3 % 31;
    }
    ((31 - sum % 31) % 31) as u8
}

/// ISO 7064 MOD 97-10 over an alphanumeric string (A = 10 … Z = 35), digit by
/// digit so that no big integer is needed.
fn mod97(code: &str) -> u32 {
    let mut remainder = 0u32;
    for c in code.chars() {
        let value = c.to_digit(36).unwrap_or(0);
        remainder = match value {
            0..=9 => (remainder * 10 + value) % 97,
            _ => (remainder * 100 + value) % 97,
        };
    }
    remainder
}

/// A tank's physical identity: bonded facility code and tank number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PhysicalTankId {
    /// The bonded facility's code.
    pub facility_code: String,
    /// The tank's number in the facility.
    pub tank_number: String,
}

impl PhysicalTankId {
    /// Validates both parts: 1..=32 and 1..=16 characters of `A-Z 0-9 -`.
    pub fn new(facility_code: &str, tank_number: &str) -> Result<PhysicalTankId, DecodeError> {
        canonical(
            "physical_id.facility_code",
            facility_code,
            MAX_FACILITY_CODE_LEN,
        )?;
        canonical("physical_id.tank_number", tank_number, MAX_TANK_NUMBER_LEN)?;
        Ok(PhysicalTankId {
            facility_code: facility_code.to_owned(),
            tank_number: tank_number.to_owned(),
        })
    }
}

impl fmt::Display for PhysicalTankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tank {}", self.facility_code, self.tank_number)
    }
}

fn canonical(field: &'static str, value: &str, max: usize) -> Result<(), DecodeError> {
    if value.is_empty() {
        return Err(DecodeError::EmptyField { field });
    }
    if value.len() > max {
        return Err(DecodeError::TooLong {
            field,
            max,
            found: value.len(),
        });
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(bad) => Err(DecodeError::BadCharacter { field, found: bad }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_uscc_passes_and_a_changed_character_fails() {
        // The example code printed in GB 32100-2015 commentaries.
        assert!(LegalId::uscc("91350100M000100Y43").is_ok());
        assert_eq!(
            LegalId::uscc("91350100M000100Y44"),
            Err(DecodeError::BadCheckCharacters {
                field: "legal_identity.unified_social_credit_code",
                expected: "3".into()
            })
        );
        assert!(matches!(
            LegalId::uscc("91350100m000100Y43"),
            Err(DecodeError::BadCharacter { found: 'm', .. })
        ));
        // I, O, S, V, Z are not in the alphabet.
        assert!(matches!(
            LegalId::uscc("9135010OM000100Y43"),
            Err(DecodeError::BadCharacter { found: 'O', .. })
        ));
        assert!(matches!(
            LegalId::uscc("91350100M000100Y4"),
            Err(DecodeError::BadLength { found: 17, .. })
        ));
    }

    #[test]
    fn uscc_check_characters_complete_any_prefix() {
        for prefix in [
            "91330900MA2A00001",
            "12100000400000624",
            "91110000802100433",
        ] {
            let check = uscc_check_character(prefix).unwrap();
            assert!(LegalId::uscc(&format!("{prefix}{check}")).is_ok());
        }
        assert_eq!(uscc_check_character("9133090OMA2A00001"), None);
    }

    #[test]
    fn a_published_lei_passes_and_a_transposition_fails() {
        // GLEIF's own LEI.
        assert!(LegalId::lei("506700GE1G29325QX363").is_ok());
        assert!(LegalId::lei("5493001KJTIIGC8Y1R12").is_ok());
        assert!(matches!(
            LegalId::lei("5493001KJTIIGC8Y1R21"),
            Err(DecodeError::BadCheckCharacters { ref expected, .. }) if expected == "12"
        ));
        assert!(matches!(
            LegalId::lei("5493001kjtiigc8y1r12"),
            Err(DecodeError::BadCharacter { .. })
        ));
        assert_eq!(
            lei_check_digits("5299000J2N45DDNE4Y").as_deref(),
            Some("28")
        );
    }

    #[test]
    fn physical_ids_are_canonical() {
        assert!(PhysicalTankId::new("ZS-BONDED-07", "T-101").is_ok());
        assert!(matches!(
            PhysicalTankId::new("zs-bonded-07", "T-101"),
            Err(DecodeError::BadCharacter { found: 'z', .. })
        ));
        assert!(matches!(
            PhysicalTankId::new("ZS 07", "T-101"),
            Err(DecodeError::BadCharacter { found: ' ', .. })
        ));
        assert_eq!(
            PhysicalTankId::new("ZS", ""),
            Err(DecodeError::EmptyField {
                field: "physical_id.tank_number"
            })
        );
    }
}
