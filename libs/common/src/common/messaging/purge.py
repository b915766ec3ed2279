"""Purging the outbox and the inbox, so neither grows forever.

Rules:
- A sent outbox row, and an inbox id, is kept for the redelivery horizon (the
  ``REDELIVERY_HORIZON_SECONDS`` setting, above the topics' retention): within it a redelivered
  event is still recognised. After it, the row is deleted. Unsent rows are never purged.
- Purging deletes in bounded chunks, so it never holds locks long or slows the hot path.
- A member's erasure does not wait for the horizon: ``common.db.erasure.forget_subject``
  deletes their sent rows at once (and their unsent ones once published).
"""

from __future__ import annotations

import asyncpg

PURGE_CHUNK = 5_000

_PURGE_OUTBOX = (
    "DELETE FROM outbox WHERE id = ANY(ARRAY("
    "SELECT id FROM outbox WHERE sent_at IS NOT NULL "
    "AND sent_at < now() - make_interval(secs => $1) LIMIT $2))"
)
_PURGE_INBOX = (
    "DELETE FROM inbox WHERE (consumer, event_id) IN ("
    "SELECT consumer, event_id FROM inbox "
    "WHERE processed_at < now() - make_interval(secs => $1) LIMIT $2)"
)


async def purge_expired(
    conn: asyncpg.Connection, horizon_seconds: float, *, chunk: int = PURGE_CHUNK
) -> tuple[int, int]:
    """Delete up to ``chunk`` sent outbox rows and ``chunk`` inbox ids older than the horizon;
    return how many of each (a full chunk means more may be waiting)."""
    outbox = await conn.execute(_PURGE_OUTBOX, float(horizon_seconds), chunk)
    inbox = await conn.execute(_PURGE_INBOX, float(horizon_seconds), chunk)
    return _count(outbox), _count(inbox)


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
