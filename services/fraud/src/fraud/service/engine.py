"""What every scoring use case shares: the policy, the current model, input limits, the clock
the id factory and the account states held in memory, wired once at start-up.

Rule: a replica scores with the newest model it has seen; a newer model saved by any replica
replaces it on the next refresh, never an older one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fraud.domain.model import OnlineModel
from fraud.domain.scoring import ScoringPolicy
from fraud.domain.validation import InputLimits
from fraud.service.ports import ModelStore
from fraud.service.state_cache import AccountCache


def utc_now() -> datetime:
    return datetime.now(UTC)


_VERSION_4 = (~(0xF000 << 64) & ~(0xC000 << 48), (0x4000 << 64) | (0x8000 << 48))


class RandomIds:
    """Random version-4 UUIDs as 32 hex digits (what ``uuid.uuid4().hex`` gives), drawn from
    the operating system's CSPRNG ``batch`` at a time: one system call per batch, not per id."""

    def __init__(self, batch: int = 256) -> None:
        self._batch = batch
        self._ready: list[str] = []

    def __call__(self) -> str:
        if not self._ready:
            self._ready = self._draw()
        return self._ready.pop()

    def _draw(self) -> list[str]:
        keep, set_bits = _VERSION_4
        raw = os.urandom(16 * self._batch)
        return [
            f"{(int.from_bytes(raw[i : i + 16]) & keep) | set_bits:032x}"
            for i in range(0, len(raw), 16)
        ]


class ModelHolder:
    """The model this replica scores with."""

    def __init__(self, model: OnlineModel | None = None) -> None:
        self.current = model or OnlineModel()

    def replace(self, model: OnlineModel) -> None:
        if model.version >= self.current.version:
            self.current = model

    async def refresh(self, store: ModelStore) -> None:
        state = await store.load()
        if state is not None and int(state["version"]) > self.current.version:
            self.replace(OnlineModel.from_state(state))


@dataclass
class Engine:
    policy: ScoringPolicy = field(default_factory=ScoringPolicy)
    models: ModelHolder = field(default_factory=ModelHolder)
    limits: InputLimits = field(default_factory=InputLimits)
    auto_register_accounts: bool = False
    park_timeout: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = field(default_factory=RandomIds)
    states: AccountCache = field(default_factory=AccountCache)
