"""The receipts journal in Postgres: appended under a transaction-scoped advisory lock, so the
chain has one writer at a time; the table itself refuses updates and deletes (a trigger)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from archive.domain.journal import GENESIS, JournalEntry, body, chain

_LOCK = 0x41524348  # "ARCH"


class PgJournal:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def append(
        self,
        at: datetime,
        receipt_id: str | None,
        user_id: str | None,
        action: str,
        detail: dict[str, Any],
    ) -> JournalEntry:
        at = at.astimezone(UTC)
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        head = await self._conn.fetchrow("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
        seq, prev = (head["seq"] + 1, bytes(head["hash"])) if head else (1, GENESIS)
        digest = chain(prev, body(seq, at, receipt_id, user_id, action, detail))
        await self._conn.execute(
            "INSERT INTO journal (seq, at, receipt_id, user_id, action, detail, prev_hash, hash)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)",
            seq,
            at,
            receipt_id,
            user_id,
            action,
            json.dumps(detail),
            prev,
            digest,
        )
        return JournalEntry(seq, at, receipt_id, user_id, action, detail, prev, digest)

    async def entries(self) -> list[JournalEntry]:
        rows = await self._conn.fetch(
            "SELECT seq, at, receipt_id, user_id, action, detail, prev_hash, hash"
            " FROM journal ORDER BY seq"
        )
        return [
            JournalEntry(
                r["seq"],
                r["at"].astimezone(UTC),
                r["receipt_id"],
                r["user_id"],
                r["action"],
                json.loads(r["detail"]),
                bytes(r["prev_hash"]),
                bytes(r["hash"]),
            )
            for r in rows
        ]
