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

from vault.domain.crypto import KEY_BYTES, NONCE_BYTES, TAG_BYTES
from vault.domain.errors import CiphertextRejected

FORMAT = 0x01
_HEADER = 1 + 16 + 4 + 16
TOKEN_BYTES = _HEADER + NONCE_BYTES + KEY_BYTES + TAG_BYTES


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
        if len(token) != TOKEN_BYTES or token[0] != FORMAT:
            raise CiphertextRejected("the wrapped key is not a vault document key")
        return cls(
            data_key_id=_uuid_text(token[1:17].hex()),
            data_key_version=int.from_bytes(token[17:21], "big"),
            document_key_id=_uuid_text(token[21:37].hex()),
            envelope=token[_HEADER:],
        )


def _uuid_text(h: str) -> str:
    """The canonical text of a UUID from its 32 hex digits (as ``str(uuid.UUID(...))``)."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
