//! The witness policy: which witnesses a verifier knows, and how many of
//! them must have cosigned a checkpoint before it is believed (docs/FORMAT.md
//! §7.8). The file format follows Sigsum's policy files, with the witness
//! name being the witness's C2SP key name:
//!
//! ```text
//! # comments run from '#' to the end of the line
//! witness witness.bank-a.example/w1  <64 hex digits: Ed25519 key>  [http://host:port]
//! witness witness.regulator.example   <64 hex digits>               [url]
//! group banks-and-regulator all witness.bank-a.example/w1 witness.regulator.example
//! quorum banks-and-regulator
//! ```
//!
//! `group <name> <k|any|all> <member>…` holds when at least `k` of its
//! members (witnesses or earlier groups) hold; `quorum <name>` names the
//! witness or group that must hold, or `none`. A name must be defined before
//! it is used; there is exactly one `quorum` line. The URL is where the node
//! submits checkpoints to the witness; verifiers ignore it.
//!
//! The same file may list the node keys a verifier accepts, one `log
//! <64 hex digits> [label]` line each (the trust file of docs/FORMAT.md
//! §7.2: a registry of several nodes has one per member that may sign); the
//! label is for people. [`super::Trust::new`] accepts them beside the keys
//! it is given.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::cosignature::{CosignatureError, Witness};
use crate::crypto::{self, PublicKey};
use crate::note::{SignedNote, quote};

/// Largest policy file accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// A witness of the policy, with the URL the node submits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Name and key.
    pub witness: Witness,
    /// Its `add-checkpoint` submission prefix, e.g. `http://127.0.0.1:7381`.
    pub url: Option<String>,
}

/// A parsed witness policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    log_keys: Vec<PublicKey>,
    witnesses: Vec<PolicyWitness>,
    groups: BTreeMap<String, Group>,
    quorum: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<String>,
}

/// The witnesses whose cosignatures on a checkpoint verified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cosigners {
    /// Each witness that cosigned, with its cosignature's timestamp
    /// (seconds since the Unix epoch), in policy order.
    pub cosigned: Vec<(Witness, u64)>,
}

impl Cosigners {
    /// The names of the witnesses that cosigned.
    pub fn names(&self) -> Vec<&str> {
        self.cosigned.iter().map(|(w, _)| w.name.as_str()).collect()
    }
}

impl WitnessPolicy {
    /// A policy that needs no cosignature (the verifier trusts the log's
    /// word alone).
    pub fn none() -> WitnessPolicy {
        WitnessPolicy {
            log_keys: Vec::new(),
            witnesses: Vec::new(),
            groups: BTreeMap::new(),
            quorum: None,
        }
    }

