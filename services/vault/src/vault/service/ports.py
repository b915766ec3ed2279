"""The ports the vault's use cases need; adapters implement them (Pg, KMS, fakes).

Rule: only the unit of work commits; a use case that leaves the ``async with`` without calling
``commit()`` leaves no trace, except audit entries written through ``audit_now``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from common.db.ports import TransactionPort
from common.events.base import Event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vault.domain.anchor import Checkpoint
from vault.domain.audit import AuditDraft, AuditEntry, AuditRequest, Head, Link
from vault.domain.erasure import ErasureHold
from vault.domain.grants import Grant
from vault.domain.keys import DataKey, MasterKey, SecretRecord
from vault.domain.rotation import Rotation
from vault.domain.sealing import SealingKey


class Kms(Protocol):
    """Wraps and unwraps master keys; the plaintext of the KMS's own key never leaves it."""

    key_id: str

    async def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes: ...

    async def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def timestamp(self) -> float:
        """``now()`` as POSIX seconds, without building a datetime (cache expiry, hot path)."""
        ...


class MasterKeyRepo(Protocol):
    async def get(self, version: int) -> MasterKey | None: ...
    async def active(self) -> MasterKey | None: ...
    async def all(self) -> list[MasterKey]: ...
    async def add(self, key: MasterKey) -> None: ...
    async def save(self, key: MasterKey) -> None: ...


class DataKeyRepo(Protocol):
    async def get(self, key_id: str) -> DataKey | None: ...
    async def current(self, subject: str) -> DataKey | None:
        """The subject's newest data key, destroyed or not."""
        ...

    async def add(self, key: DataKey) -> None: ...
    async def save_many(self, keys: Sequence[DataKey]) -> None: ...
    async def rewrap(self, keys: Sequence[DataKey]) -> None:
        """Store new wrapped bytes and master versions, for keys that are still live only."""
        ...

    async def for_subject(self, subject: str) -> list[DataKey]:
        """The subject's keys by version, locked."""
        ...

    async def of_subject(self, subject: str) -> list[DataKey]:
        """The subject's keys by version, not locked (for reading only)."""
        ...

    async def batch_not_under(
        self, master_version: int, after_key_id: str | None, limit: int
    ) -> list[DataKey]:
        """Live keys under another master version, by key id after the cursor, locked."""
        ...

    async def count_not_under(self, master_version: int) -> int:
        """Live keys under another master version."""
        ...

    async def count_under(self, master_version: int) -> int:
        """Live keys under this master version."""
        ...


class SecretRepo(Protocol):
    async def get(
        self, subject: str, purpose: str, secret_id: str, *, lock: bool = False
    ) -> SecretRecord | None:
        """The stored secret; ``lock``: share-locked until the transaction ends."""
        ...

    async def put(self, record: SecretRecord) -> None: ...
    async def delete(self, subject: str, purpose: str, secret_id: str) -> bool: ...
    async def delete_for_subject(self, subject: str, keep_purposes: Sequence[str] = ()) -> int:
        """Delete the subject's secrets (but those of ``keep_purpose``); returns how many."""
        ...

    async def of_subject(self, subject: str, purposes: Sequence[str]) -> list[SecretRecord]:
        """The subject's secrets of one purpose, locked."""
        ...


class GrantRepo(Protocol):
    async def get(self, grant_id: str) -> Grant | None: ...
    async def add(self, grant: Grant) -> None: ...
    async def save(self, grant: Grant) -> None: ...
    async def due_to_end(self, now: datetime, limit: int) -> list[Grant]: ...
    async def open_for_subject(self, subject: str) -> list[Grant]: ...


class RotationRepo(Protocol):
    async def current(self) -> Rotation | None:
        """The running rotation, if any."""
        ...

    async def save(self, rotation: Rotation) -> None: ...


class ErasureHoldRepo(Protocol):
    async def get(self, subject: str) -> ErasureHold | None:
        """The subject's held erasure, locked."""
        ...

    async def add(self, hold: ErasureHold) -> None: ...
    async def delete(self, subject: str) -> None: ...
    async def due(self, now: datetime, limit: int) -> list[ErasureHold]: ...


class SealingKeyRepo(Protocol):
    async def active(self) -> SealingKey | None: ...
    async def get(self, kid: str) -> SealingKey | None: ...
    async def all(self) -> list[SealingKey]: ...
    async def add(self, key: SealingKey) -> None: ...


class SubjectEpochRepo(Protocol):
    """A per-subject counter that moves whenever the subject's keys or erasure hold change.

    Rule: it moves only in a transaction that also appends to the audit chain."""

    async def get(self, subject: str) -> int:
        """The subject's epoch; 0 for a subject whose state never changed that way."""
        ...

    async def bump(self, subject: str) -> int: ...


class AuditBatchWriter(Protocol):
    """Writes a group of audit requests as one commit (the group-commit appender's store)."""

    async def write(
        self, requests: Sequence[AuditRequest], head: Head | None, trusted: bool
    ) -> tuple[list[Link | None], Head | None]:
        """Chain and commit the requests; each gets its link, a stale one (its subject epoch
        moved) None.

        ``head`` is the head after the previous batch; when ``trusted`` the writer may chain after
        it without reading it, and must detect that it moved. Returns the entries and the new
        head."""
        ...

    async def close(self) -> None: ...


class AnchorStore(Protocol):
    """Where signed checkpoints of the audit head are kept, outside the database."""

    def save(self, checkpoint: Checkpoint) -> object: ...

    def latest(self, public_key: Ed25519PublicKey) -> tuple[Checkpoint | None, list[str]]:
        """The newest checkpoint that verifies, and the names of those that did not."""
        ...


class AuditLog(Protocol):
    async def append(self, draft: AuditDraft, at: datetime) -> AuditEntry:
        """Chain the draft after the current head (serialised with other appends)."""
        ...

    async def head(self) -> Head | None: ...

    def entries(self, after_seq: int = 0) -> AsyncIterator[AuditEntry]: ...


class UnitOfWork(TransactionPort, Protocol):
    @property
    def master_keys(self) -> MasterKeyRepo: ...
    @property
    def data_keys(self) -> DataKeyRepo: ...
    @property
    def secrets(self) -> SecretRepo: ...
    @property
    def grants(self) -> GrantRepo: ...
    @property
    def rotations(self) -> RotationRepo: ...
    @property
    def sealing_keys(self) -> SealingKeyRepo: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def erasure_holds(self) -> ErasureHoldRepo: ...
    @property
    def subject_epochs(self) -> SubjectEpochRepo: ...

    def publish(self, event: Event, *, subject: str) -> None:
        """Queue an event in the outbox; it is written with the commit."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit of work (or the one it is attached to) committed."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
