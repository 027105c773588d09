//! The refused double pledge, and sixteen banks racing for one receipt: one
//! pledge entry, and an attempt entry recording each authenticated loser.

use pledge_client::keys::Signer;
use pledge_client::ops::{self, TxHeader};
use pledge_ledger::entry::Entry;
use pledge_ledger::tx::{Operation, Transaction};
use pledge_proto::v1 as pb;
use pledge_tests::Node;
use tokio_stream::StreamExt;
use tonic::Code;

use super::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn bank_b_is_refused_a_receipt_pledged_at_bank_a() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-1", 1_000_000).await;
    let first = pledge(&node, &client, "PL-A", "WR-1", "trader-a", "bank-a")
        .await
        .unwrap();
    let error = pledge(&node, &client, "PL-B", "WR-1", "trader-a", "bank-b")
        .await
        .unwrap_err();
    let (code, reason, message) = refusal(&error);
    assert_eq!(code, Code::FailedPrecondition);
    assert_eq!(reason, "RECEIPT_PLEDGED");
    assert!(
        message.contains("PL-A") && message.contains("bank-a"),
        "{message}"
    );
    assert!(
        message.contains(&format!("since entry {}", first.seq)),
        "{message}"
    );
    let metadata = &error.refusal().unwrap().info.as_ref().unwrap().metadata;
    assert_eq!(metadata.get("pledge").map(String::as_str), Some("PL-A"));
    assert_eq!(metadata.get("pledgee").map(String::as_str), Some("bank-a"));
    let miss = client.pledge("PL-B").await.unwrap_err();
    assert_eq!(refusal(&miss).0, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_banks_race_and_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    issue(&node, &client, "WR-RACE", 1_000_000).await;

    // Fourteen more banks join bank-a and bank-b.
    let mut banks = vec![node.signer("bank-a"), node.signer("bank-b")];
    for i in 3..=16 {
        let id = format!("bank-{i}");
        let key = pledge_ledger::crypto::generate_signing_key().unwrap();
        let first17 = format!("91330900MA2B{i:05}");
        let check = pledge_ledger::identity::uscc_check_character(&first17).unwrap();
        let spec = ops::participant_spec(
            &id,
            &format!("Bank {i}"),
            &[pb::Role::Bank],
            &pledge_ledger::crypto::public_key(&key),
            ops::uscc(&format!("{first17}{check}")),
        );
        submit(&node, &client, ops::admit_participant(spec), QUORUM)
            .await
            .unwrap();
        banks.push(Signer::new(&id, key));
    }

    // Every pledge is signed before the race so they leave at the same moment.
    let holder = node.signer("trader-a");
    let envelopes: Vec<_> = banks
        .iter()
        .map(|bank| {
            let op = ops::register_pledge(
                &format!("PL-{}", bank.id),
                "WR-RACE",
                &bank.id,
                ops::money(1_000_000, "CNY"),
                "LOAN",
                now_ms() + DAY_MS,
            );
            let tx = TxHeader::new("zhoushan-dev", &bank.id).unwrap().wrap(op);
            pledge_client::keys::sign(&tx, &[holder.clone(), bank.clone()])
        })
        .collect();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(envelopes.len()));
    let racers: Vec<_> = envelopes
        .into_iter()
        .map(|envelope| {
            let (client, start) = (client.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                client.submit(&envelope).await
            })
        })
        .collect();
    let mut won = 0;
    let mut attempts = std::collections::BTreeSet::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            Err(error) => {
                let (code, reason, _) = refusal(&error);
                assert_eq!(
                    (code, reason.as_str()),
                    (Code::FailedPrecondition, "RECEIPT_PLEDGED")
                );
                let metadata = &error.refusal().unwrap().info.as_ref().unwrap().metadata;
                let attempt: u64 = metadata["attempt_entry"].parse().unwrap();
                assert!(attempts.insert(attempt), "two losers named one attempt");
            }
        }
    }
    assert_eq!((won, attempts.len()), (1, 15));

    // A loser whose signature is not its own key's is not authenticated:
    // refused before the rules ask about the receipt, and never recorded.
    let size = client.head().await.unwrap().size;
    let impostor = Signer::new(
        "bank-b",
        pledge_ledger::crypto::generate_signing_key().unwrap(),
    );
    let op = ops::register_pledge(
        "PL-X",
        "WR-RACE",
        "bank-b",
        ops::money(1, "CNY"),
        "LOAN",
        now_ms() + DAY_MS,
    );
    let tx = TxHeader::new("zhoushan-dev", "impostor").unwrap().wrap(op);
    let error = client
        .submit(&pledge_client::keys::sign(&tx, &[holder.clone(), impostor]))
        .await
        .unwrap_err();
    let (code, reason, _) = refusal(&error);
    assert_eq!(
        (code, reason.as_str()),
        (Code::Unauthenticated, "KEY_NEVER_OWNED")
    );
    assert_eq!(client.head().await.unwrap().size, size);

    // The chain holds exactly one pledge entry for the receipt, and an
    // attempt entry for each loser, where its refusal said.
    let mut stream = client.entries(0, false).await.unwrap();
    let (mut pledges, mut recorded) = (0, std::collections::BTreeSet::new());
    while let Some(record) = stream.next().await {
        let entry = Entry::decode(&record.unwrap().record).unwrap();
        let tx = Transaction::decode(&entry.envelope.tx_bytes).unwrap();
        let Operation::RegisterPledge(terms) = tx.operation else {
            continue;
        };
        match &entry.refusal {
            None if terms.receipt_id == "WR-RACE" => pledges += 1,
            Some(refusal) => {
                assert_eq!(refusal.reason, "RECEIPT_PLEDGED");
                assert_eq!(refusal.field("receipt"), Some("WR-RACE"));
                recorded.insert(entry.seq);
            }
            None => {}
        }
    }
    assert_eq!(pledges, 1);
    assert_eq!(recorded, attempts);
    // And an auditor's replay re-derives every one of those refusals.
    assert_eq!(replay_from_node(&client).await.entries(), size);
}
