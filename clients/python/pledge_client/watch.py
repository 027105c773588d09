"""The signed request to watch alerts (docs/ALERTS.md §4).

A ``WatchAlertsRequest`` names its watcher either by the connection's
mutual-TLS client certificate, or by ``participant_id``, ``time_ms`` and an
Ed25519 signature with the participant's current key over::

    "pledge-ledger/v1/watch-alerts" 0x00
    len(ledger_id):u8      ledger_id        (UTF-8, 1 to 64 bytes)
    len(participant_id):u8 participant_id   (UTF-8, 1 to 64 bytes)
    from_index:u64 big-endian
    follow:u8              (1 or 0)
    time_ms:u64 big-endian

The node accepts a signed request once, within 5 minutes of its clock:
sign a new one for every stream and every retry.
"""

from __future__ import annotations

import struct

from pledgeledger.v1 import ledger_service_pb2 as api

from .envelope import now_ms
from .keys import Signer

WATCH_ALERTS_TAG = b"pledge-ledger/v1/watch-alerts\x00"
MAX_ID_BYTES = 64


def _length_prefixed(name: str, text: str) -> bytes:
    data = text.encode("utf-8")
    if not 1 <= len(data) <= MAX_ID_BYTES:
        raise ValueError(f"{name} is {len(data)} bytes of UTF-8; it must be 1 to {MAX_ID_BYTES}")
    return bytes([len(data)]) + data


def preimage(ledger_id: str, participant_id: str, from_index: int, follow: bool, time_ms: int) -> bytes:
    """The bytes a watcher signs (ALERTS.md §4)."""
    return (
        WATCH_ALERTS_TAG
        + _length_prefixed("ledger_id", ledger_id)
        + _length_prefixed("participant_id", participant_id)
        + struct.pack(">QBQ", from_index, 1 if follow else 0, time_ms)
    )


def signed_request(
    ledger_id: str, signer: Signer, from_index: int, follow: bool, time_ms: int | None = None
) -> api.WatchAlertsRequest:
    """A request naming ``signer`` as the watcher, signed now (or at ``time_ms``)."""
    time_ms = now_ms() if time_ms is None else time_ms
    message = preimage(ledger_id, signer.id, from_index, follow, time_ms)
    return api.WatchAlertsRequest(
        from_index=from_index,
        follow=follow,
        participant_id=signer.id,
        time_ms=time_ms,
        signature=signer.sign(message),
    )
