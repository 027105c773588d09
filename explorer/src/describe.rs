//! Sentences in both languages: what an entry did, where a receipt or a
//! pledge stands, and a transaction's fields laid out for reading.
//!
//! Operations are read through `pledge_client::json::operation` (the
//! client's one mapping of the proto), so an operation added to the proto
//! shows at once, as its name and fields, before it gets a sentence here.

use pledge_proto::v1 as pb;
use serde_json::Value;

use crate::format::{money, time, tonnes};
use crate::html;
use crate::html::Html;
use crate::i18n::Lang;
use crate::links;

/// What an entry's transaction did, one sentence with links.
pub fn operation(lang: Lang, tx: &pb::Transaction) -> Html {
    let Some(op) = &tx.operation else {
        return Html::text(lang.pick("no operation", "无操作"));
    };
    let (name, fields) = pledge_client::json::operation(op);
    sentence(lang, name, &fields)
}

/// The operation's name in words (`register_pledge` → "Pledge registered").
pub fn operation_name(lang: Lang, name: &str) -> String {
    let (en, zh) = match name {
        "genesis" => ("Ledger created", "账本创建"),
        "admit_participant" => ("Participant admitted", "参与方准入"),
        "rotate_key" => ("Key rotated", "密钥更换"),
        "revoke_participant" => ("Participant revoked", "参与方撤销"),
        "register_tank" => ("Tank registered", "储罐登记"),
        "certify_stock" => ("Stock certified", "库存核证"),
        "issue_receipt" => ("Receipt issued", "仓单签发"),
        "transfer_receipt" => ("Receipt transferred", "仓单转让"),
        "split_receipt" => ("Receipt split", "仓单拆分"),
        "cancel_receipt" => ("Receipt cancelled", "仓单注销"),
        "register_pledge" => ("Pledge registered", "质押登记"),
        "release_pledge" => ("Pledge released", "质押解除"),
        "enforce_pledge" => ("Pledge enforced", "质权实现"),
        "freeze_receipt" => ("Receipt frozen", "仓单冻结"),
        "unfreeze_receipt" => ("Freeze lifted", "仓单解冻"),
        "recover_key" => ("Key recovered", "密钥恢复"),
        "regauge_tank" => ("Tank re-gauged", "储罐重新计量"),
        "appoint_custodian" => ("Custodian appointed", "保管人指定"),
        "assess_price" => ("Price assessed", "价格评估"),
        other => return other.replace('_', " "),
    };
    lang.pick(en, zh).to_owned()
}

fn text<'a>(fields: &'a Value, key: &str) -> &'a str {
    fields.get(key).and_then(Value::as_str).unwrap_or("")
}

