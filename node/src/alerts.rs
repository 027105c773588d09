//! The node's alerts (docs/ALERTS.md): derived from the chain as it grows,
//! kept in memory, served by `WatchAlerts` to the participants each alert
//! concerns.
//!
//! ```text
//!   a single node:
//!     start: the log up to the published head ─▶ AlertFeed (rules, its own
//!            in-memory state), again until it reaches the head; the groups
//!            the pipeline sends meanwhile are dropped (each is in the log)
//!     then:  the state dropped; each durable group from the pipeline
//!            (its entries with what the decide thread found each changed)
//!            ─▶ AlertWatch::observe_next: no rules run a second time
//!   a cluster member: heads (committed size) ─▶ each new entry through
//!            the AlertFeed, as it does not decide the entries it applies
//!   either way: alerts appended to the AlertLog; `progress` announces them
//!   WatchAlerts ─▶ watcher named (mutual TLS, or a signed request checked
//!                  here: key, clock skew, not seen before)
//!               ─▶ stream slot (streams.rs) ─▶ AlertStreamer: alerts from
//!                  `from_index` the watcher may see, then (following) new ones
//! ```
//!
//! At start the feed replays the whole log in the background (the node
//! serves meanwhile; streams wait for it): its cost is the ledger's live
//! state in memory a second time while it runs (for good on a cluster
//! member) and the rules' time over the chain (docs/ALERTS.md §6 gives
//! figures); `[alerts] enabled = false` turns it off. An entry is observed
//! once it is durable, in chain order, exactly once: one out of order stops
//! the alerts (`failed_at`), as an entry that does not apply does.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, RwLock};

use pledge_ledger::alerts::request::{WatchRequest, WatchRequestError};
use pledge_ledger::alerts::{Alert, AlertFeed, AlertPolicy, AlertWatch};
use pledge_ledger::model::Role;
use pledge_ledger::state::StateRead;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1 as pb;
use tokio::sync::{mpsc, watch};
use tonic::{Code, Request, Status};

use crate::NodePublished;
use crate::pipeline::DurableEntries;
use crate::status;
use crate::streams::StreamSlot;

/// How far a signed request's time may be from the node's clock, either way.
pub const MAX_REQUEST_SKEW_MS: u64 = 5 * 60 * 1000;
/// Alerts read from the log at a time when streaming.
const ALERT_BATCH: usize = 64;
/// Entries fed from the log between two looks at what the pipeline sent.
const CATCH_UP_CHUNK: u64 = 4096;

/// How far the alerts have come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Alerts derived so far.
    pub alerts: u64,
    /// Entries fed so far.
    pub entries: u64,
    /// The feed stopped at this entry, which it could not apply.
    pub failed_at: Option<u64>,
}

/// Where the alerts learn of new entries.
#[derive(Debug)]
pub enum Source {
    /// The committed size (a cluster member): each new entry is read from
    /// the log and run through the rules to learn what it changed.
    Heads(watch::Receiver<u64>),
    /// The single node's pipeline: each durable group's entries with what
    /// each changed ([`crate::pipeline::Observer`]).
    Pipeline(Receiver<DurableEntries>),
}

/// The alerts derived so far, shared by the follower and the streams.
#[derive(Debug, Clone)]
pub struct AlertLog {
    alerts: Arc<RwLock<Vec<Alert>>>,
    progress: watch::Receiver<Progress>,
}

impl AlertLog {
    /// Starts following `published` under `policy`: alerts appear as
    /// `source` tells of new entries.
    pub fn start(
        published: Arc<NodePublished>,
        source: Source,
        policy: AlertPolicy,
    ) -> std::io::Result<AlertLog> {
        let alerts = Arc::new(RwLock::new(Vec::new()));
        let (progress_tx, progress) = watch::channel(Progress::default());
        let follower = Follower {
            published,
            feed: AlertFeed::new(policy),
            out: Derived {
                alerts: alerts.clone(),
                progress: progress_tx,
            },
        };
        match source {
            Source::Heads(heads) => {
                tokio::spawn(follower.run(heads));
            }
            Source::Pipeline(groups) => {
                std::thread::Builder::new()
                    .name("alerts".into())
                    .spawn(move || follower.follow_pipeline(groups))?;
            }
        }
        Ok(AlertLog { alerts, progress })
    }

