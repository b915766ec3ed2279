"""Postgres repositories for signing keys, SSO tenants, SAML request ids and assertion ids,
plus the purge of expired rows.

All SQL for these tables lives here. Private signing keys are sealed, bound to their kid.
"""

# ruff: noqa: S608 -- column lists are module constants, every value is a bound parameter

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from auth.adapters.sealing import SecretBox
from auth.domain.keys import SigningKey
from auth.domain.sso import Tenant


class PgKeys:
    def __init__(self, conn: asyncpg.Connection, box: SecretBox) -> None:
        self.conn = conn
        self.box = box

    async def all(self) -> list[SigningKey]:
        rows = await self.conn.fetch(
            "SELECT kid, private_sealed, created_at, activates_at, retired_at FROM signing_keys "
            "ORDER BY created_at"
        )
        return [
            SigningKey(
                r["kid"],
                json.loads(self.box.open(r["private_sealed"], f"signing-key:{r['kid']}")),
                r["created_at"],
                r["activates_at"],
                r["retired_at"],
            )
            for r in rows
        ]

    async def add(self, key: SigningKey) -> None:
        sealed = self.box.seal(json.dumps(key.private_jwk).encode(), f"signing-key:{key.kid}")
        await self.conn.execute(
            "INSERT INTO signing_keys (kid, private_sealed, public_jwk, created_at, activates_at, "
            "retired_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
            key.kid, sealed, json.dumps(key.public_jwk()), key.created_at, key.activates_at,
            key.retired_at,
        )  # fmt: skip

    async def update(self, key: SigningKey) -> None:
        await self.conn.execute(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1", key.kid, key.retired_at
        )


TENANT_COLUMNS = "id, slug, name, idp_entity_id, idp_metadata_xml, created_at, email_attribute"


class PgTenants:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        row = await self.conn.fetchrow(
            f"SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1", tenant_id
        )
        return Tenant(**dict(row)) if row else None

    async def by_slug(self, slug: str) -> Tenant | None:
        row = await self.conn.fetchrow(
            f"SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1", slug
        )
        return Tenant(**dict(row)) if row else None

    async def add(self, t: Tenant) -> None:
        await self.conn.execute(
            f"INSERT INTO tenants ({TENANT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            t.id, t.slug, t.name, t.idp_entity_id, t.idp_metadata_xml, t.created_at,
            t.email_attribute,
        )  # fmt: skip

    async def remember_assertion(self, assertion_id: str, expires_at: datetime) -> bool:
        row = await self.conn.fetchval(
            "INSERT INTO saml_assertions (assertion_id, expires_at) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            assertion_id,
            expires_at,
        )
        return row is not None

    async def add_request(
        self, request_id: str, tenant_id: uuid.UUID, expires_at: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO saml_requests (request_id, tenant_id, expires_at) VALUES ($1, $2, $3)",
            request_id,
            tenant_id,
            expires_at,
        )

    async def take_request(self, request_id: str, tenant_id: uuid.UUID, now: datetime) -> bool:
        """Use an outstanding AuthnRequest id once; False if unknown, used or expired."""
        row = await self.conn.fetchval(
            "DELETE FROM saml_requests WHERE request_id = $1 AND tenant_id = $2 "
            "RETURNING expires_at",
            request_id,
            tenant_id,
        )
        return row is not None and row > now


PURGES = (
    "DELETE FROM rate_counters WHERE expires_at < $1",
    "DELETE FROM email_links WHERE expires_at < $1",
    "DELETE FROM saml_requests WHERE expires_at < $1",
    "DELETE FROM saml_assertions WHERE expires_at < $1",
    "DELETE FROM oidc_logins WHERE expires_at < $1",
    "DELETE FROM challenges WHERE expires_at < $1::timestamptz - interval '1 day'",
    "DELETE FROM sessions WHERE absolute_expires_at < $1::timestamptz - interval '1 day'",
    "DELETE FROM failure_counts WHERE failures = 0 "
    "OR (locked_until IS NOT NULL AND locked_until < $1::timestamptz - interval '1 day')",
)


async def purge_expired(conn: asyncpg.Connection, now: datetime) -> int:
    """Delete rows whose purpose has passed; return how many went."""
    total = 0
    for statement in PURGES:
        total += int((await conn.execute(statement, now)).split()[-1])
    return total
