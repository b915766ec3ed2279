"""Connections and teardowns in Postgres (all their SQL lives here)."""

# ruff: noqa: S608  (queries interpolate this module's column lists only, never input)

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from aggregation.domain.connections import Connection, ConnectionStatus, Teardown
from aggregation.domain.errors import CallbackInProgress

_COLUMNS = (
    "connection_id, user_id, status, state_digest, state_expires_at, state_used_at, vault_ref, "
    "frequency_per_day, consent_valid_until, expiry_warned_at, last_member_refresh_at, "
    "created_at, activated_at, ended_at, end_reason"
)
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, 16))


def _row(c: Connection) -> tuple[object, ...]:
    return (
        c.connection_id, c.user_id, c.status.value, c.state_digest, c.state_expires_at,
        c.state_used_at, c.vault_ref, c.frequency_per_day, c.consent_valid_until,
        c.expiry_warned_at, c.last_member_refresh_at, c.created_at, c.activated_at,
        c.ended_at, c.end_reason,
    )  # fmt: skip


def _connection(r: asyncpg.Record) -> Connection:
    return Connection(
        connection_id=r["connection_id"],
        user_id=r["user_id"],
        status=ConnectionStatus(r["status"]),
        state_digest=bytes(r["state_digest"]),
        state_expires_at=r["state_expires_at"],
        vault_ref=r["vault_ref"],
        frequency_per_day=r["frequency_per_day"],
        created_at=r["created_at"],
        state_used_at=r["state_used_at"],
        consent_valid_until=r["consent_valid_until"],
        expiry_warned_at=r["expiry_warned_at"],
        last_member_refresh_at=r["last_member_refresh_at"],
        activated_at=r["activated_at"],
        ended_at=r["ended_at"],
        end_reason=r["end_reason"],
    )


class PgConnections:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, connection: Connection) -> None:
        await self._conn.execute(
            f"INSERT INTO connections ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", *_row(connection)
        )

    async def save(self, connection: Connection) -> None:
        sets = ", ".join(
            f"{name.strip()} = ${i}" for i, name in enumerate(_COLUMNS.split(","), 1) if i > 1
        )
        await self._conn.execute(
            f"UPDATE connections SET {sets} WHERE connection_id = $1", *_row(connection)
        )

    async def get(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM connections WHERE connection_id = $1{lock}", connection_id
        )
        return _connection(row) if row else None

    async def by_state(self, digest: bytes) -> Connection | None:
        try:
            row = await self._conn.fetchrow(
                f"SELECT {_COLUMNS} FROM connections WHERE state_digest = $1 FOR UPDATE NOWAIT",
                digest,
            )
        except asyncpg.LockNotAvailableError:
            raise CallbackInProgress() from None
        return _connection(row) if row else None

    async def of_user(self, user_id: str) -> list[Connection]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM connections WHERE user_id = $1 ORDER BY created_at", user_id
        )
        return [_connection(r) for r in rows]

    async def count_open(self, user_id: str) -> int:
        count: int = await self._conn.fetchval(
            "SELECT count(*) FROM connections "
            "WHERE user_id = $1 AND status IN ('pending', 'active')",
            user_id,
        )
        return count

    async def expiring(self, today: date, until: date) -> list[Connection]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM connections WHERE status = 'active' AND "
            "(consent_valid_until < $1 "
            " OR (consent_valid_until <= $2 AND expiry_warned_at IS NULL)) "
            "ORDER BY consent_valid_until LIMIT 500 FOR UPDATE SKIP LOCKED",
            today,
            until,
        )
        return [_connection(r) for r in rows]

    async def stale_pending(self, now: datetime) -> list[Connection]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM connections WHERE status = 'pending' "
            "AND state_expires_at <= $1 LIMIT 500 FOR UPDATE SKIP LOCKED",
            now,
        )
        return [_connection(r) for r in rows]

    async def delete_of_user(self, user_id: str) -> int:
        deleted = await self._conn.fetch(
            "DELETE FROM connections WHERE user_id = $1 RETURNING 1", user_id
        )
        return len(deleted)


def _teardown(r: asyncpg.Record) -> Teardown:
    return Teardown(
        r["teardown_id"], r["user_id"], r["vault_ref"], r["terminate_at_agent"],
        r["attempts"], r["next_attempt_at"],
    )  # fmt: skip


class PgTeardowns:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, teardown: Teardown) -> None:
        await self._conn.execute(
            "INSERT INTO teardowns (teardown_id, user_id, vault_ref, terminate_at_agent, "
            "attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))",
            teardown.teardown_id, teardown.user_id, teardown.vault_ref,
            teardown.terminate_at_agent, teardown.attempts, teardown.next_attempt_at,
        )  # fmt: skip

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Teardown]:
        rows = await self._conn.fetch(
            "UPDATE teardowns SET next_attempt_at = $3 WHERE teardown_id IN ("
            " SELECT teardown_id FROM teardowns WHERE next_attempt_at <= $1"
            " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
            now, limit, lease_until,
        )  # fmt: skip
        return [_teardown(r) for r in rows]

    async def save(self, teardown: Teardown) -> None:
        await self._conn.execute(
            "UPDATE teardowns SET attempts = $2, next_attempt_at = $3 WHERE teardown_id = $1",
            teardown.teardown_id, teardown.attempts, teardown.next_attempt_at,
        )  # fmt: skip

    async def delete(self, teardown_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM teardowns WHERE teardown_id = $1", teardown_id)
