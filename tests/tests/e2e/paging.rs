//! List answers that grow with the ledger come a page at a time: a tank with
//! 20,000 live receipts is listed exactly once across `GetTank`'s pages, with
//! writes between the pages.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use pledge_client::ops::TxHeader;
use pledge_client::{LedgerClient, keys, ops};
use pledge_ledger::envelope::Envelope;
use pledge_tests::{DEV_LEDGER_ID, Node, binary};
use tonic::Code;

use super::common::*;

/// Roots issued, parts per split (the ledger's largest split), and so live
/// receipts after two rounds of splits.
const ROOTS: usize = 2;
const PARTS: usize = 100;
const LIVE: usize = ROOTS * PARTS * PARTS;
/// Quantity of one receipt of the second round.
const LEAF_KG: u64 = 10;

fn root_id(root: usize) -> String {
    format!("P-{root}")
}

fn part_id(parent: &str, part: usize) -> String {
    format!("{parent}-{part:02}")
}

/// The split of `parent` into `PARTS` receipts of `kg` each, signed by the
/// warehouse and the holder.
fn split(node: &Node, parent: &str, kg: u64) -> Envelope {
    let parts: Vec<(String, u64)> = (0..PARTS).map(|i| (part_id(parent, i), kg)).collect();
    let tx = TxHeader::new(DEV_LEDGER_ID, "wh-1")
        .unwrap()
        .wrap(ops::split_receipt(parent, &parts));
    keys::sign(&tx, &[node.signer("wh-1"), node.signer("trader-a")])
}

/// Issues `ROOTS` receipts on T-101 and splits them twice: `LIVE` live
/// receipts from ROOTS * (2 + 1 + PARTS) writes, the second round sent
/// 16 at a time.
async fn twenty_thousand_receipts(node: &Node, client: &LedgerClient) -> BTreeSet<String> {
    let middle_kg = LEAF_KG * PARTS as u64;
    let mut middles = Vec::new();
    for root in 0..ROOTS {
        let root = root_id(root);
        issue(node, client, &root, middle_kg * PARTS as u64).await;
        client.submit(&split(node, &root, middle_kg)).await.unwrap();
        middles.extend((0..PARTS).map(|i| part_id(&root, i)));
    }
    for group in middles.chunks(16) {
        let mut sent = tokio::task::JoinSet::new();
        for middle in group {
            let (client, envelope) = (client.clone(), split(node, middle, LEAF_KG));
            sent.spawn(async move { client.submit(&envelope).await });
        }
        while let Some(answer) = sent.join_next().await {
            answer.unwrap().unwrap();
        }
    }
    middles
        .iter()
        .flat_map(|middle| (0..PARTS).map(|i| part_id(middle, i)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_receipts_on_a_tank_are_listed_once_across_pages_with_writes_between() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = node.client().await;
    let mut live = twenty_thousand_receipts(&node, &client).await;
    assert_eq!(live.len(), LIVE);

    // The default page, and the first page of every size up to the largest.
    let first = client.tank_page("T-101", 0, "").await.unwrap();
    assert_eq!(first.live_receipt_ids.len(), 1_000);
    assert!(!first.next_page_token.is_empty());
    let largest = client.tank_page("T-101", 5_000, "").await.unwrap();
    assert_eq!(largest.live_receipt_ids.len(), 5_000);
    let refused = client.tank_page("T-101", 5_001, "").await.unwrap_err();
    assert_eq!(refusal(&refused).0, Code::InvalidArgument);
    let refused = client
        .tank_page("T-101", 10, "not a token!")
        .await
        .unwrap_err();
    assert_eq!(refusal(&refused).0, Code::InvalidArgument);

    // Page through 1,000 at a time; before each page: split a receipt the
    // listing has not reached (it stops being live; its parts sort after it)
    // and issue one that sorts after every receipt (it must be listed).
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut token = String::new();
    let mut stopped_being_live = BTreeSet::new();
    let mut issued_meanwhile = BTreeSet::new();
    let mut pages = 0;
    loop {
        let ahead = live
            .iter()
            .filter(|id| token.is_empty() || **id > token)
            .nth(500)
            .cloned();
        if let Some(ahead) = ahead {
            let parts = [
                (format!("{ahead}-x"), LEAF_KG / 2),
                (format!("{ahead}-y"), LEAF_KG / 2),
            ];
            submit(
                &node,
                &client,
                ops::split_receipt(&ahead, &parts),
                &["wh-1", "trader-a"],
            )
            .await
            .unwrap();
            live.remove(&ahead);
            stopped_being_live.insert(ahead);
        }
        let late = format!("Z-{pages:03}");
        issue(&node, &client, &late, LEAF_KG).await;
        issued_meanwhile.insert(late);

        let page = client.tank_page("T-101", 1_000, &token).await.unwrap();
        assert!(page.live_receipt_ids.len() <= 1_000);
        for id in page.live_receipt_ids {
            *seen.entry(id).or_default() += 1;
        }
        pages += 1;
        assert!(pages <= 40, "the listing does not end");
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }

    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "listed more than once: {twice:?}");
    let missing: Vec<_> = live.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} live receipts not listed: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let missing: Vec<_> = issued_meanwhile
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "issued after the listing began, not listed: {missing:?}"
    );
    let listed_dead: Vec<_> = stopped_being_live
        .iter()
        .filter(|id| seen.contains_key(*id))
        .collect();
    assert!(
        listed_dead.is_empty(),
        "split before its page, yet listed: {listed_dead:?}"
    );
    assert!(pages >= LIVE / 1_000, "{pages} pages");

    // The client library and pledgectl gather every page for the user.
    let all = client.tank("T-101").await.unwrap();
    assert_eq!(all.next_page_token, "");
    let all: BTreeSet<_> = all.live_receipt_ids.into_iter().collect();
    assert!(live.is_subset(&all) && issued_meanwhile.is_subset(&all));
    let shown = ctl(&node, &["--json", "tank", "show", "T-101"]);
    let ids = shown["live_receipt_ids"].as_array().unwrap();
    assert_eq!(ids.len(), all.len());
    let one = ctl(
        &node,
        &[
            "--json",
            "tank",
            "show",
            "T-101",
            "--one-page",
            "--page-size",
            "3",
        ],
    );
    assert_eq!(one["live_receipt_ids"].as_array().unwrap().len(), 3);
    let token = one["next_page_token"].as_str().unwrap();
    let next = ctl(
        &node,
        &[
            "--json",
            "tank",
            "show",
            "T-101",
            "--one-page",
            "--page-size",
            "3",
            "--page-token",
            token,
        ],
    );
    assert_eq!(
        next["live_receipt_ids"][0].as_str().unwrap(),
        ids[3].as_str().unwrap()
    );
}

fn ctl(node: &Node, args: &[&str]) -> serde_json::Value {
    let output = Command::new(binary("pledgectl"))
        .args(["--node", &node.url()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pledgectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
