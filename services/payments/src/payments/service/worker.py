"""The background loop that moves payments on: expiry, fraud asks, submission, polling.

Rules: each step claims its rows with row locks (``SKIP LOCKED``) and leases, so several
replicas share the work; a step that fails is logged and retried at the next turn; the loop
wakes at once when a use case kicks it (a payment was cleared), else every ``interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from common.logging import get_logger

from payments.domain.payment import State
from payments.service.consents import sweep_consents
from payments.service.context import Context, persist
from payments.service.screening import ask_fraud
from payments.service.submission import poll_submitted, resolve_submitting, submit_cleared

log = get_logger(__name__)
HOUSEKEEPING_EVERY = 30


async def expire_unauthorised(ctx: Context) -> int:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.payments.claim(State.AWAITING_AUTHORISATION, now, ctx.policy.batch_size)
        for payment in due:
            payment.expire(now)
            await persist(uow, payment)
        await uow.commit()
    return len(due)


async def purge_keys(ctx: Context) -> int:
    async with ctx.uow() as uow:
        purged = await uow.idempotency.purge(ctx.clock.now() - ctx.policy.idempotency_ttl)
        await uow.commit()
    return purged


async def run_once(ctx: Context, housekeeping: bool = False) -> int:
    """One turn of every step; returns how many items were handled."""
    steps: list[Callable[[Context], Awaitable[int]]] = [
        expire_unauthorised, ask_fraud, submit_cleared, resolve_submitting, poll_submitted,
    ]  # fmt: skip
    if housekeeping:
        steps += [sweep_consents, purge_keys]
    handled = 0
    for step in steps:
        try:
            handled += await step(ctx)
        except Exception as exc:
            log.warning("payments_worker_step_failed", step=step.__name__,
                        error=getattr(exc, "code", type(exc).__name__))  # fmt: skip
    return handled


class Worker:
    def __init__(self, ctx: Context, interval: float) -> None:
        self._ctx = ctx
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="payments-worker")

    def kick(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop after the current step (a turn never outlives the app's shutdown)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        turn = 0
        while not self._stopping:
            self._wake.clear()
            handled = await run_once(self._ctx, housekeeping=turn % HOUSEKEEPING_EVERY == 0)
            turn += 1
            if handled or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
