//! Evidence a bank keeps: checkpoints and receipt bundles fetched from the
//! node and verified under what the bank trusts (the node's key and its
//! witness policy, [`Trust`]), and the bundle verdict written for people
//! and for scripts.
//!
//! ```text
//!  policy file ─▶ read_policy ─▶ Trust { node key, WitnessPolicy }
//!  GetCheckpoint ─▶ LedgerClient::trusted_checkpoint ─▶ CosignedCheckpoint (quorum met)
//!  ProveReceipt  ─▶ LedgerClient::prove_receipt_trusted ─▶ Bundle::verify ─▶ BundleVerdict
//!  BundleVerdict ─▶ verdict_text (people) / verdict_json (scripts: stable strings)
//! ```

use std::path::Path;

use pledge_ledger::bundle::{Bundle, BundleVerdict, PledgeRecord};
use pledge_ledger::checkpoint::{Checkpoint, ledger_origin};
use pledge_ledger::cosigning::{CosignedCheckpoint, Trust, WitnessPolicy};
use pledge_ledger::model::{PledgeStatus, ReceiptStatus};
use pledge_proto::v1 as pb;
use serde_json::{Value, json};

use crate::client::LedgerClient;
use crate::error::{ClientError, Result};
use crate::time::format_rfc3339;

/// Reads a witness policy file (docs/FORMAT.md §7.8).
pub fn read_policy(path: &Path) -> Result<WitnessPolicy> {
    let text = std::fs::read_to_string(path).map_err(|source| ClientError::Io {
        op: "read",
        path: path.to_owned(),
        source,
    })?;
    WitnessPolicy::parse(&text).map_err(|e| ClientError::InvalidInput {
        what: "witness policy",
        reason: format!("{}: {e}", path.display()),
    })
}

impl LedgerClient {
    /// The node's latest checkpoint covering at least `min_size` entries
    /// (waiting at most `wait_ms`, 0: the node's limit), believed only if an
    /// accepted node key signed it and the witness quorum of `trust` holds.
    pub async fn trusted_checkpoint(
        &self,
        trust: &Trust,
        ledger_id: &str,
        min_size: u64,
        wait_ms: u32,
    ) -> Result<CosignedCheckpoint> {
        let message = self.checkpoint_covering(min_size, wait_ms).await?;
        let cosigned = trust.open(&message.note, &ledger_origin(ledger_id))?;
        fields_match_note(&message, &cosigned.signed.checkpoint)
            .map_err(|reason| ClientError::BadAnswer { reason })?;
        Ok(cosigned)
    }

    /// The receipt's evidence bundle, as the node wrote it (JSON), with the
    /// verdict of verifying it under `trust`. The node binds the bundle to a
    /// checkpoint covering the receipt's latest entry.
    pub async fn prove_receipt_trusted(
        &self,
        receipt_id: &str,
        trust: &Trust,
    ) -> Result<(String, BundleVerdict)> {
        let json = self.prove_receipt(receipt_id).await?.json;
        let verdict = Bundle::from_json(&json)?.verify(trust)?;
        Ok((json, verdict))
    }
}

/// Whether a `SignedCheckpoint` message's fields state what its signed
/// note states: only the note is signed, so a field that differs from it is
/// a node (or a proxy) answering wrongly, and the whole answer is refused.
pub fn fields_match_note(
    message: &pb::SignedCheckpoint,
    checkpoint: &Checkpoint,
) -> std::result::Result<(), String> {
    let differing = [
        ("tree_size", message.tree_size != checkpoint.size),
        ("tree_root", message.tree_root != checkpoint.root),
        ("head_hash", message.head_hash != checkpoint.head_hash.0),
        ("state_root", message.state_root != checkpoint.state_root),
        ("time_ms", message.time_ms != checkpoint.time_ms),
    ];
    match differing.iter().find(|(_, differs)| *differs) {
        None => Ok(()),
        Some((name, _)) => Err(format!(
            "the checkpoint's field {name} differs from its signed note"
        )),
    }
}

