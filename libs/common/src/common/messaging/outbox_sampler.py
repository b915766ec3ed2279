"""Samples a service's outbox backlog for the metrics: unsent rows and the oldest one's age.

Rules: one cheap query on a schedule (the unsent rows are a partial index), never on a scrape;
a failed sample keeps the last figures and is retried at the next tick.
"""

from __future__ import annotations

import asyncio

from common.db.database import Database
from common.logging import get_logger
from common.messaging.instruments import record_backlog

log = get_logger(__name__)

_BACKLOG = (
    "SELECT count(*) AS unsent, "
    "coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest "
    "FROM outbox WHERE sent_at IS NULL"
)


async def sample_outbox_once(db: Database, service: str) -> tuple[int, float]:
    rows = await db.fetch(_BACKLOG)
    unsent, oldest = int(rows[0]["unsent"]), float(rows[0]["oldest"])
    record_backlog(service, unsent, oldest)
    return unsent, oldest


async def sample_outbox_forever(db: Database, service: str, every_seconds: float) -> None:
    while True:
        try:
            await sample_outbox_once(db, service)
        except Exception as exc:  # the next tick retries; metrics never stop the service
            log.warning("outbox_sample_failed", error=type(exc).__name__)
        await asyncio.sleep(every_seconds)
