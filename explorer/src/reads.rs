//! The reads the pages make, as the viewer, through the node's gRPC
//! service ([`crate::channel`]). Nothing here decides what a viewer may
//! see: the node's handlers do, exactly as for a gRPC client.
//!
//! Lists are paged by the node (`ListReceipts`, at most 1,000 a call);
//! figures that add up many receipts stop at [`SUM_LIMIT`] receipts and say
//! so, so that no page view costs the node an unbounded amount of work.

use pledge_ledger::entry::Entry;
use pledge_proto::v1::{
    self as pb, ledger_service_client::LedgerServiceClient, list_receipts_request::Filter,
};
use prost::Message as _;
use tokio_stream::StreamExt as _;
use tonic::{Code, Status};

use crate::channel::ReadChannel;

/// Most receipts a page adds up (tank and regulator figures).
pub const SUM_LIMIT: usize = 5_000;
/// The node's largest `ListReceipts` page.
const NODE_PAGE: u32 = 1_000;

/// The ledger as one viewer may read it.
#[derive(Debug, Clone)]
pub struct Reads {
    client: LedgerServiceClient<ReadChannel>,
}

/// One entry, decoded for display.
#[derive(Debug, Clone)]
pub struct EntryView {
    /// The entry as stored.
    pub entry: Entry,
    /// The record (body ‖ seal) as stored.
    pub record: Vec<u8>,
    /// Its transaction, or why it does not decode.
    pub tx: Result<pb::Transaction, String>,
}

/// Receipts and whether more exist than were read.
#[derive(Debug, Clone, Default)]
pub struct ReceiptPage {
    /// The receipts, in id order.
    pub receipts: Vec<pb::ReceiptView>,
    /// The cursor of the next page, if there is more.
    pub next_after: Option<String>,
}

/// What an id names, for the search box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A receipt.
    Receipt,
    /// A pledge.
    Pledge,
    /// A tank.
    Tank,
    /// A participant.
    Participant,
    /// An entry number.
    Entry(u64),
}

impl Reads {
    /// Reads through `channel`.
    pub fn new(channel: ReadChannel) -> Reads {
        Reads {
            client: LedgerServiceClient::new(channel),
        }
    }

    fn client(&self) -> LedgerServiceClient<ReadChannel> {
        self.client.clone()
    }

    /// The ledger id, node key, genesis hash and version.
    pub async fn node_info(&self) -> Result<pb::NodeInfo, Status> {
        let request = pb::GetNodeInfoRequest {};
        Ok(self.client().get_node_info(request).await?.into_inner())
    }

    /// The chain head.
    pub async fn head(&self) -> Result<pb::Head, Status> {
        Ok(self
            .client()
            .get_head(pb::GetHeadRequest { read: None })
            .await?
            .into_inner())
    }

    /// One receipt.
    pub async fn receipt(&self, id: &str) -> Result<pb::ReceiptView, Status> {
        let request = pb::GetReceiptRequest {
            receipt_id: id.to_owned(),
            read: None,
        };
        Ok(self.client().get_receipt(request).await?.into_inner())
    }

    /// One pledge.
    pub async fn pledge(&self, id: &str) -> Result<pb::PledgeView, Status> {
        let request = pb::GetPledgeRequest {
            pledge_id: id.to_owned(),
            read: None,
        };
        Ok(self.client().get_pledge(request).await?.into_inner())
    }

    /// One tank. Its pages list receipts through `ListReceipts` (which
    /// carries their views), so the tank's own list of live receipt ids is
    /// asked for one id only.
    pub async fn tank(&self, id: &str) -> Result<pb::TankView, Status> {
        let request = pb::GetTankRequest {
            tank_id: id.to_owned(),
            page_size: 1,
            page_token: String::new(),
            read: None,
        };
        Ok(self.client().get_tank(request).await?.into_inner())
    }

    /// One participant.
    pub async fn participant(&self, id: &str) -> Result<pb::ParticipantView, Status> {
        let request = pb::GetParticipantRequest {
            participant_id: id.to_owned(),
            read: None,
        };
        Ok(self.client().get_participant(request).await?.into_inner())
    }

