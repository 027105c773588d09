//! Command-line parsing, and the commands that need no node.

use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use pledge_client::Draft;
use pledge_client::keys::Signer;
use pledge_ledger::keyfile::KeyFile;

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("pledgectl").chain(args.iter().copied()))
}

#[test]
fn the_command_tree_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_subcommand_is_there() {
    let command = Cli::command();
    let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    for name in [
        "keys",
        "participant",
        "tank",
        "receipt",
        "pledge",
        "freeze",
        "unfreeze",
        "info",
        "head",
        "entries",
        "audit",
        "checkpoint",
        "verify-bundle",
        "export",
        "sign",
        "show-draft",
        "submit",
    ] {
        assert!(names.contains(&name), "{name} missing");
    }
    let receipt = command.find_subcommand("receipt").unwrap();
    let verbs: Vec<&str> = receipt.get_subcommands().map(|c| c.get_name()).collect();
    assert_eq!(
        verbs,
        [
            "issue", "transfer", "split", "cancel", "show", "list", "history", "prove"
        ]
    );
}

#[test]
fn global_flags_go_anywhere() {
    let cli = parse(&["head", "--json", "--node", "http://10.0.0.1:7000"]).unwrap();
    assert!(cli.json);
    assert_eq!(cli.node, "http://10.0.0.1:7000");
    assert!(matches!(cli.command, Command::Head));
}

#[test]
fn several_nodes_and_read_options_parse() {
    let cli = parse(&[
        "receipt",
        "show",
        "WR-1",
        "--node",
        "http://a:1,http://b:1, http://a:1",
        "--at-least",
        "41",
        "--linearizable",
    ])
    .unwrap();
    assert_eq!(cli.at_least, Some(41));
    assert!(cli.linearizable);
    assert_eq!(node_list(&cli.node).unwrap(), ["http://a:1", "http://b:1"]);
    let mixed = node_list("https://a:1,http://b:1").unwrap_err().to_string();
    assert!(mixed.contains("mixes"), "{mixed}");
    assert!(node_list(" , ").is_err());
}

#[test]
fn write_commands_take_several_keys() {
    let cli = parse(&[
        "pledge",
        "register",
        "--pledge-id",
        "PL-1",
        "--receipt-id",
        "R-1",
        "--bank",
        "bank-a",
        "--amount-minor",
        "450000000",
        "--currency",
        "USD",
        "--loan-ref",
        "LOAN-1",
        "--maturity",
        "+90d",
        "--key",
        "trader-a.json",
        "--key",
        "bank-a.json",
    ])
    .unwrap();
    let Command::Pledge(pledge::PledgeCommand::Register {
        write, maturity, ..
    }) = cli.command
    else {
        panic!("parsed as {:?}", cli.command);
    };
    assert_eq!(write.keys.len(), 2);
    assert!(maturity > pledge_client::time::now_ms());
}

#[test]
fn bad_values_are_refused_at_parse_time() {
    let base = [
        "pledge",
        "register",
        "--pledge-id",
        "P",
        "--receipt-id",
        "R",
        "--bank",
        "b",
        "--amount-minor",
        "1",
        "--currency",
        "USD",
        "--loan-ref",
        "L",
        "--key",
        "k",
    ];
    let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
    assert!(with(&["--maturity", "2027-03-31T00:00:00Z"]).is_ok());
    assert!(with(&["--maturity", "next tuesday"]).is_err());
    assert!(with(&["--maturity", "+90y"]).is_err());
    assert!(parse(&["receipt", "split", "--receipt-id", "R", "--part", "A:5"]).is_err());
    assert!(parse(&["receipt", "list", "--holder", "a", "--tank", "t"]).is_err());
    assert!(
        parse(&[
            "participant",
            "admit",
            "--id",
            "x",
            "--name",
            "X",
            "--role",
            "bank"
        ])
        .is_err()
    );
    assert!(parse(&["sign", "d.json"]).is_err(), "sign needs --key");
}

#[test]
fn split_parts_and_roles_parse() {
    let cli = parse(&[
        "receipt",
        "split",
        "--receipt-id",
        "R-1",
        "--part",
        "R-1a=400",
        "--part",
        "R-1b=600",
        "--draft-out",
        "d.json",
    ])
    .unwrap();
    let Command::Receipt(receipt::ReceiptCommand::Split { parts, .. }) = cli.command else {
        panic!("parsed as {:?}", cli.command);
    };
    assert_eq!(parts, [("R-1a".to_owned(), 400), ("R-1b".to_owned(), 600)]);

    let cli = parse(&[
        "participant",
        "admit",
        "--id",
        "x",
        "--name",
        "X",
        "--role",
        "bank,holder",
        "--uscc",
        "91350100M000100Y43",
        "--public-key",
        "00",
        "--key",
        "admin.json",
    ])
    .unwrap();
    let Command::Participant(participant::ParticipantCommand::Admit { roles, .. }) = cli.command
    else {
        panic!("parsed as {:?}", cli.command);
    };
    assert_eq!(
        roles,
        [participant::RoleArg::Bank, participant::RoleArg::Holder]
    );
}