    /// Parses a policy file.
    pub fn parse(text: &str) -> Result<WitnessPolicy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                len: text.len(),
                max: MAX_POLICY_BYTES,
            });
        }
        let mut parser = Parser::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().collect();
            parser.line(&words).map_err(|reason| PolicyError::Line {
                line: index + 1,
                reason,
            })?;
        }
        parser.finish()
    }

    /// The node keys of the file's `log` lines, in file order.
    pub fn log_keys(&self) -> &[PublicKey] {
        &self.log_keys
    }

    /// Every witness of the policy, in file order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Whether the policy asks for no cosignature at all.
    pub fn is_none(&self) -> bool {
        self.quorum.is_none()
    }

    /// The witnesses that cosigned `note` (the log's signature is not
    /// checked here), or why the quorum is not met. A cosignature line that
    /// names a policy witness but does not verify refuses the note.
    pub fn check(&self, note: &SignedNote) -> Result<Cosigners, QuorumError> {
        let mut cosigners = Cosigners::default();
        for entry in &self.witnesses {
            if let Some(timestamp) = entry.witness.cosignature_on(note)? {
                cosigners.cosigned.push((entry.witness.clone(), timestamp));
            }
        }
        let Some(quorum) = &self.quorum else {
            return Ok(cosigners);
        };
        let signed: BTreeSet<&str> = cosigners.names().into_iter().collect();
        if self.holds(quorum, &signed) {
            return Ok(cosigners);
        }
        Err(QuorumError::NotMet {
            rule: self.describe(quorum),
            missing: self
                .leaves(quorum)
                .into_iter()
                .filter(|name| !signed.contains(name.as_str()))
                .collect(),
            cosigned: signed.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn holds(&self, name: &str, signed: &BTreeSet<&str>) -> bool {
        match self.groups.get(name) {
            Some(group) => {
                let held = group
                    .members
                    .iter()
                    .filter(|m| self.holds(m, signed))
                    .count();
                held >= group.threshold
            }
            None => signed.contains(name),
        }
    }

    /// The witnesses under `name`, in order, each once.
    fn leaves(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        match self.groups.get(name) {
            Some(group) => {
                for member in &group.members {
                    for leaf in self.leaves(member) {
                        if !out.contains(&leaf) {
                            out.push(leaf);
                        }
                    }
                }
            }
            None => out.push(name.to_owned()),
        }
        out
    }

    /// `name` as a rule a person can read: `all of (a, b)`, `2 of (a, b, c)`.
    fn describe(&self, name: &str) -> String {
        match self.groups.get(name) {
            None => name.to_owned(),
            Some(group) => {
                let members: Vec<String> = group.members.iter().map(|m| self.describe(m)).collect();
                let count = if group.threshold == group.members.len() {
                    "all".to_owned()
                } else {
                    group.threshold.to_string()
                };
                format!("{count} of ({})", members.join(", "))
            }
        }
    }
}

/// Builds a policy line by line.
#[derive(Debug, Default)]
struct Parser {
    log_keys: Vec<PublicKey>,
    witnesses: Vec<PolicyWitness>,
    groups: BTreeMap<String, Group>,
    /// `Some(None)`: `quorum none` was read.
    quorum: Option<Option<String>>,
}

impl Parser {
    fn line(&mut self, words: &[&str]) -> Result<(), String> {
        match words {
            [] => Ok(()),
            ["log", key, rest @ ..] if rest.len() <= 1 => self.log_key(key),
            ["witness", name, key, rest @ ..] if rest.len() <= 1 => {
                self.witness(name, key, rest.first())
            }
            ["group", name, threshold, members @ ..] if !members.is_empty() => {
                self.group(name, threshold, members)
            }
            ["quorum", name] => self.set_quorum(name),
            [keyword, ..] => Err(format!(
                "{:?} is not a policy line: expected `log <key> [label]`, \
                 `witness <name> <key> [url]`, `group <name> <k|any|all> <member>...` \
                 or `quorum <name|none>`",
                quote(keyword)
            )),
        }
    }

    fn log_key(&mut self, key: &str) -> Result<(), String> {
        let key = crypto::decode_lower_hex(key)
            .and_then(|bytes| PublicKey::from_slice(&bytes))
            .ok_or_else(|| {
                format!(
                    "log key {:?} is not 64 lower-case hex digits of an Ed25519 key",
                    quote(key)
                )
            })?;
        if self.log_keys.contains(&key) {
            return Err(format!("log key {} is listed twice", key.to_hex()));
        }
        self.log_keys.push(key);
        Ok(())
    }

    fn witness(&mut self, name: &str, key: &str, url: Option<&&str>) -> Result<(), String> {
        self.check_new_name(name)?;
        let key = crypto::decode_lower_hex(key)
            .and_then(|bytes| PublicKey::from_slice(&bytes))
            .ok_or_else(|| {
                format!(
                    "the key of witness {name} is not 64 lower-case hex digits of an Ed25519 key"
                )
            })?;
        let witness = Witness::new(name, key).map_err(|e| e.to_string())?;
        if let Some(url) = url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "the URL of witness {name} must start with http:// or https://"
            ));
        }
        self.witnesses.push(PolicyWitness {
            witness,
            url: url.map(|u| u.trim_end_matches('/').to_owned()),
        });
        Ok(())
    }

    fn group(&mut self, name: &str, threshold: &str, members: &[&str]) -> Result<(), String> {
        self.check_new_name(name)?;
        let mut seen = BTreeSet::new();
        for member in members {
            if !self.is_defined(member) {
                return Err(format!(
                    "group {name}: {member} is not defined on an earlier line"
                ));
            }
            if !seen.insert(*member) {
                return Err(format!("group {name}: {member} is listed twice"));
            }
        }
        let threshold = match threshold {
            "any" => 1,
            "all" => members.len(),
            k => match k.parse::<usize>() {
                Ok(k) if (1..=members.len()).contains(&k) && k.to_string() == *threshold => k,
                _ => {
                    return Err(format!(
                        "group {name}: the threshold must be any, all or a number from 1 to {}",
                        members.len()
                    ));
                }
            },
        };
        let group = Group {
            threshold,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        };
        self.groups.insert(name.to_owned(), group);
        Ok(())
    }

    fn set_quorum(&mut self, name: &str) -> Result<(), String> {
        if self.quorum.is_some() {
            return Err("a second quorum line".to_owned());
        }
        if name == "none" {
            self.quorum = Some(None);
            return Ok(());
        }
        if !self.is_defined(name) {
            return Err(format!("quorum {name}: not defined on an earlier line"));
        }
        self.quorum = Some(Some(name.to_owned()));
        Ok(())
    }

    fn is_defined(&self, name: &str) -> bool {
        self.groups.contains_key(name) || self.witnesses.iter().any(|w| w.witness.name == name)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("`none` is reserved".to_owned());
        }
        if self.is_defined(name) {
            return Err(format!("{name} is defined twice"));
        }
        Ok(())
    }

    fn finish(self) -> Result<WitnessPolicy, PolicyError> {
        let Some(quorum) = self.quorum else {
            return Err(PolicyError::NoQuorum);
        };
        Ok(WitnessPolicy {
            log_keys: self.log_keys,
            witnesses: self.witnesses,
            groups: self.groups,
            quorum,
        })
    }
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("the policy is {len} bytes, at most {max} allowed")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A line is not valid.
    #[error("policy line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The policy has no `quorum` line.
    #[error("the policy has no `quorum` line (write `quorum none` to require no cosignature)")]
    NoQuorum,
}

