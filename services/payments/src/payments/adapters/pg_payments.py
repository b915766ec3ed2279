"""Payments and their audit trail in Postgres (SQL lives here only)."""

# ruff: noqa: S608  (queries interpolate this module's column lists only, never input)

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from payments.domain.money import MINOR_UNITS, Money
from payments.domain.payment import Actor, ActorKind, AuditEntry, Kind, Payment, State

_COLUMNS = (
    "payment_id, user_id, kind, consent_id, account_ref, amount, currency, payee_ref, "
    "payee_name, payee_masked, remittance, state, created_at, updated_at, authorise_by, "
    "session_id, device_id, authorisation_id, decision, reason, bank_payment_id, bank_status, "
    "next_check_at, checks, executed_at"
)
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, 26))
_FAILED = ("rejected", "cancelled", "expired")
_UPDATE = "UPDATE payments SET {} WHERE payment_id = $1".format(
    ", ".join(f"{name.strip()} = ${i}" for i, name in enumerate(_COLUMNS.split(","), 1) if i > 1)
)


def _values(p: Payment) -> tuple[Any, ...]:
    return (
        p.payment_id, p.user_id, p.kind.value, p.consent_id, p.account_ref, p.money.amount,
        p.money.currency, p.payee_ref, p.payee_name, p.payee_masked, p.remittance,
        p.state.value, p.created_at, p.updated_at or p.created_at, p.authorise_by,
        p.session_id, p.device_id, p.authorisation_id, p.decision, p.reason,
        p.bank_payment_id, p.bank_status, p.next_check_at, p.checks, p.executed_at,
    )  # fmt: skip


def _payment(row: asyncpg.Record) -> Payment:
    return Payment(
        payment_id=row["payment_id"], user_id=row["user_id"], kind=Kind(row["kind"]),
        consent_id=row["consent_id"], account_ref=row["account_ref"],
        money=_money(row["amount"], row["currency"]),
        payee_ref=row["payee_ref"], payee_name=row["payee_name"],
        payee_masked=row["payee_masked"], remittance=row["remittance"],
        created_at=row["created_at"], authorise_by=row["authorise_by"],
        session_id=row["session_id"], device_id=row["device_id"], state=State(row["state"]),
        updated_at=row["updated_at"], authorisation_id=row["authorisation_id"],
        decision=row["decision"], reason=row["reason"], bank_payment_id=row["bank_payment_id"],
        bank_status=row["bank_status"], next_check_at=row["next_check_at"],
        checks=row["checks"], executed_at=row["executed_at"],
    )  # fmt: skip


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))), currency)


class PgPayments:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, payment: Payment) -> None:
        await self._conn.execute(
            f"INSERT INTO payments ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", *_values(payment)
        )

    async def save(self, payment: Payment) -> None:
        await self.save_many([payment])

    async def save_many(self, payments: Sequence[Payment]) -> None:
        """Every payment's row rewritten, in one pipelined round trip."""
        if payments:
            await self._conn.executemany(_UPDATE, [_values(p) for p in payments])

    async def get_many(self, payment_ids: Sequence[str]) -> dict[str, Payment]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payments WHERE payment_id = ANY($1::text[]) "
            "ORDER BY payment_id FOR UPDATE",
            list(payment_ids),
        )
        return {r["payment_id"]: _payment(r) for r in rows}

    async def of_sessions(self, session_ids: Sequence[str]) -> list[Payment]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payments WHERE session_id = ANY($1::text[]) "
            "ORDER BY payment_id FOR UPDATE",
            list(session_ids),
        )
        return sorted((_payment(r) for r in rows), key=lambda p: (p.created_at, p.payment_id))

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM payments WHERE payment_id = $1{lock}", payment_id
        )
        return _payment(row) if row else None

    async def of_user(
        self, user_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Payment]:
        at, pid = before if before else (None, None)
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payments WHERE user_id = $1 AND "
            "($2::timestamptz IS NULL OR (created_at, payment_id) < ($2, $3)) "
            "ORDER BY created_at DESC, payment_id DESC LIMIT $4",
            user_id, at, pid, limit,
        )  # fmt: skip
        return [_payment(r) for r in rows]

    async def claim(self, state: State, now: datetime, limit: int) -> list[Payment]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payments WHERE state = $1 AND next_check_at <= $2 "
            "ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            state.value, now, limit,
        )  # fmt: skip
        return [_payment(r) for r in rows]

    async def spent_since(self, user_id: str, since: datetime, currency: str) -> Decimal:
        total = await self._conn.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM payments WHERE user_id = $1 "
            "AND created_at >= $2 AND currency = $3 AND state <> ALL($4::text[])",
            user_id, since, currency, list(_FAILED),
        )  # fmt: skip
        return Decimal(total)

    async def of_session(self, session_id: str) -> list[Payment]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payments WHERE session_id = $1 ORDER BY created_at FOR UPDATE",
            session_id,
        )
        return [_payment(r) for r in rows]

    async def open_of_user(self, user_id: str) -> list[Payment]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM payments WHERE user_id = $1 "
            "AND state <> ALL($2::text[]) ORDER BY created_at FOR UPDATE",
            user_id, [*_FAILED, "executed"],
        )  # fmt: skip
        return [_payment(r) for r in rows]

    async def count_in(self, states: Sequence[State]) -> dict[State, int]:
        rows = await self._conn.fetch(  # the (state, next_check_at) index serves it
            "SELECT state, count(*) AS n FROM payments WHERE state = ANY($1::text[]) "
            "GROUP BY state",
            [state.value for state in states],
        )
        return {State(r["state"]): int(r["n"]) for r in rows}

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int:
        result: str = await self._conn.execute(
            "UPDATE payments SET user_id = $2, session_id = NULL, device_id = NULL "
            "WHERE user_id = $1",
            user_id, pseudonym,
        )  # fmt: skip
        return int(result.split()[-1])


class PgAudit:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, entries: list[AuditEntry]) -> None:
        await self._conn.executemany(
            "INSERT INTO payment_audit (payment_id, at, state, previous_state, actor_kind, "
            "actor_id, session_id, device_id, authorisation_id, decision, reason) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            [
                (
                    e.payment_id, e.at, e.state.value, e.previous.value if e.previous else None,
                    e.actor.kind.value, e.actor.id, e.actor.session_id, e.actor.device_id,
                    e.authorisation_id, e.decision, e.reason,
                )
                for e in entries
            ],
        )  # fmt: skip

    async def of_payment(self, payment_id: str) -> list[AuditEntry]:
        rows = await self._conn.fetch(
            "SELECT * FROM payment_audit WHERE payment_id = $1 ORDER BY entry_id", payment_id
        )
        return [
            AuditEntry(
                payment_id=r["payment_id"], at=r["at"], state=State(r["state"]),
                previous=State(r["previous_state"]) if r["previous_state"] else None,
                actor=Actor(ActorKind(r["actor_kind"]), r["actor_id"], r["session_id"],
                            r["device_id"]),
                authorisation_id=r["authorisation_id"], decision=r["decision"],
                reason=r["reason"],
            )
            for r in rows
        ]  # fmt: skip

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int:
        result: str = await self._conn.execute(
            "UPDATE payment_audit SET session_id = NULL, device_id = NULL, actor_id = "
            "CASE WHEN actor_id = $1 THEN $2 ELSE actor_id END WHERE actor_id = $1 OR "
            "payment_id IN (SELECT payment_id FROM payments WHERE user_id IN ($1, $2))",
            user_id, pseudonym,
        )  # fmt: skip
        return int(result.split()[-1])
