"""Crash points for crash tests: the process SIGKILLs itself at a named moment of a receipt.

Rules: active only when `ARCHIVE_FAULT_KILL_AT` names a point (the settings refuse it in
production); the kill is deterministic, never timing luck.
- `after-intake`: the upload is accepted and committed (ciphertexts staged, `ReceiptUploaded`
  in the outbox), nothing is sealed or stored yet — at the seal's first call.
- `after-store`: the sealed PDF and the original are both written (locked) in the object
  store, the transaction that records them has not committed — after the second write of a
  receipt.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import datetime

from archive.domain.seal import SealCheck
from archive.service.ports import ObjectStore, Sealer

POINTS = ("after-intake", "after-store")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingSealer:
    """A sealer that kills the process instead of sealing (`after-intake`)."""

    def __init__(self, inner: Sealer) -> None:
        self._inner = inner

    async def seal(self, pdf: bytes) -> bytes:
        _die()
        return await self._inner.seal(pdf)  # pragma: no cover - the process is gone

    async def extend(self, pdf: bytes) -> bytes:
        return await self._inner.extend(pdf)

    async def check(self, pdf: bytes) -> SealCheck:
        return await self._inner.check(pdf)


class KillingStore:
    """A store that kills the process once both objects of a receipt are written."""

    def __init__(self, inner: ObjectStore) -> None:
        self._inner = inner
        self._writes: Counter[str] = Counter()

    async def ensure_bucket(self) -> None:
        await self._inner.ensure_bucket()

    async def put_locked(self, key: str, data: bytes, retain_until: datetime) -> str:
        version = await self._inner.put_locked(key, data, retain_until)
        receipt = key.rpartition("/")[0]
        self._writes[receipt] += 1
        if self._writes[receipt] == 2:
            _die()
        return version

    async def get(self, key: str, version: str) -> bytes:
        return await self._inner.get(key, version)

    async def versions(self, key: str) -> list[str]:
        return await self._inner.versions(key)

    async def extend_lock(self, key: str, version: str, retain_until: datetime) -> None:
        await self._inner.extend_lock(key, version, retain_until)
