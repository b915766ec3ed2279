"""HTTP uploads with an idempotency key: a retried upload never archives a second copy.

Rules:
- The key is optional (the ``Idempotency-Key`` header), the member's own (two members' keys
  never meet) and up to 255 printable ASCII characters; it is stored only as its SHA-256, with
  the upload's fingerprint (SHA-256 of the file, its name and its fields) and the receipt it
  made, in the transaction that stages that receipt: a key names a receipt once it is stored.
- The same key with the same upload is answered with that receipt as it is now (sealed or still
  pending), marked as a replay; with another file, name or fields it is
  ``archive.idempotency-key-reused`` (422).
- Two requests racing with one key: the one that stages second finds the first's key (the
  primary key makes it wait for the first's commit), drops its own work (its seal, its fresh
  document key) and is answered as a replay of the first.
- An upload refused (a bad file, the vault down) does not use up its key. Keys are kept
  ``upload_key_ttl`` (48 h by default) and erased with the member's data.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from archive.domain.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from archive.service.context import Context
from archive.service.ports import KeyedUpload

MAX_KEY_LENGTH = 255
PURGE_CHUNK = 1_000


@dataclass(frozen=True)
class UploadKey:
    """One upload's claim on an idempotency key."""

    user_id: str
    key_sha256: str
    fingerprint: str

    def names(self, found: KeyedUpload) -> uuid.UUID:
        """The receipt ``found`` names for this upload; another upload's key is refused."""
        if found.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused("this key was used with another file or other fields")
        return found.receipt_id


class AlreadyUploaded(Exception):
    """The key was claimed meanwhile by the same upload, which made ``receipt_id``."""

    def __init__(self, receipt_id: uuid.UUID) -> None:
        super().__init__("upload already stored under this idempotency key")
        self.receipt_id = receipt_id


def checked_key(header: str | None) -> str | None:
    """The ``Idempotency-Key`` header, refused when malformed before the body is read."""
    if header is None:
        return None
    if not header.strip() or len(header) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid("the Idempotency-Key must be 1 to 255 characters")
    if not header.isascii() or not header.isprintable():
        raise IdempotencyKeyInvalid("the Idempotency-Key must be printable ASCII")
    return header


def upload_key(
    user_id: str, key: str, content: bytes, filename: str, fields: dict[str, str]
) -> UploadKey:
    """The upload's claim on ``key`` (a checked key): its digest and the upload's fingerprint."""
    described = json.dumps({"filename": filename, "fields": fields}, sort_keys=True)
    fingerprint = hashlib.sha256(described.encode() + b"\0" + content).hexdigest()
    return UploadKey(user_id, hashlib.sha256(key.encode()).hexdigest(), fingerprint)


async def replayed(ctx: Context, key: UploadKey) -> uuid.UUID | None:
    """The receipt an earlier upload with this key stored, if any."""
    async with ctx.uow() as uow:
        found = await uow.upload_keys.find(key.user_id, key.key_sha256)
    return key.names(found) if found is not None else None


async def purge_expired(ctx: Context) -> int:
    """Forget keys older than ``upload_key_ttl`` (one bounded chunk per call)."""
    async with ctx.uow() as uow:
        purged = await uow.upload_keys.purge(
            ctx.clock.now() - ctx.policy.upload_key_ttl, PURGE_CHUNK
        )
        await uow.commit()
    return purged
