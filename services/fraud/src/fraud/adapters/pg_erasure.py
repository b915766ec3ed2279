"""Postgres side of erasure and of the weekly run's claim (SQL only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
from common.db.erasure import digest, forget_inbox_events, forget_subject, is_erased

from fraud.domain.report import Week

STALE_RUN = timedelta(hours=1)

_DELETE_BY_OWNER = ("owner_state", "security_events", "consents", "reports", "members")
_PSEUDONYMISE = {
    "scores": ", activity_ref = 'erased-' || gen_random_uuid(), source_event_id = NULL",
    "alerts": ", activity_ref = 'erased-' || gen_random_uuid()",
    "payment_decisions": ", payee_ref = 'erased'",
}


class PgErasure:
    """Erasure of one owner in fraud's tables (the rules are in ``fraud.service.erasure``)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def erase_owner(self, owner_ref: str, now: datetime) -> dict[str, int]:
        refs = await self._account_refs(owner_ref)
        events = await self._source_events(owner_ref, refs)
        counts = {"accounts": len(refs)}
        counts["inbox_forgotten"] = await forget_inbox_events(self.conn, events)
        counts["account_state"] = await self._run(
            "DELETE FROM account_state WHERE account_ref = ANY($1::text[])", refs
        )
        counts["account_changes"] = await self._run(
            "DELETE FROM account_changes WHERE account_ref = ANY($1::text[])", refs
        )
        await self._run("DELETE FROM accounts WHERE owner_ref = $1", owner_ref)
        for table in _DELETE_BY_OWNER:
            counts[table] = await self._run(
                f"DELETE FROM {table} WHERE owner_ref = $1",  # noqa: S608
                owner_ref,
            )
        for table, extra in _PSEUDONYMISE.items():
            counts[f"{table}_pseudonymised"] = await self._pseudonymise(
                table, extra, owner_ref, refs
            )
        counts["parked_events"] = await self._run(
            "DELETE FROM parked_events WHERE owner_ref = $1", owner_ref
        )
        purge = await forget_subject(self.conn, owner_ref, keys=refs, now=now)
        counts["outbox_sent_deleted"] = purge.deleted
        counts["outbox_pending"] = purge.pending
        return counts

    async def is_erased(self, owner_ref: str | None) -> bool:
        return await is_erased(self.conn, owner_ref)

    async def erased_among(self, owner_refs: Sequence[str]) -> set[str]:
        refs = sorted(set(owner_refs))
        if not refs:
            return set()
        rows = await self.conn.fetch(
            "SELECT r.ref FROM unnest($1::text[], $2::text[]) AS r(ref, digest) "
            "WHERE EXISTS (SELECT 1 FROM erased_subjects e WHERE e.digest = r.digest)",
            refs,
            [digest(ref) for ref in refs],
        )
        return {row["ref"] for row in rows}

    async def _account_refs(self, owner_ref: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT account_ref FROM accounts WHERE owner_ref = $1 UNION "
            "SELECT account_ref FROM scores WHERE owner_ref = $1 UNION "
            "SELECT account_ref FROM parked_events WHERE owner_ref = $1",
            owner_ref,
        )
        return sorted(row["account_ref"] for row in rows)

    async def _source_events(self, owner_ref: str, refs: list[str]) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT source_event_id AS id FROM scores "
            "WHERE account_ref = ANY($2::text[]) OR owner_ref = $1 UNION "
            "SELECT source_event_id FROM security_events WHERE owner_ref = $1",
            owner_ref,
            refs,
        )
        return [row["id"] for row in rows if row["id"]]

    async def _pseudonymise(self, table: str, extra: str, owner_ref: str, refs: list[str]) -> int:
        """Each account ref becomes one fresh random token (rows of an account stay together,
        linked to no one); the owner link is dropped."""
        total = 0
        for ref in refs:
            total += await self._run(
                f"UPDATE {table} SET account_ref = $2, owner_ref = NULL{extra} "  # noqa: S608
                "WHERE account_ref = $1",
                ref,
                f"erased-{uuid.uuid4()}",
            )
        total += await self._run(
            f"UPDATE {table} SET owner_ref = NULL{extra} WHERE owner_ref = $1",  # noqa: S608
            owner_ref,
        )
        return total

    async def _run(self, query: str, *args: object) -> int:
        return _count(await self.conn.execute(query, *args))


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
