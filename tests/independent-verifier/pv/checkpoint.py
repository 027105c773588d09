"""Signed checkpoints: FORMAT.md §7.1 (text) and §7.2 (C2SP signed note)."""

import base64
import re

from .crypto import ed25519_verify, sha256
from .wire import Refusal

NUMBER = re.compile(r"^(0|[1-9][0-9]*)$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
DASH = "\u2014 "


def _b64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise Refusal("CHECKPOINT", f"not base64: {text!r}")
    if base64.b64encode(raw).decode() != text:
        raise Refusal("CHECKPOINT", f"not canonical base64: {text!r}")
    return raw


def key_id(name, public_key, kind=0x01):
    return sha256(name.encode() + b"\n" + bytes([kind]) + public_key)[:4]


def verify_note(note, keys, origin):
    """Returns (size, root, head, state_root, time) of a note signed by one of `keys`."""
    if len(note.encode()) > 65536 or any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in note):
        raise Refusal("CHECKPOINT", "too long, or a control character")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Refusal("CHECKPOINT", "no signature block")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block or not block.endswith("\n"):
        raise Refusal("CHECKPOINT", "signature block empty or not ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > 100:
        raise Refusal("CHECKPOINT", "more than 100 signature lines")
    decided = {}
    for line in lines:
        m = re.match(r"^\u2014 (\S+) (\S+)$", line)
        if not m or "+" in m.group(1):
            raise Refusal("CHECKPOINT", f"malformed signature line {line!r}")
        blob = _b64(m.group(2))
        if len(blob) < 5:
            raise Refusal("CHECKPOINT", "signature blob shorter than 5 bytes")
        for k in keys:
            if m.group(1) == origin and blob[:4] == key_id(origin, k) and k not in decided:
                decided[k] = len(blob) == 68 and ed25519_verify(k, text.encode(), blob[4:])
                if not decided[k]:
                    raise Refusal("CHECKPOINT", "a signature by an accepted key does not verify")
    if not any(decided.values()):
        raise Refusal("CHECKPOINT", "no valid signature by an accepted key")
    parts = text[:-1].split("\n")
    if len(parts) != 6 or parts[0] != origin:
        raise Refusal("CHECKPOINT", "not six lines, or another origin")
    size, root, head, state, time = parts[1:]
    if not NUMBER.match(size) or int(size) >= 1 << 64:
        raise Refusal("CHECKPOINT", "size")
    root_bytes = _b64(root)
    if len(root_bytes) != 32:
        raise Refusal("CHECKPOINT", "root")
    fields = []
    for line, prefix in ((head, "chain-head "), (state, "state-root ")):
        if not line.startswith(prefix) or not HEX64.match(line[len(prefix) :]):
            raise Refusal("CHECKPOINT", f"{prefix.strip()} line")
        fields.append(bytes.fromhex(line[len(prefix) :]))
    if not time.startswith("time ") or not NUMBER.match(time[5:]):
        raise Refusal("CHECKPOINT", "time line")
    return int(size), root_bytes, fields[0], fields[1], int(time[5:])
