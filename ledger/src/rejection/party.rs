//! The parties a refusal names: who had to sign, and the state of a receipt
//! it points to.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::model::{Receipt, ReceiptStatus, Role, Seq};

/// Who has to sign, when a required signature is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// A specific participant, in the capacity named (e.g. "holder").
    Participant {
        /// Participant id.
        id: String,
        /// Capacity: "holder", "warehouse", "pledgee", "inspector",
        /// "depositor", "quorum member", …
        capacity: &'static str,
    },
    /// Any participant holding the role.
    AnyWithRole(Role),
    /// At least `threshold` distinct members of the governance quorum.
    Quorum {
        /// The members (sorted).
        members: Vec<String>,
        /// How many must sign.
        threshold: u32,
    },
    /// Any one of these.
    OneOf(Vec<Party>),
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Participant { id, capacity } => write!(f, "`{id}` as {capacity}"),
            Party::AnyWithRole(role) => write!(f, "any {role}"),
            Party::Quorum { members, threshold } => {
                write!(f, "{threshold} of the quorum {{{}}}", members.join(", "))
            }
            Party::OneOf(alternatives) => {
                let texts: Vec<String> = alternatives.iter().map(ToString::to_string).collect();
                f.write_str(&texts.join(" or "))
            }
        }
    }
}

/// Flat metadata: `kind` and `description` always, then the kind's own keys.
impl Serialize for Party {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Party::Participant { id, capacity } => {
                map.serialize_entry("kind", "participant")?;
                map.serialize_entry("id", id)?;
                map.serialize_entry("capacity", capacity)?;
            }
            Party::AnyWithRole(role) => {
                map.serialize_entry("kind", "any_with_role")?;
                map.serialize_entry("role", role)?;
            }
            Party::Quorum { members, threshold } => {
                map.serialize_entry("kind", "quorum")?;
                map.serialize_entry("members", &members.join(","))?;
                map.serialize_entry("threshold", threshold)?;
            }
            Party::OneOf(_) => map.serialize_entry("kind", "one_of")?,
        }
        map.serialize_entry("description", &self.to_string())?;
        map.end()
    }
}

/// What became of a receipt, as a refusal that points to it reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReceiptState {
    /// "active", "pledged", "cancelled" or "split".
    pub receipt_status: &'static str,
    /// Its holder.
    pub receipt_holder: String,
    /// The pledge it is under, if pledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_pledge: Option<String>,
    /// That pledge's bank.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_pledgee: Option<String>,
    /// The entry that last changed it.
    pub receipt_updated_at: Seq,
}

impl ReceiptState {
    /// The state of `receipt`, whose active pledge (if any) is to `pledgee`.
    pub fn of(receipt: &Receipt, pledgee: Option<String>) -> ReceiptState {
        ReceiptState {
            receipt_status: receipt.status.name(),
            receipt_holder: receipt.holder_id.clone(),
            receipt_pledge: receipt.active_pledge().map(str::to_owned),
            receipt_pledgee: pledgee,
            receipt_updated_at: match &receipt.status {
                ReceiptStatus::Cancelled { at } | ReceiptStatus::Split { at, .. } => *at,
                _ => receipt.updated_at,
            },
        }
    }
}

impl fmt::Display for ReceiptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.receipt_pledge, &self.receipt_pledgee) {
            (Some(pledge), Some(bank)) => write!(
                f,
                "pledged to bank `{bank}` under pledge `{pledge}`, held by `{}`",
                self.receipt_holder
            ),
            _ if self.receipt_status == "active" => {
                write!(f, "active, held by `{}`", self.receipt_holder)
            }
            _ => write!(
                f,
                "{} (entry {})",
                self.receipt_status, self.receipt_updated_at
            ),
        }
    }
}
