"""The ports the vault's use cases need; adapters implement them (Pg, KMS, fakes).

Rule: only the unit of work commits; a use case that leaves the ``async with`` without calling
``commit()`` leaves no trace, except audit entries written through ``audit_now``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from common.events.base import Event

from vault.domain.audit import AuditDraft, AuditEntry, Head
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

    async def for_subject(self, subject: str) -> list[DataKey]: ...
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
    async def get(self, subject: str, purpose: str, secret_id: str) -> SecretRecord | None: ...
    async def put(self, record: SecretRecord) -> None: ...
    async def delete(self, subject: str, purpose: str, secret_id: str) -> bool: ...
    async def delete_for_subject(self, subject: str) -> int: ...


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


class SealingKeyRepo(Protocol):
    async def active(self) -> SealingKey | None: ...
    async def get(self, kid: str) -> SealingKey | None: ...
    async def all(self) -> list[SealingKey]: ...
    async def add(self, key: SealingKey) -> None: ...


class AuditLog(Protocol):
    async def append(self, draft: AuditDraft, at: datetime) -> AuditEntry:
        """Chain the draft after the current head (serialised with other appends)."""
        ...

    async def head(self) -> Head | None: ...

    def entries(self, after_seq: int = 0) -> AsyncIterator[AuditEntry]: ...


class UnitOfWork(Protocol):
    master_keys: MasterKeyRepo
    data_keys: DataKeyRepo
    secrets: SecretRepo
    grants: GrantRepo
    rotations: RotationRepo
    sealing_keys: SealingKeyRepo
    audit: AuditLog

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    def publish(self, event: Event, *, subject: str) -> None:
        """Queue an event in the outbox; it is written with the commit."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
