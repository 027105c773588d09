"""Refusals: the gRPC status with its ``google.rpc.ErrorInfo`` detail.

The node attaches a ``google.rpc.Status`` to every refusal, carried in the
``grpc-status-details-bin`` trailer; its details hold a
``google.rpc.ErrorInfo`` with a stable ``reason`` (e.g. ``RECEIPT_PLEDGED``),
the ``domain`` ``pledgeledger.v1`` and ``metadata`` naming the objects
involved (the rival pledge, its bank, the entry that registered it...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass
class Refusal(Exception):
    """The node refused a request."""

    code: grpc.StatusCode
    message: str
    reason: str | None = None
    domain: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


def refusal_from(error: grpc.RpcError) -> Refusal:
    """The refusal a failed call carries (``error`` must be a ``grpc.Call``,
    as every ``RpcError`` of a unary call is)."""
    refusal = Refusal(code=error.code(), message=error.details() or "")
    info = error_info(error.trailing_metadata() or ())
    if info is not None:
        refusal.reason, refusal.domain = info.reason, info.domain
        refusal.metadata = dict(info.metadata)
    return refusal


def error_info(trailing_metadata) -> error_details_pb2.ErrorInfo | None:
    """The first ``ErrorInfo`` in a call's status details, if any."""
    for key, value in trailing_metadata:
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return info
    return None