    /// How far the alerts have come once they have fed `entries` entries
    /// or stopped.
    #[cfg(test)]
    pub(crate) async fn caught_up(&self, entries: u64) -> Progress {
        let mut progress = self.progress.clone();
        let reached = progress
            .wait_for(|p| p.entries >= entries || p.failed_at.is_some())
            .await
            .expect("the alerts announce their progress");
        *reached
    }

    /// Alerts `from..` (at most `limit`) that `watcher` sees, and the index
    /// after the last one looked at.
    pub(crate) fn read(&self, from: u64, limit: usize, watcher: &Watcher) -> (Vec<Alert>, u64) {
        let alerts = self.alerts.read().unwrap_or_else(|e| e.into_inner());
        let start = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(alerts.len());
        let end = start.saturating_add(limit).min(alerts.len());
        let seen = alerts[start..end]
            .iter()
            .filter(|alert| watcher.sees(alert))
            .cloned()
            .collect();
        (seen, end as u64)
    }
}

/// Where derived alerts go: the shared list, and the progress announced.
struct Derived {
    alerts: Arc<RwLock<Vec<Alert>>>,
    progress: watch::Sender<Progress>,
}

impl Derived {
    /// Appends `new`, derived from the entries before `entries`.
    fn publish(&self, new: Vec<Alert>, entries: u64) {
        let mut alerts = self.alerts.write().unwrap_or_else(|e| e.into_inner());
        alerts.extend(new);
        let count = alerts.len() as u64;
        drop(alerts);
        self.progress.send_if_modified(|p| {
            let changed = (p.alerts, p.entries) != (count, entries);
            (p.alerts, p.entries) = (count, entries);
            changed
        });
    }

    /// The alerts stop at entry `seq`.
    fn fail_at(&self, seq: u64) {
        self.progress.send_modify(|p| p.failed_at = Some(seq));
    }
}

/// Feeds entries read from the log through the rules.
struct Follower {
    published: Arc<NodePublished>,
    feed: AlertFeed,
    out: Derived,
}

impl Follower {
    async fn run(mut self, mut heads: watch::Receiver<u64>) {
        loop {
            let size = *heads.borrow_and_update();
            let fed = tokio::task::spawn_blocking(move || {
                let fed = self.catch_up(size);
                (self, fed)
            })
            .await;
            match fed {
                Ok((follower, Ok(()))) => self = follower,
                Ok((follower, Err(seq))) => {
                    follower.out.fail_at(seq);
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, "alerts: the feed's task failed");
                    return;
                }
            }
            if heads.changed().await.is_err() {
                return;
            }
        }
    }

    /// Catches up with the log, then observes what the pipeline sends,
    /// until the pipeline stops.
    fn follow_pipeline(mut self, groups: Receiver<DurableEntries>) {
        match self.catch_up_with_pipeline(&groups) {
            Ok(true) => {}
            Ok(false) => return,
            Err(seq) => return self.out.fail_at(seq),
        }
        let observer = PipelineWatch {
            watch: self.feed.into_watch(),
            out: self.out,
        };
        observer.run(groups);
    }

    /// Feeds the log up to the published head, again until the feed has
    /// reached it, dropping the groups the pipeline sent meanwhile: each
    /// was published before it was sent, so the log holds it. Once this
    /// returns, every group the feed has not reached is still to come from
    /// the pipeline. False if the pipeline stopped; the entry it could not
    /// feed.
    fn catch_up_with_pipeline(&mut self, groups: &Receiver<DurableEntries>) -> Result<bool, u64> {
        loop {
            loop {
                match groups.try_recv() {
                    Ok(_) => {}
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Ok(false),
                }
            }
            let head = self.published.load().len();
            let next = self.feed.watch().next_seq();
            if next >= head {
                return Ok(true);
            }
            self.catch_up(head.min(next.saturating_add(CATCH_UP_CHUNK)))?;
        }
    }

    /// Feeds the entries up to `size`; the entry it could not feed.
    fn catch_up(&mut self, size: u64) -> Result<(), u64> {
        let ledger = self.published.load();
        let end = size.min(ledger.len());
        while self.feed.watch().next_seq() < end {
            let seq = self.feed.watch().next_seq();
            let fed = ledger
                .entry(seq)
                .map_err(|e| e.to_string())
                .and_then(|entry| self.feed.push(&entry).map_err(|e| e.to_string()));
            match fed {
                Ok(alerts) => self.out.publish(alerts, seq + 1),
                Err(error) => {
                    tracing::error!(seq, %error, "alerts: an entry could not be fed");
                    return Err(seq);
                }
            }
        }
        Ok(())
    }
}