/// Why a checkpoint does not meet the witness policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuorumError {
    /// Too few of the policy's witnesses cosigned.
    #[error(
        "no witness quorum: the policy needs {rule}; cosignatures missing from {}; cosigned by {}",
        list(missing),
        list(cosigned)
    )]
    NotMet {
        /// The quorum rule, as a person reads it.
        rule: String,
        /// The policy's witnesses that did not cosign.
        missing: Vec<String>,
        /// Those that did.
        cosigned: Vec<String>,
    },
    /// A cosignature line of a policy witness does not verify.
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nobody".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_thresholds_parse() {
        let key = crypto::public_key(&ed25519_dalek::SigningKey::from_bytes(&[1; 32])).to_hex();
        let text = format!(
            "witness a {key} http://h:1/\nwitness b {key}\n# x\ngroup g 2 a b\nquorum g # end\n"
        );
        let policy = WitnessPolicy::parse(&text).unwrap();
        assert_eq!(policy.witnesses().len(), 2);
        assert_eq!(policy.witnesses()[0].url.as_deref(), Some("http://h:1"));
        assert_eq!(policy.describe("g"), "all of (a, b)");
        for bad in [
            "quorum a\n".to_owned(),
            format!("witness a {key}\n"),
            format!("witness a {}\nquorum a\n", key.to_uppercase()),
            format!("witness a {key}\nwitness a {key}\nquorum a\n"),
            format!("witness a {key}\ngroup g 3 a\nquorum g\n"),
            format!("witness a {key}\ngroup g 01 a\nquorum g\n"),
            format!("witness a {key}\nquorum a\nquorum a\n"),
            format!("witness a {key} ftp://x\nquorum a\n"),
            "quorum none\nwitnesses\n".to_owned(),
        ] {
            assert!(WitnessPolicy::parse(&bad).is_err(), "{bad}");
        }
        assert!(WitnessPolicy::parse("quorum none\n").unwrap().is_none());
    }
}
