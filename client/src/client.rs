//! [`LedgerClient`]: one async method per RPC of `LedgerService`.

use std::pin::Pin;
use std::time::Duration;

use pledge_ledger::envelope::Envelope;
use pledge_proto::v1::{self as pb, ledger_service_client::LedgerServiceClient};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::error::{ClientError, Result};

/// Which receipts [`LedgerClient::list_receipts`] lists (at most one filter).
pub use pb::list_receipts_request::Filter as ReceiptFilter;

/// A stream of entries from [`LedgerClient::entries`].
pub type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::EntryRecord>> + Send>>;

/// The node's default page size for `ListReceipts`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// How to reach a node.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to wait for the connection to open.
    pub connect_timeout: Duration,
    /// TLS settings, required for `https://` endpoints and refused for
    /// `http://` ones; see [`crate::tls::client_config`].
    pub tls: Option<ClientTlsConfig>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// A connection to a ledger node. Cheap to clone: clones share the
/// underlying HTTP/2 channel.
#[derive(Debug, Clone)]
pub struct LedgerClient {
    inner: LedgerServiceClient<Channel>,
}

impl LedgerClient {
    /// Connects to `endpoint`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(endpoint: &str) -> Result<LedgerClient> {
        LedgerClient::connect_with(endpoint, ConnectOptions::default()).await
    }

    /// Connects with explicit options (timeouts, TLS). An `https://`
    /// endpoint needs `options.tls`; an `http://` one must not have it, so
    /// that a typo cannot silently drop TLS.
    pub async fn connect_with(endpoint: &str, options: ConnectOptions) -> Result<LedgerClient> {
        let invalid = |reason: String| ClientError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let mut target = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(options.connect_timeout);
        let https = target.uri().scheme_str() == Some("https");
        match (options.tls, https) {
            (Some(tls), true) => {
                target = target.tls_config(tls).map_err(|e| invalid(e.to_string()))?;
            }
            (None, false) => {}
            (None, true) => {
                return Err(invalid(
                    "an https:// endpoint needs TLS settings: the CA that issued the node's certificate".into(),
                ));
            }
            (Some(_), false) => {
                return Err(invalid(
                    "TLS settings were given for a plaintext endpoint: use https://".into(),
                ));
            }
        }
        let channel = target.connect().await?;
        Ok(LedgerClient::from_channel(channel))
    }

    /// A client over a channel set up by the caller (tests, custom stacks).
    pub fn from_channel(channel: Channel) -> LedgerClient {
        LedgerClient {
            inner: LedgerServiceClient::new(channel),
        }
    }

    /// Submits a signed envelope; answers once the entry is durable. A
    /// refusal is [`ClientError::Refused`]. A cluster member that cannot
    /// take the write now refuses with `UNAVAILABLE` and a reason listed in
    /// `ledger_service.proto` (`NO_LEADER`, `NO_QUORUM`, ...): resend the
    /// same envelope (always safe) after a pause, at the `leader_address`
    /// or another of the `member_addresses` of the refusal's metadata. This
    /// client does not do that by itself.
    pub async fn submit(&self, envelope: &Envelope) -> Result<pb::SubmitResponse> {
        let request = pb::SubmitRequest {
            envelope: Some(envelope.to_proto()),
        };
        Ok(self.inner.clone().submit(request).await?.into_inner())
    }

    /// The ledger id, node key, genesis hash and node version.
    pub async fn node_info(&self) -> Result<pb::NodeInfo> {
        let request = pb::GetNodeInfoRequest {};
        Ok(self
            .inner
            .clone()
            .get_node_info(request)
            .await?
            .into_inner())
    }

    /// The chain head.
    pub async fn head(&self) -> Result<pb::Head> {
        Ok(self
            .inner
            .clone()
            .get_head(pb::GetHeadRequest {})
            .await?
            .into_inner())
    }

    /// One receipt with its state, active pledge and history.
    pub async fn receipt(&self, receipt_id: &str) -> Result<pb::ReceiptView> {
        let request = pb::GetReceiptRequest {
            receipt_id: receipt_id.to_owned(),
        };
        Ok(self.inner.clone().get_receipt(request).await?.into_inner())
    }

    /// One page of receipts matching `filter`, in id order, after the
    /// exclusive cursor `after` ("" for the first page). `limit` 0 means the
    /// node's default.
    pub async fn list_receipts(
        &self,
        filter: Option<ReceiptFilter>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<pb::ReceiptView>> {
        let request = pb::ListReceiptsRequest {
            filter,
            after_receipt_id: after.to_owned(),
            limit,
        };
        let stream = self
            .inner
            .clone()
            .list_receipts(request)
            .await?
            .into_inner();
        let page: Vec<pb::ReceiptView> = stream.collect::<Result<_, tonic::Status>>().await?;
        Ok(page)
    }

    /// Every receipt matching `filter`, following the cursor page by page.
    pub async fn list_all_receipts(
        &self,
        filter: Option<ReceiptFilter>,
        page_size: u32,
    ) -> Result<Vec<pb::ReceiptView>> {
        let page_size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size
        };
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let page = self
                .list_receipts(filter.clone(), &after, page_size)
                .await?;
            let full = page.len() >= page_size as usize;
            let last = page.last().map(receipt_id).unwrap_or_default().to_owned();
            all.extend(page);
            if !full {
                return Ok(all);
            }
            if last <= after {
                return Err(ClientError::bad_answer(format!(
                    "ListReceipts did not advance past cursor {after:?}"
                )));
            }
            after = last;
        }
    }

    /// One pledge.
    pub async fn pledge(&self, pledge_id: &str) -> Result<pb::PledgeView> {
        let request = pb::GetPledgeRequest {
            pledge_id: pledge_id.to_owned(),
        };
        Ok(self.inner.clone().get_pledge(request).await?.into_inner())
    }

    /// One tank with its stock and live receipts.
    pub async fn tank(&self, tank_id: &str) -> Result<pb::TankView> {
        let request = pb::GetTankRequest {
            tank_id: tank_id.to_owned(),
        };
        Ok(self.inner.clone().get_tank(request).await?.into_inner())
    }

    /// One participant.
    pub async fn participant(&self, participant_id: &str) -> Result<pb::ParticipantView> {
        let request = pb::GetParticipantRequest {
            participant_id: participant_id.to_owned(),
        };
        Ok(self
            .inner
            .clone()
            .get_participant(request)
            .await?
            .into_inner())
    }

    /// Entries from `from_seq` as stored (body ‖ seal). With `follow` the
    /// stream stays open and yields entries as they commit.
    pub async fn entries(&self, from_seq: u64, follow: bool) -> Result<EntryStream> {
        let request = pb::StreamEntriesRequest { from_seq, follow };
        let stream = self
            .inner
            .clone()
            .stream_entries(request)
            .await?
            .into_inner();
        Ok(Box::pin(stream.map(|item| item.map_err(ClientError::from))))
    }

    /// The node's latest signed checkpoint.
    pub async fn checkpoint(&self) -> Result<pb::SignedCheckpoint> {
        Ok(self
            .inner
            .clone()
            .get_checkpoint(pb::GetCheckpointRequest::default())
            .await?
            .into_inner())
    }

    /// The first published checkpoint that covers at least `min_size`
    /// entries, waiting for it at most `wait_ms` (0: the node's limit).
    pub async fn checkpoint_covering(
        &self,
        min_size: u64,
        wait_ms: u32,
    ) -> Result<pb::SignedCheckpoint> {
        let request = pb::GetCheckpointRequest {
            min_tree_size: min_size,
            wait_ms,
        };
        Ok(self
            .inner
            .clone()
            .get_checkpoint(request)
            .await?
            .into_inner())
    }

    /// An inclusion proof of entry `seq` in the tree of `tree_size` entries
    /// (0: the current size).
    pub async fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<pb::InclusionProof> {
        let request = pb::GetInclusionProofRequest { seq, tree_size };
        Ok(self
            .inner
            .clone()
            .get_inclusion_proof(request)
            .await?
            .into_inner())
    }

    /// A consistency proof between two tree sizes (`to_size` 0: the current size).
    pub async fn consistency_proof(
        &self,
        from_size: u64,
        to_size: u64,
    ) -> Result<pb::ConsistencyProof> {
        let request = pb::GetConsistencyProofRequest { from_size, to_size };
        Ok(self
            .inner
            .clone()
            .get_consistency_proof(request)
            .await?
            .into_inner())
    }

    /// The evidence bundle of a receipt (JSON, docs/FORMAT.md §7).
    pub async fn prove_receipt(&self, receipt_id: &str) -> Result<pb::ReceiptBundle> {
        let request = pb::ProveReceiptRequest {
            receipt_id: receipt_id.to_owned(),
            wait_ms: 0,
        };
        Ok(self
            .inner
            .clone()
            .prove_receipt(request)
            .await?
            .into_inner())
    }

    /// The one entry `seq`, as stored.
    pub async fn entry(&self, seq: u64) -> Result<pb::EntryRecord> {
        let request = pb::GetEntryRequest { seq };
        Ok(self.inner.clone().get_entry(request).await?.into_inner())
    }
}

fn receipt_id(view: &pb::ReceiptView) -> &str {
    view.terms
        .as_ref()
        .map(|t| t.receipt_id.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn refusal(endpoint: &str, tls: Option<ClientTlsConfig>) -> String {
        let options = ConnectOptions {
            tls,
            ..ConnectOptions::default()
        };
        match LedgerClient::connect_with(endpoint, options).await {
            Err(error @ ClientError::InvalidEndpoint { .. }) => error.to_string(),
            other => panic!("expected InvalidEndpoint, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn https_needs_tls_settings_and_http_refuses_them() {
        let missing = refusal("https://127.0.0.1:1", None).await;
        assert!(missing.contains("needs TLS settings"), "{missing}");
        let stray = refusal("http://127.0.0.1:1", Some(ClientTlsConfig::new())).await;
        assert!(stray.contains("use https://"), "{stray}");
    }
}
