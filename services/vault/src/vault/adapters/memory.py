"""In-memory adapters for unit tests: one store, a unit of work with commit/rollback, a fake KMS.

Rules kept like the Pg adapters: a unit of work sees a private copy of the store and writes it
back only on ``commit()``; transactions run one at a time; the outbox fills only on commit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Self

from common.events.base import Event
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.domain.audit import AuditDraft, AuditEntry, Head, chain
from vault.domain.erasure import ErasureHold
from vault.domain.errors import KmsUnavailable, RotationConflict
from vault.domain.grants import Grant
from vault.domain.keys import DataKey, MasterKey, MasterKeyState, SecretRecord
from vault.domain.rotation import Rotation
from vault.domain.sealing import SealingKey


@dataclass
class MemoryState:
    masters: dict[int, MasterKey] = field(default_factory=dict)
    data_keys: dict[str, DataKey] = field(default_factory=dict)
    secrets: dict[tuple[str, str, str], SecretRecord] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    sealing: dict[str, SealingKey] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    outbox: list[tuple[Event, str]] = field(default_factory=list)
    holds: dict[str, ErasureHold] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)

    def copy(self) -> MemoryState:
        return MemoryState(
            dict(self.masters),
            dict(self.data_keys),
            dict(self.secrets),
            dict(self.grants),
            dict(self.rotations),
            dict(self.sealing),
            list(self.audit),
            list(self.outbox),
            dict(self.holds),
            dict(self.epochs),
        )


class MemoryStore:
    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()
        self.commits = 0

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class _Repo:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def s(self) -> MemoryState:
        return self._uow.state


class MemoryMasterKeys(_Repo):
    async def get(self, version: int) -> MasterKey | None:
        return self.s.masters.get(version)

    async def active(self) -> MasterKey | None:
        return next((k for k in self.s.masters.values() if k.state is MasterKeyState.ACTIVE), None)

    async def all(self) -> list[MasterKey]:
        return sorted(self.s.masters.values(), key=lambda k: k.version)

    async def add(self, key: MasterKey) -> None:
        if key.version in self.s.masters:
            raise RotationConflict("master key version exists")
        self.s.masters[key.version] = key

    async def save(self, key: MasterKey) -> None:
        self.s.masters[key.version] = key


class MemoryDataKeys(_Repo):
    async def get(self, key_id: str) -> DataKey | None:
        return self.s.data_keys.get(key_id)

    async def current(self, subject: str) -> DataKey | None:
        keys = await self.for_subject(subject)
        return max(keys, key=lambda k: k.version) if keys else None

    async def for_subject(self, subject: str) -> list[DataKey]:
        return [k for k in self.s.data_keys.values() if k.subject == subject]

    async def of_subject(self, subject: str) -> list[DataKey]:
        return sorted(await self.for_subject(subject), key=lambda k: k.version)

    async def add(self, key: DataKey) -> None:
        self.s.data_keys[key.key_id] = key

    async def save_many(self, keys: Sequence[DataKey]) -> None:
        for key in keys:
            self.s.data_keys[key.key_id] = key

    async def rewrap(self, keys: Sequence[DataKey]) -> None:
        for key in keys:
            stored = self.s.data_keys.get(key.key_id)
            if stored is not None and not stored.destroyed:
                self.s.data_keys[key.key_id] = replace(
                    stored, wrapped=key.wrapped, master_version=key.master_version
                )

    def _live(self) -> list[DataKey]:
        return [k for k in self.s.data_keys.values() if not k.destroyed]

    async def batch_not_under(
        self, master_version: int, after_key_id: str | None, limit: int
    ) -> list[DataKey]:
        keys = sorted(
            (k for k in self._live() if k.master_version != master_version),
            key=lambda k: k.key_id,
        )
        return [k for k in keys if after_key_id is None or k.key_id > after_key_id][:limit]

    async def count_not_under(self, master_version: int) -> int:
        return sum(1 for k in self._live() if k.master_version != master_version)

    async def count_under(self, master_version: int) -> int:
        return sum(1 for k in self._live() if k.master_version == master_version)


class MemorySecrets(_Repo):
    async def get(
        self, subject: str, purpose: str, secret_id: str, *, lock: bool = False
    ) -> SecretRecord | None:
        return self.s.secrets.get((subject, purpose, secret_id))

    async def put(self, record: SecretRecord) -> None:
        self.s.secrets[(record.subject, record.purpose, record.secret_id)] = record

    async def delete(self, subject: str, purpose: str, secret_id: str) -> bool:
        return self.s.secrets.pop((subject, purpose, secret_id), None) is not None

    async def delete_for_subject(self, subject: str, keep_purposes: Sequence[str] = ()) -> int:
        doomed = [k for k in self.s.secrets if k[0] == subject and k[1] not in keep_purposes]
        for key in doomed:
            del self.s.secrets[key]
        return len(doomed)

    async def of_subject(self, subject: str, purposes: Sequence[str]) -> list[SecretRecord]:
        return sorted(
            (r for k, r in self.s.secrets.items() if k[0] == subject and k[1] in purposes),
            key=lambda r: r.secret_id,
        )


class MemoryGrants(_Repo):
    async def get(self, grant_id: str) -> Grant | None:
        return self.s.grants.get(grant_id)

    async def add(self, grant: Grant) -> None:
        self.s.grants[grant.grant_id] = grant

    async def save(self, grant: Grant) -> None:
        self.s.grants[grant.grant_id] = grant

    async def due_to_end(self, now: datetime, limit: int) -> list[Grant]:
        return [g for g in self.s.grants.values() if g.due_to_end(now)][:limit]

    async def open_for_subject(self, subject: str) -> list[Grant]:
        return [g for g in self.s.grants.values() if g.subject == subject and not g.ended]


class MemoryRotations(_Repo):
    async def current(self) -> Rotation | None:
        return next((r for r in self.s.rotations.values() if r.running), None)

    async def save(self, rotation: Rotation) -> None:
        current = await self.current()
        if rotation.running and current and current.rotation_id != rotation.rotation_id:
            raise RotationConflict("another rotation is running")
        self.s.rotations[rotation.rotation_id] = rotation


class MemorySealingKeys(_Repo):
    async def active(self) -> SealingKey | None:
        return next((k for k in self.s.sealing.values() if k.active), None)

    async def get(self, kid: str) -> SealingKey | None:
        return self.s.sealing.get(kid)

    async def all(self) -> list[SealingKey]:
        return list(self.s.sealing.values())

    async def add(self, key: SealingKey) -> None:
        self.s.sealing[key.kid] = key


class MemoryErasureHolds(_Repo):
    async def get(self, subject: str) -> ErasureHold | None:
        return self.s.holds.get(subject)

    async def add(self, hold: ErasureHold) -> None:
        self.s.holds[hold.subject] = hold

    async def delete(self, subject: str) -> None:
        self.s.holds.pop(subject, None)

    async def due(self, now: datetime, limit: int) -> list[ErasureHold]:
        return [h for h in self.s.holds.values() if h.due(now)][:limit]


class MemorySubjectEpochs(_Repo):
    async def get(self, subject: str) -> int:
        return self.s.epochs.get(subject, 0)

    async def bump(self, subject: str) -> int:
        self.s.epochs[subject] = self.s.epochs.get(subject, 0) + 1
        return self.s.epochs[subject]


class MemoryAudit(_Repo):
    async def append(self, draft: AuditDraft, at: datetime) -> AuditEntry:
        entry = chain(self.s.audit[-1] if self.s.audit else None, draft, at)
        self.s.audit.append(entry)
        return entry

    async def head(self) -> Head | None:
        return Head(self.s.audit[-1].seq, self.s.audit[-1].hash) if self.s.audit else None

    async def entries(self, after_seq: int = 0) -> AsyncIterator[AuditEntry]:
        for entry in list(self.s.audit):
            if entry.seq > after_seq:
                yield entry


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.state = MemoryState()
        self.master_keys = MemoryMasterKeys(self)
        self.data_keys = MemoryDataKeys(self)
        self.secrets = MemorySecrets(self)
        self.grants = MemoryGrants(self)
        self.rotations = MemoryRotations(self)
        self.sealing_keys = MemorySealingKeys(self)
        self.audit = MemoryAudit(self)
        self.erasure_holds = MemoryErasureHolds(self)
        self.subject_epochs = MemorySubjectEpochs(self)

    async def __aenter__(self) -> Self:
        await self.store.lock.acquire()
        self.state = self.store.state.copy()
        self._after_commit: list[Callable[[], None]] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.store.lock.release()

    async def commit(self) -> None:
        self.store.state = self.state.copy()
        self.store.commits += 1
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def publish(self, event: Event, *, subject: str) -> None:
        self.state.outbox.append((event, subject))

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)


class FakeKms:
    """A KMS in memory: real AES-GCM under a random key; can be told to fail."""

    def __init__(self, key_id: str = "fake-kms") -> None:
        self.key_id = key_id
        self._key = AESGCM.generate_key(bit_length=256)
        self.fail = False
        self.decrypts = 0

    async def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        self._check()
        nonce = os.urandom(12)
        return nonce + AESGCM(self._key).encrypt(
            nonce, plaintext, repr(sorted(context.items())).encode()
        )

    async def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        self._check()
        self.decrypts += 1
        aad = repr(sorted(context.items())).encode()
        return AESGCM(self._key).decrypt(ciphertext[:12], ciphertext[12:], aad)

    def _check(self) -> None:
        if self.fail:
            raise KmsUnavailable()
