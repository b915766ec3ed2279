"""Transactions that arrive before their owner's registration: parked, then scored.

Rules: a bank transaction and its owner's ``user-registered`` event travel on different topics,
so either may come first; a transaction whose subject is not a member yet is parked (never
dead-lettered for that race). Registering the member scores their parked transactions in the
same transaction; a periodic pass scores those whose owner became a member meanwhile and, once
``park_timeout`` has passed, scores the rest as of an *unknown owner* (the score links to no
member and no account is registered to anyone). A parked transaction that turns out invalid (an
account owned by another member) is dropped with a warning, never failing the registration that
released it. An erased member's parked events are deleted.
"""

from __future__ import annotations

from collections.abc import Callable

from common.logging import get_logger

from fraud.domain.activity import Activity
from fraud.domain.errors import InvalidActivity
from fraud.service.engine import Engine
from fraud.service.ports import UnitOfWork
from fraud.service.scoring import score_in

log = get_logger(__name__)
BATCH = 200


async def score_parked_of(owner_ref: str, uow: UnitOfWork, engine: Engine) -> int:
    """Inside an open unit of work: score what was parked for a member just registered."""
    parked = await uow.parked.take_for_owner(owner_ref)
    for activity in parked:
        await _score(activity, uow, engine, unknown_owner=False)
    return len(parked)


async def release_due(uow_factory: Callable[[], UnitOfWork], engine: Engine) -> int:
    """One pass: score parked transactions whose owner is now known or whose wait is over."""
    async with uow_factory() as uow:
        due = await uow.parked.take_due(engine.clock(), BATCH)
        for activity, expired in due:
            await _score(activity, uow, engine, unknown_owner=expired)
        await uow.commit()
    expired_count = sum(1 for _, expired in due if expired)
    if due:
        log.info("parked_transactions_scored", scored=len(due), unknown_owner=expired_count)
    return len(due)


async def _score(
    activity: Activity, uow: UnitOfWork, engine: Engine, *, unknown_owner: bool
) -> None:
    """A parked transaction that cannot be scored (its account belongs to someone else) is
    dropped with a log line: it must not fail the registration that released it. The check
    happens before anything is written, so the transaction goes on."""
    try:
        await score_in([activity], uow, engine, unknown_owner=unknown_owner)
    except InvalidActivity as exc:
        log.warning(
            "parked_transaction_rejected", reason=exc.code, account_ref=activity.account_ref
        )
