"""The member's erasure in the outbox, and their tombstone (SQL in ``common.db.erasure``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
from common.db.erasure import OutboxPurge, forget_subject, is_erased


class PgErasureLog:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def forget(self, user_id: str, account_refs: Sequence[str], now: datetime) -> OutboxPurge:
        return await forget_subject(self._conn, user_id, keys=account_refs, now=now)

    async def is_erased(self, user_id: str) -> bool:
        return await is_erased(self._conn, user_id)
