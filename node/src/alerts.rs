//! The node's alert stream (docs/ALERTS.md): derived from the chain as it
//! grows and from the node's clock, kept in memory, served by WatchAlerts
//! to the participants each alert concerns.
//!
//! ```text
//!   heads (new entries) ─▶ AlertLog::follow: each entry reapplied in an
//!   clock (every second)    in-memory replay (pledge_ledger::alerts::AlertFeed),
//!                           the alerts appended; `count` announces them
//!   WatchAlerts ─▶ signed request checked (watch_request.rs) ─▶ AlertStreamer:
//!                  alerts from `from_index`, those the caller may see
//! ```
//!
//! The feed replays the whole chain at start (signatures and rules, as an
//! auditor does), in memory beside the node's state; alerts are kept for
//! the node's life (a few hundred bytes each).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use pledge_ledger::alerts::{Alert, AlertFeed, AlertPolicy};
use pledge_ledger::view::LedgerRead;
use tokio::sync::watch;

use crate::NodePublished;
use crate::pipeline::now_ms;

/// How often the clock is looked at for clock-driven alerts.
const CLOCK_TICK: Duration = Duration::from_secs(1);
/// A clock alert fires this long after its time, so that an entry sealed
/// before its time but published after (a group still being made durable,
/// or replicated) comes before it, as in a replay (docs/ALERTS.md §2).
pub const CLOCK_LAG_MS: u64 = 10_000;

/// How far the alerts have come: alerts derived, entries fed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Alerts derived so far.
    pub alerts: u64,
    /// Entries fed so far.
    pub entries: u64,
}

/// The alerts derived so far, shared by the follower and the streams.
#[derive(Debug, Clone)]
pub struct AlertLog {
    alerts: Arc<RwLock<Vec<Alert>>>,
    progress: watch::Receiver<Progress>,
}

impl AlertLog {
    /// Starts the follower of `published` under `policy`; alerts appear as
    /// the chain grows (and as the clock runs).
    pub fn start(
        published: Arc<NodePublished>,
        heads: watch::Receiver<u64>,
        policy: AlertPolicy,
    ) -> AlertLog {
        let alerts = Arc::new(RwLock::new(Vec::new()));
        let (progress_tx, progress) = watch::channel(Progress::default());
        let follower = Follower {
            published,
            feed: AlertFeed::new(policy),
            alerts: alerts.clone(),
            progress: progress_tx,
        };
        tokio::spawn(follower.run(heads));
        AlertLog { alerts, progress }
    }

    /// Alerts `from..` (at most `limit`) that `visible` lets through, and
    /// the index after the last one looked at.
    pub fn read(&self, from: u64, limit: usize, visible: impl Fn(&Alert) -> bool) -> (Vec<Alert>, u64) {
        let alerts = self.alerts.read().unwrap_or_else(|e| e.into_inner());
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(alerts.len());
        let end = start.saturating_add(limit).min(alerts.len());
        let picked = alerts[start..end].iter().filter(|a| visible(a)).cloned().collect();
        (picked, end as u64)
    }

    /// How far the alerts have come; changes as they do.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }
}

struct Follower {
    published: Arc<NodePublished>,
    feed: AlertFeed,
    alerts: Arc<RwLock<Vec<Alert>>>,
    progress: watch::Sender<Progress>,
}

impl Follower {
    async fn run(mut self, mut heads: watch::Receiver<u64>) {
        let mut clock = tokio::time::interval(CLOCK_TICK);
        loop {
            let size = *heads.borrow_and_update();
            self.catch_up(size);
            let due = self.feed.watch_mut().tick(now_ms().saturating_sub(CLOCK_LAG_MS));
            self.publish(due);
            tokio::select! {
                changed = heads.changed() => if changed.is_err() {
                    return;
                },
                _ = clock.tick() => {}
            }
        }
    }

    /// Feeds the entries up to `size`.
    fn catch_up(&mut self, size: u64) {
        let ledger = self.published.load();
        let end = size.min(ledger.len());
        while self.feed.watch().next_seq() < end {
            let seq = self.feed.watch().next_seq();
            let fed = ledger
                .entry(seq)
                .map_err(|e| e.to_string())
                .and_then(|entry| self.feed.push(&entry).map_err(|e| e.to_string()));
            match fed {
                Ok(alerts) => self.publish(alerts),
                Err(error) => {
                    tracing::error!(seq, %error, "alerts: an entry could not be fed");
                    return;
                }
            }
        }
    }

    fn publish(&self, new: Vec<Alert>) {
        let mut alerts = self.alerts.write().unwrap_or_else(|e| e.into_inner());
        alerts.extend(new);
        let progress = Progress {
            alerts: alerts.len() as u64,
            entries: self.feed.watch().next_seq(),
        };
        self.progress.send_if_modified(|old| std::mem::replace(old, progress) != progress);
    }
}

/// Who is watching: everything (a regulator or an auditor), or one
/// participant's alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// Sees every alert.
    All,
    /// Sees the alerts naming it.
    Participant(String),
}

impl Viewer {
    /// Whether `alert` is for this viewer.
    pub fn sees(&self, alert: &Alert) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Participant(id) => alert.parties.contains(id),
        }
    }
}

/// The alert's message.
pub fn to_proto(alert: Alert) -> pb::Alert {
    pb::Alert {
        index: alert.index,
        kind: alert.kind.as_str().into(),
        state: alert.state.as_str().into(),
        seq: alert.seq,
        time_ms: alert.time_ms,
        trigger: match alert.trigger {
            Trigger::Entry => "ENTRY",
            Trigger::Clock => "CLOCK",
        }
        .into(),
        subject: alert.subject,
        parties: alert.parties.into_iter().collect(),
        fields: alert.fields.into_iter().collect(),
    }
}

/// How many alerts are read per batch.
const ALERT_BATCH: usize = 256;

/// Sends the alerts a viewer sees from `next` on, then (when following)
/// new ones, until the client goes away or the node stops.
pub struct AlertStreamer {
    /// The alerts.
    pub log: AlertLog,
    /// Who watches.
    pub viewer: Viewer,
    /// The next index to look at.
    pub next: u64,
    /// Keep going.
    pub follow: bool,
    /// Turns true when the node stops.
    pub stopping: watch::Receiver<bool>,
    /// Where the alerts go.
    pub sender: mpsc::Sender<Result<pb::Alert, Status>>,
    /// The chain's size when asked: a stream that does not follow ends once
    /// the alerts of these entries are sent.
    pub until_entries: u64,
}

impl AlertStreamer {
    /// Runs the stream.
    pub async fn run(mut self) {
        let mut progress = self.log.progress();
        loop {
            let now = *progress.borrow_and_update();
            let total = now.alerts;
            while self.next < total {
                let (alerts, next) = self.log.read(self.next, ALERT_BATCH, |a| self.viewer.sees(a));
                self.next = next;
                for alert in alerts {
                    if self.sender.send(Ok(to_proto(alert))).await.is_err() {
                        return;
                    }
                }
            }
            if !self.follow && now.entries >= self.until_entries {
                return;
            }
            tokio::select! {
                changed = progress.changed() => if changed.is_err() {
                    return;
                },
                () = crate::service::stopped(self.stopping.clone()) => {
                    let _ = self.sender.send(Err(shutting_down())).await;
                    return;
                }
            }
        }
    }
}
