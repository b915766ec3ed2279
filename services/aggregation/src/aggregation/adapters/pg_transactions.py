"""Transactions and the member's feed counter in Postgres (all their SQL lives here).

Rule: `lock_feed` takes a row lock on the member's feed counter; every writer of a member's
transactions holds it until commit, so feed versions become visible in order and concurrent
pulls of one member never interleave.
"""

# ruff: noqa: S608  (queries interpolate this module's column lists only, never input)

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from aggregation.domain.transactions import MinimalTransaction, StoredTransaction, TxStatus

_COLUMNS = (
    "transaction_ref, account_ref, user_id, status, booking_date, amount, currency, label, "
    "created_version, version, removed"
)


def _stored(r: asyncpg.Record) -> StoredTransaction:
    facts = MinimalTransaction(
        transaction_ref=r["transaction_ref"],
        status=TxStatus(r["status"]),
        booking_date=r["booking_date"],
        amount=r["amount"],
        currency=r["currency"],
        label=r["label"],
    )
    return StoredTransaction(
        facts, r["account_ref"], r["user_id"], r["version"], r["created_version"], r["removed"]
    )


class PgTransactions:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_feed(self, user_id: str) -> int:
        await self._conn.execute(
            "INSERT INTO member_feeds (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user_id
        )
        version: int = await self._conn.fetchval(
            "SELECT last_version FROM member_feeds WHERE user_id = $1 FOR UPDATE", user_id
        )
        return version

    async def set_feed(self, user_id: str, version: int) -> None:
        await self._conn.execute(
            "UPDATE member_feeds SET last_version = $2 WHERE user_id = $1", user_id, version
        )

    async def held(self, account_ref: str, refs: Sequence[str]) -> dict[str, StoredTransaction]:
        if not refs:
            return {}
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM transactions WHERE transaction_ref = ANY($1::text[]) "
            "AND account_ref = $2",
            list(refs),
            account_ref,
        )
        return {r["transaction_ref"]: _stored(r) for r in rows}

    async def pending_from(self, account_ref: str, since: date) -> list[StoredTransaction]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM transactions WHERE account_ref = $1 AND status = 'pending' "
            "AND NOT removed AND booking_date >= $2",
            account_ref,
            since,
        )
        return [_stored(r) for r in rows]

    async def put_many(self, rows: Sequence[StoredTransaction]) -> None:
        if not rows:
            return
        await self._conn.executemany(
            f"INSERT INTO transactions ({_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            "ON CONFLICT (transaction_ref) DO UPDATE SET status = EXCLUDED.status, "
            "booking_date = EXCLUDED.booking_date, amount = EXCLUDED.amount, "
            "currency = EXCLUDED.currency, label = EXCLUDED.label, "
            "created_version = EXCLUDED.created_version, version = EXCLUDED.version, "
            "removed = EXCLUDED.removed",
            [
                (
                    r.transaction_ref,
                    r.account_ref,
                    r.user_id,
                    r.facts.status.value,
                    r.facts.booking_date,
                    r.facts.amount,
                    r.facts.currency,
                    r.facts.label,
                    r.created_version,
                    r.version,
                    r.removed,
                )
                for r in rows
            ],
        )

    async def changes_since(
        self, user_id: str, version: int, limit: int
    ) -> list[StoredTransaction]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM transactions WHERE user_id = $1 AND version > $2 "
            "ORDER BY version LIMIT $3",
            user_id,
            version,
            limit,
        )
        return [_stored(r) for r in rows]

    async def delete_of_user(self, user_id: str) -> int:
        deleted = await self._conn.fetch(
            "DELETE FROM transactions WHERE user_id = $1 RETURNING 1", user_id
        )
        await self._conn.execute("DELETE FROM member_feeds WHERE user_id = $1", user_id)
        return len(deleted)
