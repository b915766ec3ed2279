"""An in-memory cache of unwrapped data keys, bounded by age, uses and size.

Rules: an entry is served at most ``max_uses`` times and for at most ``ttl_seconds`` (a batch
that opens ``n`` keys under one data key takes ``n`` uses at once); the oldest entries go first
when the cache is full; erasure evicts a subject's keys at once. The cache never decides whether
a key may be used: the caller checks the key's row first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from vault.domain import crypto
from vault.service.ports import Clock

Opener = crypto.Opener


@dataclass(slots=True)
class _Entry:
    key: bytes
    expires_at: float
    uses_left: int
    opener: Opener | None = None


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

    def get(self, key_id: str, uses: int = 1) -> bytes | None:
        """The key for ``uses`` more uses, or None (and forgotten) if it has fewer left."""
        entry = self._take(key_id, uses)
        return None if entry is None else entry.key

    def opener(self, key_id: str, uses: int = 1, now: float | None = None) -> Opener | None:
        """``crypto.opener`` of the key for ``uses`` more uses (set up once per entry); ``now``:
        the clock's timestamp, if already read."""
        entry = self._take(key_id, uses, now)
        if entry is None:
            return None
        if entry.opener is None:
            entry.opener = crypto.opener(entry.key)
        return entry.opener

    def _take(self, key_id: str, uses: int, now: float | None = None) -> _Entry | None:
        entry = self._entries.get(key_id)
        if now is None:
            now = self._now()
        if entry is None or entry.expires_at <= now or entry.uses_left < uses:
            self._entries.pop(key_id, None)
            self.misses += 1
            return None
        entry.uses_left -= uses
        if entry.uses_left == 0:
            del self._entries[key_id]
        self.hits += 1
        return entry

    def put(self, key_id: str, key: bytes, used: int = 0) -> None:
        """Cache a key just opened, ``used`` of its uses already taken."""
        if self.max_uses <= used or self.ttl_seconds <= 0:
            return
        self._entries[key_id] = _Entry(key, self._now() + self.ttl_seconds, self.max_uses - used)
        self._entries.move_to_end(key_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict(self, key_id: str) -> None:
        self._entries.pop(key_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
