//! `GetReport`: the regulator's report (docs/REPORT.md) streamed from one
//! published snapshot, a tank at a time, as the client reads.
//!
//! ```text
//!   GetReport ─▶ stream slot (streams.rs) ─▶ read_fresh snapshot ─▶ warehouse_id checked
//!            ─▶ task: header(size) ─▶ pledge_ledger::report::rows(snapshot, size)
//!                     each row ─▶ channel (STREAM_BUFFER rows) ─▶ client
//! ```
//!
//! The task holds the snapshot (reference counts) and at most the rows of
//! one tank and the banks' totals; the next tank is read only when the
//! channel has room, so a client that stops reading holds an idle task, no
//! thread. One step reads one tank's receipts from the store, as a
//! `GetTank` page does. Who may ask: anyone the node serves reads to, as
//! for every other read — each figure is a function of the chain, which
//! `StreamEntries` serves to the same callers.

use std::sync::Arc;

use pledge_ledger::report::{self, ReportError, ReportScope};
use pledge_ledger::state::StateRead;
use pledge_ledger::view::LedgerRead;
use pledge_proto::v1 as pb;
use tokio::sync::{mpsc, watch};
use tonic::{Code, Status};

use crate::service::{shutting_down, stopped};
use crate::streams::StreamSlot;
use crate::{NodeSnapshot, status};

/// The ErrorInfo reason of a report whose state moved while it was read.
pub const STATE_MOVED: &str = "STATE_MOVED";

/// The scope a request asks for: every tank, or one warehouse's (which
/// must be a participant).
pub fn scope_of(
    request: &pb::GetReportRequest,
    ledger: &NodeSnapshot,
) -> Result<ReportScope, Status> {
    let id = &request.warehouse_id;
    if id.is_empty() {
        return Ok(ReportScope::All);
    }
    pledge_ledger::text::check_id("warehouse_id", id)
        .map_err(|e| status::bad_request(e.to_string()))?;
    match ledger.participant(id).map_err(|e| status::store(&e))? {
        Some(_) => Ok(ReportScope::Warehouse(id.clone())),
        None => Err(status::not_found("participant", id)),
    }
}

/// Computes and sends one report.
pub struct ReportStreamer {
    /// The snapshot the whole report is read from.
    pub ledger: Arc<NodeSnapshot>,
    pub scope: ReportScope,
    pub stopping: watch::Receiver<bool>,
    pub sender: mpsc::Sender<Result<pb::ReportRow, Status>>,
    /// Given back when the stream ends.
    pub _slot: StreamSlot,
}

impl ReportStreamer {
    /// Sends the header and every row, computing the next tank's rows only
    /// once the channel has room. Ends early when the client goes away or
    /// the node stops.
    pub async fn run(self) {
        let size = self.ledger.len();
        if !self.send(Ok(report::wire::header(size, &self.scope))).await {
            return;
        }
        for row in report::rows(&*self.ledger, size, self.scope.clone()) {
            let item = row
                .map(|row| report::wire::row(&row))
                .map_err(|error| report_error(&error));
            if !self.send(item).await {
                return;
            }
        }
    }

    /// Sends one item; false when the client went away or the node is
    /// stopping (the client then gets SHUTTING_DOWN if it has room).
    async fn send(&self, item: Result<pb::ReportRow, Status>) -> bool {
        tokio::select! {
            sent = self.sender.send(item) => sent.is_ok(),
            () = stopped(self.stopping.clone()) => {
                let _ = self.sender.try_send(Err(shutting_down()));
                false
            }
        }
    }
}

fn report_error(error: &ReportError) -> Status {
    match error {
        ReportError::StateMoved {
            object,
            changed_at,
            size,
        } => status::status(
            Code::Unavailable,
            format!(
                "{object} changed (entry {changed_at}) while the report at size {size} was read; \
                 the rows sent are right at that size, but the report is incomplete: ask again"
            ),
            STATE_MOVED,
            vec![
                ("size".into(), size.to_string()),
                ("object".into(), object.clone()),
            ],
        ),
        other => status::store(other),
    }
}
