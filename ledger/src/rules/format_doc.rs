//! Keeps docs/FORMAT.md §2.3 (the operations, check by check) in step with
//! the rules: one subsection per operation the code knows, and every reason
//! code documented there is one the code declares and vice versa.

use std::collections::BTreeSet;

use crate::rejection::ALL_REASONS;

const FORMAT_MD: &str = include_str!("../../../docs/FORMAT.md");
const TX_RS: &str = include_str!("../tx.rs");

/// §2.3's text: from its heading to the next `## ` or `### ` heading.
fn section_2_3() -> &'static str {
    let start = FORMAT_MD.find("\n### 2.3 ").expect("FORMAT.md has a §2.3");
    let rest = &FORMAT_MD[start + 1..];
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|heading| rest.find(heading))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The preamble (checks common to every operation) and each `#### op`
/// subsection with its text.
fn split_by_operation(section: &str) -> (&str, Vec<(&str, &str)>) {
    let mut parts = section.split("\n#### ");
    let preamble = parts.next().unwrap_or_default();
    let operations = parts
        .map(|part| part.split_once('\n').unwrap_or((part, "")))
        .map(|(name, body)| (name.trim(), body))
        .collect();
    (preamble, operations)
}

/// Every `` `UPPER_CASE` `` code in a text.
fn codes_in(text: &str) -> BTreeSet<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.len() > 3)
        .filter(|word| word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        .collect()
}

/// The operation names `Operation::name` returns, read from its source, so
/// that an operation added to the code without a subsection fails here.
fn operation_names_in_code() -> BTreeSet<&'static str> {
    let body = TX_RS
        .split_once("pub fn name(&self) -> &'static str {")
        .expect("Operation::name in tx.rs")
        .1;
    let body = &body[..body.find("\n    }\n").expect("end of Operation::name")];
    body.lines()
        .filter(|line| line.trim_start().starts_with("Operation::"))
        .filter_map(|line| line.split('"').nth(1))
        .collect()
}

#[test]
fn every_operation_has_its_subsection_and_no_other() {
    let (_, operations) = split_by_operation(section_2_3());
    let documented: BTreeSet<&str> = operations.iter().map(|(name, _)| *name).collect();
    assert_eq!(documented.len(), operations.len(), "an operation twice");
    let in_code = operation_names_in_code();
    assert!(in_code.len() >= 18, "{in_code:?}");
    assert_eq!(documented, in_code, "FORMAT.md §2.3 vs Operation::name");
}

#[test]
fn every_operation_states_parties_checks_and_effects() {
    let (_, operations) = split_by_operation(section_2_3());
    for (name, body) in operations {
        for part in ["Parties", "Effects"] {
            assert!(body.contains(part), "§2.3 {name}: no {part}");
        }
        assert!(body.contains("Checks"), "§2.3 {name}: no checks");
    }
}

#[test]
fn documented_codes_are_the_declared_codes() {
    let section = section_2_3();
    let (preamble, operations) = split_by_operation(section);
    let declared: BTreeSet<&str> = ALL_REASONS.iter().copied().collect();
    for (name, body) in &operations {
        let unknown: Vec<_> = codes_in(body).difference(&declared).copied().collect();
        assert!(unknown.is_empty(), "§2.3 {name} names {unknown:?}");
    }
    let unknown: Vec<_> = codes_in(preamble).difference(&declared).copied().collect();
    assert!(unknown.is_empty(), "§2.3 names {unknown:?}");
    let documented = codes_in(section);
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "declared but in no check of §2.3: {undocumented:?}"
    );
}

#[test]
fn the_parser_reads_codes_and_subsections() {
    assert_eq!(
        codes_in("a (`RECEIPT_FROZEN`) and `code` or `SAME_KEY`"),
        BTreeSet::from(["RECEIPT_FROZEN", "SAME_KEY"])
    );
    let (preamble, operations) = split_by_operation("intro\n#### a\nx `B_C`\n#### d\ny");
    assert_eq!(preamble, "intro");
    assert_eq!(operations, vec![("a", "x `B_C`"), ("d", "y")]);
}
