//! `pledgectl alerts`: the alerts the watcher may see (docs/ALERTS.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use pledge_client::keys::Signer;
use pledge_client::pb;
use pledge_client::time::format_rfc3339;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use super::Context;

/// Whose alerts, from where.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Watch as the participant of this key file (the request is signed
    /// with it). Without it: the participant named by the connection's
    /// client certificate (mutual TLS).
    #[arg(long = "key", value_name = "FILE")]
    key: Option<PathBuf>,
    /// First alert index to print (resume from the last index seen plus one).
    #[arg(long, default_value_t = 0, value_name = "INDEX")]
    from: u64,
    /// Keep printing alerts as entries commit.
    #[arg(long)]
    follow: bool,
}

/// Prints the alerts, one a line (a JSON object a line with `--json`).
pub async fn alerts(ctx: &Context, args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let signer = match &args.key {
        Some(path) => Some(
            Signer::from_file(path).with_context(|| format!("reading key {}", path.display()))?,
        ),
        None => None,
    };
    let client = ctx.client().await?;
    let mut stream = client
        .alerts(args.from, args.follow, signer.as_ref())
        .await?;
    while let Some(alert) = stream.next().await {
        let alert = alert?;
        ctx.out.line(&alert_json(&alert), &alert_line(&alert));
    }
    Ok(ExitCode::SUCCESS)
}

/// An alert as JSON: the message's fields, its fields as an object.
pub fn alert_json(alert: &pb::Alert) -> Value {
    let fields: serde_json::Map<String, Value> = sorted_fields(alert)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v.as_str())))
        .collect();
    json!({
        "index": alert.index,
        "kind": alert.kind,
        "state": alert.state,
        "seq": alert.seq,
        "time_ms": alert.time_ms,
        "trigger": alert.trigger,
        "subject": alert.subject,
        "parties": alert.parties,
        "fields": fields,
    })
}

/// `#INDEX KIND STATE SUBJECT at entry SEQ, TIME  key=value …`.
pub fn alert_line(alert: &pb::Alert) -> String {
    let fields: Vec<String> = sorted_fields(alert)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let when = match alert.trigger.as_str() {
        "CLOCK" => format!("due {}", format_rfc3339(alert.time_ms)),
        _ => format_rfc3339(alert.time_ms),
    };
    let line = format!(
        "#{:<4} {} {} {} at entry {} ({when})  parties={}  {}",
        alert.index,
        alert.kind,
        alert.state,
        alert.subject,
        alert.seq,
        alert.parties.join(","),
        fields.join(" ")
    );
    line.trim_end().to_owned()
}

fn sorted_fields(alert: &pb::Alert) -> Vec<(&String, &String)> {
    let mut fields: Vec<_> = alert.fields.iter().collect();
    fields.sort();
    fields
}
