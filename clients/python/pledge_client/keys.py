"""Key files: a participant's Ed25519 key on disk (docs/FORMAT.md §8).

A key file is a JSON object ``{"id": ..., "public_key": <64 hex>,
"secret_key": <64 hex>}``; ``secret_key`` is the 32-byte Ed25519 seed and
is absent from public-key files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


class KeyFileError(ValueError):
    """The file is not a usable key file."""


@dataclass(frozen=True)
class Signer:
    """A participant id with its signing key."""

    id: str
    signing_key: SigningKey

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(self.signing_key.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self.signing_key.sign(message).signature


def load_key_file(path: str | Path) -> Signer:
    """Reads a key file with a secret key; checks the public key matches."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise KeyFileError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise KeyFileError(f"{path}: not a JSON object")
    participant = data.get("id")
    public, secret = data.get("public_key"), data.get("secret_key")
    if not isinstance(participant, str) or not participant:
        raise KeyFileError(f"{path}: no participant id")
    for name, value in (("public_key", public), ("secret_key", secret)):
        if not isinstance(value, str) or not _HEX32.fullmatch(value):
            raise KeyFileError(f"{path}: {name} is not 64 hex digits")
    signer = Signer(participant, SigningKey(bytes.fromhex(secret)))
    if signer.public_key.hex() != public:  # written in lower case
        raise KeyFileError(f"{path}: public_key is not the secret key's (in lower-case hex)")
    return signer
