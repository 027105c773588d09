//! A cluster of three members speaking mutual TLS to each other
//! (`cluster-init --tls`), one start for every check: it elects a leader,
//! commits writes sent to every member (followers forward them over the
//! member port) and serves a linearizable read at a follower (read index
//! from the leader over the member port); a TLS caller without a
//! certificate, one with a certificate from another CA, one naming a member
//! the cluster does not list, one speaking for another member, and a
//! plaintext caller are all refused on the member port, logged and counted,
//! while the cluster goes on; the leader is killed and another takes the
//! writes.

use std::path::Path;
use std::time::{Duration, Instant};

use pledge_client::certs;
use pledge_proto::cluster::{self as cpb, raft_service_client::RaftServiceClient};
use pledge_proto::v1 as pb;
use pledge_tests::cluster::Cluster;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use super::cluster::{BOUND, FAILOVER_BOUND, certifiers, certify_one, clients, submit_anywhere};
use super::common::counter;

/// Longest a refused caller may wait for its answer (no hang).
const REFUSAL_BOUND: Duration = Duration::from_secs(5);

/// A Vote speaking for `member`, at term 0 (harmless if it were heard).
fn vote_from(member: u64) -> cpb::VoteRequest {
    cpb::VoteRequest {
        vote: Some(cpb::Vote {
            leader_id: Some(cpb::LeaderId {
                term: 0,
                member_id: member,
            }),
            committed: false,
        }),
        last_log_id: None,
    }
}

/// A caller's TLS: the CA it trusts and, maybe, its certificate and key.
type CallerTls<'a> = (&'a Path, Option<(&'a Path, &'a Path)>);

