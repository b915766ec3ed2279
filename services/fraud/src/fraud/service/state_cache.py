"""Account states held in memory by the replica that scores their partitions.

Rules: a state in memory is only used when its head (revision and last score id) is the
committed one, read under the account's lock, so a state changed elsewhere (another replica after
a rebalance, the decision endpoint, a rolled-back batch) is reloaded from its snapshot and
replayed changes, never trusted; a snapshot is due every ``every_events`` outflows or
``every_seconds`` since the last one; the cache keeps at most ``capacity`` accounts (least
recently used go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fraud.domain.state import AccountState
from fraud.service.ports import AccountHead, CommittedState

DEFAULT_CAPACITY = 200_000


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """When an account's whole state is written (its changes are written at every batch)."""

    every_events: int = 64
    every_seconds: float = 30.0


@dataclass(slots=True)
class Cached:
    state: AccountState
    token: str | None
    snapshot_revision: int
    snapshot_at: float

    @property
    def head(self) -> AccountHead:
        return AccountHead(self.state.revision, self.token)


def usable(cached: Cached | None, head: AccountHead | None) -> bool:
    """True when a state in memory is the committed one (no head: an account with no outflow)."""
    if cached is None:
        return False
    return cached.head == head if head is not None else cached.state.revision == 0


class AccountCache:
    """Least-recently-used account states, each with its head and last snapshot."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        policy: SnapshotPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.policy = policy or SnapshotPolicy()
        self._monotonic = monotonic
        self._items: OrderedDict[str, Cached] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def heads(self, accounts: Iterable[str]) -> dict[str, AccountHead]:
        return {a: c.head for a in accounts if (c := self._items.get(a)) is not None}

    def get(self, account_ref: str) -> Cached | None:
        cached = self._items.get(account_ref)
        if cached is not None:
            self._items.move_to_end(account_ref)
        return cached

    def put(self, state: AccountState, token: str | None, snapshot_revision: int) -> Cached:
        cached = Cached(state, token, snapshot_revision, self._monotonic())
        self._items[state.account_ref] = cached
        self._items.move_to_end(state.account_ref)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return cached

    def hold(self, committed: CommittedState) -> bool:
        """Keep a committed state read outside a batch, unless this cache already holds the
        account at the same or a newer revision; True when it was taken."""
        current = self._items.get(committed.state.account_ref)
        if current is not None and current.state.revision >= committed.state.revision:
            return False
        self.put(committed.state, committed.token, committed.snapshot_revision)
        return True

    def forget(self, accounts: Iterable[str]) -> None:
        for account in accounts:
            self._items.pop(account, None)

    def snapshot_due(self, cached: Cached) -> bool:
        pending = cached.state.revision - cached.snapshot_revision
        if pending <= 0:
            return False
        elapsed = self._monotonic() - cached.snapshot_at
        return pending >= self.policy.every_events or elapsed >= self.policy.every_seconds

    def snapshotted(self, cached: Cached) -> None:
        cached.snapshot_revision = cached.state.revision
        cached.snapshot_at = self._monotonic()
