"""A member's erasure beyond their own rows: rate counters keyed by their id, their outbox rows
and their tombstone (the outbox SQL is ``common.db.erasure``'s)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from common.db.erasure import OutboxPurge, forget_subject


class PgErasureLog:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def forget(self, user_id: str, now: datetime) -> OutboxPurge:
        await self.conn.execute("DELETE FROM rate_counters WHERE key = $1", user_id)
        return await forget_subject(self.conn, user_id, now=now)
