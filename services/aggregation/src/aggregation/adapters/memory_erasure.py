"""In-memory tombstones for unit tests (see ``aggregation.adapters.memory``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregation.adapters.memory import MemoryState


@dataclass(frozen=True)
class Forgotten:
    deleted: int
    pending: int


class MemoryErasure:
    """The tombstones (no outbox here: recorded events are the state's ``published``)."""

    def __init__(self, state: MemoryState) -> None:
        self.s = state

    async def forget(self, user_id: str, account_refs: Sequence[str], now: datetime) -> Forgotten:
        self.s.erased.add(user_id)
        return Forgotten(0, 0)

    async def is_erased(self, user_id: str) -> bool:
        return user_id in self.s.erased
