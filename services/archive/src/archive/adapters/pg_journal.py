"""The receipts journal in Postgres: appended under a transaction-scoped advisory lock, so the
chain has one writer at a time; the table itself refuses updates and deletes (a trigger).
`append_many` chains a batch in memory from the head and writes it with one statement."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from archive.domain.journal import GENESIS, JournalEntry, NewEntry, body, chain

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
        [entry] = await self.append_many([NewEntry(at, receipt_id, user_id, action, detail)])
        return entry

    async def append_many(self, new: list[NewEntry]) -> list[JournalEntry]:
        if not new:
            return []
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        head = await self._conn.fetchrow("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
        seq, prev = (head["seq"] + 1, bytes(head["hash"])) if head else (1, GENESIS)
        entries = []
        for n in new:
            at = n.at.astimezone(UTC)
            digest = chain(prev, body(seq, at, n.receipt_id, n.user_id, n.action, n.detail))
            entries.append(
                JournalEntry(seq, at, n.receipt_id, n.user_id, n.action, n.detail, prev, digest)
            )
            seq, prev = seq + 1, digest
        await self._conn.execute(
            "INSERT INTO journal (seq, at, receipt_id, user_id, action, detail, prev_hash, hash)"
            " SELECT s, a, r, u, x, d::jsonb, p, h FROM unnest($1::bigint[], $2::timestamptz[],"
            " $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])"
            " AS t(s, a, r, u, x, d, p, h) ORDER BY s",
            [e.seq for e in entries],
            [e.at for e in entries],
            [e.receipt_id for e in entries],
            [e.user_id for e in entries],
            [e.action for e in entries],
            [json.dumps(e.detail) for e in entries],
            [e.prev_hash for e in entries],
            [e.hash for e in entries],
        )
        return entries

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
