"""Postgres repositories for challenges, sessions, refresh tokens, failure counts, rate counters.

All SQL for these tables lives here. Rows read for a change are locked (``FOR UPDATE``) so two
instances cannot both use one code, one refresh token or one failure count; a failure count row
is created and locked in one statement (an upsert), so even the first failures of an address
are never lost and a concurrent purge cannot remove it under a reader.
"""

# ruff: noqa: S608 -- column lists are module constants, every value is a bound parameter

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from auth.domain.challenges import Challenge, Method, Purpose
from auth.domain.lockout import FailureCount
from auth.domain.sessions import RefreshToken, Scope, Session

CHALLENGE_COLUMNS = (
    "id, user_id, purpose, created_at, expires_at, method, code_hash, code_expires_at, "
    "sms_sends, ticket_hash, operation_digest, operation, scope, attempts, locked_at, consumed_at"
)
SESSION_COLUMNS = (
    "id, user_id, scope, methods, created_at, last_seen_at, absolute_expires_at, ip, "
    "user_agent, tenant_id, revoked_at, revoked_reason"
)


def _challenge(row: asyncpg.Record | None) -> Challenge | None:
    if row is None:
        return None
    data = dict(row)
    data["purpose"] = Purpose(data["purpose"])
    data["method"] = Method(data["method"]) if data["method"] else None
    data["operation"] = json.loads(data["operation"])
    return Challenge(**data)


class PgChallenges:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return _challenge(
            await self.conn.fetchrow(
                f"SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = $1 FOR UPDATE",
                challenge_id,
            )
        )

    async def by_ticket(self, ticket_hash: str) -> Challenge | None:
        return _challenge(
            await self.conn.fetchrow(
                f"SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE ticket_hash = $1 FOR UPDATE",
                ticket_hash,
            )
        )

    def _values(self, c: Challenge) -> tuple[object, ...]:
        return (
            c.id, c.user_id, c.purpose.value, c.created_at, c.expires_at,
            c.method.value if c.method else None, c.code_hash, c.code_expires_at, c.sms_sends,
            c.ticket_hash, c.operation_digest, json.dumps(c.operation), c.scope, c.attempts,
            c.locked_at, c.consumed_at,
        )  # fmt: skip

    async def add(self, c: Challenge) -> None:
        await self.conn.execute(
            f"INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12::jsonb,$13,$14,$15,$16)",
            *self._values(c),
        )

    async def update(self, c: Challenge) -> None:
        await self.conn.execute(
            "UPDATE challenges SET user_id=$2, purpose=$3, created_at=$4, expires_at=$5, "
            "method=$6, code_hash=$7, code_expires_at=$8, sms_sends=$9, ticket_hash=$10, "
            "operation_digest=$11, operation=$12::jsonb, scope=$13, attempts=$14, "
            "locked_at=$15, consumed_at=$16 WHERE id=$1",
            *self._values(c),
        )

    async def delete_for_user(self, user_id: uuid.UUID) -> int:
        status = await self.conn.execute("DELETE FROM challenges WHERE user_id = $1", user_id)
        return int(status.split()[-1])


def _session(row: asyncpg.Record) -> Session:
    data = dict(row)
    data["scope"] = Scope(data["scope"])
    data["methods"] = tuple(data["methods"])
    return Session(**data)


class PgSessions:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, session_id: uuid.UUID) -> Session | None:
        row = await self.conn.fetchrow(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE", session_id
        )
        return _session(row) if row else None

    def _values(self, s: Session) -> tuple[object, ...]:
        return (
            s.id, s.user_id, s.scope.value, list(s.methods), s.created_at, s.last_seen_at,
            s.absolute_expires_at, s.ip, s.user_agent, s.tenant_id, s.revoked_at,
            s.revoked_reason,
        )  # fmt: skip

    async def add(self, s: Session) -> None:
        await self.conn.execute(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
            *self._values(s),
        )

    async def update(self, s: Session) -> None:
        await self.conn.execute(
            "UPDATE sessions SET user_id=$2, scope=$3, methods=$4, created_at=$5, "
            "last_seen_at=$6, absolute_expires_at=$7, ip=$8, user_agent=$9, tenant_id=$10, "
            "revoked_at=$11, revoked_reason=$12 WHERE id=$1",
            *self._values(s),
        )

    async def active_for_user(self, user_id: uuid.UUID) -> list[Session]:
        rows = await self.conn.fetch(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL "
            "ORDER BY created_at FOR UPDATE",
            user_id,
        )
        return [_session(r) for r in rows]

    async def add_refresh(self, t: RefreshToken) -> None:
        await self.conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, used_at) "
            "VALUES ($1,$2,$3,$4)",
            t.token_hash, t.session_id, t.issued_at, t.used_at,
        )  # fmt: skip

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = await self.conn.fetchrow(
            "SELECT token_hash, session_id, issued_at, used_at FROM refresh_tokens "
            "WHERE token_hash = $1 FOR UPDATE",
            token_hash,
        )
        return RefreshToken(**dict(row)) if row else None

    async def update_refresh(self, t: RefreshToken) -> None:
        await self.conn.execute(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1", t.token_hash, t.used_at
        )

    async def delete_for_user(self, user_id: uuid.UUID) -> int:
        status = await self.conn.execute("DELETE FROM sessions WHERE user_id = $1", user_id)
        return int(status.split()[-1])


class PgFailures:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, key: str) -> FailureCount:
        row = await self.conn.fetchrow(
            "INSERT INTO failure_counts AS f (key) VALUES ($1) ON CONFLICT (key) "
            "DO UPDATE SET key = f.key RETURNING f.failures, f.locked_until",
            key,
        )
        return FailureCount(key, row["failures"], row["locked_until"])

    async def save(self, c: FailureCount) -> None:
        await self.conn.execute(
            "UPDATE failure_counts SET failures = $2, locked_until = $3 WHERE key = $1",
            c.key, c.failures, c.locked_until,
        )  # fmt: skip

    async def delete(self, key: str) -> None:
        await self.conn.execute("DELETE FROM failure_counts WHERE key = $1", key)


class PgRates:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def hit(self, rule: str, key: str, window_start: datetime, expires_at: datetime) -> int:
        hits: int = await self.conn.fetchval(
            "INSERT INTO rate_counters (rule, key, window_start, hits, expires_at) "
            "VALUES ($1, $2, $3, 1, $4) ON CONFLICT (rule, key, window_start) "
            "DO UPDATE SET hits = rate_counters.hits + 1 RETURNING hits",
            rule, key, window_start, expires_at,
        )  # fmt: skip
        return hits
