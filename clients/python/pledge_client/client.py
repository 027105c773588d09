"""A thin client over the generated ``LedgerService`` stub: every refusal
becomes a :class:`~pledge_client.errors.Refusal`."""

from __future__ import annotations

from typing import Iterable, Iterator

import grpc
from pledgeledger.v1 import ledger_service_pb2 as api
from pledgeledger.v1 import ledger_service_pb2_grpc as api_grpc

from . import envelope, watch
from .errors import refusal_from
from .keys import Signer


class LedgerClient:
    """A connection to one node. ``target`` is ``host:port``; pass
    ``credentials`` (``grpc.ssl_channel_credentials(...)``) for a TLS node."""

    def __init__(self, target: str, credentials: grpc.ChannelCredentials | None = None, timeout_s: float = 10.0):
        self.channel = (
            grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
        )
        self.stub = api_grpc.LedgerServiceStub(self.channel)
        self.timeout_s = timeout_s
        self._ledger_id: str | None = None

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise refusal_from(error) from error

    def node_info(self) -> api.NodeInfo:
        return self._call(self.stub.GetNodeInfo, api.GetNodeInfoRequest())

    @property
    def ledger_id(self) -> str:
        if self._ledger_id is None:
            self._ledger_id = self.node_info().ledger_id
        return self._ledger_id

    def submit_envelope(self, signed) -> api.SubmitResponse:
        return self._call(self.stub.Submit, api.SubmitRequest(envelope=signed))

    def submit(self, operation, signers: Iterable[Signer]) -> api.SubmitResponse:
        """Builds a transaction for ``operation`` with a fresh tx id (named
        after the first signer), has ``signers`` sign it and submits it.
        Answers once the entry is durable."""
        signers = list(signers)
        tx_bytes = envelope.transaction(self.ledger_id, operation, envelope.new_tx_id(signers[0].id))
        return self.submit_envelope(envelope.sign(tx_bytes, signers))

    def receipt(self, receipt_id: str) -> api.ReceiptView:
        return self._call(self.stub.GetReceipt, api.GetReceiptRequest(receipt_id=receipt_id))

    def pledge(self, pledge_id: str) -> api.PledgeView:
        return self._call(self.stub.GetPledge, api.GetPledgeRequest(pledge_id=pledge_id))

    def tank_page(self, tank_id: str, page_size: int = 0, page_token: str = "") -> api.TankView:
        """One tank with one page of its live receipt ids: ``page_size`` 0 is
        the node's default (1,000; at most 5,000); ``page_token`` is "" for
        the first page, then the previous page's ``next_page_token``."""
        request = api.GetTankRequest(tank_id=tank_id, page_size=page_size, page_token=page_token)
        return self._call(self.stub.GetTank, request)

    def tank_live_receipt_ids(self, tank_id: str, page_size: int = 0) -> Iterator[str]:
        """Every live receipt id on the tank, in id order, page by page until
        a page's ``next_page_token`` is empty (a short page does not end it)."""
        token = ""
        while True:
            page = self.tank_page(tank_id, page_size, token)
            yield from page.live_receipt_ids
            if not page.next_page_token:
                return
            if page.next_page_token <= token:
                raise ValueError(f"GetTank did not advance past page token {token!r}")
            token = page.next_page_token

    def report(self, warehouse_id: str = "") -> list[api.ReportRow]:
        """The regulator's report (docs/REPORT.md): the header row (the chain
        size it reflects) first, then for each tank its tank row and its
        holder rows, then the bank rows. ``warehouse_id`` limits it to that
        warehouse's tanks and the pledges on them ("" for every tank). A
        report whose state moved while the node read it ends with a
        :class:`~pledge_client.errors.Refusal` (UNAVAILABLE, STATE_MOVED):
        ask again."""
        request = api.GetReportRequest(warehouse_id=warehouse_id)
        try:
            return list(self.stub.GetReport(request, timeout=self.timeout_s))
        except grpc.RpcError as error:
            raise refusal_from(error) from error

    def checkpoint(self) -> api.SignedCheckpoint:
        return self._call(self.stub.GetCheckpoint, api.GetCheckpointRequest())

    def inclusion_proof(self, seq: int, tree_size: int) -> api.InclusionProof:
        request = api.GetInclusionProofRequest(seq=seq, tree_size=tree_size)
        return self._call(self.stub.GetInclusionProof, request)

    def alerts(self, signer: Signer | None, from_index: int = 0, follow: bool = False) -> Iterator[api.Alert]:
        """The alerts ``signer``'s participant may see (docs/ALERTS.md), from
        ``from_index`` (resume from the last index seen plus one). The
        request is signed afresh for each call; ``signer`` ``None`` leaves
        the watcher to the connection's mutual-TLS client certificate.
        Without ``follow`` the stream ends after the alerts of the entries
        committed when asked (within the client's timeout); with it, the
        stream stays open until the node stops or the iterator is closed.
        A refusal, at the start or mid-stream, raises a ``Refusal``."""
        if signer is None:
            request = api.WatchAlertsRequest(from_index=from_index, follow=follow)
        else:
            request = watch.signed_request(self.ledger_id, signer, from_index, follow)
        stream = self.stub.WatchAlerts(request, timeout=None if follow else self.timeout_s)
        try:
            yield from stream
        except grpc.RpcError as error:
            raise refusal_from(error) from error
        finally:
            stream.cancel()