/// Calls Vote on the member port `port` as `member`, over https (trusting
/// `tls.0`, presenting the certificate `tls.1` if any) or over plaintext http.
async fn call_vote(
    port: u16,
    tls: Option<CallerTls<'_>>,
    member: u64,
) -> Result<(), tonic::Status> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3));
    if let Some((ca, identity)) = tls {
        endpoint = endpoint
            .tls_config(pledge_client::tls::client_config(ca, identity).unwrap())
            .unwrap();
    }
    let call = async {
        let channel: Channel = match endpoint.connect().await {
            Ok(channel) => channel,
            Err(error) => return Err(tonic::Status::unavailable(format!("{error:?}"))),
        };
        let answer = RaftServiceClient::new(channel)
            .vote(vote_from(member))
            .await;
        answer.map(|_| ())
    };
    tokio::time::timeout(REFUSAL_BOUND, call)
        .await
        .unwrap_or_else(|_| panic!("no answer within {REFUSAL_BOUND:?}: a hang"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tls_cluster_commits_refuses_strangers_and_plaintext_and_survives_its_leader() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start_tls(&dir.path().join("c"), 3).await;
    let config = std::fs::read_to_string(cluster.config_path(1)).unwrap();
    assert!(config.contains("[cluster.tls]") && config.contains("https://127.0.0.1:"));
    let leader = cluster.leader(BOUND).await;
    let signers = certifiers(&cluster);
    let members = clients(&cluster).await;
    for n in 0..5 {
        submit_anywhere(&members, &certify_one(&signers, n), n as usize)
            .await
            .unwrap();
    }

    let follower = cluster
        .running()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let port = cluster.cluster_port(follower);
    let tls = cluster.dir.join("tls");
    let ca = tls.join(certs::CA_CERT);
    let hosts = ["127.0.0.1".to_owned()];

    // A write sent to a follower: it forwards it to the leader over the
    // member port.
    let at_follower = cluster.client(follower).await;
    let forwarded = at_follower
        .submit(&certify_one(&signers, 5))
        .await
        .expect("a follower forwards a write to the leader over TLS");

    // A linearizable read at a follower: the read index comes from the
    // leader over the member port, and the answer holds every write
    // acknowledged before it.
    let written = cluster
        .client(leader)
        .await
        .submit(&certify_one(&signers, 6))
        .await
        .unwrap();
    assert!(written.seq > forwarded.seq);
    let linearizable = pb::ReadOptions {
        linearizable: true,
        ..pb::ReadOptions::default()
    };
    let head = at_follower.with_read(linearizable).head().await.unwrap();
    assert!(
        head.size > written.seq,
        "a linearizable read at member {follower} missed entry {}: {head:?}",
        written.seq
    );

    // TLS without a client certificate: the handshake is refused.
    let started = Instant::now();
    let refused = call_vote(port, Some((&ca, None)), 1).await;
    assert!(
        refused.is_err(),
        "a caller without a certificate was accepted"
    );
    assert!(started.elapsed() < REFUSAL_BOUND, "{:?}", started.elapsed());

    // Another CA's certificate naming member 1: the handshake is refused.
    let rogue = dir.path().join("rogue");
    certs::create_dev_ca(&rogue).unwrap();
    let stranger = certs::issue_member(&rogue, 1, &hosts, &rogue).unwrap();
    let started = Instant::now();
    let refused = call_vote(port, Some((&ca, Some((&stranger.cert, &stranger.key)))), 1).await;
    assert!(refused.is_err(), "another CA's certificate was accepted");
    assert!(started.elapsed() < REFUSAL_BOUND, "{:?}", started.elapsed());

    // The members' CA, but a member the cluster does not list.
    let unlisted = certs::issue_member(&tls, 9, &hosts, &dir.path().join("m9")).unwrap();
    let refused = call_vote(port, Some((&ca, Some((&unlisted.cert, &unlisted.key)))), 9).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("member 9"), "{refused:?}");

    // A listed member's certificate speaking for another member.
    let member_2 = (tls.join("member-2.pem"), tls.join("member-2-key.pem"));
    let target = cluster.running().into_iter().find(|id| *id != 2).unwrap();
    let refused = call_vote(
        cluster.cluster_port(target),
        Some((&ca, Some((&member_2.0, &member_2.1)))),
        3,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("speaks for member 3"),
        "{refused:?}"
    );

    // Plaintext on the TLS member port: refused at once, not a hang.
    let started = Instant::now();
    assert!(
        call_vote(port, None, 1).await.is_err(),
        "plaintext accepted"
    );
    assert!(started.elapsed() < REFUSAL_BOUND, "{:?}", started.elapsed());

    let log = cluster.member(follower).log();
    assert!(
        log.contains("refused a member connection: the TLS handshake failed"),
        "no handshake refusal in member {follower}'s log:\n{log}"
    );
    assert!(log.contains("MEMBER_NOT_LISTED"), "{log}");
    // No certificate, another CA's, plaintext: three refused handshakes.
    let metrics = cluster.member(follower).metrics();
    let handshakes = counter(
        &metrics,
        "pledge_member_refusals_total{reason=\"TLS_HANDSHAKE\"}",
    );
    assert!(handshakes >= 3, "{metrics}");
    let unlisted = counter(
        &metrics,
        "pledge_member_refusals_total{reason=\"MEMBER_NOT_LISTED\"}",
    );
    assert!(unlisted >= 1, "{metrics}");

    // The cluster went on: writes commit, then the leader dies and another leads.
    submit_anywhere(&members, &certify_one(&signers, 10), 0)
        .await
        .unwrap();
    cluster.kill(leader);
    let killed = Instant::now();
    let next = cluster.leader(FAILOVER_BOUND).await;
    assert_ne!(next, leader);
    let survivors = clients(&cluster).await;
    let answer = submit_anywhere(&survivors, &certify_one(&signers, 11), 0)
        .await
        .unwrap();
    assert!(killed.elapsed() < FAILOVER_BOUND, "{:?}", killed.elapsed());
    let heads = cluster.converged(answer.seq + 1, BOUND).await;
    assert!(heads.windows(2).all(|h| h[0] == h[1]), "{heads:?}");
}
