"""Postgres repositories for owners' security state, members and the account directory.

Rules: an owner's state row is read ``FOR UPDATE`` only when a signal changes it (scoring just
reads it, so a batch of signals and a batch of scores never wait on each other); creating a row
that another transaction created first raises ``StaleState`` (the use case is retried); an
account's owner is written once.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

import asyncpg

from fraud.domain.errors import StaleState
from fraud.domain.state import OwnerSecurityState


class _StateRows:
    table: str
    key: str

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._loaded: set[str] = set()

    async def _get(self, ref: str, *, for_update: bool = True) -> dict[str, object] | None:
        lock = " FOR UPDATE" if for_update else ""
        raw = await self.conn.fetchval(
            f"SELECT state FROM {self.table} WHERE {self.key} = $1{lock}",  # noqa: S608
            ref,
        )
        if raw is None:
            return None
        self._loaded.add(ref)
        row: dict[str, object] = json.loads(raw)
        return row

    async def _save(self, ref: str, row: dict[str, object], revision: int) -> None:
        document = json.dumps(row, separators=(",", ":"))
        if ref in self._loaded:
            await self.conn.execute(
                f"UPDATE {self.table} SET state = $2::jsonb, revision = $3, "  # noqa: S608
                f"updated_at = now() WHERE {self.key} = $1",
                ref,
                document,
                revision,
            )
            return
        created = await self.conn.fetchval(
            f"INSERT INTO {self.table} ({self.key}, state, revision) "  # noqa: S608
            "VALUES ($1, $2::jsonb, $3) ON CONFLICT DO NOTHING RETURNING 1",
            ref,
            document,
            revision,
        )
        if created is None:
            raise StaleState("state was created concurrently")
        self._loaded.add(ref)


class PgSecurityStates(_StateRows):
    table = "owner_state"
    key = "owner_ref"

    async def get(self, owner_ref: str, *, for_update: bool = False) -> OwnerSecurityState | None:
        row = await self._get(owner_ref, for_update=for_update)
        return OwnerSecurityState.from_row(row) if row is not None else None

    async def save(self, state: OwnerSecurityState) -> None:
        await self._save(state.owner_ref, state.to_row(), state.revision)

    async def get_many(self, owner_refs: Sequence[str]) -> dict[str, OwnerSecurityState]:
        rows = await self.conn.fetch(
            "SELECT owner_ref, state::text AS state FROM owner_state "
            "WHERE owner_ref = ANY($1::text[]) ORDER BY owner_ref FOR UPDATE",
            sorted(set(owner_refs)),
        )
        return {
            row["owner_ref"]: OwnerSecurityState.from_row(json.loads(row["state"])) for row in rows
        }

    async def save_many(
        self, states: Sequence[OwnerSecurityState], existing: Collection[str]
    ) -> None:
        rows = [
            (s.owner_ref, json.dumps(s.to_row(), separators=(",", ":")), s.revision) for s in states
        ]
        updated = [r for r in rows if r[0] in existing]
        created = [r for r in rows if r[0] not in existing]
        if updated:
            await self.conn.execute(UPDATE_OWNERS, *_columns(updated))
        if created:
            done = await self.conn.fetch(CREATE_OWNERS, *_columns(created))
            if len(done) != len(created):
                raise StaleState("state was created concurrently")


UPDATE_OWNERS = """
UPDATE owner_state o SET state = u.s::jsonb, revision = u.r, updated_at = now()
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(ref, s, r) WHERE o.owner_ref = u.ref
"""

CREATE_OWNERS = """
INSERT INTO owner_state (owner_ref, state, revision)
SELECT ref, s::jsonb, r FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(ref, s, r)
ON CONFLICT DO NOTHING RETURNING 1
"""


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


class PgDirectory:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def owner_of(self, account_ref: str) -> str | None:
        owner: str | None = await self.conn.fetchval(
            "SELECT owner_ref FROM accounts WHERE account_ref = $1", account_ref
        )
        return owner

    async def register(self, account_ref: str, owner_ref: str) -> None:
        created = await self.conn.fetchval(
            "INSERT INTO accounts (account_ref, owner_ref) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            account_ref,
            owner_ref,
        )
        if created is None:
            raise StaleState("account was registered concurrently")

    async def is_member(self, owner_ref: str) -> bool:
        found = await self.conn.fetchval("SELECT 1 FROM members WHERE owner_ref = $1", owner_ref)
        return found is not None

    async def add_member(self, owner_ref: str) -> None:
        await self.conn.execute(
            "INSERT INTO members (owner_ref) VALUES ($1) ON CONFLICT DO NOTHING", owner_ref
        )
