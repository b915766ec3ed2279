"""Document data keys: a fresh AES-256 key per document, wrapped under its subject's data key.

Rules:
- The wrapped form is an opaque token the caller stores beside its document:
  ``0x01 | data key id (16) | data key version (4, big-endian) | document key id (16) | envelope``
  where the envelope is the AES-GCM seal of the document key with AAD
  ``subject|purpose|document_key_id|version``.
- Unwrapping needs the subject's live data key, so erasing the subject shreds its documents too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import NamedTuple

from vault.domain.crypto import KEY_BYTES, NONCE_BYTES, TAG_BYTES
from vault.domain.errors import CiphertextRejected

FORMAT = 0x01
_HEADER = 1 + 16 + 4 + 16
TOKEN_BYTES = _HEADER + NONCE_BYTES + KEY_BYTES + TAG_BYTES


class GeneratedKey(NamedTuple):
    """A document key in clear, with its id and its wrapped token. (A tuple: a batch builds one
    per key.)"""

    document_key_id: str
    plaintext: bytes
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class WrappedDocumentKey:
    data_key_id: str
    data_key_version: int
    document_key_id: str
    envelope: bytes

    def to_bytes(self) -> bytes:
        return (
            bytes([FORMAT])
            + uuid.UUID(self.data_key_id).bytes
            + self.data_key_version.to_bytes(4, "big")
            + uuid.UUID(self.document_key_id).bytes
            + self.envelope
        )

    @classmethod
    def parse(cls, token: bytes) -> WrappedDocumentKey:
        data_key_id, version, document_key_id = split(token)
        return cls(uuid_text(data_key_id), version, uuid_text(document_key_id), token[_HEADER:])


def split(token: bytes) -> tuple[bytes, int, bytes]:
    """A token's data key id (16 bytes), data key version and document key id (16 bytes), with
    no object built: a batch maps the ids to text once per distinct id. ``envelope`` is the rest
    (``token[HEADER:]``)."""
    if len(token) != TOKEN_BYTES or token[0] != FORMAT:
        raise CiphertextRejected("the wrapped key is not a vault document key")
    return token[1:17], int.from_bytes(token[17:21], "big"), token[21:_HEADER]


HEADER = _HEADER


def uuid_text(raw: bytes) -> str:
    """The canonical text of a UUID from its 16 bytes (as ``str(uuid.UUID(bytes=raw))``)."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