fn number(fields: &Value, key: &str) -> u64 {
    fields.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn amount(fields: &Value) -> Html {
    let money_field = &fields["secured_amount"];
    money(
        number(money_field, "minor_units"),
        text(money_field, "currency"),
    )
}

fn price(fields: &Value) -> Html {
    let price = &fields["price_per_tonne"];
    money(number(price, "minor_units"), text(price, "currency"))
}

fn sentence(lang: Lang, name: &str, f: &Value) -> Html {
    let zh = lang == Lang::Zh;
    let receipt = || links::receipt(text(f, "receipt_id"));
    let party = |key: &str| links::participant(text(f, key));
    match (name, zh) {
        ("genesis", false) => html!(
            "Ledger created with {} participants",
            count(f, "participants")
        ),
        ("genesis", true) => html!("账本创建，含 {} 个参与方", count(f, "participants")),
        ("admit_participant", false) => html!(
            "Admitted {}",
            links::participant(text(&f["participant"], "id"))
        ),
        ("admit_participant", true) => html!(
            "准入参与方 {}",
            links::participant(text(&f["participant"], "id"))
        ),
        ("rotate_key", false) => html!("Rotated the key of {}", party("participant_id")),
        ("rotate_key", true) => html!("更换 {} 的密钥", party("participant_id")),
        ("revoke_participant", false) => html!("Revoked {}", party("participant_id")),
        ("revoke_participant", true) => html!("撤销参与方 {}", party("participant_id")),
        ("register_tank", false) => html!(
            "Registered tank {} of {}, capacity {}",
            links::tank(text(f, "tank_id")),
            party("warehouse_id"),
            tonnes(number(f, "capacity_kg"))
        ),
        ("register_tank", true) => html!(
            "登记 {} 的储罐 {}，容量 {}",
            party("warehouse_id"),
            links::tank(text(f, "tank_id")),
            tonnes(number(f, "capacity_kg"))
        ),
        ("certify_stock", false) => html!(
            "Certified {} in tank {} for {} ({} {})",
            tonnes(number(f, "quantity_kg")),
            links::tank(text(f, "tank_id")),
            party("depositor_id"),
            party("inspector_id"),
            text(f, "certificate_no")
        ),
        ("certify_stock", true) => html!(
            "核证储罐 {} 中属于 {} 的 {}（{} {}）",
            links::tank(text(f, "tank_id")),
            party("depositor_id"),
            tonnes(number(f, "quantity_kg")),
            party("inspector_id"),
            text(f, "certificate_no")
        ),
        ("regauge_tank", false) => html!(
            "Re-gauged tank {}: {} measured by {} (report {})",
            links::tank(text(f, "tank_id")),
            tonnes(number(&f["gauging"], "measured_kg")),
            links::participant(text(&f["gauging"], "inspector_id")),
            text(&f["gauging"], "report_no")
        ),
        ("regauge_tank", true) => html!(
            "储罐 {} 重新计量：{} 测得 {}（报告 {}）",
            links::tank(text(f, "tank_id")),
            links::participant(text(&f["gauging"], "inspector_id")),
            tonnes(number(&f["gauging"], "measured_kg")),
            text(&f["gauging"], "report_no")
        ),
        ("appoint_custodian", false) => html!(
            "Appointed {} custodian of tank {}",
            party("warehouse_id"),
            links::tank(text(f, "tank_id"))
        ),
        ("appoint_custodian", true) => html!(
            "指定 {} 为储罐 {} 的保管人",
            party("warehouse_id"),
            links::tank(text(f, "tank_id"))
        ),
        ("issue_receipt", false) => html!(
            "Issued receipt {}: {} of {} in tank {}",
            receipt(),
            tonnes(number(f, "quantity_kg")),
            text(f, "product_grade"),
            links::tank(text(f, "tank_id"))
        ),
        ("issue_receipt", true) => html!(
            "签发仓单 {}：储罐 {} 中 {} {}",
            receipt(),
            links::tank(text(f, "tank_id")),
            text(f, "product_grade"),
            tonnes(number(f, "quantity_kg"))
        ),
        ("transfer_receipt", false) => {
            html!("Transferred {} to {}", receipt(), party("new_holder_id"))
        }
        ("transfer_receipt", true) => html!("仓单 {} 转让给 {}", receipt(), party("new_holder_id")),
        ("split_receipt", false) => html!("Split {} into {}", receipt(), split_parts(f)),
        ("split_receipt", true) => html!("仓单 {} 拆分为 {}", receipt(), split_parts(f)),
        ("cancel_receipt", false) => html!("Cancelled {} ({})", receipt(), text(f, "reason")),
        ("cancel_receipt", true) => html!("注销仓单 {}（{}）", receipt(), text(f, "reason")),
        ("register_pledge", false) => html!(
            "Pledged {} to {} under {}, securing {}",
            receipt(),
            party("pledgee_id"),
            links::pledge(text(f, "pledge_id")),
            amount(f)
        ),
        ("register_pledge", true) => html!(
            "仓单 {} 质押给 {}（质押 {}，担保 {}）",
            receipt(),
            party("pledgee_id"),
            links::pledge(text(f, "pledge_id")),
            amount(f)
        ),
        ("release_pledge", false) => {
            html!("Released pledge {}", links::pledge(text(f, "pledge_id")))
        }
        ("release_pledge", true) => html!("解除质押 {}", links::pledge(text(f, "pledge_id"))),
        ("enforce_pledge", false) => html!(
            "Enforced pledge {}{}",
            links::pledge(text(f, "pledge_id")),
            transferee(lang, f)
        ),
        ("enforce_pledge", true) => html!(
            "实现质权 {}{}",
            links::pledge(text(f, "pledge_id")),
            transferee(lang, f)
        ),
        ("freeze_receipt", false) => {
            html!("Froze {} (order {})", receipt(), text(f, "order_reference"))
        }
        ("freeze_receipt", true) => html!(
            "冻结仓单 {}（令状 {}）",
            receipt(),
            text(f, "order_reference")
        ),
        ("unfreeze_receipt", false) => html!(
            "Lifted the freeze on {} (order {})",
            receipt(),
            text(f, "order_reference")
        ),
        ("unfreeze_receipt", true) => html!(
            "解冻仓单 {}（令状 {}）",
            receipt(),
            text(f, "order_reference")
        ),
        ("assess_price", false) => html!(
            "{} assessed {} at {} per tonne",
            party("reporter_id"),
            text(f, "product_grade"),
            price(f)
        ),
        ("assess_price", true) => html!(
            "{} 评估 {} 价格为每吨 {}",
            party("reporter_id"),
            text(f, "product_grade"),
            price(f)
        ),
        (other, _) => html!("{}: {}", operation_name(lang, other), fields_inline(f)),
    }
}

fn count(fields: &Value, key: &str) -> usize {
    fields
        .get(key)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

fn split_parts(fields: &Value) -> Html {
    let parts = fields["parts"].as_array().cloned().unwrap_or_default();
    links::join(
        parts.iter().map(|part| {
            html!(
                "{} ({})",
                links::receipt(text(part, "receipt_id")),
                tonnes(number(part, "quantity_kg"))
            )
        }),
        ", ",
    )
}

fn transferee(lang: Lang, fields: &Value) -> Html {
    match text(fields, "transferee_id") {
        "" => Html::new(),
        id => match lang {
            Lang::En => html!("; the receipt goes to {}", links::participant(id)),
            Lang::Zh => html!("；仓单转归 {}", links::participant(id)),
        },
    }
}

/// An operation's fields in one line (for operations without a sentence).
fn fields_inline(fields: &Value) -> Html {
    let Some(map) = fields.as_object() else {
        return Html::text(&fields.to_string());
    };
    links::join(
        map.iter()
            .map(|(key, value)| html!("{}={}", key, field_value(key, value))),
        ", ",
    )
}

/// One field's value, linked or formatted by what its name says it is.
pub fn field_value(key: &str, value: &Value) -> Html {
    match value {
        Value::String(s) if s.is_empty() => Html::text("—"),
        Value::String(s) => match key {
            "receipt_id" => links::receipt(s),
            "pledge_id" => links::pledge(s),
            "tank_id" => links::tank(s),
            "holder_id" | "new_holder_id" | "pledgee_id" | "warehouse_id" | "depositor_id"
            | "transferee_id" | "participant_id" => links::participant(s),
            _ => Html::text(s),
        },
        Value::Number(n) => match (n.as_u64(), key) {
            (Some(kg), k) if k.ends_with("_kg") => tonnes(kg),
            (Some(ms), k) if k.ends_with("_ms") && ms > 0 => time(ms),
            _ => Html::text(&n.to_string()),
        },
        other => Html::text(&other.to_string()),
    }
}

/// A transaction's fields as a nested definition list.
pub fn fields_table(value: &Value) -> Html {
    match value {
        Value::Object(map) => {
            let rows: Html = map
                .iter()
                .map(|(key, v)| html!("<dt>{}</dt><dd>{}</dd>", key, field_or_nested(key, v)))
                .collect();
            html!("<dl class=\"fields\">{}</dl>", rows)
        }
        other => field_value("", other),
    }
}

fn field_or_nested(key: &str, value: &Value) -> Html {
    match value {
        Value::Object(map) if map.contains_key("minor_units") && map.contains_key("currency") => {
            money(number(value, "minor_units"), text(value, "currency"))
        }
        Value::Object(_) => fields_table(value),
        Value::Array(items) if items.is_empty() => Html::text("—"),
        Value::Array(items) => {
            let list: Html = items
                .iter()
                .map(|item| html!("<li>{}</li>", field_or_nested(key, item)))
                .collect();
            html!("<ul class=\"plain\">{}</ul>", list)
        }
        scalar => field_value(key, scalar),
    }
}

/// A pledge's status in words, with when it ended and where the receipt went.
pub fn pledge_status(lang: Lang, pledge: &pb::PledgeView) -> Html {
    match pb::PledgeStatus::try_from(pledge.status) {
        Ok(pb::PledgeStatus::Active) => {
            html!(
                "<span class=\"badge pledged\">{}</span>",
                lang.pick("in force", "有效")
            )
        }
        Ok(pb::PledgeStatus::Released) => html!(
            "<span class=\"badge\">{}</span> {}",
            lang.pick("released", "已解除"),
            links::entry(pledge.ended_at_seq)
        ),
        Ok(pb::PledgeStatus::Enforced) => html!(
            "<span class=\"badge enforced\">{}</span> {} → {}",
            lang.pick("enforced", "已实现"),
            links::entry(pledge.ended_at_seq),
            links::participant(&pledge.transferee_id)
        ),
        _ => Html::text(&pledge_client::json::pledge_status_name(pledge.status)),
    }
}

/// A role in words.
pub fn role(lang: Lang, role: i32) -> String {
    let name = pledge_client::json::role_name(role);
    let (en, zh) = match name.as_str() {
        "admin" => ("registry operator", "登记簿运营方"),
        "warehouse" => ("warehouse", "仓库"),
        "holder" => ("holder (trader)", "持有人（贸易商）"),
        "bank" => ("bank", "银行"),
        "regulator" => ("regulator", "监管机构"),
        "auditor" => ("auditor", "审计"),
        _ => return name,
    };
    lang.pick(en, zh).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pledge_proto::v1::transaction::Operation;

    fn sentence_of(lang: Lang, op: Operation) -> String {
        let tx = pb::Transaction {
            operation: Some(op),
            ..Default::default()
        };
        super::operation(lang, &tx).into_string()
    }

    fn gauging() -> Option<pb::Gauging> {
        Some(pb::Gauging {
            inspector_id: "insp-sgs".into(),
            report_no: "G-7".into(),
            measured_kg: 4_000_000,
            gauged_at_ms: 1,
        })
    }

    #[test]
    fn a_certification_names_its_inspector() {
        let certify = Operation::CertifyStock(pb::CertifyStock {
            tank_id: "T-101".into(),
            certificate_no: "SGS-1".into(),
            quantity_kg: 5_000_000,
            depositor_id: "trader-a".into(),
            inspector_id: "insp-sgs".into(),
            ..Default::default()
        });
        for lang in [Lang::En, Lang::Zh] {
            let text = sentence_of(lang, certify.clone());
            assert!(text.contains("/participant/insp-sgs"), "{text}");
            assert!(text.contains("SGS-1"), "{text}");
        }
    }

    #[test]
    fn a_regauge_and_a_custodian_appointment_read_as_sentences() {
        let regauge = sentence_of(
            Lang::En,
            Operation::RegaugeTank(pb::RegaugeTank {
                tank_id: "T-101".into(),
                gauging: gauging(),
            }),
        );
        assert!(regauge.starts_with("Re-gauged tank"), "{regauge}");
        assert!(regauge.contains("4,000.000 t"), "{regauge}");
        assert!(regauge.contains("/participant/insp-sgs"), "{regauge}");
        let appointed = sentence_of(
            Lang::Zh,
            Operation::AppointCustodian(pb::AppointCustodian {
                tank_id: "T-101".into(),
                warehouse_id: "wh-2".into(),
                gauging: gauging(),
            }),
        );
        assert!(appointed.contains("保管人"), "{appointed}");
        assert!(appointed.contains("/participant/wh-2"), "{appointed}");
        assert_eq!(operation_name(Lang::En, "regauge_tank"), "Tank re-gauged");
    }
}
