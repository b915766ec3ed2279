"""Postgres repositories for security signals, consents and the online model's state.

Rules: a signal is logged without its device id (only whether the device was new); the model is
one row, locked while a verdict updates it, so verdicts from several replicas never overwrite
each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from fraud.domain.activity import SecuritySignal


class PgSecurityLog:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, signal: SecuritySignal, *, new_device: bool) -> None:
        await self.conn.execute(
            "INSERT INTO security_events (owner_ref, kind, occurred_at, new_device, "
            "source_event_id) VALUES ($1, $2, $3, $4, $5)",
            signal.owner_ref,
            signal.kind.value,
            signal.occurred_at,
            new_device,
            signal.source_event_id,
        )

    async def add_many(self, entries: Sequence[tuple[SecuritySignal, bool]]) -> None:
        if not entries:
            return
        await self.conn.execute(
            "INSERT INTO security_events (owner_ref, kind, occurred_at, new_device, "
            "source_event_id) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], "
            "$4::boolean[], $5::text[])",
            [s.owner_ref for s, _ in entries],
            [s.kind.value for s, _ in entries],
            [s.occurred_at for s, _ in entries],
            [new for _, new in entries],
            [s.source_event_id for s, _ in entries],
        )


class PgConsents:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def upsert(self, owner_ref: str, consent_ref: str, expires_at: datetime | None) -> None:
        await self.conn.execute(
            "INSERT INTO consents (owner_ref, consent_ref, expires_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (owner_ref, consent_ref) DO UPDATE "
            "SET expires_at = EXCLUDED.expires_at, updated_at = now()",
            owner_ref,
            consent_ref,
            expires_at,
        )

    async def upsert_many(self, expiries: Mapping[tuple[str, str], datetime | None]) -> None:
        if not expiries:
            return
        await self.conn.execute(
            "INSERT INTO consents (owner_ref, consent_ref, expires_at) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) "
            "ON CONFLICT (owner_ref, consent_ref) DO UPDATE "
            "SET expires_at = EXCLUDED.expires_at, updated_at = now()",
            [owner for owner, _ in expiries],
            [consent for _, consent in expiries],
            list(expiries.values()),
        )


class PgModelStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def load(self, *, for_update: bool = False) -> dict[str, Any] | None:
        lock = " FOR UPDATE" if for_update else ""
        raw = await self.conn.fetchval(f"SELECT state FROM model_state WHERE id = 1{lock}")  # noqa: S608
        return json.loads(raw) if raw is not None else None

    async def version(self) -> int:
        version: int = await self.conn.fetchval("SELECT version FROM model_state WHERE id = 1")
        return version

    async def save(self, state: dict[str, Any]) -> None:
        await self.conn.execute(
            "UPDATE model_state SET state = $1::jsonb, version = $2, updated_at = now() "
            "WHERE id = 1",
            json.dumps(state),
            int(state["version"]),
        )
