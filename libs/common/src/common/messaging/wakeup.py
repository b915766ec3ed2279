"""Waking the outbox relay after a producing commit, without a NOTIFY in that transaction.

Rules:
- A commit never runs ``pg_notify`` inside its transaction (NOTIFY takes a lock that serialises
  every commit and keeps concurrent commits from sharing a WAL flush).
- When this process's relay leads, a commit wakes it in-process, for free.
- Otherwise (standby relay, or no relay in this process) one NOTIFY is sent for the other
  replicas, on its own connection after the commit, at most once per ``min_interval`` per
  process, however many commits happened meanwhile.
- A lost wake-up only delays publishing until the relay's poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from common.db.database import Database
from common.db.uow import outbox_channel
from common.logging import get_logger

log = get_logger(__name__)


class RelayWakeup:
    """``on_commit`` callback of a process's units of work."""

    def __init__(self, db: Database, *, min_interval: float = 0.005) -> None:
        self._db = db
        self._min_interval = min_interval
        self._wake_local: Callable[[], None] | None = None
        self._local_leads: Callable[[], bool] = lambda: False
        self._task: asyncio.Task[None] | None = None
        self.notifies_sent = 0

    def attach(self, wake: Callable[[], None], leads: Callable[[], bool]) -> None:
        """Connect the local relay: its wake function and whether it leads right now."""
        self._wake_local = wake
        self._local_leads = leads

    def __call__(self) -> None:
        if self._wake_local is not None and self._local_leads():
            self._wake_local()
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        await asyncio.sleep(self._min_interval)
        self._task = None  # a commit from now on needs a NOTIFY of its own
        try:
            async with self._db.pool.acquire() as conn:
                await conn.execute("SELECT pg_notify($1, '')", outbox_channel(self._db.schema))
            self.notifies_sent += 1
        except Exception as exc:  # the relay's poll interval covers a lost wake-up
            log.debug("outbox_notify_failed", error=type(exc).__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
