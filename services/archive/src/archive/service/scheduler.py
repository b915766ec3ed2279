"""Background work: retry staged receipts, shred receipts whose retention ended, add archival
timestamps (B-LTA) when due, forget expired upload idempotency keys, and sweep.

Rules: every pass is safe on every replica at once (row locks, `SKIP LOCKED`); a failed pass is
logged and the next one tries again; the integrity sweep runs every `sweep_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from common.logging import get_logger

from archive.service import archival, erasure, processing, sweep, uploads
from archive.service.context import Context

log = get_logger(__name__)


async def run_pass(ctx: Context) -> tuple[int, int]:
    sealed = await processing.process_due(ctx)
    shredded = await erasure.shred_due(ctx)
    await archival.extend_due(ctx)
    await uploads.purge_expired(ctx)
    return sealed, shredded


class Scheduler:
    def __init__(self, ctx: Context, interval: float, sweep_every: float, sample: int) -> None:
        self._ctx = ctx
        self._interval = interval
        self._sweep_every = sweep_every
        self._sample = sample
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = time.monotonic()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="archive-scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 30)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await run_pass(self._ctx)
                if self._sample and time.monotonic() - self._last_sweep >= self._sweep_every:
                    self._last_sweep = time.monotonic()
                    await sweep.sweep(self._ctx, self._sample)
            except Exception as exc:
                log.error("scheduler_pass_failed", error=type(exc).__name__, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
