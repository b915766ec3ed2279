"""What the vault caches about a subject: its data key rows and erasure hold, with their epoch.

Rules:
- A subject's state is read in one transaction, the epoch first: a key or hold read after it can
  only be newer than the epoch says, never older, so a state with a stale epoch is caught.
- An answer decided on a cached state is audited with that state's epoch; the audit appender
  refuses it if the epoch moved (on any replica), and the caller decides again from fresh state.
- Entries live at most ``ttl_seconds``; the oldest go first beyond ``max_entries``; erasure on
  this replica evicts the subject at once.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from vault.domain.erasure import ErasureHold
from vault.domain.keys import DataKey
from vault.service.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SubjectState:
    subject: str
    epoch: int
    hold: ErasureHold | None
    keys: Mapping[str, DataKey]
    expires_at: float
    by_raw_id: Mapping[bytes, DataKey] = field(default_factory=dict)
    """The same keys by the 16 bytes of their id, as a wrapped token names them."""


class SubjectCache:
    def __init__(
        self, clock: Clock, *, ttl_seconds: float = 300.0, max_entries: int = 10_000
    ) -> None:
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, SubjectState] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, subject: str, now: float | None = None) -> SubjectState | None:
        """The cached state, unless expired (``now``: the clock's timestamp, if already read)."""
        state = self._entries.get(subject)
        if state is None or state.expires_at <= (self._clock.timestamp() if now is None else now):
            self.misses += 1
            return None
        self.hits += 1
        return state

    async def load(self, uow: UnitOfWorkFactory, subject: str) -> SubjectState:
        """Read the subject's state (epoch first) and cache it."""
        async with uow() as tx:
            epoch = await tx.subject_epochs.get(subject)
            keys = await tx.data_keys.of_subject(subject)
            hold = await tx.erasure_holds.get(subject)
        expires_at = self._clock.timestamp() + self.ttl_seconds
        by_id = {k.key_id: k for k in keys}
        by_raw_id = {uuid.UUID(k.key_id).bytes: k for k in keys}
        state = SubjectState(subject, epoch, hold, by_id, expires_at, by_raw_id)
        if self.ttl_seconds > 0 and self.max_entries > 0:
            self._entries[subject] = state
            self._entries.move_to_end(subject)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return state

    def evict(self, subject: str) -> None:
        self._entries.pop(subject, None)

    def __len__(self) -> int:
        return len(self._entries)