/// The verdict as a person reads it: what was proven, as of which
/// checkpoint, under which witnesses, and the receipt's status in words.
pub fn verdict_text(verdict: &BundleVerdict) -> String {
    let mut lines = vec![
        format!(
            "verified: receipt {} of ledger {}, as of checkpoint size {} made {} (root {})",
            verdict.receipt_id,
            verdict.ledger_id,
            verdict.tree_size,
            format_rfc3339(verdict.checkpoint_time_ms),
            hex::encode(verdict.root)
        ),
        witnesses_line(verdict),
        format!(
            "receipt: {} kg, issued by warehouse {}, held by {}",
            verdict.quantity_kg, verdict.warehouse, verdict.holder
        ),
        format!("status: {}", status_words(verdict)),
        format!(
            "completeness: its whole history of {} entries, the latest entry {}, matches the state the checkpoint commits to (state root {})",
            verdict.history_len,
            verdict.latest_entry,
            hex::encode(verdict.state_root)
        ),
        tank_words(verdict),
    ];
    if verdict.lineage.len() > 1 {
        lines.push(format!(
            "lineage: {} (split parts of the first)",
            verdict.lineage.join(" → ")
        ));
    }
    if verdict.pledge_registrations.is_empty() {
        lines.push("pledges: none ever registered in its history".to_owned());
    } else {
        lines.push("pledges registered in its history:".to_owned());
        for pledge in &verdict.pledge_registrations {
            lines.push(format!("  {}", pledge_words(pledge)));
        }
    }
    let seqs: Vec<String> = verdict.entry_seqs.iter().map(u64::to_string).collect();
    lines.push(format!("entries checked: {}", seqs.join(", ")));
    lines.join("\n")
}

fn witnesses_line(verdict: &BundleVerdict) -> String {
    if !verdict.witnessed {
        return "witnesses: none required (no witness policy given): this rests on the node's key alone"
            .to_owned();
    }
    let names: Vec<String> = verdict
        .cosigners
        .cosigned
        .iter()
        .map(|(witness, at)| {
            format!(
                "{} at {}",
                witness.name,
                format_rfc3339(at.saturating_mul(1000))
            )
        })
        .collect();
    format!(
        "witnesses: quorum met; cosigned by {}",
        if names.is_empty() {
            "nobody (the policy requires none)".to_owned()
        } else {
            names.join(", ")
        }
    )
}

/// The receipt's status in words: live or not, pledged to whom, frozen by
/// whom, cancelled, split into which parts, enforced to whom.
pub fn status_words(verdict: &BundleVerdict) -> String {
    let mut words = match &verdict.status {
        ReceiptStatus::Active => "live, free of pledges".to_owned(),
        ReceiptStatus::Pledged { pledge_id } => match &verdict.active_pledge {
            Some(p) => format!(
                "live, PLEDGED to {} under pledge {} (registered at entry {}); no other pledge in force",
                p.pledgee, pledge_id, p.registered_at
            ),
            None => format!("live, PLEDGED under pledge {pledge_id}"),
        },
        ReceiptStatus::Cancelled { at } => format!(
            "CANCELLED at entry {at} (surrendered on delivery): no longer a live receipt, worthless as collateral"
        ),
        ReceiptStatus::Split { at, parts } => format!(
            "SPLIT at entry {at} into {}: no longer a live receipt; the parts carry the oil",
            parts.join(", ")
        ),
    };
    if let Some(freeze) = &verdict.freeze {
        words.push_str(&format!(
            "; FROZEN by {} since entry {}: it cannot change hands or be pledged until unfrozen",
            freeze.regulator, freeze.since
        ));
    }
    if let Some(enforced) = verdict
        .pledge_registrations
        .iter()
        .filter(|p| p.receipt_id == verdict.receipt_id)
        .filter_map(|p| match &p.status {
            PledgeStatus::Enforced {
                at, transferee_id, ..
            } => Some((p, *at, transferee_id)),
            _ => None,
        })
        .next_back()
    {
        let (pledge, at, transferee) = enforced;
        words.push_str(&format!(
            "; pledge {} was ENFORCED by {} at entry {}, the receipt going to {}",
            pledge.pledge_id, pledge.pledgee, at, transferee
        ));
    }
    words
}

/// The tank's state in words: whether the oil attested in it covers its
/// receipts.
pub fn tank_words(verdict: &BundleVerdict) -> String {
    match verdict.tank_shortfall_since {
        Some(since) => format!(
            "tank: {} IN SHORTFALL since entry {}: its last gauging found less oil than its receipts claim",
            verdict.tank_id, since
        ),
        None => format!("tank: {}, not in shortfall", verdict.tank_id),
    }
}

fn pledge_words(pledge: &PledgeRecord) -> String {
    let status = match &pledge.status {
        PledgeStatus::Active => "in force".to_owned(),
        PledgeStatus::Released { at } => format!("released at entry {at}"),
        PledgeStatus::Enforced {
            at, transferee_id, ..
        } => {
            format!("enforced at entry {at}, the receipt going to {transferee_id}")
        }
    };
    format!(
        "entry {}: pledge {} of receipt {} to {}, {status}",
        pledge.seq, pledge.pledge_id, pledge.receipt_id, pledge.pledgee
    )
}

