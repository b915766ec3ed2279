"""Payment consents in Postgres (vault references only; SQL lives here only)."""

# ruff: noqa: S608  (queries interpolate this module's column lists only, never input)

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from payments.domain.consent import ConsentStatus, PaymentConsent

_COLUMNS = (
    "consent_id, user_id, status, account_ref, account_masked, currency, max_per_payment, "
    "periodic_limit, frequency, valid_until, state_digest, state_expires_at, vault_ref, "
    "bank_revoked, ended_reason, created_at, updated_at"
)
_CONFIRMED = ("active", "revoked", "expired", "ended")


def _values(c: PaymentConsent) -> tuple[Any, ...]:
    return (
        c.consent_id, c.user_id, c.status.value, c.account_ref, c.account_masked, c.currency,
        c.max_per_payment, c.periodic_limit, c.frequency, c.valid_until, c.state_digest,
        c.state_expires_at, c.vault_ref, c.bank_revoked, c.ended_reason, c.created_at,
        c.updated_at,
    )  # fmt: skip


def _consent(r: asyncpg.Record) -> PaymentConsent:
    values = dict(r)
    values["status"] = ConsentStatus(values["status"])
    return PaymentConsent(**values)


class PgConsents:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, consent: PaymentConsent) -> None:
        marks = ", ".join(f"${i}" for i in range(1, 18))
        await self._conn.execute(
            f"INSERT INTO payment_consents ({_COLUMNS}) VALUES ({marks})", *_values(consent)
        )

    async def save(self, consent: PaymentConsent) -> None:
        names = [n.strip() for n in _COLUMNS.split(",")]
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, 1) if i > 1)
        await self._conn.execute(
            f"UPDATE payment_consents SET {sets} WHERE consent_id = $1", *_values(consent)
        )

    async def get(self, consent_id: str, *, for_update: bool = False) -> PaymentConsent | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM payment_consents WHERE consent_id = $1{lock}", consent_id
        )
        return _consent(row) if row else None

    async def by_state(self, digest: str) -> PaymentConsent | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM payment_consents WHERE state_digest = $1 FOR UPDATE", digest
        )
        return _consent(row) if row else None

    async def of_user(self, user_id: str) -> list[PaymentConsent]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payment_consents WHERE user_id = $1 ORDER BY created_at",
            user_id,
        )
        return [_consent(r) for r in rows]

    async def active_for(self, user_id: str, account_ref: str) -> PaymentConsent | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM payment_consents WHERE user_id = $1 AND account_ref = $2 "
            "AND status = 'active' AND vault_ref IS NOT NULL ORDER BY valid_until DESC LIMIT 1",
            user_id, account_ref,
        )  # fmt: skip
        return _consent(row) if row else None

    async def verified_accounts(self, user_id: str) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT account_ref FROM payment_consents WHERE user_id = $1 "
            "AND status = ANY($2::text[])",
            user_id, list(_CONFIRMED),
        )  # fmt: skip
        return {r["account_ref"] for r in rows}

    async def due(self, now: datetime, limit: int) -> list[PaymentConsent]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payment_consents WHERE "
            "(status = 'active' AND valid_until <= $1) OR "
            "(status <> 'active' AND status <> 'pending' AND vault_ref IS NOT NULL) OR "
            "(status = 'pending' AND state_expires_at <= $1 - interval '1 day') "
            "ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now, limit,
        )  # fmt: skip
        return [_consent(r) for r in rows]

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int:
        result: str = await self._conn.execute(
            "UPDATE payment_consents SET user_id = $2, state_digest = NULL WHERE user_id = $1",
            user_id, pseudonym,
        )  # fmt: skip
        return int(result.split()[-1])
