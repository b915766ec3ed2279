"""A payment decision asked for over HTTP, kept consistent with the event stream.

Rules: a payment is decided by the replica that owns its account's partition, from the payment's
event, in the order of the account's other events; a decision asked over HTTP first waits (at
most ``wait`` seconds, polling with a growing pause) for that decision row and answers it; only
when it has not come does this replica decide, under the account's lock and against the
committed state (snapshot + changes), and the owner then finds the payment scored and folds
nothing twice. Either way a payment gets exactly one decision, and asking with other details
than the decided ones is a conflict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.errors import DecisionMismatch
from fraud.service.engine import Engine
from fraud.service.ports import UnitOfWork
from fraud.service.scoring import DecidedPayment, decide_payment

FIRST_PAUSE = 0.01
LONGEST_PAUSE = 0.2


async def decide_consistently(
    activity: Activity,
    uow: Callable[[], UnitOfWork],
    engine: Engine,
    *,
    wait: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> DecidedPayment:
    """The payment's decision: the partition owner's when it comes within ``wait``, else one
    made here (see the module's rules)."""
    if activity.kind is not ActivityKind.PAYMENT or activity.payee_ref is None:
        raise ValueError("decide_consistently needs a payment")
    found = await _awaited(activity.ref, uow, wait, sleep)
    if found is None:
        return await decide_payment(activity, uow(), engine)
    decision = found.decision
    if not decision.same_request(
        -activity.amount, activity.currency, activity.payee_ref, activity.account_ref
    ):
        raise DecisionMismatch("payment id already decided with other details")
    return found


async def _awaited(
    payment_id: str,
    uow: Callable[[], UnitOfWork],
    wait: float,
    sleep: Callable[[float], Awaitable[None]],
) -> DecidedPayment | None:
    """The decision row with its score, once it exists (None when ``wait`` ran out)."""
    deadline = time.monotonic() + wait
    pause = FIRST_PAUSE
    while True:
        async with uow() as work:
            decision = await work.decisions.get(payment_id)
            record = await work.scores.get(decision.score_id) if decision else None
        if decision is not None and record is not None:
            return DecidedPayment(decision, record)
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        await sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE)
