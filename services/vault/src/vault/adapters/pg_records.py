"""Postgres repositories for secrets, grants, rotations and sealing keys (their SQL lives here).

Rules: a grant being used is locked for the transaction, so two uses never both take the last
one; only one rotation row may be ``running`` (a unique partial index enforces it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from common.security.client_encryption import Alg

from vault.domain.errors import RotationConflict
from vault.domain.grants import EndReason, Grant
from vault.domain.keys import SecretRecord
from vault.domain.rotation import Rotation, RotationStatus
from vault.domain.sealing import SealingKey

_SECRET = (
    "subject, purpose, secret_id, key_id::text, key_version, ciphertext, created_at, updated_at"
)
_GRANT = (
    "grant_id::text, requested_by, operator, subject, purpose, secret_id, reason, consent_ref,"
    " created_at, expires_at, max_uses, uses, copy, copy_key_id::text, copy_key_version,"
    " ended_at, end_reason"
)
_ROTATION = (
    "rotation_id::text, to_version, status, cursor_key::text, rewrapped, total, started_at,"
    " finished_at"
)
_SEALING = "kid, alg, public_key, wrapped_private, created_at, active"


class PgSecrets:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(
        self, subject: str, purpose: str, secret_id: str, *, lock: bool = False
    ) -> SecretRecord | None:
        row = await self.conn.fetchrow(
            f"SELECT {_SECRET} FROM secrets WHERE subject = $1 AND purpose = $2 AND secret_id = $3"  # noqa: S608
            + (" FOR SHARE" if lock else ""),
            subject,
            purpose,
            secret_id,
        )
        return SecretRecord(*row.values()) if row else None

    async def put(self, record: SecretRecord) -> None:
        await self.conn.execute(
            "INSERT INTO secrets (subject, purpose, secret_id, key_id, key_version, ciphertext,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4::uuid, $5, $6, $7, $8)"
            " ON CONFLICT (subject, purpose, secret_id) DO UPDATE SET key_id = EXCLUDED.key_id,"
            " key_version = EXCLUDED.key_version, ciphertext = EXCLUDED.ciphertext,"
            " updated_at = EXCLUDED.updated_at",
            record.subject,
            record.purpose,
            record.secret_id,
            record.key_id,
            record.key_version,
            record.ciphertext,
            record.created_at,
            record.updated_at,
        )

    async def delete(self, subject: str, purpose: str, secret_id: str) -> bool:
        status: str = await self.conn.execute(
            "DELETE FROM secrets WHERE subject = $1 AND purpose = $2 AND secret_id = $3",
            subject,
            purpose,
            secret_id,
        )
        return status != "DELETE 0"

    async def delete_for_subject(self, subject: str, keep_purposes: Sequence[str] = ()) -> int:
        status: str = await self.conn.execute(
            "DELETE FROM secrets WHERE subject = $1 AND NOT (purpose = ANY($2::text[]))",
            subject,
            list(keep_purposes),
        )
        return int(status.split()[-1])

    async def of_subject(self, subject: str, purposes: Sequence[str]) -> list[SecretRecord]:
        rows = await self.conn.fetch(
            f"SELECT {_SECRET} FROM secrets WHERE subject = $1"  # noqa: S608
            " AND purpose = ANY($2::text[]) ORDER BY secret_id FOR UPDATE",
            subject,
            list(purposes),
        )
        return [SecretRecord(*r.values()) for r in rows]


def _grant(row: Any) -> Grant:
    values = dict(row)
    values["end_reason"] = EndReason(values["end_reason"]) if values["end_reason"] else None
    return Grant(**values)


class PgGrants:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, grant_id: str) -> Grant | None:
        row = await self.conn.fetchrow(
            f"SELECT {_GRANT} FROM grants WHERE grant_id = $1::uuid FOR UPDATE",  # noqa: S608
            grant_id,
        )
        return _grant(row) if row else None

    async def add(self, grant: Grant) -> None:
        await self.conn.execute(
            f"INSERT INTO grants ({_GRANT.replace('::text', '')}) VALUES ($1::uuid, $2, $3, $4, $5,"  # noqa: S608
            " $6, $7, $8, $9, $10, $11, $12, $13, $14::uuid, $15, $16, $17)",
            *_grant_values(grant),
        )

    async def save(self, grant: Grant) -> None:
        await self.conn.execute(
            "UPDATE grants SET uses = $2, copy = $3, ended_at = $4, end_reason = $5"
            " WHERE grant_id = $1::uuid",
            grant.grant_id,
            grant.uses,
            grant.copy,
            grant.ended_at,
            str(grant.end_reason) if grant.end_reason else None,
        )

    async def due_to_end(self, now: datetime, limit: int) -> list[Grant]:
        rows = await self.conn.fetch(
            f"SELECT {_GRANT} FROM grants WHERE ended_at IS NULL AND expires_at <= $1"  # noqa: S608
            " ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [_grant(r) for r in rows]

    async def open_for_subject(self, subject: str) -> list[Grant]:
        rows = await self.conn.fetch(
            f"SELECT {_GRANT} FROM grants WHERE subject = $1 AND ended_at IS NULL FOR UPDATE",  # noqa: S608
            subject,
        )
        return [_grant(r) for r in rows]


def _grant_values(g: Grant) -> tuple[Any, ...]:
    return (
        g.grant_id, g.requested_by, g.operator, g.subject, g.purpose, g.secret_id, g.reason,
        g.consent_ref, g.created_at, g.expires_at, g.max_uses, g.uses, g.copy, g.copy_key_id,
        g.copy_key_version, g.ended_at, str(g.end_reason) if g.end_reason else None,
    )  # fmt: skip


class PgRotations:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def current(self) -> Rotation | None:
        row = await self.conn.fetchrow(
            f"SELECT {_ROTATION} FROM rotations WHERE status = 'running' FOR UPDATE"  # noqa: S608
        )
        if row is None:
            return None
        values = dict(row)
        values["status"] = RotationStatus(values["status"])
        values["cursor"] = values.pop("cursor_key")
        return Rotation(**values)

    async def save(self, rotation: Rotation) -> None:
        try:
            await self.conn.execute(
                "INSERT INTO rotations (rotation_id, to_version, status, cursor_key, rewrapped,"
                " total, started_at, finished_at)"
                " VALUES ($1::uuid, $2, $3, $4::uuid, $5, $6, $7, $8)"
                " ON CONFLICT (rotation_id) DO UPDATE SET status = EXCLUDED.status,"
                " cursor_key = EXCLUDED.cursor_key, rewrapped = EXCLUDED.rewrapped,"
                " total = EXCLUDED.total, finished_at = EXCLUDED.finished_at",
                rotation.rotation_id,
                rotation.to_version,
                str(rotation.status),
                rotation.cursor,
                rotation.rewrapped,
                rotation.total,
                rotation.started_at,
                rotation.finished_at,
            )
        except asyncpg.UniqueViolationError:
            raise RotationConflict("another rotation is running") from None


def _sealing(row: Any) -> SealingKey:
    return SealingKey(
        row["kid"],
        Alg(row["alg"]),
        row["public_key"],
        row["wrapped_private"],
        row["created_at"],
        row["active"],
    )


class PgSealingKeys:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def active(self) -> SealingKey | None:
        row = await self.conn.fetchrow(
            f"SELECT {_SEALING} FROM sealing_keys WHERE active ORDER BY created_at DESC LIMIT 1"  # noqa: S608
        )
        return _sealing(row) if row else None

    async def get(self, kid: str) -> SealingKey | None:
        row = await self.conn.fetchrow(f"SELECT {_SEALING} FROM sealing_keys WHERE kid = $1", kid)  # noqa: S608
        return _sealing(row) if row else None

    async def all(self) -> list[SealingKey]:
        rows = await self.conn.fetch(f"SELECT {_SEALING} FROM sealing_keys ORDER BY created_at")  # noqa: S608
        return [_sealing(r) for r in rows]

    async def add(self, key: SealingKey) -> None:
        await self.conn.execute(
            f"INSERT INTO sealing_keys ({_SEALING}) VALUES ($1, $2, $3, $4, $5, $6)",  # noqa: S608
            key.kid,
            int(key.alg),
            key.public_key,
            key.wrapped_private,
            key.created_at,
            key.active,
        )
