"""Transactions and signed envelopes (docs/FORMAT.md §1–2).

The transaction is encoded once; those exact bytes are what every party
signs and what the envelope carries. Never re-encode a decoded transaction
to sign it: sign the bytes you send.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Iterable

from google.protobuf.message import Message
from pledgeledger.v1 import transaction_pb2 as tx_pb

from .keys import Signer

TX_SIGNATURE_TAG = b"pledge-ledger/v1/transaction\x00"
TX_HASH_TAG = b"pledge-ledger/v1/tx-hash\x00"
MAX_SIGNATURES = 16


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


def new_tx_id(participant: str) -> str:
    """A fresh tx id: ``<participant>-<unix ms>-<16 random hex digits>``.

    A retry must reuse the first attempt's id (and bytes): the node answers
    an identical resubmission with the original entry.
    """
    return f"{participant[:33]}-{now_ms()}-{secrets.token_hex(8)}"


DEFAULT_VALIDITY_MS = 86_400_000
"""How long a transaction is valid by default: a day from when it is built."""

CLOCK_SLACK_MS = 5 * 60_000
"""How far before "now" a default window opens, so that a node whose clock
is a little behind still accepts it."""


def transaction(
    ledger_id: str,
    operation: Message,
    tx_id: str,
    not_before_ms: int | None = None,
    not_after_ms: int | None = None,
) -> bytes:
    """The encoded ``Transaction`` carrying ``operation`` (one of the
    operation messages of transaction.proto, e.g. ``RegisterPledge``).

    The signed validity window defaults to five minutes ago until a day from
    now; a draft that other parties co-sign over days states a longer one
    (at most the genesis's ``max_validity_ms``, 30 days on the development
    ledger). The node refuses the transaction outside its window."""
    now = now_ms()
    tx = tx_pb.Transaction(
        ledger_id=ledger_id,
        tx_id=tx_id,
        not_before_ms=now - CLOCK_SLACK_MS if not_before_ms is None else not_before_ms,
        not_after_ms=now + DEFAULT_VALIDITY_MS if not_after_ms is None else not_after_ms,
    )
    field = _operation_field(operation)
    getattr(tx, field).CopyFrom(operation)
    return tx.SerializeToString()


def _operation_field(operation: Message) -> str:
    """The name of the ``operation`` oneof field whose type is ``operation``'s."""
    oneof = tx_pb.Transaction.DESCRIPTOR.oneofs_by_name["operation"]
    for field in oneof.fields:
        if field.message_type is operation.DESCRIPTOR:
            return field.name
    raise TypeError(f"{operation.DESCRIPTOR.full_name} is not an operation of Transaction")


def signing_preimage(tx_bytes: bytes) -> bytes:
    """What a party signs: ``TX_SIGNATURE ‖ tx_bytes``."""
    return TX_SIGNATURE_TAG + tx_bytes


def tx_hash(tx_bytes: bytes) -> bytes:
    """The transaction's content hash: ``SHA-256(TX_HASH ‖ tx_bytes)``."""
    return hashlib.sha256(TX_HASH_TAG + tx_bytes).digest()


def party_signature(tx_bytes: bytes, signer: Signer) -> tx_pb.PartySignature:
    """One party's signature on ``tx_bytes``."""
    return tx_pb.PartySignature(
        signer=signer.id,
        public_key=signer.public_key,
        signature=signer.sign(signing_preimage(tx_bytes)),
    )


def sign(tx_bytes: bytes, signers: Iterable[Signer]) -> tx_pb.SignedEnvelope:
    """The envelope carrying ``tx_bytes`` signed by every one of ``signers``
    (exactly the parties FORMAT.md §2 requires for the operation)."""
    signatures = [party_signature(tx_bytes, signer) for signer in signers]
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise ValueError(f"an envelope carries 1 to {MAX_SIGNATURES} signatures, not {len(signatures)}")
    return tx_pb.SignedEnvelope(transaction=tx_bytes, signatures=signatures)
