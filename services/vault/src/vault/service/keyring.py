"""The keyring: opens master keys through the KMS and data keys under their master key.

Rules:
- Master keys are opened through the KMS once and held in memory by version; a retired version
  is forgotten.
- A data key is opened only after its row shows it live; a destroyed key raises ``Erased``.
- New data keys are always wrapped under the active master version.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from common.security.client_encryption import PrivateKey

from vault.domain import crypto
from vault.domain.errors import Erased, KeyMaterialMissing
from vault.domain.keys import DataKey, MasterKey, MasterKeyState, kms_context
from vault.service.cache import DataKeyCache
from vault.service.ports import Clock, Kms, UnitOfWork


class Keyring:
    def __init__(self, kms: Kms, cache: DataKeyCache, clock: Clock) -> None:
        self.kms = kms
        self.cache = cache
        self.clock = clock
        self._masters: dict[int, bytes] = {}
        self.sealing: dict[str, PrivateKey] = {}

    async def create_master(self, uow: UnitOfWork, version: int) -> MasterKey:
        plaintext = crypto.new_key()
        wrapped = await self.kms.encrypt(plaintext, kms_context(version))
        key = MasterKey(version, wrapped, self.kms.key_id, MasterKeyState.ACTIVE, self.clock.now())
        await uow.master_keys.add(key)
        self._masters[version] = plaintext
        return key

    async def active_master(self, uow: UnitOfWork) -> MasterKey:
        """The active master key; the very first call creates version 1."""
        return await uow.master_keys.active() or await self.create_master(uow, 1)

    async def master_plaintext(self, uow: UnitOfWork, version: int) -> bytes:
        cached = self._masters.get(version)
        if cached is not None:
            return cached
        key = await uow.master_keys.get(version)
        if key is None or key.wrapped is None:
            raise KeyMaterialMissing(f"master key version {version} is not available")
        plaintext = await self.kms.decrypt(key.wrapped, kms_context(version))
        self._masters[version] = plaintext
        return plaintext

    def forget_master(self, version: int) -> None:
        self._masters.pop(version, None)

    async def wrap(self, uow: UnitOfWork, key: DataKey, plaintext: bytes, master: int) -> bytes:
        master_key = await self.master_plaintext(uow, master)
        aad = crypto.data_key_aad(key.subject, key.key_id, key.version, master)
        return crypto.seal(master_key, plaintext, aad)

    async def open(self, uow: UnitOfWork, key: DataKey) -> bytes:
        key.ensure_live()
        cached = self.cache.get(key.key_id)
        if cached is not None:
            return cached
        if key.wrapped is None:
            raise Erased()
        master_key = await self.master_plaintext(uow, key.master_version)
        aad = crypto.data_key_aad(key.subject, key.key_id, key.version, key.master_version)
        plaintext = crypto.open_sealed(master_key, key.wrapped, aad)
        self.cache.put(key.key_id, plaintext)
        return plaintext

    def open_cached(self, key: DataKey, uses: int = 1) -> bytes | None:
        """The live key's plaintext for ``uses`` uses without any I/O, or None when that would
        need the store."""
        key.ensure_live()
        cached = self.cache.get(key.key_id, uses)
        if cached is not None or key.wrapped is None:
            return cached
        master_key = self._masters.get(key.master_version)
        if master_key is None:
            return None
        aad = crypto.data_key_aad(key.subject, key.key_id, key.version, key.master_version)
        plaintext = crypto.open_sealed(master_key, key.wrapped, aad)
        self.cache.put(key.key_id, plaintext, used=uses)
        return plaintext

    def opener_cached(
        self, key: DataKey, uses: int = 1, now: float | None = None
    ) -> crypto.Opener | None:
        """``open_cached``, as a ready ``crypto.opener`` of the key (kept with the cached key)."""
        opener = self.cache.opener(key.key_id, uses, now) if not key.destroyed else None
        if opener is not None:
            return opener
        plaintext = self.open_cached(key, uses)
        return None if plaintext is None else crypto.opener(plaintext)

    async def for_write(self, uow: UnitOfWork, subject: str) -> tuple[DataKey, bytes]:
        """The subject's live data key and its plaintext; a first write creates it."""
        current = await uow.data_keys.current(subject)
        if current is not None:
            return current, await self.open(uow, current)
        return await self.create_data_key(uow, subject, 1)

    async def create_data_key(
        self, uow: UnitOfWork, subject: str, version: int
    ) -> tuple[DataKey, bytes]:
        """A new data key of the subject, wrapped under the active master version."""
        master = await self.active_master(uow)
        plaintext = crypto.new_key()
        draft = DataKey(str(uuid.uuid4()), subject, version, master.version, None, self.clock.now())
        key = replace(draft, wrapped=await self.wrap(uow, draft, plaintext, master.version))
        await uow.data_keys.add(key)
        return key, plaintext

    async def load(self, uow: UnitOfWork, key_id: str) -> DataKey:
        key = await uow.data_keys.get(key_id)
        if key is None:
            raise KeyMaterialMissing("a data key referenced by a record is missing")
        return key
