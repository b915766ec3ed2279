"""Postgres repositories for scores, alerts, payment decisions and the audit log.

Rules: a score is written once per activity (a concurrent duplicate raises ``StaleState``); the
features a score was computed from are kept with it; alerts and held payments are read
``FOR UPDATE`` before an analyst changes them; the audit log is append-only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
from pydantic_core import to_json

from fraud.domain.activity import ActivityKind
from fraud.domain.errors import StaleState
from fraud.domain.records import (
    Alert,
    AlertStatus,
    AuditEntry,
    HoldStatus,
    PaymentDecision,
    ScoreRecord,
    Verdict,
)
from fraud.domain.scoring import Decision, Reason


def json_text(value: Any) -> str:
    """``value`` as JSON text for a jsonb parameter (pydantic-core's encoder: the same JSON
    values as ``json.dumps``, written several times faster; floats as shortest round-trip)."""
    return to_json(value).decode()


def reasons_json(reasons: tuple[Reason, ...]) -> str:
    return json_text([[r.code, r.feature, r.value, r.contribution] for r in reasons])


def _reasons(raw: str) -> tuple[Reason, ...]:
    return tuple(Reason(c, f, float(v), float(w)) for c, f, v, w in json.loads(raw))


class PgScores:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, record: ScoreRecord) -> None:
        try:
            await self.conn.execute(
                "INSERT INTO scores (score_id, kind, activity_ref, account_ref, owner_ref, value, "
                "decision, reasons, features, model_version, scored_at, source_event_id) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12)",
                record.score_id,
                record.kind.value,
                record.activity_ref,
                record.account_ref,
                record.owner_ref,
                record.value,
                record.decision.value,
                reasons_json(record.reasons),
                json_text(record.features),
                record.model_version,
                record.scored_at,
                record.source_event_id,
            )
        except asyncpg.UniqueViolationError:
            raise StaleState("activity was scored concurrently") from None

    async def get(self, score_id: str) -> ScoreRecord | None:
        row = await self.conn.fetchrow("SELECT * FROM scores WHERE score_id = $1", score_id)
        return score_from_row(row) if row else None

    async def find(self, kind: ActivityKind, activity_ref: str) -> ScoreRecord | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM scores WHERE kind = $1 AND activity_ref = $2", kind.value, activity_ref
        )
        return score_from_row(row) if row else None


def score_from_row(row: Mapping[str, Any]) -> ScoreRecord:
    return ScoreRecord(
        score_id=row["score_id"],
        kind=ActivityKind(row["kind"]),
        activity_ref=row["activity_ref"],
        account_ref=row["account_ref"],
        owner_ref=row["owner_ref"],
        value=row["value"],
        decision=Decision(row["decision"]),
        reasons=_reasons(row["reasons"]),
        features=json.loads(row["features"]),
        model_version=row["model_version"],
        scored_at=row["scored_at"],
        source_event_id=row["source_event_id"],
    )


_ALERT_COLUMNS = (
    "alert_id, score_id, kind, activity_ref, account_ref, owner_ref, decision, value, reasons, "
    "raised_at, status, verdict, analyst_id, resolved_at"
)


class PgAlerts:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, alert: Alert) -> None:
        await self.conn.execute(
            f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "  # noqa: S608
            "($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14)",
            *alert_values(alert),
        )

    async def get(self, alert_id: str, *, for_update: bool = False) -> Alert | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE alert_id = $1{lock}",  # noqa: S608
            alert_id,
        )
        return _alert(row) if row else None

    async def save(self, alert: Alert) -> None:
        await self.conn.execute(
            "UPDATE alerts SET status = $2, verdict = $3, analyst_id = $4, resolved_at = $5 "
            "WHERE alert_id = $1",
            alert.alert_id,
            alert.status.value,
            alert.verdict.value if alert.verdict else None,
            alert.analyst_id,
            alert.resolved_at,
        )

    async def list(
        self, *, status: AlertStatus | None, limit: int, before: datetime | None
    ) -> list[Alert]:
        rows = await self.conn.fetch(
            f"SELECT {_ALERT_COLUMNS} FROM alerts "  # noqa: S608
            "WHERE ($1::text IS NULL OR status = $1) "
            "AND ($2::timestamptz IS NULL OR raised_at < $2) "
            "ORDER BY raised_at DESC, alert_id DESC LIMIT $3",
            status.value if status else None,
            before,
            limit,
        )
        return [_alert(row) for row in rows]


def alert_values(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.alert_id,
        alert.score_id,
        alert.kind.value,
        alert.activity_ref,
        alert.account_ref,
        alert.owner_ref,
        alert.decision.value,
        alert.value,
        reasons_json(alert.reasons),
        alert.raised_at,
        alert.status.value,
        alert.verdict.value if alert.verdict else None,
        alert.analyst_id,
        alert.resolved_at,
    )


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(
        alert_id=row["alert_id"],
        score_id=row["score_id"],
        kind=ActivityKind(row["kind"]),
        activity_ref=row["activity_ref"],
        account_ref=row["account_ref"],
        owner_ref=row["owner_ref"],
        decision=Decision(row["decision"]),
        value=row["value"],
        reasons=_reasons(row["reasons"]),
        raised_at=row["raised_at"],
        status=AlertStatus(row["status"]),
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        analyst_id=row["analyst_id"],
        resolved_at=row["resolved_at"],
    )


class PgDecisions:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, payment_id: str, *, for_update: bool = False) -> PaymentDecision | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(
            f"SELECT * FROM payment_decisions WHERE payment_id = $1{lock}",  # noqa: S608
            payment_id,
        )
        return decision_from_row(row) if row else None

    async def add(self, decision: PaymentDecision) -> None:
        try:
            await self.conn.execute(
                "INSERT INTO payment_decisions (payment_id, account_ref, owner_ref, amount, "
                "currency, payee_ref, score_id, decision, status, alert_id, decided_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                decision.payment_id,
                decision.account_ref,
                decision.owner_ref,
                decision.amount,
                decision.currency,
                decision.payee_ref,
                decision.score_id,
                decision.decision.value,
                decision.status.value,
                decision.alert_id,
                decision.decided_at,
            )
        except asyncpg.UniqueViolationError:
            raise StaleState("payment was decided concurrently") from None

    async def save(self, decision: PaymentDecision) -> None:
        await self.conn.execute(
            "UPDATE payment_decisions SET status = $2, analyst_id = $3, resolved_at = $4 "
            "WHERE payment_id = $1",
            decision.payment_id,
            decision.status.value,
            decision.analyst_id,
            decision.resolved_at,
        )


def decision_from_row(row: Mapping[str, Any]) -> PaymentDecision:
    decision = PaymentDecision(
        payment_id=row["payment_id"],
        account_ref=row["account_ref"],
        owner_ref=row["owner_ref"],
        amount=row["amount"],
        currency=row["currency"],
        payee_ref=row["payee_ref"],
        score_id=row["score_id"],
        decision=Decision(row["decision"]),
        decided_at=row["decided_at"],
        alert_id=row["alert_id"],
        analyst_id=row["analyst_id"],
        resolved_at=row["resolved_at"],
    )
    decision.status = HoldStatus(row["status"])
    return decision


class PgAudit:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, entry: AuditEntry) -> None:
        await self.conn.execute(
            "INSERT INTO audit_log (actor_id, action, target, at, details) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            entry.actor_id,
            entry.action,
            entry.target,
            entry.at,
            json.dumps(entry.details),
        )
