//! A cluster of three real members on loopback: the leader killed under
//! load loses no acknowledged entry and another leads within a bound; an
//! isolated member refuses writes and linearizable reads while the
//! majority goes on, then converges; banks racing for one receipt at
//! different members get exactly one pledge; a member is added and another
//! removed under load, and the leader itself removed under load; an auditor replaying any member gets the same head
//! and root; a client given every member rides out the leader's death by
//! itself; a follower asked for "at least entry N" answers with that entry.
//!
//! `PLEDGE_CLUSTER_ROUNDS=20 cargo test -p pledge-tests --test e2e cluster::`
//! runs the kill-the-leader test for 20 rounds (1 by default) and prints
//! the failover times.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pledge_client::keys::{Signer, sign};
use pledge_client::ops::{self, TxHeader};
use pledge_client::{ClientError, LedgerClient};
use pledge_ledger::entry::Entry;
use pledge_proto::v1 as pb;
use pledge_tests::DEV_LEDGER_ID;
use pledge_tests::cluster::Cluster;
use pledge_tests::proxy::Fault;
use tonic::Code;

use super::common::*;

/// Longest wait for anything in these tests.
pub(super) const BOUND: Duration = Duration::from_secs(30);
/// A new leader must be writing within this (election timeout 0.5–1 s).
pub(super) const FAILOVER_BOUND: Duration = Duration::from_secs(10);

/// An acknowledged write: its position and entry hash.
type Acked = BTreeMap<u64, Vec<u8>>;

/// The inspector certifies 1 kg of trader-a's oil in T-101 (certificate n);
/// the warehouse, the inspector and trader-a sign.
pub(super) fn certify_one(signers: &[Signer], n: u64) -> pledge_ledger::envelope::Envelope {
    let op = certify(&format!("SGS-LOAD-{n}"), 1);
    let tx = TxHeader::new(DEV_LEDGER_ID, &signers[0].id)
        .unwrap()
        .wrap(op);
    sign(&tx, signers)
}

/// The signers of [`certify_one`].
pub(super) fn certifiers(cluster: &Cluster) -> Vec<Signer> {
    ["wh-1", INSPECTOR, "trader-a"]
        .iter()
        .map(|id| cluster.member(1).signer(id))
        .collect()
}

