"""Members' receipts addresses, verified senders and the movements kept for matching."""

from __future__ import annotations

import asyncpg

from archive.domain.matching import Movement


class PgMembers:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def address_token(self, user_id: str) -> str | None:
        token: str | None = await self._conn.fetchval(
            "SELECT token FROM mail_addresses WHERE user_id = $1", user_id
        )
        return token

    async def set_address_token(self, user_id: str, token: str) -> None:
        await self._conn.execute(
            "INSERT INTO mail_addresses (user_id, token) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO NOTHING",
            user_id,
            token,
        )

    async def user_by_token(self, token: str) -> str | None:
        user: str | None = await self._conn.fetchval(
            "SELECT user_id FROM mail_addresses WHERE token = $1", token
        )
        return user

    async def add_sender(self, user_id: str, address: str) -> None:
        await self._conn.execute(
            "INSERT INTO mail_senders (user_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            user_id,
            address,
        )

    async def is_sender(self, user_id: str, address: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT 1 FROM mail_senders WHERE user_id = $1 AND address = $2", user_id, address
        )
        return found is not None

    async def erase(self, user_id: str) -> int:
        a = await self._conn.execute("DELETE FROM mail_addresses WHERE user_id = $1", user_id)
        s = await self._conn.execute("DELETE FROM mail_senders WHERE user_id = $1", user_id)
        return int(a.split()[-1]) + int(s.split()[-1])


class PgMovements:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, movement: Movement) -> bool:
        status = await self._conn.execute(
            "INSERT INTO movements (kind, ref, user_id, amount, currency, on_date)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            movement.kind,
            movement.ref,
            movement.user_id,
            movement.amount,
            movement.currency,
            movement.on,
        )
        return bool(status.endswith(" 1"))

    async def unmatched(self, user_id: str) -> list[Movement]:
        rows = await self._conn.fetch(
            "SELECT kind, ref, user_id, amount, currency, on_date FROM movements"
            " WHERE user_id = $1 AND matched_receipt IS NULL ORDER BY on_date DESC LIMIT 1000",
            user_id,
        )
        return [
            Movement(r["kind"], r["ref"], r["user_id"], r["amount"], r["currency"], r["on_date"])
            for r in rows
        ]

    async def mark_matched(self, kind: str, ref: str, receipt_id: str) -> None:
        await self._conn.execute(
            "UPDATE movements SET matched_receipt = $3 WHERE kind = $1 AND ref = $2",
            kind,
            ref,
            receipt_id,
        )

    async def erase(self, user_id: str) -> int:
        status = await self._conn.execute("DELETE FROM movements WHERE user_id = $1", user_id)
        return int(status.split()[-1])
