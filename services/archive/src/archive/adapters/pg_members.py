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

    async def register_many(
        self, tokens: list[tuple[str, str]], senders: list[tuple[str, str]]
    ) -> None:
        """New members' addresses (a member who has one keeps it) and their verified senders."""
        await self._conn.execute(
            "INSERT INTO mail_addresses (user_id, token)"
            " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (user_id) DO NOTHING",
            [user for user, _ in tokens],
            [token for _, token in tokens],
        )
        await self._conn.execute(
            "INSERT INTO mail_senders (user_id, address)"
            " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            [user for user, _ in senders],
            [address for _, address in senders],
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

    async def add_many(self, movements: list[Movement]) -> set[tuple[str, str]]:
        """Insert the movements not yet known; returns the (kind, ref) of those inserted."""
        rows = await self._conn.fetch(
            "INSERT INTO movements (kind, ref, user_id, amount, currency, on_date)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[],"
            " $5::text[], $6::date[]) ON CONFLICT DO NOTHING RETURNING kind, ref",
            [m.kind for m in movements],
            [m.ref for m in movements],
            [m.user_id for m in movements],
            [m.amount for m in movements],
            [m.currency for m in movements],
            [m.on for m in movements],
        )
        return {(r["kind"], r["ref"]) for r in rows}

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

    async def mark_matched_many(self, matches: list[tuple[str, str, str]]) -> None:
        """(kind, ref, receipt id) for each movement now matched."""
        await self._conn.execute(
            "UPDATE movements m SET matched_receipt = t.receipt"
            " FROM unnest($1::text[], $2::text[], $3::text[]) AS t(kind, ref, receipt)"
            " WHERE m.kind = t.kind AND m.ref = t.ref",
            [kind for kind, _, _ in matches],
            [ref for _, ref, _ in matches],
            [receipt for _, _, receipt in matches],
        )

    async def erase(self, user_id: str) -> int:
        status = await self._conn.execute("DELETE FROM movements WHERE user_id = $1", user_id)
        return int(status.split()[-1])
