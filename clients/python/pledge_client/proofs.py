"""Entries, checkpoints and inclusion proofs, verified per docs/FORMAT.md.

- :func:`parse_record`: an entry record ``body ‖ seal`` (§3);
- :func:`verify_record`: its node seal and its party signatures (§3–4);
- :func:`verify_checkpoint`: a signed checkpoint note (§7.1–7.2) under the
  node's key, obtained out of band;
- :func:`trusted_log_keys`: the ``log`` lines of a trust file (§7.2): the
  keys that may seal, one per member of a registry of several nodes.

Where a node key is asked for, a registry of several nodes is verified by
giving every key it accepts (a list of 32-byte keys): an entry or a
checkpoint sealed by any of them is accepted.
- :func:`verify_inclusion`: an RFC 9162 §2.1.3.2 inclusion proof of an
  entry's leaf (§6) under a checkpoint's root.

Every check raises :class:`VerificationError` naming what failed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .envelope import signing_preimage

ENTRY_HASH_TAG = b"pledge-ledger/v1/entry\x00"
SEAL_TAG = b"pledge-ledger/v1/seal\x00"
FORMAT_VERSION = 1
ATTEMPT_KIND = 2
MAX_REFUSAL_FIELDS = 32
MAX_REFUSAL_NAME = 64
MAX_REFUSAL_VALUE = 1024
REASON_CODE = re.compile(rb"[A-Z_]{1,64}")
FIELD_KEY = re.compile(rb"[a-z0-9_]{1,64}")
SEAL_LEN = 64
MAX_TX_LEN = 65_536
MAX_SIGNATURES = 16
SIGNER_ID = re.compile(rb"[A-Za-z0-9._:/-]{1,64}")


class VerificationError(ValueError):
    """Something does not verify; the message says what."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


NodeKeys = bytes | Iterable[bytes]
"""One node key (32 bytes), or every key a registry of several nodes
accepts (the ledger key and its members' keys)."""


def _accepted(keys: NodeKeys) -> tuple[bytes, ...]:
    accepted = (bytes(keys),) if isinstance(keys, (bytes, bytearray)) else tuple(bytes(k) for k in keys)
    if not accepted or any(len(k) != 32 for k in accepted):
        raise VerificationError("node keys must be one or more 32-byte Ed25519 keys")
    return accepted


def _seal_verifies(keys: tuple[bytes, ...], message: bytes, signature: bytes) -> bool:
    for key in keys:
        try:
            VerifyKey(key).verify(message, signature)
            return True
        except (BadSignatureError, ValueError):
            continue
    return False


def trusted_log_keys(text: str) -> list[bytes]:
    """The keys of the ``log <64 lower-case hex digits> [<label>]`` lines of a
    trust file (docs/FORMAT.md §7.2; its ``witness``, ``group`` and
    ``quorum`` lines are the witness policy of §7.8 and are skipped here)."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "log":
            continue
        if len(words) not in (2, 3) or not HEX_HASH.fullmatch(words[1]):
            raise VerificationError(f"line {number}: expected log <64 lower-case hex digits> [<label>]")
        key = bytes.fromhex(words[1])
        if key in keys:
            raise VerificationError(f"line {number}: log key listed twice")
        keys.append(key)
    return keys


# ---------------------------------------------------------------------------
# Entries (§3)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartySignature:
    signer: str
    public_key: bytes
    signature: bytes


@dataclass(frozen=True)
class Refusal:
    """What an attempt entry records (§3.2): the reason code and the
    refusal's fields, sorted by key."""

    reason: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Record:
    """An entry as stored: its body fields, the body and the seal. An
    attempt entry (§3.2) also carries its ``refusal``; it applied nothing."""

    seq: int
    prev_hash: bytes
    time_ms: int
    tx_bytes: bytes
    signatures: tuple[PartySignature, ...]
    body: bytes
    seal: bytes
    refusal: Refusal | None = None

    @property
    def entry_hash(self) -> bytes:
        """``SHA-256(ENTRY_HASH ‖ body)``: the hash chain's link."""
        return sha256(ENTRY_HASH_TAG + self.body)

    @property
    def leaf_hash(self) -> bytes:
        """``SHA-256(0x00 ‖ body)``: the entry's Merkle leaf (§6)."""
        return sha256(b"\x00" + self.body)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int, what: str) -> bytes:
        if self.at + n > len(self.data):
            raise VerificationError(f"record truncated in {what}")
        part = self.data[self.at : self.at + n]
        self.at += n
        return part

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")


