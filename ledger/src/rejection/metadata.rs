//! A refusal's metadata: its serde form, flattened to snake_case key/value
//! text pairs for a gRPC `ErrorInfo`.

use serde::ser::{SerializeMap, Serializer};

use super::Rejection;
use crate::identity::LegalId;

/// The refusal's fields, flattened: `{"certificate": {"inspector": "x"}}`
/// becomes `certificate_inspector = x`; lists are joined with commas.
pub(super) fn fields(rejection: &Rejection) -> Vec<(String, String)> {
    match serde_json::to_value(rejection) {
        Ok(serde_json::Value::Object(tagged)) => tagged
            .values()
            .flat_map(|fields| flatten("", fields))
            .collect(),
        _ => Vec::new(),
    }
}

fn flatten(prefix: &str, value: &serde_json::Value) -> Vec<(String, String)> {
    use serde_json::Value;
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, inner)| {
                let name = match prefix.is_empty() {
                    true => key.clone(),
                    false => format!("{prefix}_{key}"),
                };
                flatten(&name, inner)
            })
            .collect(),
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().map(text).collect();
            vec![(prefix.to_owned(), texts.join(","))]
        }
        Value::Null => Vec::new(),
        other => vec![(prefix.to_owned(), text(other))],
    }
}

fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A legal identity as `scheme` ("uscc" or "lei") and `code`.
pub(super) fn legal_id<S: Serializer>(
    legal_id: &LegalId,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("scheme", legal_id.scheme())?;
    map.serialize_entry("code", legal_id.code())?;
    map.end()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{ALL_REASONS, Party, Rejection, RejectionKind};
    use crate::model::{CertificateRef, Role};

    fn keys(rejection: &Rejection) -> BTreeSet<String> {
        rejection.fields().into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn a_refusal_stays_small_enough_to_return_by_value() {
        assert!(
            std::mem::size_of::<Rejection>() <= 128,
            "{}",
            std::mem::size_of::<Rejection>()
        );
    }

    #[test]
    fn reason_codes_are_unique_and_listed() {
        let unique: BTreeSet<&str> = ALL_REASONS.iter().copied().collect();
        assert_eq!(unique.len(), ALL_REASONS.len());
        let r = Rejection::ReceiptPledged {
            receipt: "R".into(),
            pledge: "P".into(),
            pledgee: "B".into(),
            since: 3,
        };
        assert_eq!(r.reason(), "RECEIPT_PLEDGED");
        assert!(ALL_REASONS.contains(&r.reason()));
    }

    const ERRORS_MD: &str = include_str!("../../../docs/ERRORS.md");

    /// ERRORS.md §2 (the rules' refusals), to the next section.
    fn errors_md_rules_section() -> &'static str {
        let start = ERRORS_MD.find("\n## 2. ").expect("ERRORS.md §2");
        let rest = &ERRORS_MD[start..];
        &rest[..rest.find("\n## 3. ").unwrap_or(rest.len())]
    }

    /// ERRORS.md §2's table: (code, gRPC status) per row, in order.
    fn format_md_reasons() -> Vec<(String, String)> {
        errors_md_rules_section()
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|row| {
                let (code, rest) = row.split_once("` | ")?;
                let (status, _) = rest.split_once(" | ")?;
                let is_code = code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                is_code.then(|| (code.to_owned(), status.to_owned()))
            })
            .collect()
    }

    /// transaction.proto's header list: (code, gRPC status), grouped by status.
    fn proto_reasons() -> Vec<(String, String)> {
        let mut reasons = Vec::new();
        let mut status = String::new();
        let header = include_str!("../../../proto/proto/pledgeledger/v1/transaction.proto")
            .lines()
            .take_while(|line| line.starts_with("//"));
        for line in header {
            let Some(list) = line.strip_prefix("//   ") else {
                continue;
            };
            let codes = match list.split_once(": ") {
                Some((group, codes)) => {
                    status = group.to_owned();
                    codes
                }
                None => list,
            };
            for code in codes.split_whitespace() {
                reasons.push((code.to_owned(), status.clone()));
            }
        }
        reasons
    }

    /// ERRORS.md §2: the metadata keys column per code, as written
    /// (`key`, `key (if any)`, `nested_*`).
    fn documented_keys() -> Vec<(String, Vec<String>)> {
        errors_md_rules_section()
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|row| {
                let cells: Vec<&str> = row.split(" | ").collect();
                let code = cells.first()?.strip_suffix('`')?;
                let keys = cells
                    .get(3)?
                    .split(", ")
                    .filter(|key| *key != "none")
                    .map(|key| key.replace('`', ""))
                    .collect();
                Some((code.to_owned(), keys))
            })
            .collect()
    }

    /// The keys each variant of `Rejection` serializes, read from its
    /// declaration: the field name or its serde rename; nested values as
    /// `name_*` (the flattened receipt state as `receipt_*`); optional ones
    /// as `name (if any)`. Keyed by reason code through `Rejection::reason`.
    fn declared_keys() -> Vec<(String, Vec<String>)> {
        let source = include_str!("mod.rs");
        let reason_of = |variant: &str| {
            let arm = format!("\n            {variant} {{ .. }} => \"");
            let start = source.find(&arm)? + arm.len();
            Some(source[start..].split('"').next()?.to_owned())
        };
        let start = source.find("pub enum Rejection {").expect("the enum");
        let body = &source[start..];
        let body = &body[..body.find("\n}\n").expect("its end")];
        let mut declared: Vec<(String, Vec<String>)> = Vec::new();
        let mut attributes = String::new();
        for line in body.lines().skip(1) {
            if let Some(variant) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(" {")) {
                if variant.starts_with(|c: char| c.is_ascii_uppercase()) {
                    let code = reason_of(variant).expect("every variant has a reason");
                    declared.push((code, Vec::new()));
                }
                continue;
            }
            let Some(field) = line.strip_prefix("        ") else {
                continue;
            };
            if field.starts_with("#[serde") {
                attributes.push_str(field);
                continue;
            }
            let Some((name, ty)) = field.strip_suffix(',').and_then(|f| f.split_once(": ")) else {
                continue;
            };
            if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                continue; // a line of an #[error] message
            }
            let renamed = attributes
                .split_once("rename = \"")
                .and_then(|(_, rest)| rest.split('"').next());
            let mut key = renamed.unwrap_or(name).to_owned();
            let nested = ["Party", "CertificateRef", "LegalId", "PhysicalTankId"];
            if attributes.contains("flatten") {
                key = "receipt_*".into();
            } else if nested.iter().any(|t| ty.contains(t)) {
                key.push_str("_*");
            }
            if ty.starts_with("Option<") {
                key.push_str(" (if any)");
            }
            attributes.clear();
            if let Some((_, keys)) = declared.last_mut() {
                keys.push(key);
            }
        }
        declared
    }

    #[test]
    fn documented_metadata_keys_are_the_declared_ones() {
        let declared = declared_keys();
        assert_eq!(declared.len(), ALL_REASONS.len(), "{declared:?}");
        assert_eq!(documented_keys(), declared, "docs/ERRORS.md §2 keys");
    }

    #[test]
    fn declared_keys_are_what_a_refusal_attaches() {
        let declared = declared_keys();
        let keys_of = |code: &str| -> BTreeSet<String> {
            let (_, keys) = declared.iter().find(|(c, _)| c == code).unwrap();
            keys.iter().map(|k| k.replace(" (if any)", "")).collect()
        };
        let not_found = Rejection::ReceiptNotFound { id: "R".into() };
        assert_eq!(keys(&not_found), keys_of("RECEIPT_NOT_FOUND"));
        let pledged = Rejection::ReceiptPledged {
            receipt: "R".into(),
            pledge: "P".into(),
            pledgee: "B".into(),
            since: 3,
        };
        assert_eq!(keys(&pledged), keys_of("RECEIPT_PLEDGED"));
        let revoked = Rejection::ParticipantRevoked {
            id: "p".into(),
            revoked_at: 4,
        };
        assert_eq!(keys(&revoked), keys_of("PARTICIPANT_REVOKED"));
    }

    #[test]
    fn every_reason_code_is_documented_in_format_md_and_the_proto() {
        let documented = format_md_reasons();
        let codes: Vec<&str> = documented.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codes, ALL_REASONS, "docs/ERRORS.md §2");
        let mut listed = proto_reasons();
        listed.sort();
        let mut expected = documented.clone();
        expected.sort();
        assert_eq!(listed, expected, "transaction.proto header vs ERRORS.md");
    }

    #[test]
    fn documented_status_is_the_status_of_the_refusal() {
        let documented = format_md_reasons();
        let status_of = |code: &str| {
            documented
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, s)| s.as_str())
        };
        let pledged = Rejection::ReceiptPledged {
            receipt: "R".into(),
            pledge: "P".into(),
            pledgee: "B".into(),
            since: 3,
        };
        let missing = Rejection::MissingSignature {
            party: Party::AnyWithRole(Role::Regulator),
        };
        let not_found = Rejection::ReceiptNotFound { id: "R".into() };
        for (rejection, status) in [
            (pledged, "FAILED_PRECONDITION"),
            (missing, "PERMISSION_DENIED"),
            (not_found, "NOT_FOUND"),
        ] {
            assert_eq!(status_of(rejection.reason()), Some(status));
            let kind = format!("{:?}", rejection.kind());
            assert_eq!(kind.to_ascii_uppercase(), status.replace('_', ""));
        }
    }

    #[test]
    fn double_pledge_message_names_the_rival() {
        let r = Rejection::ReceiptPledged {
            receipt: "R-1".into(),
            pledge: "P-A".into(),
            pledgee: "bank-a".into(),
            since: 42,
        };
        assert_eq!(
            r.to_string(),
            "receipt `R-1` is pledged to bank `bank-a` under pledge `P-A` since entry 42"
        );
        assert_eq!(r.kind(), RejectionKind::FailedPrecondition);
        let fields = r.fields();
        assert!(
            fields.contains(&("pledge".into(), "P-A".into())),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("since".into(), "42".into())),
            "{fields:?}"
        );
    }

    #[test]
    fn metadata_keys_are_flat_snake_case() {
        let missing = Rejection::MissingSignature {
            party: Party::Participant {
                id: "bank-a".into(),
                capacity: "pledgee",
            },
        };
        assert_eq!(
            keys(&missing),
            BTreeSet::from([
                "party_kind".into(),
                "party_id".into(),
                "party_capacity".into(),
                "party_description".into()
            ])
        );
        let role = Rejection::MissingSignature {
            party: Party::AnyWithRole(Role::Regulator),
        };
        assert!(
            role.fields()
                .contains(&("party_role".into(), "regulator".into()))
        );
        let cert = Rejection::CertificateNotFound {
            certificate: CertificateRef {
                inspector: "insp-sgs".into(),
                number: "SGS-1".into(),
            },
        };
        assert_eq!(
            keys(&cert),
            BTreeSet::from(["certificate_inspector".into(), "certificate_number".into()])
        );
        let quorum = Rejection::QuorumNotMet {
            threshold: 2,
            members: vec!["admin".into(), "regulator".into()],
            signed: vec!["admin".into()],
        };
        assert!(
            quorum
                .fields()
                .contains(&("members".into(), "admin,regulator".into()))
        );
        for rejection in [missing, role, cert, quorum] {
            for key in keys(&rejection) {
                assert!(
                    key.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{key}"
                );
            }
        }
    }

    #[test]
    fn absent_options_are_left_out_and_times_read_as_rfc3339() {
        let frozen = Rejection::ReceiptFrozen {
            receipt: "R".into(),
            regulator: "cbirc".into(),
            order_reference: "O-1".into(),
            since: 4,
            pledge: None,
            pledgee: None,
        };
        assert!(!keys(&frozen).contains("pledge"));
        let expired = Rejection::TxExpired {
            not_after_ms: 1_800_000_000_000,
            entry_time_ms: 1_800_000_060_000,
        };
        assert_eq!(
            expired.to_string(),
            "the transaction expired at 2027-01-15T08:00:00Z (entry time 2027-01-15T08:01:00Z): draft and sign it again"
        );
        assert!(
            expired
                .fields()
                .contains(&("not_after_ms".into(), "1800000000000".into()))
        );
    }
}
