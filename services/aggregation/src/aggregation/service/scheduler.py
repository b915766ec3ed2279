"""The scheduler's pass: everything that happens without a member present.

Rules: one pass ends lapsed and abandoned consents, warns of expiring ones, settles due
teardowns and runs due unattended pulls. Passes are safe to run on every replica at once:
work is claimed with row locks and leases, never done twice at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from common.logging import get_logger

from aggregation.service import consents, sync, teardown
from aggregation.service.context import Context

log = get_logger(__name__)


@dataclass
class PassReport:
    warned: int
    expired: int
    abandoned: int
    torn_down: int
    sync: sync.SyncReport


async def run_pass(ctx: Context) -> PassReport:
    abandoned = await consents.abandon_stale(ctx)
    warned, expired = await consents.check_expiry(ctx)
    torn_down = await teardown.run_teardowns(ctx)
    report = await sync.run_due_syncs(ctx)
    return PassReport(warned, expired, abandoned, torn_down, report)


class Scheduler:
    """Runs `run_pass` every `interval` seconds until stopped; a failed pass is logged."""

    def __init__(self, ctx: Context, interval: float) -> None:
        self._ctx = ctx
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="aggregation-scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 30)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await run_pass(self._ctx)
            except Exception as exc:
                log.error("scheduler_pass_failed", error=type(exc).__name__, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
