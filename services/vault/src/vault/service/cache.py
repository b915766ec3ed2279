"""An in-memory cache of unwrapped data keys, bounded by age, uses and size.

Rules: an entry is served at most ``max_uses`` times and for at most ``ttl_seconds``; the
oldest entries go first when the cache is full; erasure evicts a subject's keys at once. The
cache never decides whether a key may be used: the caller checks the key's row first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from vault.service.ports import Clock


@dataclass(slots=True)
class _Entry:
    key: bytes
    expires_at: float
    uses_left: int


class DataKeyCache:
    def __init__(
        self,
        clock: Clock,
        *,
        ttl_seconds: float = 300.0,
        max_uses: int = 10_000,
        max_entries: int = 10_000,
    ) -> None:
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_uses = max_uses
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _now(self) -> float:
        return self._clock.timestamp()

    def get(self, key_id: str) -> bytes | None:
        entry = self._entries.get(key_id)
        if entry is None or entry.expires_at <= self._now() or entry.uses_left <= 0:
            self._entries.pop(key_id, None)
            self.misses += 1
            return None
        entry.uses_left -= 1
        if entry.uses_left == 0:
            del self._entries[key_id]
        self.hits += 1
        return entry.key

    def put(self, key_id: str, key: bytes) -> None:
        if self.max_uses <= 0 or self.ttl_seconds <= 0:
            return
        self._entries[key_id] = _Entry(key, self._now() + self.ttl_seconds, self.max_uses)
        self._entries.move_to_end(key_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict(self, key_id: str) -> None:
        self._entries.pop(key_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