/// Observes each durable entry with what the pipeline says it changed.
struct PipelineWatch {
    watch: AlertWatch,
    out: Derived,
}

impl PipelineWatch {
    fn run(mut self, groups: Receiver<DurableEntries>) {
        while let Ok(group) = groups.recv() {
            if let Err(seq) = self.observe(&group) {
                return self.out.fail_at(seq);
            }
        }
    }

    /// Observes the group's entries not observed yet (the catch-up from
    /// the log may have fed its first ones); the entry it could not.
    fn observe(&mut self, group: &DurableEntries) -> Result<(), u64> {
        let Some(each) = group.each() else {
            let seq = self.watch.next_seq();
            tracing::error!(
                seq,
                "alerts: the pipeline sent entries without their changes"
            );
            return Err(seq);
        };
        let mut alerts = Vec::new();
        for (entry, changes) in each {
            if entry.seq < self.watch.next_seq() {
                continue;
            }
            match self.watch.observe_next(entry, changes) {
                Ok(new) => alerts.extend(new),
                Err(error) => {
                    let seq = self.watch.next_seq();
                    tracing::error!(seq, %error, "alerts: an entry could not be observed");
                    self.out.publish(alerts, seq);
                    return Err(seq);
                }
            }
        }
        self.out.publish(alerts, self.watch.next_seq());
        Ok(())
    }
}

/// Who watches: a regulator or an auditor sees every alert, any other
/// participant the alerts naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watcher {
    /// Sees every alert.
    All(String),
    /// Sees the alerts naming it among their parties.
    Participant(String),
}

impl Watcher {
    /// Whether `alert` is for this watcher.
    pub fn sees(&self, alert: &Alert) -> bool {
        match self {
            Watcher::All(_) => true,
            Watcher::Participant(id) => alert.parties.contains(id),
        }
    }

    /// The participant watching.
    pub fn id(&self) -> &str {
        match self {
            Watcher::All(id) | Watcher::Participant(id) => id,
        }
    }
}

/// Signed requests seen within the skew, so that none is used twice.
#[derive(Debug, Default)]
pub struct SeenRequests {
    /// By the request's time, then its signature.
    seen: Mutex<BTreeMap<(u64, [u8; 64]), ()>>,
}

impl SeenRequests {
    /// Remembers the request of `signature` signed at `time_ms`; false if
    /// it was seen before. Forgets requests too old to be accepted again.
    fn first_use(&self, time_ms: u64, signature: [u8; 64], now_ms: u64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = now_ms.saturating_sub(MAX_REQUEST_SKEW_MS);
        *seen = seen.split_off(&(oldest, [0; 64]));
        seen.insert((time_ms, signature), ()).is_none()
    }
}

/// Reason codes of WatchAlerts (docs/ERRORS.md §4).
pub const WATCHER_NOT_NAMED: &str = "WATCHER_NOT_NAMED";
/// The request's time is too far from the node's clock.
pub const REQUEST_STALE: &str = "REQUEST_STALE";
/// The signed request was used already.
pub const REQUEST_REPLAYED: &str = "REQUEST_REPLAYED";
/// The request names another participant than the connection's.
pub const CONNECTION_NOT_THE_WATCHER: &str = "CONNECTION_NOT_THE_WATCHER";
/// `from_index` is past the last alert.
pub const PAST_LAST_ALERT: &str = "PAST_LAST_ALERT";
/// The node does not derive alerts.
pub const ALERTS_OFF: &str = "ALERTS_OFF";
/// The node's feed stopped at an entry it could not apply.
pub const ALERTS_FAILED: &str = "ALERTS_FAILED";