fn key_file(dir: &Path, id: &str, seed: u8) -> String {
    let path = dir.join(format!("{id}.json"));
    KeyFile::new(id, &ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
        .write(&path)
        .unwrap();
    path.display().to_string()
}

async fn run_args(args: &[&str]) -> anyhow::Result<ExitCode> {
    run(parse(args)?).await
}

/// Two parties co-sign a pledge through a draft file, without a node.
#[tokio::test]
async fn a_draft_is_written_by_one_party_and_signed_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let trader = key_file(dir.path(), "trader-a", 4);
    let bank = key_file(dir.path(), "bank-a", 6);
    let draft = dir.path().join("pledge.json").display().to_string();
    run_args(&[
        "--ledger-id",
        "zhoushan-dev",
        "pledge",
        "register",
        "--pledge-id",
        "PL-1",
        "--receipt-id",
        "R-1",
        "--bank",
        "bank-a",
        "--amount-minor",
        "450000000",
        "--currency",
        "USD",
        "--loan-ref",
        "LOAN-1",
        "--maturity",
        "+90d",
        "--key",
        &trader,
        "--draft-out",
        &draft,
    ])
    .await
    .unwrap();
    assert_eq!(Draft::read(draft.as_ref()).unwrap().signers(), ["trader-a"]);

    run_args(&["sign", &draft, "--key", &bank]).await.unwrap();
    let signed = Draft::read(draft.as_ref()).unwrap();
    assert_eq!(signed.signers(), ["trader-a", "bank-a"]);
    let tx = signed.transaction();
    assert_eq!(tx.ledger_id, "zhoushan-dev");
    assert!(tx.tx_id.starts_with("trader-a-"));
    signed.into_envelope().verify().unwrap();
    run_args(&["show-draft", &draft]).await.unwrap();
}

#[tokio::test]
async fn a_write_needs_a_key_or_a_draft_file() {
    let error = run_args(&["--ledger-id", "l", "pledge", "release", "--pledge-id", "P"])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("--key"), "{error}");
}

#[tokio::test]
async fn keys_generate_then_show() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wh-1.json").display().to_string();
    run_args(&["keys", "generate", "--id", "wh-1", "--out", &path])
        .await
        .unwrap();
    run_args(&["keys", "show", &path]).await.unwrap();
    assert_eq!(Signer::from_file(path.as_ref()).unwrap().id, "wh-1");
    assert!(
        run_args(&["keys", "generate", "--id", "wh-1", "--out", &path])
            .await
            .is_err()
    );
}

#[test]
fn entry_lines_name_the_operation_fields_and_signers() {
    use pledge_client::ops::{self, TxHeader};
    use pledge_client::{keys, pb};
    use pledge_ledger::crypto::Digest;
    use pledge_ledger::entry::Entry;

    let warehouse = Signer::new("wh-1", ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
    let tx = TxHeader::new("l", "wh-1")
        .unwrap()
        .with_tx_id("tx-1")
        .wrap(ops::certify_stock(&ops::StockCertificate {
            tank_id: "T-1",
            inspector_id: "insp-sgs",
            certificate_no: "C-1",
            quantity_kg: 5,
            product_grade: "VLSFO 0.5%S",
            gauged_at_ms: 1_800_000_000_000,
            depositor_id: "trader-a",
        }));
    let node = ed25519_dalek::SigningKey::from_bytes(&[100; 32]);
    let entry = Entry::seal_new(
        7,
        Digest::ZERO,
        1_800_000_000_000,
        keys::sign(&tx, &[warehouse]),
        &node,
    );
    let record = pb::EntryRecord {
        seq: 7,
        record: entry.encode(),
    };
    let line = chain::entry_line(&chain::describe_entry(&record));
    assert!(
        line.starts_with("#7      2027-01-15T08:00:00Z  certify_stock "),
        "{line}"
    );
    assert!(line.contains(" inspector_id=insp-sgs "), "{line}");
    assert!(line.ends_with("[signed by wh-1]"), "{line}");

    let garbage = pb::EntryRecord {
        seq: 8,
        record: vec![1, 2, 3],
    };
    let line = chain::entry_line(&chain::describe_entry(&garbage));
    assert!(line.starts_with("#8      undecodable: "), "{line}");
}

#[test]
fn a_gauging_time_may_be_a_while_ago() {
    let before = pledge_client::time::now_ms();
    for form in [["--gauged-at", "-2h"], ["--gauged-at=-2h", "--report"]] {
        let mut args = vec![
            "tank",
            "regauge",
            "--tank-id",
            "T-1",
            "--inspector",
            "insp-sgs",
        ];
        args.extend(form);
        if form[1] == "--report" {
            args.push("G-1");
        } else {
            args.extend(["--report", "G-1"]);
        }
        args.extend(["--measured-kg", "1000", "--key", "k.json"]);
        let cli = parse(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Tank(tank::TankCommand::Regauge { gauging, .. }) = cli.command else {
            panic!("not a regauge: {args:?}");
        };
        let at = gauging.gauged_at.expect("a time");
        let two_hours = 2 * 3_600_000;
        assert!(
            at + two_hours >= before && at + two_hours <= before + 60_000,
            "{at}"
        );
    }
}
