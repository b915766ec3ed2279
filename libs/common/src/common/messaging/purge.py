"""Purging the outbox and the inbox, so neither grows forever.

Rules:
- A sent outbox row, and an inbox id, is kept for the redelivery horizon (the
  ``REDELIVERY_HORIZON_SECONDS`` setting, above the topics' retention): within it a redelivered
  event is still recognised. After it, the row is deleted. Unsent rows are never purged.
- Purging deletes in bounded chunks, so it never holds locks long or slows the hot path.
- ``purge_sent_outbox_for_subject`` deletes at once every *sent* outbox row about one member
  (erasure): their envelopes may hold personal data. Unsent rows stay until published.
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


async def purge_sent_outbox_for_subject(conn: asyncpg.Connection, subject: str) -> int:
    """Delete every sent outbox row whose envelope is about ``subject``; return how many.

    Run it in the erasure's unit of work (``uow.conn``) so it commits with the erasure. Rows not
    yet sent are left for the relay: deleting them would lose events other services need.
    Rows written before the outbox had a ``subject`` column match on their key (which defaulted
    to the subject). It scans the outbox (no index on subject, to keep the hot path lean); the
    purge past the redelivery horizon keeps the outbox small.
    """
    status = await conn.execute(
        "DELETE FROM outbox WHERE sent_at IS NOT NULL "
        "AND (subject = $1 OR (subject IS NULL AND message_key = $1))",
        subject,
    )
    return _count(status)


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
