"""Postgres repositories for accounts, one-time e-mail links and second factors.

All SQL for these tables lives here. TOTP secrets are sealed (AES-256-GCM, bound to the member);
rows read for a change are locked (``FOR UPDATE``) so concurrent uses of one code cannot both pass.
"""

# ruff: noqa: S608 -- column lists are module constants, every value is a bound parameter

from __future__ import annotations

import uuid

import asyncpg

from auth.adapters.sealing import SecretBox
from auth.domain.accounts import Account
from auth.domain.links import EmailLink, LinkPurpose
from auth.domain.recovery import RecoveryCodes
from auth.domain.totp import TotpFactor

ACCOUNT_COLUMNS = (
    "id, email, password_hash, created_at, phone, phone_verified_at, tenant_id, external_id, "
    "factors"
)


def _account(row: asyncpg.Record | None) -> Account | None:
    if row is None:
        return None
    return Account(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        phone=row["phone"],
        phone_verified_at=row["phone_verified_at"],
        tenant_id=row["tenant_id"],
        external_id=row["external_id"],
        factors=set(row["factors"]),
    )


class PgAccounts:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, user_id: uuid.UUID) -> Account | None:
        row = await self.conn.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", user_id
        )
        return _account(row)

    async def by_email(self, email: str) -> Account | None:
        row = await self.conn.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1", email
        )
        return _account(row)

    async def by_external_id(self, tenant_id: uuid.UUID, external_id: str) -> Account | None:
        row = await self.conn.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = $1 AND external_id = $2",
            tenant_id,
            external_id,
        )
        return _account(row)

    async def add(self, a: Account) -> None:
        await self.conn.execute(
            f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            a.id, a.email, a.password_hash, a.created_at, a.phone, a.phone_verified_at,
            a.tenant_id, a.external_id, sorted(a.factors),
        )  # fmt: skip

    async def update(self, a: Account) -> None:
        await self.conn.execute(
            "UPDATE accounts SET email=$2, password_hash=$3, phone=$4, phone_verified_at=$5, "
            "tenant_id=$6, external_id=$7, factors=$8 WHERE id=$1",
            a.id, a.email, a.password_hash, a.phone, a.phone_verified_at, a.tenant_id,
            a.external_id, sorted(a.factors),
        )  # fmt: skip

    async def delete(self, user_id: uuid.UUID) -> int:
        status = await self.conn.execute("DELETE FROM accounts WHERE id = $1", user_id)
        return int(status.split()[-1])


LINK_COLUMNS = "token_hash, purpose, email, user_id, created_at, expires_at"


def _link(row: asyncpg.Record) -> EmailLink:
    data = dict(row)
    data["purpose"] = LinkPurpose(data["purpose"])
    return EmailLink(**data)


class PgLinks:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, link: EmailLink) -> None:
        await self.conn.execute(
            f"INSERT INTO email_links ({LINK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6)",
            link.token_hash, link.purpose.value, link.email, link.user_id, link.created_at,
            link.expires_at,
        )  # fmt: skip

    async def find(self, token_hash: str) -> EmailLink | None:
        row = await self.conn.fetchrow(
            f"SELECT {LINK_COLUMNS} FROM email_links WHERE token_hash = $1", token_hash
        )
        return _link(row) if row else None

    async def take_all(self, purpose: LinkPurpose, email: str) -> list[EmailLink]:
        """Delete every link of ``purpose`` for ``email`` in one statement and return them."""
        rows = await self.conn.fetch(
            f"DELETE FROM email_links WHERE purpose = $1 AND email = $2 RETURNING {LINK_COLUMNS}",
            purpose.value,
            email,
        )
        return [_link(r) for r in rows]


class PgFactors:
    def __init__(self, conn: asyncpg.Connection, box: SecretBox) -> None:
        self.conn = conn
        self.box = box

    async def get_totp(self, user_id: uuid.UUID) -> TotpFactor | None:
        row = await self.conn.fetchrow(
            "SELECT secret_sealed, created_at, confirmed_at, last_used_step FROM totp_factors "
            "WHERE user_id = $1 FOR UPDATE",
            user_id,
        )
        if row is None:
            return None
        secret = self.box.open(row["secret_sealed"], f"totp:{user_id}").decode()
        return TotpFactor(
            user_id, secret, row["created_at"], row["confirmed_at"], row["last_used_step"]
        )

    async def save_totp(self, f: TotpFactor) -> None:
        sealed = self.box.seal(f.secret.encode(), f"totp:{f.user_id}")
        await self.conn.execute(
            "INSERT INTO totp_factors (user_id, secret_sealed, created_at, confirmed_at, "
            "last_used_step) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (user_id) DO UPDATE SET "
            "secret_sealed=EXCLUDED.secret_sealed, created_at=EXCLUDED.created_at, "
            "confirmed_at=EXCLUDED.confirmed_at, last_used_step=EXCLUDED.last_used_step",
            f.user_id, sealed, f.created_at, f.confirmed_at, f.last_used_step,
        )  # fmt: skip

    async def delete_totp(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM totp_factors WHERE user_id = $1", user_id)

    async def get_recovery(self, user_id: uuid.UUID) -> RecoveryCodes | None:
        rows = await self.conn.fetch(
            "SELECT code_hash FROM recovery_codes WHERE user_id = $1 FOR UPDATE", user_id
        )
        return RecoveryCodes(user_id, {r["code_hash"] for r in rows}) if rows else None

    async def save_recovery(self, codes: RecoveryCodes) -> None:
        await self.conn.execute(
            "DELETE FROM recovery_codes WHERE user_id = $1 AND NOT (code_hash = ANY($2::text[]))",
            codes.user_id,
            sorted(codes.hashes),
        )
        await self.conn.executemany(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            [(codes.user_id, h) for h in sorted(codes.hashes)],
        )

    async def delete_recovery(self, user_id: uuid.UUID) -> None:
        await self.conn.execute("DELETE FROM recovery_codes WHERE user_id = $1", user_id)
