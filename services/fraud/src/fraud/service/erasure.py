"""Erasure: a member asked for all their data to be erased; fraud erases its part.

Rules:
- Deleted: the member's accounts and their streaming state, owner state, logged signals,
  consents, reports, member row, parked events, the inbox rows of the events scored or logged
  for them, and their *sent* outbox rows (rows still unsent are published, then purged).
- Pseudonymised (kept for the fraud model's statistics and the analysts' audit): scores, alerts
  and payment decisions lose the owner; each account reference becomes a fresh random token,
  activity references random ids, the payee reference and the source event id are dropped.
- The member is remembered only as a digest (``common.db.erasure``), so a late or redelivered
  event about them is dropped rather than stored again.
- The part is proved by an ``ErasureCompleted`` event with row counts and the time after which
  no event about the member published before it is left on the broker, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.events.erasure import ErasureCompleted, broker_retention_end

from fraud.service.engine import Engine
from fraud.service.ports import UnitOfWork


async def erase_member(
    user_id: str, request_id: str, uow: UnitOfWork, engine: Engine
) -> dict[str, int]:
    async with uow:
        now = engine.clock()
        counts = await uow.erasure.erase_owner(user_id, now)
        uow.publish(
            ErasureCompleted(
                user_id=user_id,
                request_id=request_id,
                service="fraud",
                completed_at=now,
                proof={name: int(count) for name, count in counts.items()},
                events_on_broker_until=broker_retention_end(now),
                outbox_rows_pending=counts.get("outbox_pending", 0) + 1,
            ),
            subject=user_id,
        )
        await uow.commit()
    return counts


async def is_erased(owner_ref: str | None, uow: UnitOfWork) -> bool:
    """True when the member was erased: events about them are dropped, never stored."""
    async with uow:
        return await uow.erasure.is_erased(owner_ref)


async def erased_among(owner_refs: Sequence[str], uow: UnitOfWork) -> set[str]:
    """The subjects among these that are erased members (one read for a batch of events)."""
    async with uow:
        return await uow.erasure.erased_among(owner_refs)
