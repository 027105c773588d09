"""Replays a whole chain: FORMAT.md §4, step by step."""

import copy
import os
import subprocess
import sys

from .crypto import SEAL, TX_SIGNATURE, ed25519_verify, entry_hash, leaf_hash, merkle_root, tx_hash
from .rules import State, decode_checks
from .wire import Refusal, find_unknown_field, parse_record

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("PLEDGE_REPO") or os.path.abspath(os.path.join(HERE, "..", "..", ".."))
GEN = os.path.join(HERE, "..", "gen")


def transaction_class():
    """Message classes generated from proto/ (grpcio-tools' protoc), once."""
    target = os.path.join(GEN, "pledgeledger", "v1", "transaction_pb2.py")
    proto = os.path.join(REPO, "proto", "proto", "pledgeledger", "v1", "transaction.proto")
    if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(proto):
        os.makedirs(GEN, exist_ok=True)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(REPO, "proto", "proto"),
                        f"--python_out={GEN}", proto], check=True)
    if GEN not in sys.path:
        sys.path.insert(0, os.path.abspath(GEN))
    from pledgeledger.v1 import transaction_pb2  # noqa: E402

    return transaction_pb2.Transaction


def decode_transaction(tx_bytes):
    """§2: decode, refuse unknown fields, then the canonical re-encoding must equal the bytes."""
    Transaction = transaction_class()
    unknown = find_unknown_field(Transaction.DESCRIPTOR, tx_bytes)
    if unknown:
        message, number, path = unknown
        raise Refusal("UNKNOWN_FIELD", f"{path} (field {number} of {message})")
    tx = Transaction()
    try:
        tx.ParseFromString(tx_bytes)
    except Exception as e:  # the protobuf runtime's DecodeError
        raise Refusal("MALFORMED", f"does not decode: {e}")
    canonical = tx.SerializeToString(deterministic=True)
    if canonical != tx_bytes:
        offset = next((i for i, (a, b) in enumerate(zip(canonical, tx_bytes)) if a != b),
                      min(len(canonical), len(tx_bytes)))
        raise Refusal("NOT_CANONICAL", f"offset {offset}")
    return tx


FRAUD_RELEVANT = {"RECEIPT_PLEDGED", "CERTIFICATE_IN_USE", "CERTIFICATE_EXISTS", "PHYSICAL_TANK_REGISTERED",
                  "QUANTITY_EXCEEDS_CERTIFICATE", "STOCK_EXCEEDED", "CAPACITY_EXCEEDED", "RECEIPT_FROZEN",
                  "TANK_SHORTFALL", "CUSTODIAN_REVOKED"}


def check_attempt(state, e, tx, op):
    """FORMAT.md §3.2 "Replay": the rules must refuse it, for a fraud-relevant
    reason, with exactly the recorded reason and metadata, and it is not a
    second record of the same transaction."""
    h = tx_hash(e.tx_bytes)
    recorded = state.tx_ids.get(tx.tx_id)
    if recorded is not None and recorded[1] == h:
        raise Refusal("ATTEMPT_ACCEPTED", f"the transaction was applied at entry {recorded[0]}")
    try:
        state.apply(e.seq, e.time_ms, e.tx_bytes, tx, op, e.signatures)
    except Refusal as r:
        if r.code not in FRAUD_RELEVANT:
            raise Refusal("ATTEMPT_NOT_FRAUD_RELEVANT", f"the rules refuse it with {r.code}")
        given = (r.code, sorted(r.meta.items(), key=lambda kv: kv[0].encode()))
        if (e.attempt[0], e.attempt[1]) != given:
            raise Refusal("ATTEMPT_REFUSAL_DIFFERS", f"recorded {e.attempt}, the rules give {given}")
    else:
        raise Refusal("ATTEMPT_ACCEPTED", "the rules accept the transaction")
    if h in state.attempts:
        raise Refusal("ATTEMPT_REPEATED", f"the same transaction was recorded by entry {state.attempts[h]}")
    new = copy.copy(state)
    new.attempts = dict(state.attempts)
    new.attempts[h] = e.seq
    return new


class Verdict:
    def __init__(self):
        self.entries = 0
        self.head = bytes(32)
        self.leaves = []
        self.failure = None  # (seq, code, detail)
        self.state_root = None

    def as_json(self):
        out = {
            "verified": self.failure is None,
            "entries": self.entries,
            "head_hash": self.head.hex(),
            "tree_root": merkle_root(self.leaves).hex(),
            "state_root": self.state_root.hex() if self.state_root is not None else None,
        }
        if self.failure:
            out["first_bad_entry"] = self.failure[0]
            out["reason"] = self.failure[1]
            out["detail"] = self.failure[2]
        return out


def verify_chain(records, ledger_key, state_root=True, checkpoint_size=None):
    """Returns a Verdict over the valid prefix, naming the first bad entry if any.
    With `checkpoint_size`, also the Merkle root, head and state root at that size
    (`v.at_checkpoint`), for comparing with a signed checkpoint (FORMAT.md §7.1)."""
    v = Verdict()
    v.at_checkpoint = (0, merkle_root([]), bytes(32), bytes(32)) if checkpoint_size == 0 else None
    state = State()
    prev, prev_time = bytes(32), 0
    sealers = [ledger_key]
    for index, record in enumerate(records):
        try:
            e = parse_record(record)
            if e.seq != index:
                raise Refusal("SEQ", f"seq {e.seq}, expected {index}")
            if e.prev_hash != prev:
                raise Refusal("PREV_HASH", "does not link to the previous entry")
            if e.time_ms < prev_time:
                raise Refusal("TIME", "time goes backwards")
            h = entry_hash(e.body)
            if not any(ed25519_verify(k, SEAL + h, e.seal) for k in sealers):
                raise Refusal("SEAL", "the seal verifies under no key allowed to seal it")
            for s in e.signatures:
                if not ed25519_verify(s.public_key, TX_SIGNATURE + e.tx_bytes, s.signature):
                    raise Refusal("BAD_SIGNATURE", s.signer)
            if len({s.signer for s in e.signatures}) != len(e.signatures):
                raise Refusal("MALFORMED", "a signer appears twice")
            tx = decode_transaction(e.tx_bytes)
            op = decode_checks(tx)
            if e.attempt is not None:
                state = check_attempt(state, e, tx, op)
                op = None  # an attempt entry is no membership entry
            else:
                state = state.apply(e.seq, e.time_ms, e.tx_bytes, tx, op, e.signatures)
        except Refusal as r:
            v.failure = (index, r.code, r.detail)
            break
        if op == "change_membership":
            sealers = [key for (_, key) in state.membership]
        prev, prev_time = h, e.time_ms
        v.entries += 1
        v.head = h
        v.leaves.append(leaf_hash(e.body))
        if checkpoint_size == v.entries:
            v.at_checkpoint = (v.entries, merkle_root(v.leaves), h, state.state_root())
    if state_root:
        v.state_root = state.state_root()
    return v
