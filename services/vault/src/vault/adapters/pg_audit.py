"""The hash-chained audit log in Postgres.

Rules: an append locks the single ``audit_head`` row, chains the entry after it, inserts the
entry and moves the head, all in the caller's transaction, so entries are chained strictly one
after another and a rolled-back transaction leaves no entry and no gap. Reading the log for
verification streams it in ``seq`` order through a cursor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from vault.domain.audit import AuditDraft, AuditEntry, Head, Outcome, chain

_COLUMNS = (
    "seq, at, actor, action, outcome, subject, purpose, ref, operator, detail, prev_hash, hash"
)


def entry_from_row(row: Any) -> AuditEntry:
    values = dict(row)
    detail = values["detail"]
    values["detail"] = json.loads(detail) if isinstance(detail, str) else detail
    values["outcome"] = Outcome(values["outcome"])
    return AuditEntry(**values)


class PgAuditLog:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def append(self, draft: AuditDraft, at: datetime) -> AuditEntry:
        row = await self.conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        entry = chain(Head(row["seq"], row["hash"]) if row["seq"] else None, draft, at)
        await self.conn.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"  # noqa: S608
            " $10::jsonb, $11, $12)",
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            str(entry.outcome),
            entry.subject,
            entry.purpose,
            entry.ref,
            entry.operator,
            json.dumps(dict(entry.detail), sort_keys=True),
            entry.prev_hash,
            entry.hash,
        )
        await self.conn.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", entry.seq, entry.hash
        )
        return entry

    async def head(self) -> Head | None:
        row = await self.conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1")
        return Head(row["seq"], row["hash"]) if row and row["seq"] else None

    async def entries(self, after_seq: int = 0) -> AsyncIterator[AuditEntry]:
        query = (
            f"SELECT {_COLUMNS.replace('detail', 'detail::text AS detail')} FROM audit_log"  # noqa: S608
            " WHERE seq > $1 ORDER BY seq"
        )
        async for row in self.conn.cursor(query, after_seq, prefetch=1000):
            yield entry_from_row(row)