def parse_record(record: bytes) -> Record:
    """Splits a record into body and seal and parses the body exactly."""
    if len(record) <= SEAL_LEN:
        raise VerificationError("record shorter than a seal")
    body, seal = record[:-SEAL_LEN], record[-SEAL_LEN:]
    r = _Reader(body)
    kind = r.uint(1, "version")
    if kind not in (FORMAT_VERSION, ATTEMPT_KIND):
        raise VerificationError("unknown entry format version")
    seq, prev_hash, time_ms = r.uint(8, "seq"), r.take(32, "prev_hash"), r.uint(8, "time_ms")
    tx_len = r.uint(4, "tx_len")
    if not 1 <= tx_len <= MAX_TX_LEN:
        raise VerificationError(f"tx_len {tx_len} out of range")
    tx_bytes = r.take(tx_len, "tx_bytes")
    count = r.uint(1, "sig_count")
    if not 1 <= count <= MAX_SIGNATURES:
        raise VerificationError(f"sig_count {count} out of range")
    signatures = tuple(_party_signature(r) for _ in range(count))
    refusal = _refusal(r) if kind == ATTEMPT_KIND else None
    if r.at != len(body):
        raise VerificationError("trailing bytes after the signatures")
    return Record(seq, prev_hash, time_ms, tx_bytes, signatures, body, seal, refusal)


def _refusal(r: _Reader) -> Refusal:
    """§3.2: reason_len:u8 ‖ reason ‖ field_count:u8 ‖ (key_len:u8 ‖ key ‖
    value_len:u16 ‖ value)*, keys strictly ascending."""
    reason = r.take(r.uint(1, "reason_len"), "reason")
    if not REASON_CODE.fullmatch(reason):
        raise VerificationError(f"bad refusal reason {reason!r}")
    count = r.uint(1, "field_count")
    if count > MAX_REFUSAL_FIELDS:
        raise VerificationError(f"{count} refusal fields, at most {MAX_REFUSAL_FIELDS}")
    fields: list[tuple[str, str]] = []
    for _ in range(count):
        key = r.take(r.uint(1, "key_len"), "key")
        if not FIELD_KEY.fullmatch(key):
            raise VerificationError(f"bad refusal field key {key!r}")
        if fields and fields[-1][0].encode() >= key:
            raise VerificationError(f"refusal field {key.decode()} is not after the previous key")
        length = r.uint(2, "value_len")
        if length > MAX_REFUSAL_VALUE:
            raise VerificationError(f"refusal field {key.decode()} is {length} bytes long")
        try:
            value = r.take(length, "value").decode()
        except UnicodeDecodeError as error:
            raise VerificationError(f"refusal field {key.decode()} is not UTF-8") from error
        fields.append((key.decode(), value))
    return Refusal(reason.decode(), tuple(fields))


def _party_signature(r: _Reader) -> PartySignature:
    signer = r.take(r.uint(1, "signer_len"), "signer")
    if not SIGNER_ID.fullmatch(signer):
        raise VerificationError(f"bad signer id {signer!r}")
    return PartySignature(signer.decode(), r.take(32, "public_key"), r.take(64, "signature"))


def _verify(public_key: bytes, message: bytes, signature: bytes, what: str) -> None:
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError) as error:
        raise VerificationError(f"{what} does not verify") from error


def verify_record(record: Record, node_public_key: NodeKeys) -> None:
    """The node's seal over the entry hash (by any of the accepted node
    keys), and every party signature over ``TX_SIGNATURE ‖ tx_bytes`` with
    the key carried beside it."""
    if not _seal_verifies(_accepted(node_public_key), SEAL_TAG + record.entry_hash, record.seal):
        raise VerificationError(f"seal of entry {record.seq} does not verify")
    preimage = signing_preimage(record.tx_bytes)
    for party in record.signatures:
        _verify(party.public_key, preimage, party.signature, f"signature of {party.signer} on entry {record.seq}")


# ---------------------------------------------------------------------------
# Merkle inclusion (§6, RFC 9162 §2.1.3.2)
# ---------------------------------------------------------------------------


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, path: list[bytes], root: bytes) -> None:
    """Checks that ``leaf_hash`` is leaf ``index`` of the tree of
    ``tree_size`` leaves whose root is ``root``."""
    if index >= tree_size:
        raise VerificationError(f"leaf {index} is not in a tree of {tree_size}")
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in path:
        if len(p) != 32:
            raise VerificationError("a proof hash is not 32 bytes")
        if sn == 0:
            raise VerificationError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("inclusion proof too short")
    if r != root:
        raise VerificationError(f"leaf {index} is not included under the root")


# ---------------------------------------------------------------------------
# Checkpoints (§7.1–7.2)
# ---------------------------------------------------------------------------

MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURE_LINES = 100
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space
ED25519_TYPE = b"\x01"
EMPTY_ROOT = sha256(b"")
DECIMAL = re.compile(r"0|[1-9][0-9]*")
HEX_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    """What the node signed: the tree size, its root, the chain head, the
    state map's root, the time."""

    origin: str
    size: int
    root: bytes
    head: bytes
    state_root: bytes
    time_ms: int


