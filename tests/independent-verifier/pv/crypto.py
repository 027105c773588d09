"""Tags, hashes, Ed25519, the Merkle tree (FORMAT.md §1, §3, §6) and the state map (§7.9)."""

import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

TX_SIGNATURE = b"pledge-ledger/v1/transaction\0"
TX_HASH = b"pledge-ledger/v1/tx-hash\0"
ENTRY_HASH = b"pledge-ledger/v1/entry\0"
SEAL = b"pledge-ledger/v1/seal\0"
STATE_KEY = b"pledge-ledger/v1/state-key\0"
MAP_LEAF = b"pledge-ledger/v1/map-leaf\0"
MAP_NODE = b"pledge-ledger/v1/map-node\0"
RECEIPT_STATE = b"pledge-ledger/v1/receipt-state\0"
TANK_STATE = b"pledge-ledger/v1/tank-state\0"


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def ed25519_verify(public_key, message, signature):
    """libsodium's verify: refuses non-canonical S and small-order keys."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        VerifyKey(public_key).verify(message, signature)
        return True
    except (BadSignatureError, ValueError, TypeError):
        return False
    except Exception:  # a key that is not a point
        return False


_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def is_ed25519_point(b):
    """RFC 8032 §5.1.3: 32 bytes that decode as a point of the curve."""
    if len(b) != 32:
        return False
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    if y >= _P:
        return False
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    vx2 = (v * x * x) % _P
    if vx2 == u:
        pass
    elif vx2 == (-u) % _P:
        x = (x * pow(2, (_P - 1) // 4, _P)) % _P
    else:
        return False
    return not (x == 0 and sign == 1)


def ed25519_sign(seed, message):
    return SigningKey(seed).sign(message).signature


def public_of(seed):
    return bytes(SigningKey(seed).verify_key)


def entry_hash(body):
    return sha256(ENTRY_HASH, body)


def tx_hash(tx_bytes):
    return sha256(TX_HASH, tx_bytes)


# --- RFC 9162 §2.1 ---

def merkle_root(leaves):
    """Root over leaf hashes (already SHA-256(0x00 ‖ body))."""
    if not leaves:
        return sha256(b"")
    return _mth(leaves, 0, len(leaves))


def _mth(leaves, lo, hi):
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01", _mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def leaf_hash(body):
    return sha256(b"\x00", body)


# --- §7.9 the state map ---

def map_key(kind, ident):
    return sha256(STATE_KEY, bytes([kind]), ident.encode())


def _bit(key, d):
    return (key[d // 8] >> (7 - d % 8)) & 1


def map_root(pairs):
    """pairs: list of (key, value). Sparse Merkle tree of depth 256."""
    items = sorted(pairs)
    return _subtree(0, items)


def _subtree(depth, items):
    if not items:
        return bytes(32)
    if len(items) == 1:
        k, v = items[0]
        return sha256(MAP_LEAF, k, v)
    left = [kv for kv in items if _bit(kv[0], depth) == 0]
    right = [kv for kv in items if _bit(kv[0], depth) == 1]
    return sha256(MAP_NODE, _subtree(depth + 1, left), _subtree(depth + 1, right))


class Preimage:
    """tag ‖ (number:u8 ‖ length:u32 ‖ bytes)*, numbers increasing."""

    def __init__(self, tag):
        self.out = bytearray(tag)

    def text(self, number, value):
        b = value.encode()
        self.out += bytes([number]) + len(b).to_bytes(4, "big") + b
        return self

    def int(self, number, value):
        self.out += bytes([number]) + (8).to_bytes(4, "big") + value.to_bytes(8, "big")
        return self

    def bytes(self):
        return bytes(self.out)