    /// The latest signed checkpoint, or `None` before the first.
    pub async fn checkpoint(&self) -> Result<Option<pb::SignedCheckpoint>, Status> {
        match self
            .client()
            .get_checkpoint(pb::GetCheckpointRequest::default())
            .await
        {
            Ok(answer) => Ok(Some(answer.into_inner())),
            Err(status) if status.code() == Code::Unavailable => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// A receipt's evidence bundle at the latest checkpoint.
    pub async fn prove(&self, receipt_id: &str) -> Result<pb::ReceiptBundle, Status> {
        let request = pb::ProveReceiptRequest {
            receipt_id: receipt_id.to_owned(),
            ..Default::default()
        };
        Ok(self.client().prove_receipt(request).await?.into_inner())
    }

    /// One entry, decoded.
    pub async fn entry(&self, seq: u64) -> Result<EntryView, Status> {
        let request = pb::GetEntryRequest { seq };
        let record = self.client().get_entry(request).await?.into_inner();
        decode_entry(record)
    }

    /// Up to `max` entries from `from` on, in order.
    pub async fn entries(&self, from: u64, max: usize) -> Result<Vec<EntryView>, Status> {
        let request = pb::StreamEntriesRequest {
            from_seq: from,
            follow: false,
        };
        let mut stream = self.client().stream_entries(request).await?.into_inner();
        let mut entries = Vec::new();
        while entries.len() < max {
            match stream.next().await {
                Some(record) => entries.push(decode_entry(record?)?),
                None => break,
            }
        }
        Ok(entries)
    }

    /// One page of receipts under `filter`, from the exclusive cursor `after`.
    pub async fn receipt_page(
        &self,
        filter: Filter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ReceiptPage, Status> {
        let receipts = self.list(filter, after.unwrap_or(""), limit).await?;
        let full = receipts.len() == limit as usize;
        let next_after = full.then(|| receipts.last().and_then(receipt_id)).flatten();
        Ok(ReceiptPage {
            receipts,
            next_after,
        })
    }

    /// Every receipt under `filter`, up to [`SUM_LIMIT`]; the flag says
    /// whether more were left unread.
    pub async fn receipts_for_sums(
        &self,
        filter: Filter,
    ) -> Result<(Vec<pb::ReceiptView>, bool), Status> {
        let mut all: Vec<pb::ReceiptView> = Vec::new();
        loop {
            let after = all.last().and_then(receipt_id).unwrap_or_default();
            let page = self.list(filter.clone(), &after, NODE_PAGE).await?;
            let last_page = page.len() < NODE_PAGE as usize;
            all.extend(page);
            if all.len() > SUM_LIMIT || (all.len() == SUM_LIMIT && !last_page) {
                all.truncate(SUM_LIMIT);
                return Ok((all, true));
            }
            if last_page {
                return Ok((all, false));
            }
        }
    }

    async fn list(
        &self,
        filter: Filter,
        after: &str,
        limit: u32,
    ) -> Result<Vec<pb::ReceiptView>, Status> {
        let request = pb::ListReceiptsRequest {
            filter: Some(filter),
            after_receipt_id: after.to_owned(),
            limit,
            read: None,
        };
        let mut stream = self.client().list_receipts(request).await?.into_inner();
        let mut receipts = Vec::new();
        while let Some(receipt) = stream.next().await {
            receipts.push(receipt?);
        }
        Ok(receipts)
    }

    /// What `id` names: a receipt, a pledge, a tank, a participant (in
    /// that order), else an entry number if it is one.
    pub async fn find(&self, id: &str) -> Result<Option<Found>, Status> {
        if exists(self.receipt(id).await)? {
            return Ok(Some(Found::Receipt));
        }
        if exists(self.pledge(id).await)? {
            return Ok(Some(Found::Pledge));
        }
        if exists(self.tank(id).await)? {
            return Ok(Some(Found::Tank));
        }
        if exists(self.participant(id).await)? {
            return Ok(Some(Found::Participant));
        }
        let Ok(seq) = id.parse::<u64>() else {
            return Ok(None);
        };
        let size = self.head().await?.size;
        Ok((seq < size).then_some(Found::Entry(seq)))
    }
}

fn exists<T>(answer: Result<T, Status>) -> Result<bool, Status> {
    match answer {
        Ok(_) => Ok(true),
        Err(status) if status.code() == Code::NotFound => Ok(false),
        Err(status) => Err(status),
    }
}

fn receipt_id(view: &pb::ReceiptView) -> Option<String> {
    view.terms.as_ref().map(|t| t.receipt_id.clone())
}

fn decode_entry(record: pb::EntryRecord) -> Result<EntryView, Status> {
    let entry = Entry::decode(&record.record).map_err(|e| {
        Status::internal(format!(
            "entry {} from the node does not decode: {e}",
            record.seq
        ))
    })?;
    let tx = pb::Transaction::decode(entry.envelope.tx_bytes.as_slice()).map_err(|e| e.to_string());
    Ok(EntryView {
        entry,
        record: record.record,
        tx,
    })
}
