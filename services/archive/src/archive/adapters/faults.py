"""Crash points for crash tests: the process SIGKILLs itself at a named moment of a receipt.

Rules: active only when `ARCHIVE_FAULT_KILL_AT` names a point (the settings refuse it in
production); the kill is deterministic, never timing luck.
- `after-intake`: the upload is accepted and committed (ciphertexts staged, `ReceiptUploaded`
  in the outbox), nothing is stored yet — at the first write of a receipt to the object store
  (the seal, which starts at intake, may be done in memory; it dies with the process).
- `after-store`: the sealed PDF and the original are both written (locked) in the object
  store, the transaction that records them has not committed — after the second write of a
  receipt.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import datetime

from archive.service.ports import ObjectStore

POINTS = ("after-intake", "after-store")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingStore:
    """A store that kills the process when a receipt has had ``after_writes`` objects written:
    0 before its first write (`after-intake`), 2 once both are written (`after-store`)."""

    def __init__(self, inner: ObjectStore, after_writes: int) -> None:
        self._inner = inner
        self._after = after_writes
        self._writes: Counter[str] = Counter()

    async def ensure_bucket(self) -> None:
        await self._inner.ensure_bucket()

    async def put_locked(self, key: str, data: bytes, retain_until: datetime) -> str:
        receipt = key.rpartition("/")[0]
        if self._after == 0:
            _die()
        version = await self._inner.put_locked(key, data, retain_until)
        self._writes[receipt] += 1
        if self._writes[receipt] == self._after:
            _die()
        return version

    async def get(self, key: str, version: str) -> bytes:
        return await self._inner.get(key, version)

    async def versions(self, key: str) -> list[str]:
        return await self._inner.versions(key)

    async def extend_lock(self, key: str, version: str, retain_until: datetime) -> None:
        await self._inner.extend_lock(key, version, retain_until)