/// The watcher of `request`: the connection's participant, or the signer
/// of the request, checked against `ledger` at `now_ms`.
pub fn watcher_of<L: LedgerRead + StateRead>(
    request: &Request<pb::WatchAlertsRequest>,
    ledger: &L,
    seen: &SeenRequests,
    now_ms: u64,
) -> Result<Watcher, Status> {
    let connection = crate::tls::connection_participant(request);
    let asked = request.get_ref();
    let id = match (connection, asked.participant_id.as_str()) {
        (None, "") => return Err(not_named()),
        (Some(connection), "") => connection,
        (Some(connection), named) if connection != named => {
            return Err(status::status(
                Code::PermissionDenied,
                format!(
                    "this connection's certificate names {connection}, the request {named}: \
                     watch as the connection's participant (leave participant_id empty)"
                ),
                CONNECTION_NOT_THE_WATCHER,
                vec![
                    ("connection_participant".into(), connection),
                    ("participant".into(), named.into()),
                ],
            ));
        }
        (_, named) => {
            check_signed(asked, ledger, seen, now_ms)?;
            named.to_owned()
        }
    };
    let participant = ledger
        .participant(&id)
        .map_err(|e| status::store(&e))?
        .ok_or_else(|| unknown(&id))?;
    if let Some(revoked_at) = participant.revoked_at {
        return Err(revoked(&id, revoked_at));
    }
    let sees_all = participant.has_role(Role::Regulator) || participant.has_role(Role::Auditor);
    Ok(match sees_all {
        true => Watcher::All(id),
        false => Watcher::Participant(id),
    })
}

fn check_signed<L: LedgerRead + StateRead>(
    asked: &pb::WatchAlertsRequest,
    ledger: &L,
    seen: &SeenRequests,
    now_ms: u64,
) -> Result<(), Status> {
    let id = &asked.participant_id;
    let participant = ledger
        .participant(id)
        .map_err(|e| status::store(&e))?
        .ok_or_else(|| unknown(id))?;
    let watch = WatchRequest {
        ledger_id: ledger
            .ledger_id()
            .map_err(|e| status::store(&e))?
            .unwrap_or_default(),
        participant_id: id.clone(),
        from_index: asked.from_index,
        follow: asked.follow,
        time_ms: asked.time_ms,
    };
    let verified = watch.verify(
        &participant.spec.public_key,
        &asked.signature,
        now_ms,
        MAX_REQUEST_SKEW_MS,
    );
    match verified {
        Ok(()) => {}
        Err(WatchRequestError::BadId { field }) => {
            return Err(status::bad_request(format!(
                "{field} must be 1 to 64 bytes long"
            )));
        }
        Err(WatchRequestError::BadSignature { .. }) => {
            return Err(status::status(
                Code::Unauthenticated,
                format!(
                    "the watch request's signature does not verify under {id}'s current key \
                     (docs/ALERTS.md §4 gives the signed bytes)"
                ),
                "BAD_SIGNATURE",
                vec![("participant".into(), id.clone())],
            ));
        }
        Err(WatchRequestError::Stale {
            time_ms,
            now_ms,
            max_skew_ms,
        }) => {
            return Err(status::status(
                Code::Unauthenticated,
                format!(
                    "the watch request was signed at {time_ms} ms, more than {max_skew_ms} ms \
                     from the node's clock ({now_ms} ms): sign a new request now (and check \
                     the clock)"
                ),
                REQUEST_STALE,
                vec![
                    ("time_ms".into(), time_ms.to_string()),
                    ("node_time_ms".into(), now_ms.to_string()),
                    ("max_skew_ms".into(), max_skew_ms.to_string()),
                ],
            ));
        }
    }
    let signature: [u8; 64] = asked
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| status::bad_request("the signature must be 64 bytes".into()))?;
    if !seen.first_use(asked.time_ms, signature, now_ms) {
        return Err(status::status(
            Code::Unauthenticated,
            "this signed watch request was used already: sign a new one for each stream".into(),
            REQUEST_REPLAYED,
            vec![("participant".into(), id.clone())],
        ));
    }
    Ok(())
}

fn not_named() -> Status {
    status::status(
        Code::Unauthenticated,
        "name the watcher: participant_id, time_ms and a signature by its current key, or a \
         connection whose client certificate names a participant"
            .into(),
        WATCHER_NOT_NAMED,
        vec![],
    )
}

fn unknown(id: &str) -> Status {
    status::status(
        Code::Unauthenticated,
        format!("no participant {id} on this ledger"),
        "UNKNOWN_SIGNER",
        vec![("participant".into(), id.into())],
    )
}

fn revoked(id: &str, revoked_at: u64) -> Status {
    status::status(
        Code::Unauthenticated,
        format!("participant {id} was revoked at entry {revoked_at}"),
        "SIGNER_REVOKED",
        vec![
            ("participant".into(), id.into()),
            ("revoked_at".into(), revoked_at.to_string()),
        ],
    )
}