/// Submits `envelope` to the members in turn, retrying the same envelope
/// until it is acknowledged or `BOUND` passes.
pub(super) async fn submit_anywhere(
    clients: &[(u64, LedgerClient)],
    envelope: &pledge_ledger::envelope::Envelope,
    start: usize,
) -> Result<pb::SubmitResponse, ClientError> {
    let deadline = Instant::now() + BOUND;
    let mut turn = start;
    loop {
        let (_, client) = &clients[turn % clients.len()];
        match client.submit(envelope).await {
            Ok(answer) => return Ok(answer),
            Err(error) if Instant::now() < deadline && retriable(&error) => {
                turn += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

fn retriable(error: &ClientError) -> bool {
    match error.refusal() {
        Some(refusal) => matches!(
            refusal.code,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
        ),
        None => true,
    }
}

pub(super) async fn clients(cluster: &Cluster) -> Vec<(u64, LedgerClient)> {
    let mut clients = Vec::new();
    for id in cluster.running() {
        clients.push((id, cluster.client(id).await));
    }
    clients
}

/// Writers that keep submitting to every member until stopped.
struct Load {
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(
        clients: Vec<(u64, LedgerClient)>,
        signers: Vec<Signer>,
        writers: u64,
        round: u64,
    ) -> Load {
        let acked = Arc::new(Mutex::new(Acked::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients = Arc::new(clients);
        let tasks = (0..writers)
            .map(|w| {
                let (acked, stop, clients, signers) = (
                    acked.clone(),
                    stop.clone(),
                    clients.clone(),
                    signers.clone(),
                );
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Acquire) {
                        let envelope = certify_one(&signers, round * 1_000_000 + w * 100_000 + n);
                        n += 1;
                        if let Ok(answer) =
                            submit_anywhere(&clients, &envelope, (w + n) as usize).await
                        {
                            acked.lock().unwrap().insert(answer.seq, answer.entry_hash);
                        }
                    }
                })
            })
            .collect();
        Load { acked, stop, tasks }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    async fn wait_for(&self, more_than: usize) {
        let deadline = Instant::now() + BOUND;
        while self.count() <= more_than {
            assert!(Instant::now() < deadline, "the load stalled at {more_than}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) -> Acked {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        for task in self.tasks {
            task.await.unwrap();
        }
        Arc::try_unwrap(self.acked).unwrap().into_inner().unwrap()
    }
}

/// Every running member holds every acknowledged entry with its hash, the
/// same head and root, and an auditor replaying it finds nothing wrong.
async fn check_members(cluster: &Cluster, acked: &Acked) {
    let size = acked.keys().last().map_or(0, |seq| seq + 1);
    let heads = cluster.converged(size, BOUND).await;
    let first = &heads[0];
    for head in &heads {
        assert_eq!(
            (head.size, &head.head_hash, &head.tree_root),
            (first.size, &first.head_hash, &first.tree_root),
            "members differ at their heads"
        );
    }
    for id in cluster.running() {
        let client = cluster.client(id).await;
        for (seq, hash) in acked {
            let record = client.entry(*seq).await.unwrap().record;
            let entry = Entry::decode(&record).unwrap();
            assert_eq!(&entry.hash().0.to_vec(), hash, "member {id}, entry {seq}");
        }
        let key = pledge_client::audit::ledger_key_of(&client).await.unwrap();
        let verdict =
            pledge_client::audit::audit_node(&client, key, &mut |_| {}, &mut |_| {}).await;
        match verdict.unwrap() {
            pledge_client::audit::Verdict::Verified {
                entries, head_hash, ..
            } => {
                assert_eq!(entries, first.size, "member {id}");
                assert_eq!(head_hash.0.to_vec(), first.head_hash, "member {id}");
            }
            bad => panic!("member {id}: {bad:?}"),
        }
    }
}

fn rounds() -> u64 {
    std::env::var("PLEDGE_CLUSTER_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_leader_killed_under_load_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(&dir.path().join("c"), 3).await;
    let signers = certifiers(&cluster);
    let mut failovers = Vec::new();
    let mut all = Acked::new();
    for round in 0..rounds() {
        let leader = cluster.leader(BOUND).await;
        let load = Load::start(clients(&cluster).await, signers.clone(), 4, round);
        load.wait_for(20).await;
        cluster.kill(leader);
        let killed_at = Instant::now();
        let before = load.count();
        load.wait_for(before).await;
        let failover = killed_at.elapsed();
        load.wait_for(before + 20).await;
        let acked = load.stop().await;
        assert!(
            failover < FAILOVER_BOUND,
            "round {round}: the first write after the kill took {failover:?}"
        );
        failovers.push(failover);
        cluster.start_member(leader);
        for (seq, hash) in &acked {
            if let Some(earlier) = all.insert(*seq, hash.clone()) {
                assert_eq!(
                    &earlier, hash,
                    "two different entries acknowledged at {seq}"
                );
            }
        }
        check_members(&cluster, &acked).await;
    }
    check_members(&cluster, &all).await;
    failovers.sort();
    let p50 = failovers[failovers.len() / 2];
    let max = failovers[failovers.len() - 1];
    println!(
        "failover (leader killed -> first acknowledged write): rounds {}, p50 {} ms, max {} ms",
        failovers.len(),
        p50.as_millis(),
        max.as_millis()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isolated_member_refuses_writes_and_the_majority_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start_with_proxies(&dir.path().join("c"), 3).await;
    let leader = cluster.leader(BOUND).await;
    let signers = certifiers(&cluster);
    let all = clients(&cluster).await;
    submit_anywhere(&all, &certify_one(&signers, 1), 0)
        .await
        .unwrap();

    // The leader is cut off: it cannot commit, the other two elect one.
    cluster.isolate(leader, true);
    let majority: Vec<_> = all
        .iter()
        .filter(|(id, _)| *id != leader)
        .cloned()
        .collect();
    let deadline = Instant::now() + BOUND;
    loop {
        let mut elected = false;
        for (id, _) in &majority {
            let info = cluster.info(*id).await;
            elected |= info.is_some_and(|i| i.leader_id != 0 && i.leader_id != leader);
        }
        if elected {
            break;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past the longest election timeout the old leader knows it is cut off
    // and says it no longer takes writes.
    let deadline = Instant::now() + BOUND;
    while cluster.info(leader).await.is_none_or(|i| i.leader_ready) {
        assert!(
            Instant::now() < deadline,
            "the cut-off leader still says it is ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let isolated = cluster.client(leader).await;
    let linearizable = pb::ReadOptions {
        linearizable: true,
        ..pb::ReadOptions::default()
    };
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        isolated.with_read(linearizable).head(),
    )
    .await
    .expect("a refusal at once, not a read left hanging")
    .expect_err("a cut-off leader must not serve a linearizable read");
    let refusal = refused.refusal().expect("a gRPC refusal");
    assert_eq!(refusal.code, Code::Unavailable, "{refusal:?}");
    let reason = refusal.info.as_ref().map(|i| i.reason.as_str());
    assert!(
        matches!(reason, Some("NO_QUORUM" | "NOT_LEADER" | "NO_LEADER")),
        "{refusal:?}"
    );
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        isolated.submit(&certify_one(&signers, 2)),
    )
    .await
    .expect("a refusal at once, not a write left hanging")
    .unwrap_err();
    let refusal = refused.refusal().expect("a gRPC refusal");
    let reason = refusal.info.as_ref().map(|i| i.reason.as_str());
    assert_eq!(refusal.code, Code::Unavailable, "{refusal:?}");
    assert!(
        matches!(
            reason,
            Some("NO_QUORUM" | "NO_LEADER" | "LEADER_UNREACHABLE")
        ),
        "{refusal:?}"
    );
    let mut acked = Acked::new();
    for n in 3..13 {
        let answer = submit_anywhere(&majority, &certify_one(&signers, n), n as usize)
            .await
            .unwrap();
        acked.insert(answer.seq, answer.entry_hash);
    }
    // The isolated member still answers plain reads, from what it has
    // applied; a linearizable read at the majority sees every write.
    let stale = isolated.head().await.unwrap();
    assert!(stale.size <= *acked.keys().next().unwrap());
    let last = *acked.keys().last().unwrap();
    for (id, _) in &majority {
        let at = cluster.client(*id).await.with_read(linearizable);
        let head = at.head().await.unwrap();
        assert!(
            head.size > last,
            "member {id}: {} entries, acked {last}",
            head.size
        );
    }

    cluster.isolate(leader, false);
    check_members(&cluster, &acked).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn banks_racing_at_different_members_get_exactly_one_pledge() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&dir.path().join("c"), 3).await;
    cluster.leader(BOUND).await;
    let node = cluster.member(1);
    let first = cluster.client(1).await;
    issue(node, &first, "WR-RACE", 1_000_000).await;
    let all = clients(&cluster).await;
    let holder = node.signer("trader-a");
    let banks = ["bank-a", "bank-b"];
    let mut racers = Vec::new();
    for i in 0..12usize {
        let bank = node.signer(banks[i % 2]);
        let op = ops::register_pledge(
            &format!("PL-{i}"),
            "WR-RACE",
            &bank.id,
            ops::money(1_000_000, "CNY"),
            "LOAN",
            now_ms() + DAY_MS,
        );
        let tx = TxHeader::new(DEV_LEDGER_ID, &holder.id).unwrap().wrap(op);
        let envelope = sign(&tx, &[holder.clone(), bank]);
        // Each bank starts at a different member and, on UNAVAILABLE (an
        // election under load), resends the same envelope elsewhere.
        let all = all.clone();
        racers.push(tokio::spawn(async move {
            submit_anywhere(&all, &envelope, i).await
        }));
    }
    let mut won = Vec::new();
    for (i, racer) in racers.into_iter().enumerate() {
        match racer.await.unwrap() {
            Ok(answer) => won.push((i, answer)),
            Err(error) => {
                let refusal = error.refusal().expect("a refusal");
                let reason = refusal.info.as_ref().map(|i| i.reason.clone());
                assert_eq!(reason.as_deref(), Some("RECEIPT_PLEDGED"), "{refusal:?}");
            }
        }
    }
    assert_eq!(won.len(), 1, "exactly one pledge wins: {won:?}");
    let winner = format!("PL-{}", won[0].0);
    let size = won[0].1.seq + 1;
    cluster.converged(size, BOUND).await;
    for id in cluster.running() {
        let receipt = cluster.client(id).await.receipt("WR-RACE").await.unwrap();
        let active = receipt
            .active_pledge
            .and_then(|p| p.terms)
            .map(|t| t.pledge_id);
        assert_eq!(active, Some(winner.clone()), "member {id}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_given_every_member_rides_out_the_leaders_death() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(&dir.path().join("c"), 3).await;
    let leader = cluster.leader(BOUND).await;
    let leader_url = cluster.member(leader).url();
    let signers = certifiers(&cluster);
    let client = cluster.client_of_all(leader).await;
    let first = client.submit(&certify_one(&signers, 1)).await.unwrap();
    assert_eq!(client.member(), leader_url);

    cluster.kill(leader);
    let envelope = certify_one(&signers, 2);
    let second = client.submit(&envelope).await.unwrap();
    assert!(second.seq > first.seq, "{second:?} after {first:?}");
    assert_ne!(
        client.member(),
        leader_url,
        "the client moved to a live member"
    );
    let again = client.submit(&envelope).await.unwrap();
    assert!(
        again.duplicate,
        "a resend of the same envelope is a retry: {again:?}"
    );
    assert_eq!(
        (again.seq, &again.entry_hash),
        (second.seq, &second.entry_hash)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_asked_for_at_least_an_entry_answers_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start_with_proxies(&dir.path().join("c"), 3).await;
    let leader = cluster.leader(BOUND).await;
    let follower = cluster
        .running()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    // Everything the leader sends this follower arrives late (within the
    // election timeout): the write commits with the other follower first.
    cluster.fault(leader, follower, Fault::Delay(Duration::from_millis(300)));
    let signers = certifiers(&cluster);
    let written = cluster
        .client(leader)
        .await
        .submit(&certify_one(&signers, 1))
        .await
        .unwrap();

    let at_follower = cluster.client(follower).await;
    let at_least = |seq: u64, wait_ms: u32| {
        at_follower.with_read(pb::ReadOptions {
            at_least_seq: seq,
            wait_ms,
            ..pb::ReadOptions::default()
        })
    };
    let head = at_least(written.seq, 0).head().await.unwrap();
    assert!(head.size > written.seq, "{} entries", head.size);
    let record = at_follower.entry(written.seq).await.unwrap().record;
    assert_eq!(
        Entry::decode(&record).unwrap().hash().0.to_vec(),
        written.entry_hash
    );

    let refused = at_least(written.seq + 1000, 200)
        .head()
        .await
        .expect_err("an entry that will not come in time");
    let refusal = refused.refusal().expect("a gRPC refusal");
    assert_eq!(refusal.code, Code::Unavailable, "{refusal:?}");
    let info = refusal.info.as_ref().expect("an ErrorInfo");
    assert_eq!(info.reason, "NOT_CAUGHT_UP", "{refusal:?}");
    assert_eq!(
        info.metadata["at_least_seq"],
        (written.seq + 1000).to_string()
    );

    let linearizable = at_follower.with_read(pb::ReadOptions {
        linearizable: true,
        ..pb::ReadOptions::default()
    });
    let second = cluster
        .client(leader)
        .await
        .submit(&certify_one(&signers, 2))
        .await
        .unwrap();
    let head = linearizable.head().await.unwrap();
    assert!(
        head.size > second.seq,
        "{} entries, acked {}",
        head.size,
        second.seq
    );
}

/// `pledgectl cluster ARGS` against member `id`, signed by the demo quorum.
fn cluster_ctl(cluster: &Cluster, id: u64, args: &[&str]) {
    let keys = cluster.data_dir(1).join("dev-keys");
    let output = std::process::Command::new(pledge_tests::binary("pledgectl"))
        .args(["--node", &cluster.member(id).url(), "cluster"])
        .args(args)
        .arg("--key")
        .arg(keys.join("admin.json"))
        .arg("--key")
        .arg(keys.join("regulator.json"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pledgectl cluster {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until member `id`'s Raft view says `member`'s voting is `voter`
/// (`None`: `member` is gone from Raft's configuration).
async fn raft_membership(cluster: &Cluster, id: u64, member: u64, voter: Option<bool>) {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(info) = cluster.info(id).await {
            let seen = info
                .members
                .iter()
                .find(|m| m.member_id == member && m.in_raft)
                .map(|m| m.voter);
            if seen == voter {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "member {id} never saw member {member} as {voter:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_added_and_one_removed_under_load_the_registry_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start_with_proxies(&dir.path().join("c"), 3).await;
    let leader = cluster.leader(BOUND).await;
    let signers = certifiers(&cluster);
    let load = Load::start(clients(&cluster).await, signers, 3, 0);
    load.wait_for(10).await;

    // Member 4 joins: the quorum lists it as a voter, the leader adds it to
    // Raft as a learner, it catches up from the initial ledger, and the
    // leader makes it a voter with no second command.
    let (key_file, address) = cluster.prepare_member(4);
    let key = key_file.to_str().unwrap();
    let add = [
        "add",
        "--member-id",
        "4",
        "--name",
        "member-4",
        "--address",
        &address,
        "--public-key-file",
        key,
    ];
    cluster_ctl(&cluster, leader, &add);
    cluster.start_member(4);
    raft_membership(&cluster, leader, 4, Some(true)).await;
    let before = load.count();
    load.wait_for(before + 10).await;

    // A follower leaves: removed from the ledger's membership, then from
    // Raft's; its process is stopped once it is out.
    let leaving = (1..=3).find(|id| *id != leader).unwrap();
    let leader = cluster.leader(BOUND).await;
    let leaving = if leaving == leader {
        (1..=3).find(|id| *id != leader && *id != leaving).unwrap()
    } else {
        leaving
    };
    cluster_ctl(
        &cluster,
        leader,
        &["remove", "--member-id", &leaving.to_string()],
    );
    raft_membership(&cluster, leader, leaving, None).await;
    cluster.kill(leaving);
    let before = load.count();
    load.wait_for(before + 10).await;
    let acked = load.stop().await;

    let info = cluster.info(4).await.unwrap();
    let listed: Vec<(u64, bool)> = info
        .ledger_members
        .iter()
        .map(|m| (m.member_id, m.voter))
        .collect();
    let expected: Vec<(u64, bool)> = [1, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != leaving)
        .map(|id| (id, true))
        .collect();
    assert_eq!(
        listed, expected,
        "the ledger's members, as member 4 applied them"
    );
    check_members(&cluster, &acked).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_leader_removed_under_load_hands_over_and_seals_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(&dir.path().join("c"), 3).await;
    let leader = cluster.leader(BOUND).await;
    let signers = certifiers(&cluster);
    let load = Load::start(clients(&cluster).await, signers, 3, 0);
    load.wait_for(10).await;
    let info = cluster.info(leader).await.unwrap();
    let leader_key = info
        .ledger_members
        .iter()
        .find(|m| m.member_id == leader)
        .map(|m| m.public_key.clone())
        .unwrap();

    // The quorum removes the leader; the entry is committed, the leader
    // takes itself out of Raft's voters and the others elect one of theirs.
    cluster_ctl(
        &cluster,
        leader,
        &["remove", "--member-id", &leader.to_string()],
    );
    let rest: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    raft_membership(&cluster, rest[0], leader, None).await;
    cluster.kill(leader);
    let successor = cluster.leader(BOUND).await;
    assert!(rest.contains(&successor), "{successor} leads");
    let before = load.count();
    load.wait_for(before + 10).await;
    let acked = load.stop().await;

    let info = cluster.info(successor).await.unwrap();
    let listed: Vec<u64> = info.ledger_members.iter().map(|m| m.member_id).collect();
    assert_eq!(listed, rest, "the ledger's members after the removal");
    check_members(&cluster, &acked).await;

    // No entry after the removal is sealed by the removed leader's key
    // (check_members' audits would refuse one: the key is no member's).
    let removed_at = info.membership_entry;
    let key = pledge_ledger::crypto::PublicKey(leader_key.try_into().unwrap());
    let client = cluster.client(successor).await;
    let head = client.head().await.unwrap();
    assert!(
        head.size > removed_at + 10,
        "{head:?}, removed at {removed_at}"
    );
    for seq in removed_at + 1..head.size {
        let entry = Entry::decode(&client.entry(seq).await.unwrap().record).unwrap();
        assert!(
            !pledge_ledger::crypto::verify_seal(&key, &entry.hash(), &entry.seal),
            "entry {seq}, after the removal at {removed_at}, is sealed by member {leader}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wiped_member_rejoins_by_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start_snapshotting(&dir.path().join("c"), 3, 10, 2).await;
    let leader = cluster.leader(BOUND).await;
    let signers = certifiers(&cluster);
    let lost = (1..=3).find(|id| *id != leader).unwrap();
    cluster.kill(lost);
    cluster.wipe(lost);
    let majority = clients(&cluster).await;
    let mut acked = Acked::new();
    for n in 0..40 {
        let answer = submit_anywhere(&majority, &certify_one(&signers, n), n as usize)
            .await
            .unwrap();
        acked.insert(answer.seq, answer.entry_hash);
    }
    cluster.start_member(lost);
    check_members(&cluster, &acked).await;
    let log = cluster.member(lost).log();
    assert!(
        log.contains("installed a snapshot from the leader"),
        "member {lost} caught up without a snapshot:\n{log}"
    );
}

/// `pledgectl ARGS`: its exit code and its output.
fn pledgectl(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let output = std::process::Command::new(pledge_tests::binary("pledgectl"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_proved_at_a_follower_verifies_with_the_trust_file_an_audit_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&dir.path().join("c"), 3).await;
    let leader = cluster.leader(BOUND).await;
    // A follower other than member 1 (whose key is the ledger key), so that
    // neither the entries' seals nor the checkpoint are the ledger key's.
    let follower = (2..=3).find(|id| *id != leader).unwrap();
    let issued = issue(
        cluster.member(1),
        &cluster.client(leader).await,
        "WR-EVIDENCE",
        1_000_000,
    )
    .await;
    let info = cluster.client(follower).await.node_info().await.unwrap();
    let ledger_key = hex::encode(&info.ledger_key);
    let follower_key = hex::encode(&info.node_public_key);
    let url = cluster.member(follower).url();
    let path = |name: &str| dir.path().join(name).into_os_string();
    let (trust, state, bundle) = (path("cluster.trust"), path("state"), path("b.json"));
    let arg = std::ffi::OsStr::new;

    let (code, text) = pledgectl(&[
        arg("--node"),
        arg(&url),
        arg("audit"),
        arg("--node-key"),
        arg(&ledger_key),
        arg("--state"),
        &state,
        arg("--write-trust"),
        &trust,
    ]);
    assert_eq!(code, Some(0), "{text}");
    let written = std::fs::read_to_string(dir.path().join("cluster.trust")).unwrap();
    for id in 1..=3 {
        let key = hex::encode(
            &cluster
                .client(id)
                .await
                .node_info()
                .await
                .unwrap()
                .node_public_key,
        );
        assert!(
            written.contains(&format!("log {key}")),
            "member {id}:\n{written}"
        );
    }

    cluster
        .client(follower)
        .await
        .with_read(pb::ReadOptions {
            at_least_seq: issued.seq,
            ..pb::ReadOptions::default()
        })
        .head()
        .await
        .unwrap();
    let (code, text) = pledgectl(&[
        arg("--node"),
        arg(&url),
        arg("receipt"),
        arg("prove"),
        arg("WR-EVIDENCE"),
        arg("--out"),
        &bundle,
        arg("--trust"),
        &trust,
    ]);
    assert_eq!(code, Some(0), "{text}");
    let json = std::fs::read_to_string(dir.path().join("b.json")).unwrap();
    assert!(
        json.contains(&follower_key),
        "the follower signed the checkpoint:\n{json}"
    );

    let (code, text) = pledgectl(&[arg("verify-bundle"), &bundle, arg("--trust"), &trust]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verified: receipt WR-EVIDENCE"), "{text}");

    // The ledger key alone, or with a key that is no member's: refused.
    let stranger = pledge_ledger::crypto::generate_signing_key().unwrap();
    let stranger = pledge_ledger::crypto::public_key(&stranger).to_hex();
    for keys in [ledger_key.clone(), format!("{ledger_key},{stranger}")] {
        let (code, text) =
            pledgectl(&[arg("verify-bundle"), &bundle, arg("--node-key"), arg(&keys)]);
        assert_eq!(code, Some(3), "{keys}: {text}");
        assert!(text.contains("the bundle does not verify"), "{text}");
    }
    let forged = written.replace(&follower_key, &stranger);
    std::fs::write(dir.path().join("forged.trust"), forged).unwrap();
    let (code, text) = pledgectl(&[
        arg("verify-bundle"),
        &bundle,
        arg("--trust"),
        &path("forged.trust"),
    ]);
    assert_eq!(code, Some(3), "{text}");
}
