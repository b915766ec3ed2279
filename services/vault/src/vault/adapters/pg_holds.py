"""Postgres repository of held erasures (all its SQL lives here).

Rule: a hold is read locked, so a release and a consent deletion never race each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from vault.domain.erasure import ErasureHold

_HOLD = "subject, request_id, escrow_key_id::text, started_at, release_at"


def _hold(row: Any) -> ErasureHold:
    return ErasureHold(
        row["subject"],
        row["request_id"],
        row["escrow_key_id"],
        row["started_at"],
        row["release_at"],
    )


class PgErasureHolds:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, subject: str) -> ErasureHold | None:
        row = await self.conn.fetchrow(
            f"SELECT {_HOLD} FROM erasure_holds WHERE subject = $1 FOR UPDATE",  # noqa: S608
            subject,
        )
        return _hold(row) if row else None

    async def add(self, hold: ErasureHold) -> None:
        await self.conn.execute(
            "INSERT INTO erasure_holds (subject, request_id, escrow_key_id, started_at, release_at)"
            " VALUES ($1, $2, $3::uuid, $4, $5)",
            hold.subject,
            hold.request_id,
            hold.escrow_key_id,
            hold.started_at,
            hold.release_at,
        )

    async def delete(self, subject: str) -> None:
        await self.conn.execute("DELETE FROM erasure_holds WHERE subject = $1", subject)

    async def due(self, now: datetime, limit: int) -> list[ErasureHold]:
        rows = await self.conn.fetch(
            f"SELECT {_HOLD} FROM erasure_holds WHERE release_at <= $1"  # noqa: S608
            " ORDER BY release_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [_hold(r) for r in rows]