/// The refusal of a node that does not derive alerts.
pub fn alerts_off() -> Status {
    status::status(
        Code::FailedPrecondition,
        "this node does not derive alerts ([alerts] enabled = false): ask another member".into(),
        ALERTS_OFF,
        vec![],
    )
}

fn past_last_alert(from: u64, alerts: u64) -> Status {
    status::status(
        Code::OutOfRange,
        format!("from_index {from} is past the last alert: there are {alerts} alerts"),
        PAST_LAST_ALERT,
        vec![("alerts".into(), alerts.to_string())],
    )
}

fn feed_failed(seq: u64) -> Status {
    status::status(
        Code::Internal,
        format!("the node's alerts stopped at entry {seq}, which it could not apply"),
        ALERTS_FAILED,
        vec![("seq".into(), seq.to_string())],
    )
}

/// The alert's message.
pub fn to_proto(alert: Alert) -> pb::Alert {
    pb::Alert {
        index: alert.index,
        kind: alert.kind.as_str().into(),
        state: alert.state.as_str().into(),
        seq: alert.seq,
        time_ms: alert.time_ms,
        trigger: alert.trigger.as_str().into(),
        subject: alert.subject,
        parties: alert.parties.into_iter().collect(),
        fields: alert.fields.into_iter().collect(),
    }
}

/// Sends the alerts a watcher sees from `next` on, then (when following)
/// new ones, until the client goes away or the node stops.
pub struct AlertStreamer {
    /// The alerts.
    pub log: AlertLog,
    /// Who watches.
    pub watcher: Watcher,
    /// The next index to look at.
    pub next: u64,
    /// Keep going.
    pub follow: bool,
    /// The committed size when asked: a stream that does not follow ends
    /// once the alerts of these entries are sent.
    pub until_entries: u64,
    /// Turns true when the node stops.
    pub stopping: watch::Receiver<bool>,
    /// Where the alerts go.
    pub sender: mpsc::Sender<Result<pb::Alert, Status>>,
    /// Given back when the stream ends.
    pub _slot: StreamSlot,
}

impl AlertStreamer {
    /// Runs the stream.
    pub async fn run(mut self) {
        let mut progress = self.log.progress.clone();
        let mut checked_start = false;
        loop {
            let now = *progress.borrow_and_update();
            if let Some(seq) = now.failed_at {
                let _ = self.sender.send(Err(feed_failed(seq))).await;
                return;
            }
            let caught_up = now.entries >= self.until_entries;
            if caught_up && !checked_start {
                if self.next > now.alerts {
                    let _ = self
                        .sender
                        .send(Err(past_last_alert(self.next, now.alerts)))
                        .await;
                    return;
                }
                checked_start = true;
            }
            if checked_start && !self.send_up_to(now.alerts).await {
                return;
            }
            if caught_up && !self.follow {
                return;
            }
            tokio::select! {
                changed = progress.changed() => if changed.is_err() {
                    return;
                },
                () = self.sender.closed() => return,
                () = crate::service::stopped(self.stopping.clone()) => {
                    let _ = self.sender.try_send(Err(crate::service::shutting_down()));
                    return;
                }
            }
        }
    }

    /// Sends the alerts the watcher sees below `total`; false when the
    /// client went away.
    async fn send_up_to(&mut self, total: u64) -> bool {
        while self.next < total {
            let (alerts, next) = self.log.read(self.next, ALERT_BATCH, &self.watcher);
            self.next = next;
            for alert in alerts {
                if self.sender.send(Ok(to_proto(alert))).await.is_err() {
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_is_good_once_within_the_skew() {
        let seen = SeenRequests::default();
        let now = 1_800_000_000_000;
        assert!(seen.first_use(now, [1; 64], now));
        assert!(!seen.first_use(now, [1; 64], now + 1_000), "the same again");
        assert!(
            seen.first_use(now, [2; 64], now + 1_000),
            "another signature"
        );
        let later = now + MAX_REQUEST_SKEW_MS + 1;
        assert!(seen.first_use(later, [3; 64], later));
        assert_eq!(
            seen.seen.lock().unwrap().len(),
            1,
            "requests too old to be accepted again are forgotten"
        );
    }
}
