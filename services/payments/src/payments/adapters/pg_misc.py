"""Idempotency keys, revoked sessions and the step-up ledger in Postgres."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from payments.service.ports import IdempotencyRecord


def _record(r: asyncpg.Record) -> IdempotencyRecord:
    body = r["response_body"]
    return IdempotencyRecord(
        user_id=r["user_id"], key=r["key"], fingerprint=r["fingerprint"],
        payment_id=r["payment_id"], created_at=r["created_at"], locked_until=r["locked_until"],
        response_status=r["response_status"],
        response_body=json.loads(body) if isinstance(body, str) else body,
    )  # fmt: skip


class PgIdempotency:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def claim(self, record: IdempotencyRecord) -> tuple[IdempotencyRecord, bool]:
        inserted = await self._conn.fetchval(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, payment_id, created_at, "
            "locked_until) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
            record.user_id, record.key, record.fingerprint, record.payment_id,
            record.created_at, record.locked_until,
        )  # fmt: skip
        if inserted:
            return record, True
        row = await self._conn.fetchrow(
            "SELECT * FROM idempotency_keys WHERE user_id = $1 AND key = $2 FOR UPDATE",
            record.user_id, record.key,
        )  # fmt: skip
        return _record(row), False

    async def take_over(self, user_id: str, key: str, locked_until: datetime) -> None:
        await self._conn.execute(
            "UPDATE idempotency_keys SET locked_until = $3 WHERE user_id = $1 AND key = $2",
            user_id, key, locked_until,
        )  # fmt: skip

    async def finish(self, user_id: str, key: str, status: int, body: dict[str, Any]) -> None:
        await self._conn.execute(
            "UPDATE idempotency_keys SET response_status = $3, response_body = $4::jsonb, "
            "locked_until = NULL WHERE user_id = $1 AND key = $2",
            user_id, key, status, json.dumps(body),
        )  # fmt: skip

    async def purge(self, before: datetime) -> int:
        result: str = await self._conn.execute(
            "DELETE FROM idempotency_keys WHERE created_at < $1", before
        )
        return int(result.split()[-1])

    async def delete_of_user(self, user_id: str) -> int:
        result: str = await self._conn.execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1", user_id
        )
        return int(result.split()[-1])


class PgSessions:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def revoke(self, session_id: str, user_id: str, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO revoked_sessions (session_id, user_id, revoked_at) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            session_id, user_id, at,
        )  # fmt: skip

    async def revoke_many(self, sessions: Sequence[tuple[str, str]], at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO revoked_sessions (session_id, user_id, revoked_at) "
            "SELECT s, u, $3 FROM unnest($1::text[], $2::text[]) AS r(s, u) "
            "ON CONFLICT DO NOTHING",
            [s for s, _ in sessions], [u for _, u in sessions], at,
        )  # fmt: skip

    async def is_revoked(self, session_id: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT 1 FROM revoked_sessions WHERE session_id = $1", session_id
        )
        return bool(found)


class PgLedger:
    """Step-up authorisation ids used here (single use is the consumer's duty)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def record(self, authorisation_id: str, expires_at: datetime) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO stepup_ledger (authorisation_id, expires_at) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            authorisation_id, expires_at,
        )  # fmt: skip
        return bool(inserted)
