"""Postgres side of erasure and of the weekly run's claim (SQL only)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from fraud.domain.report import Week

STALE_RUN = timedelta(hours=1)

_UNLINK = ("scores", "alerts", "payment_decisions")


class PgErasure:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def erase_owner(self, owner_ref: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        accounts = await self.conn.fetch(
            "DELETE FROM accounts WHERE owner_ref = $1 RETURNING account_ref", owner_ref
        )
        refs = [row["account_ref"] for row in accounts]
        counts["accounts"] = len(refs)
        counts["account_state"] = _count(
            await self.conn.execute(
                "DELETE FROM account_state WHERE account_ref = ANY($1::text[])", refs
            )
        )
        counts["account_changes"] = _count(
            await self.conn.execute(
                "DELETE FROM account_changes WHERE account_ref = ANY($1::text[])", refs
            )
        )
        for table in ("owner_state", "security_events", "consents", "reports", "members"):
            status = await self.conn.execute(
                f"DELETE FROM {table} WHERE owner_ref = $1",  # noqa: S608
                owner_ref,
            )
            counts[table] = _count(status)
        for table in _UNLINK:
            status = await self.conn.execute(
                f"UPDATE {table} SET owner_ref = NULL WHERE owner_ref = $1",  # noqa: S608
                owner_ref,
            )
            counts[f"{table}_unlinked"] = _count(status)
        return counts


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


class PgReportRuns:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, week: Week, now: datetime) -> bool:
        claimed = await self.conn.fetchval(
            "INSERT INTO report_runs (week, started_at) VALUES ($1, $2) "
            "ON CONFLICT (week) DO UPDATE SET started_at = EXCLUDED.started_at "
            "WHERE report_runs.completed_at IS NULL AND report_runs.started_at < $3 "
            "RETURNING 1",
            week.label,
            now,
            now - STALE_RUN,
        )
        return claimed is not None

    async def complete(self, week: Week, now: datetime, reports: int) -> None:
        await self.conn.execute(
            "UPDATE report_runs SET completed_at = $2, reports = $3 WHERE week = $1",
            week.label,
            now,
            reports,
        )
