"""Erasure: a member asked for all their data to be erased; fraud erases its part.

Rules: the member's streaming state, logged signals, consents and reports are deleted, their
accounts are forgotten, and scores, alerts and decisions keep no link to them; the part is
proved by an ``ErasureCompleted`` event with row counts, in the same transaction.
"""

from __future__ import annotations

from common.events.erasure import ErasureCompleted

from fraud.service.engine import Engine
from fraud.service.ports import UnitOfWork


async def erase_member(
    user_id: str, request_id: str, uow: UnitOfWork, engine: Engine
) -> dict[str, int]:
    async with uow:
        counts = await uow.erasure.erase_owner(user_id)
        uow.publish(
            ErasureCompleted(
                user_id=user_id,
                request_id=request_id,
                service="fraud",
                completed_at=engine.clock(),
                proof={name: int(count) for name, count in counts.items()},
            ),
            subject=user_id,
        )
        await uow.commit()
    return counts