/// The verdict as JSON for scripts: statuses are stable lower-case strings
/// (`active`, `pledged`, `cancelled`, `split`; pledges `active`,
/// `released`, `enforced`), never a Rust rendering.
pub fn verdict_json(verdict: &BundleVerdict) -> Value {
    let (status_at, parts) = match &verdict.status {
        ReceiptStatus::Cancelled { at } => (Some(*at), None),
        ReceiptStatus::Split { at, parts } => (Some(*at), Some(parts.clone())),
        ReceiptStatus::Active | ReceiptStatus::Pledged { .. } => (None, None),
    };
    let pledges: Vec<Value> = verdict
        .pledge_registrations
        .iter()
        .map(|p| {
            let (ended_at, transferee) = match &p.status {
                PledgeStatus::Active => (None, None),
                PledgeStatus::Released { at } => (Some(*at), None),
                PledgeStatus::Enforced {
                    at, transferee_id, ..
                } => (Some(*at), Some(transferee_id.clone())),
            };
            json!({
                "seq": p.seq, "pledge_id": p.pledge_id, "receipt_id": p.receipt_id,
                "pledgee": p.pledgee, "status": p.status.name(), "ended_at": ended_at,
                "transferee": transferee,
            })
        })
        .collect();
    let active = verdict.active_pledge.as_ref().map(|p| {
        json!({"pledge_id": p.pledge_id, "pledgee": p.pledgee, "registered_at": p.registered_at})
    });
    let freeze = verdict
        .freeze
        .as_ref()
        .map(|f| json!({"regulator": f.regulator, "since": f.since}));
    let cosigners: Vec<Value> = verdict
        .cosigners
        .cosigned
        .iter()
        .map(|(w, at)| json!({"witness": w.name, "timestamp": at}))
        .collect();
    json!({
        "verified": true,
        "ledger_id": verdict.ledger_id,
        "checkpoint": {
            "tree_size": verdict.tree_size, "root": hex::encode(verdict.root),
            "chain_head": verdict.head_hash.to_hex(), "time_ms": verdict.checkpoint_time_ms,
            "time": format_rfc3339(verdict.checkpoint_time_ms),
        },
        "witnessed": verdict.witnessed,
        "cosigners": cosigners,
        "receipt_id": verdict.receipt_id,
        "warehouse": verdict.warehouse,
        "holder": verdict.holder,
        "quantity_kg": verdict.quantity_kg,
        "status": verdict.status.name(),
        "status_at": status_at,
        "split_into": parts,
        "live": verdict.status.is_live(),
        "frozen": freeze,
        "active_pledge": active,
        "pledges": pledges,
        "lineage": verdict.lineage,
        "entries": verdict.entry_seqs,
        "history_len": verdict.history_len,
        "latest_entry": verdict.latest_entry,
        "state_root": hex::encode(verdict.state_root),
        "tank": {"tank_id": verdict.tank_id, "shortfall_since": verdict.tank_shortfall_since},
        "summary": status_words(verdict),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pledge_ledger::bundle::{ActivePledge, FreezeSeen};
    use pledge_ledger::cosigning::Cosigners;
    use pledge_ledger::crypto::Digest;

    fn verdict(status: ReceiptStatus) -> BundleVerdict {
        BundleVerdict {
            ledger_id: "zhoushan".into(),
            tree_size: 18,
            root: [7; 32],
            head_hash: Digest([8; 32]),
            checkpoint_time_ms: 1_800_000_000_000,
            cosigners: Cosigners::default(),
            witnessed: false,
            receipt_id: "R-1".into(),
            warehouse: "wh-1".into(),
            holder: "trader-a".into(),
            quantity_kg: 1_000,
            status,
            freeze: None,
            active_pledge: None,
            pledge_registrations: vec![PledgeRecord {
                seq: 4,
                pledge_id: "PL-A".into(),
                receipt_id: "R-1".into(),
                pledgee: "bank-a".into(),
                status: PledgeStatus::Released { at: 9 },
            }],
            lineage: vec!["R-1".into()],
            entry_seqs: vec![3, 4, 9, 17],
            state_root: [6; 32],
            latest_entry: 17,
            history_len: 4,
            tank_id: "T-1".into(),
            tank_shortfall_since: None,
        }
    }

    #[test]
    fn the_text_and_json_state_a_tank_in_shortfall() {
        let mut short = verdict(ReceiptStatus::Active);
        assert!(verdict_text(&short).contains("tank: T-1, not in shortfall"));
        short.tank_shortfall_since = Some(15);
        let text = verdict_text(&short);
        assert!(
            text.contains("tank: T-1 IN SHORTFALL since entry 15"),
            "{text}"
        );
        assert!(text.contains("its whole history of 4 entries, the latest entry 17"));
        let value = verdict_json(&short);
        assert_eq!(value["tank"]["shortfall_since"], 15);
        assert_eq!(value["history_len"], 4);
    }

    #[test]
    fn the_text_states_the_status_the_checkpoint_and_the_witnesses() {
        let cancelled = verdict_text(&verdict(ReceiptStatus::Cancelled { at: 17 }));
        assert!(
            cancelled.contains("status: CANCELLED at entry 17"),
            "{cancelled}"
        );
        assert!(cancelled.contains("as of checkpoint size 18 made 2027-01-15T08:00:00Z"));
        assert!(cancelled.contains("rests on the node's key alone"));
        assert!(!cancelled.contains("no active pledge"));

        let split = verdict_text(&verdict(ReceiptStatus::Split {
            at: 17,
            parts: vec!["R-1a".into(), "R-1b".into()],
        }));
        assert!(
            split.contains("SPLIT at entry 17 into R-1a, R-1b"),
            "{split}"
        );

        let mut frozen = verdict(ReceiptStatus::Pledged {
            pledge_id: "PL-B".into(),
        });
        frozen.freeze = Some(FreezeSeen {
            regulator: "regulator".into(),
            since: 17,
        });
        frozen.active_pledge = Some(ActivePledge {
            pledge_id: "PL-B".into(),
            pledgee: "bank-b".into(),
            registered_at: 12,
        });
        let text = verdict_text(&frozen);
        assert!(
            text.contains("PLEDGED to bank-b under pledge PL-B"),
            "{text}"
        );
        assert!(
            text.contains("FROZEN by regulator since entry 17"),
            "{text}"
        );

        let mut enforced = verdict(ReceiptStatus::Active);
        enforced.pledge_registrations[0].status = PledgeStatus::Enforced {
            at: 17,
            transferee_id: "bank-a".into(),
            grounds: pledge_ledger::model::EnforcementGrounds::Maturity,
        };
        let text = verdict_text(&enforced);
        assert!(text.contains("live, free of pledges"), "{text}");
        assert!(text.contains("ENFORCED by bank-a at entry 17"), "{text}");
    }

    #[test]
    fn json_statuses_are_stable_strings() {
        let value = verdict_json(&verdict(ReceiptStatus::Cancelled { at: 17 }));
        assert_eq!(value["status"], "cancelled");
        assert_eq!(value["status_at"], 17);
        assert_eq!(value["live"], false);
        assert_eq!(value["pledges"][0]["status"], "released");
        assert_eq!(value["pledges"][0]["ended_at"], 9);
        assert_eq!(value["checkpoint"]["tree_size"], 18);
        let split = verdict_json(&verdict(ReceiptStatus::Split {
            at: 17,
            parts: vec!["R-1a".into()],
        }));
        assert_eq!(split["status"], "split");
        assert_eq!(split["split_into"][0], "R-1a");
        let text = value.to_string();
        assert!(!text.contains("Cancelled {"), "{text}");
    }

    #[test]
    fn a_checkpoint_message_whose_fields_differ_from_its_note_is_refused() {
        let checkpoint = Checkpoint {
            origin: ledger_origin("zhoushan"),
            size: 18,
            root: [7; 32],
            head_hash: Digest([8; 32]),
            state_root: [6; 32],
            time_ms: 1_800_000_000_000,
        };
        let faithful = pb::SignedCheckpoint {
            note: String::new(),
            tree_size: 18,
            tree_root: vec![7; 32],
            head_hash: vec![8; 32],
            time_ms: 1_800_000_000_000,
            state_root: vec![6; 32],
        };
        fields_match_note(&faithful, &checkpoint).unwrap();
        type Alter = fn(&mut pb::SignedCheckpoint);
        let altered: [(&str, Alter); 5] = [
            ("tree_size", |m| m.tree_size = 19),
            ("tree_root", |m| m.tree_root[0] ^= 1),
            ("head_hash", |m| m.head_hash.truncate(31)),
            ("state_root", |m| m.state_root = Vec::new()),
            ("time_ms", |m| m.time_ms += 1),
        ];
        for (field, alter) in altered {
            let mut message = faithful.clone();
            alter(&mut message);
            let refusal = fields_match_note(&message, &checkpoint).unwrap_err();
            assert!(refusal.contains(field), "{field}: {refusal}");
        }
    }
}