def key_id(key_name: str, public_key: bytes) -> bytes:
    """``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[0..4]``."""
    return sha256(key_name.encode() + b"\n" + ED25519_TYPE + public_key)[:4]


def origin_of(ledger_id: str) -> str:
    return f"pledgeledger/{ledger_id}"


def verify_checkpoint(note: str, node_public_key: NodeKeys, ledger_id: str) -> Checkpoint:
    """Verifies a signed checkpoint note (signed by one of the accepted node
    keys) and parses its text."""
    accepted = _accepted(node_public_key)
    raw = note.encode()
    if len(raw) > MAX_NOTE_BYTES:
        raise VerificationError("note over 64 KiB")
    if any((b < 0x20 and b != 0x0A) or b == 0x7F for b in raw):
        raise VerificationError("control character in the note")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerificationError("no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise VerificationError("signature block empty or not ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURE_LINES:
        raise VerificationError("too many signature lines")
    origin = origin_of(ledger_id)
    _node_signature_verifies(text, [_signature_line(line) for line in lines], origin, accepted)
    return _parse_checkpoint_text(text, origin)


def _signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise VerificationError(f"malformed signature line {line!r}")
    name, space, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space or not name or "+" in name or any(c.isspace() for c in name):
        raise VerificationError(f"malformed key name in {line!r}")
    decoded = _canonical_base64(blob, f"signature of {name}")
    if len(decoded) < 5:
        raise VerificationError(f"signature of {name} too short")
    return name, decoded


def _node_signature_verifies(
    text: str, signatures: list[tuple[str, bytes]], origin: str, keys: tuple[bytes, ...]
) -> None:
    """§7.2 steps 4–5: for each accepted key the first line with its key id
    decides (a line that does not verify refuses the note); at least one
    accepted key must have signed."""
    signed = False
    for public_key in keys:
        wanted = key_id(origin, public_key)
        line = next((blob for name, blob in signatures if name == origin and blob[:4] == wanted), None)
        if line is None:
            continue
        if len(line) != 4 + 64:
            raise VerificationError("the node's signature is not 64 bytes")
        _verify(public_key, text.encode(), line[4:], "the node's checkpoint signature")
        signed = True
    if not signed:
        raise VerificationError("no signature by an accepted node key")


def _canonical_base64(text: str, what: str) -> bytes:
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError as error:
        raise VerificationError(f"{what}: not base64") from error
    if base64.b64encode(decoded).decode() != text:
        raise VerificationError(f"{what}: not canonical base64")
    return decoded


def _parse_checkpoint_text(text: str, origin: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) != 6 or any(not line for line in lines):
        raise VerificationError("checkpoint text is not six non-empty lines")
    name, size, root, head, state, when = lines
    if name != origin:
        raise VerificationError(f"checkpoint of {name!r}, expected {origin!r}")
    root_bytes = _canonical_base64(root, "root")
    if len(root_bytes) != 32:
        raise VerificationError("root is not 32 bytes")
    if not head.startswith("chain-head ") or not HEX_HASH.fullmatch(head[len("chain-head ") :]):
        raise VerificationError("malformed chain-head line")
    if not state.startswith("state-root ") or not HEX_HASH.fullmatch(state[len("state-root ") :]):
        raise VerificationError("malformed state-root line")
    if not when.startswith("time "):
        raise VerificationError("malformed time line")
    checkpoint = Checkpoint(
        origin=name,
        size=_decimal(size, "size"),
        root=root_bytes,
        head=bytes.fromhex(head[len("chain-head ") :]),
        state_root=bytes.fromhex(state[len("state-root ") :]),
        time_ms=_decimal(when[len("time ") :], "time"),
    )
    if checkpoint.size == 0 and (checkpoint.root != EMPTY_ROOT or any(checkpoint.head) or any(checkpoint.state_root)):
        raise VerificationError("an empty checkpoint must carry the empty root, a zero head and a zero state root")
    return checkpoint


def _decimal(text: str, what: str) -> int:
    if not DECIMAL.fullmatch(text) or int(text) >= 2**64:
        raise VerificationError(f"{what} is not a canonical decimal number")
    return int(text)


def verify_head_binding(checkpoint: Checkpoint, head: Record, node_public_key: NodeKeys, path: list[bytes]) -> None:
    """§7.4: the record offered as the checkpoint's head entry is sealed, is
    entry ``size − 1``, hashes to ``chain-head`` and is the tree's last leaf."""
    verify_record(head, node_public_key)
    if head.seq != checkpoint.size - 1:
        raise VerificationError(f"head entry is {head.seq}, not {checkpoint.size - 1}")
    if head.entry_hash != checkpoint.head:
        raise VerificationError("head entry's hash is not the checkpoint's chain-head")
    verify_inclusion(head.leaf_hash, head.seq, checkpoint.size, path, checkpoint.root)
