"""Linked accounts and the unattended-pull log in Postgres (all their SQL lives here)."""

# ruff: noqa: S608  (queries interpolate this module's column lists only, never input)

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from aggregation.domain.accounts import LinkedAccount

KEEP_PULLS = timedelta(days=2)
_COLUMNS = (
    "account_ref, user_id, connection_id, resource_id, currency, next_sync_at, synced_through, "
    "last_synced_at, failures"
)


def _account(r: asyncpg.Record) -> LinkedAccount:
    return LinkedAccount(
        account_ref=r["account_ref"],
        user_id=r["user_id"],
        connection_id=r["connection_id"],
        resource_id=r["resource_id"],
        currency=r["currency"],
        next_sync_at=r["next_sync_at"],
        synced_through=r["synced_through"],
        last_synced_at=r["last_synced_at"],
        failures=r["failures"],
    )


def _row(a: LinkedAccount) -> tuple[object, ...]:
    return (
        a.account_ref, a.user_id, a.connection_id, a.resource_id, a.currency, a.next_sync_at,
        a.synced_through, a.last_synced_at, a.failures,
    )  # fmt: skip


class PgAccounts:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def upsert(self, account: LinkedAccount) -> None:
        await self._conn.execute(
            f"INSERT INTO accounts ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (account_ref) DO UPDATE SET connection_id = EXCLUDED.connection_id, "
            "resource_id = EXCLUDED.resource_id, currency = EXCLUDED.currency",
            *_row(account),
        )

    async def save(self, account: LinkedAccount) -> None:
        await self._conn.execute(
            "UPDATE accounts SET next_sync_at = $2, synced_through = $3, last_synced_at = $4, "
            "failures = $5 WHERE account_ref = $1",
            account.account_ref, account.next_sync_at, account.synced_through,
            account.last_synced_at, account.failures,
        )  # fmt: skip

    async def get(self, account_ref: str, *, for_update: bool = False) -> LinkedAccount | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM accounts WHERE account_ref = $1{lock}", account_ref
        )
        return _account(row) if row else None

    async def of_connection(self, connection_id: uuid.UUID) -> list[LinkedAccount]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM accounts WHERE connection_id = $1 ORDER BY account_ref",
            connection_id,
        )
        return [_account(r) for r in rows]

    async def of_user(self, user_id: str) -> list[LinkedAccount]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY account_ref", user_id
        )
        return [_account(r) for r in rows]

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[LinkedAccount]:
        rows = await self._conn.fetch(
            f"WITH due AS (SELECT {_COLUMNS} FROM accounts a WHERE a.next_sync_at <= $1"
            " AND EXISTS (SELECT 1 FROM connections c WHERE c.connection_id = a.connection_id"
            " AND c.status = 'active') ORDER BY a.next_sync_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
            " leased AS (UPDATE accounts SET next_sync_at = $3"
            " WHERE account_ref IN (SELECT account_ref FROM due))"
            " SELECT * FROM due",
            now, limit, lease_until,
        )  # fmt: skip
        return [_account(r) for r in rows]

    async def claim_never_synced(self, limit: int, lease_until: datetime) -> list[LinkedAccount]:
        rows = await self._conn.fetch(
            f"WITH never AS (SELECT {_COLUMNS} FROM accounts a WHERE a.synced_through IS NULL"
            " AND a.failures = 0 AND EXISTS (SELECT 1 FROM connections c"
            " WHERE c.connection_id = a.connection_id AND c.status = 'active')"
            " ORDER BY a.account_ref LIMIT $1 FOR UPDATE SKIP LOCKED),"
            " leased AS (UPDATE accounts SET next_sync_at = $2"
            " WHERE account_ref IN (SELECT account_ref FROM never))"
            " SELECT * FROM never",
            limit, lease_until,
        )  # fmt: skip
        return [_account(r) for r in rows]

    async def delete_of_user(self, user_id: str) -> int:
        deleted = await self._conn.fetch(
            "DELETE FROM accounts WHERE user_id = $1 RETURNING 1", user_id
        )
        return len(deleted)


class PgPullLog:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def recent_unattended(self, account_ref: str, since: datetime) -> list[datetime]:
        rows = await self._conn.fetch(
            "SELECT pulled_at FROM account_pulls WHERE account_ref = $1 AND NOT attended "
            "AND pulled_at > $2 ORDER BY pulled_at",
            account_ref,
            since,
        )
        return [r["pulled_at"] for r in rows]

    async def add(self, account_ref: str, user_id: str, at: datetime, attended: bool) -> None:
        await self._conn.execute(
            "INSERT INTO account_pulls (account_ref, user_id, pulled_at, attended) "
            "VALUES ($1, $2, $3, $4)",
            account_ref, user_id, at, attended,
        )  # fmt: skip
        await self._conn.execute(
            "DELETE FROM account_pulls WHERE account_ref = $1 AND pulled_at < $2",
            account_ref,
            at - KEEP_PULLS,
        )

    async def delete_of_user(self, user_id: str) -> int:
        deleted = await self._conn.fetch(
            "DELETE FROM account_pulls WHERE user_id = $1 RETURNING 1", user_id
        )
        return len(deleted)
