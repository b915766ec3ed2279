"""Postgres side of scoring: two round trips per activity, one to lock and read, one to write.

Rules: the account is held by a transaction-scoped advisory lock before anything is read
(``scoring_context``, migration 0002), so events of one account (from the consumer or the
decision endpoint) are scored one at a time and the read that follows sees the latest committed
state; the same round trip tells whether the subject is an erased member (``erased_subjects``);
everything scoring writes (account, state, score, alert, decision) goes in one statement; a
duplicate score raises ``StaleState``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from common.db.erasure import digest

from fraud.adapters.pg_records import alert_values, decision_from_row, reasons_json, score_from_row
from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.errors import StaleState
from fraud.domain.state import AccountState, OwnerSecurityState
from fraud.service.ports import ScoringContext, ScoringOutcome

_LOAD = (
    "SELECT c.*, EXISTS (SELECT 1 FROM erased_subjects e WHERE e.digest = $6) AS erased "
    "FROM scoring_context($1, $2, $3, $4, $5) c"
)

_RECORD = """
WITH registered AS (
    INSERT INTO accounts (account_ref, owner_ref) SELECT $1, $2 WHERE $2::text IS NOT NULL
    ON CONFLICT DO NOTHING RETURNING 1
), state AS (
    INSERT INTO account_state (account_ref, state, revision) VALUES ($1, $3::jsonb, $4)
    ON CONFLICT (account_ref) DO UPDATE
    SET state = EXCLUDED.state, revision = EXCLUDED.revision, updated_at = now()
    RETURNING 1
), score AS (
    INSERT INTO scores (score_id, kind, activity_ref, account_ref, owner_ref, value, decision,
                        reasons, features, model_version, scored_at, source_event_id)
    VALUES ($5, $6, $7, $1, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15)
    RETURNING 1
), alert AS (
    INSERT INTO alerts (alert_id, score_id, kind, activity_ref, account_ref, owner_ref, decision,
                        value, reasons, raised_at, status, verdict, analyst_id, resolved_at)
    SELECT $16, $17, $18, $19, $20, $21, $22, $23, $24::jsonb, $25, $26, $27, $28, $29
    WHERE $16::text IS NOT NULL
    RETURNING 1
), decision AS (
    INSERT INTO payment_decisions (payment_id, account_ref, owner_ref, amount, currency,
                                   payee_ref, score_id, decision, status, alert_id, decided_at)
    SELECT $30, $1, $8, $31, $32, $33, $5, $10, $34, $16, $14
    WHERE $30::text IS NOT NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM score) AS scored
"""


class PgScoring:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def load(self, activity: Activity) -> ScoringContext:
        payment = activity.ref if activity.kind is ActivityKind.PAYMENT else None
        row = await self.conn.fetchrow(
            _LOAD,
            activity.account_ref,
            activity.owner_ref,
            activity.kind.value,
            activity.ref,
            payment,
            digest(activity.owner_ref) if activity.owner_ref else None,
        )
        return ScoringContext(
            owner=row["owner"],
            member=row["member"],
            account=AccountState.from_row(json.loads(row["account"])) if row["account"] else None,
            security=_security(row["security"]),
            score=score_from_row(_json_row(row["score"])) if row["score"] else None,
            decision=decision_from_row(_json_row(row["decision"])) if row["decision"] else None,
            erased=row["erased"],
        )

    async def record(self, outcome: ScoringOutcome) -> None:
        try:
            await self.conn.execute(_RECORD, *_record_args(outcome))
        except asyncpg.UniqueViolationError:
            raise StaleState("activity was scored concurrently") from None


def _security(raw: str | None) -> OwnerSecurityState | None:
    return OwnerSecurityState.from_row(json.loads(raw)) if raw else None


def _json_row(raw: str) -> dict[str, Any]:
    """A ``row_to_json`` document typed as asyncpg would return the row."""
    row: dict[str, Any] = json.loads(raw, parse_float=Decimal)
    for name in ("scored_at", "raised_at", "decided_at", "resolved_at"):
        if isinstance(row.get(name), str):
            row[name] = datetime.fromisoformat(row[name])
    for name in ("reasons", "features"):
        if name in row:
            row[name] = json.dumps(row[name], default=float)
    if "value" in row:
        row["value"] = float(row["value"])
    if "amount" in row:
        row["amount"] = Decimal(row["amount"])
    return row


def _record_args(outcome: ScoringOutcome) -> list[Any]:
    s, alert, decision = outcome.score, outcome.alert, outcome.decision
    alert_args = list(alert_values(alert)) if alert else [None] * 14
    return [
        s.account_ref,
        outcome.register_owner,
        json.dumps(outcome.account.to_row(), separators=(",", ":")),
        outcome.account.revision,
        s.score_id,
        s.kind.value,
        s.activity_ref,
        s.owner_ref,
        s.value,
        s.decision.value,
        reasons_json(s.reasons),
        json.dumps(s.features),
        s.model_version,
        s.scored_at,
        s.source_event_id,
        *alert_args,
        decision.payment_id if decision else None,
        decision.amount if decision else None,
        decision.currency if decision else None,
        decision.payee_ref if decision else None,
        decision.status.value if decision else None,
    ]
