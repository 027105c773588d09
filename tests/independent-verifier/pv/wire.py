"""Records, entry bodies and the transaction's wire form (FORMAT.md §2, §3)."""

import re
import struct
from dataclasses import dataclass

SIGNER_RE = re.compile(rb"^[A-Za-z0-9._:/-]{1,64}$")
MAX_RECORD = 131072


class Refusal(Exception):
    """The chain breaks a check: `code` is FORMAT.md's reason (or a framing name)."""

    def __init__(self, code, detail="", meta=None):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.meta = meta or {}  # the ErrorInfo metadata ERRORS.md §2 lists, as text


@dataclass
class Signature:
    signer: str
    public_key: bytes
    signature: bytes


@dataclass
class Entry:
    seq: int
    prev_hash: bytes
    time_ms: int
    tx_bytes: bytes
    signatures: list
    body: bytes
    seal: bytes
    attempt: tuple = None  # an attempt entry's refusal (FORMAT.md §3.2): (reason, [(key, value)])


def read_export(data):
    """FORMAT.md §3 "Export file": len:u32 ‖ record, back to back."""
    records, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise Refusal("FRAMING", f"length prefix cut short at byte {pos}")
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0 or n > MAX_RECORD:
            raise Refusal("FRAMING", f"record {len(records)}: length {n} out of 1..=131072")
        if len(data) - pos - 4 < n:
            raise Refusal("FRAMING", f"record {len(records)} cut short")
        records.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return records


def parse_record(record):
    """FORMAT.md §3: body ‖ seal, the body parsed exactly, no trailing bytes."""
    if len(record) < 64:
        raise Refusal("BODY", "record shorter than a seal")
    body, seal = record[:-64], record[-64:]
    r = _Reader(body)
    version = r.take(1)[0]
    if version not in (1, 2):
        raise Refusal("BODY", f"version {version}")
    seq = r.u64()
    prev = r.take(32)
    time_ms = r.u64()
    tx_len = r.u32()
    if not 1 <= tx_len <= 65536:
        raise Refusal("BODY", f"tx_len {tx_len}")
    tx = r.take(tx_len)
    count = r.take(1)[0]
    if not 1 <= count <= 16:
        raise Refusal("BODY", f"sig_count {count}")
    sigs = []
    for _ in range(count):
        n = r.take(1)[0]
        signer = r.take(n)
        if not SIGNER_RE.match(signer):
            raise Refusal("BODY", f"signer id {signer!r}")
        sigs.append(Signature(signer.decode(), r.take(32), r.take(64)))
    attempt = _refusal(r) if version == 2 else None
    if r.pos != len(body):
        raise Refusal("BODY", f"{len(body) - r.pos} trailing bytes")
    return Entry(seq, prev, time_ms, tx, sigs, body, seal, attempt)


def _refusal(r):
    """FORMAT.md §3.2: reason, then metadata fields with strictly ascending keys."""
    n = r.take(1)[0]
    reason = r.take(n)
    if not 1 <= n <= 64 or not re.match(rb"^[A-Z_]+$", reason):
        raise Refusal("BODY", f"attempt reason {reason!r}")
    count = r.take(1)[0]
    if count > 32:
        raise Refusal("BODY", f"attempt with {count} fields")
    fields = []
    for _ in range(count):
        n = r.take(1)[0]
        key = r.take(n)
        if not 1 <= n <= 64 or not re.match(rb"^[a-z0-9_]+$", key):
            raise Refusal("BODY", f"attempt field key {key!r}")
        if fields and not key > fields[-1][0]:
            raise Refusal("BODY", "attempt field keys not strictly ascending")
        length = struct.unpack(">H", r.take(2))[0]
        if length > 1024:
            raise Refusal("BODY", "attempt field value longer than 1,024 bytes")
        value = r.take(length)
        try:
            value.decode()
        except UnicodeDecodeError:
            raise Refusal("BODY", "attempt field value not UTF-8")
        fields.append((key, value))
    return reason.decode(), [(k.decode(), v.decode()) for k, v in fields]


class _Reader:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def take(self, n):
        if self.pos + n > len(self.b):
            raise Refusal("BODY", "body cut short")
        out = self.b[self.pos : self.pos + n]
        self.pos += n
        return out

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]


# --- protobuf wire walk: unknown fields (FORMAT.md §2, canonical encoding) ---

def _varint(b, pos):
    shift = value = 0
    while True:
        if pos >= len(b):
            raise Refusal("MALFORMED", "varint cut short")
        c = b[pos]
        pos += 1
        value |= (c & 0x7F) << shift
        if not c & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise Refusal("MALFORMED", "varint too long")


def find_unknown_field(descriptor, b, path=""):
    """First field (in wire order, depth first) the descriptor does not declare."""
    pos = 0
    while pos < len(b):
        key, pos = _varint(b, pos)
        number, wtype = key >> 3, key & 7
        field = descriptor.fields_by_number.get(number)
        where = f"{path}.{number}" if path else str(number)
        if field is None:
            return descriptor.full_name, number, where
        if wtype == 0:
            _, pos = _varint(b, pos)
        elif wtype == 1:
            pos += 8
        elif wtype == 5:
            pos += 4
        elif wtype == 2:
            n, pos = _varint(b, pos)
            if pos + n > len(b):
                raise Refusal("MALFORMED", "length-delimited field cut short")
            if field.message_type is not None:
                inner = f"{path}.{field.name}" if path else field.name
                found = find_unknown_field(field.message_type, b[pos : pos + n], inner)
                if found:
                    return found
            pos += n
        else:
            raise Refusal("MALFORMED", f"wire type {wtype}")
    if pos != len(b):
        raise Refusal("MALFORMED", "fixed-width field cut short")
    return None
