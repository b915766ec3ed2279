"""Postgres side of parked transactions (SQL only; the rules are in ``fraud.service.parking``).

Rule: a parked activity keeps opaque references, the amount and the time; never a device id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from fraud.domain.activity import Activity, ActivityKind

_TAKE_DUE = """
WITH due AS (
    SELECT p.event_id, p.deadline <= $1 AND NOT EXISTS (
               SELECT 1 FROM members m WHERE m.owner_ref = p.owner_ref) AS expired
    FROM parked_events p
    WHERE p.deadline <= $1 OR EXISTS (SELECT 1 FROM members m WHERE m.owner_ref = p.owner_ref)
    ORDER BY p.parked_at LIMIT $2 FOR UPDATE OF p SKIP LOCKED
)
DELETE FROM parked_events p USING due WHERE p.event_id = due.event_id
RETURNING p.activity, p.parked_at, due.expired
"""


class PgParkedActivities:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def park(self, activity: Activity, parked_at: datetime, deadline: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO parked_events (event_id, owner_ref, account_ref, activity, parked_at, "
            "deadline) VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT DO NOTHING",
            activity.source_event_id or f"{activity.kind.value}:{activity.ref}",
            activity.owner_ref,
            activity.account_ref,
            json.dumps(_document(activity)),
            parked_at,
            deadline,
        )

    async def park_many(
        self, activities: Sequence[Activity], parked_at: datetime, deadline: datetime
    ) -> None:
        if not activities:
            return
        await self.conn.execute(
            "INSERT INTO parked_events (event_id, owner_ref, account_ref, activity, parked_at, "
            "deadline) SELECT e, o, a, d::jsonb, $5, $6 "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(e, o, a, d) "
            "ON CONFLICT DO NOTHING",
            [a.source_event_id or f"{a.kind.value}:{a.ref}" for a in activities],
            [a.owner_ref for a in activities],
            [a.account_ref for a in activities],
            [json.dumps(_document(a)) for a in activities],
            parked_at,
            deadline,
        )

    async def take_for_owner(self, owner_ref: str) -> list[Activity]:
        rows = await self.conn.fetch(
            "DELETE FROM parked_events WHERE owner_ref = $1 RETURNING activity, parked_at",
            owner_ref,
        )
        return [_activity(r["activity"]) for r in sorted(rows, key=lambda r: r["parked_at"])]

    async def take_due(self, now: datetime, limit: int) -> list[tuple[Activity, bool]]:
        rows = await self.conn.fetch(_TAKE_DUE, now, limit)
        ordered = sorted(rows, key=lambda r: r["parked_at"])
        return [(_activity(r["activity"]), bool(r["expired"])) for r in ordered]


def _document(a: Activity) -> dict[str, Any]:
    return {
        "kind": a.kind.value,
        "ref": a.ref,
        "account_ref": a.account_ref,
        "owner_ref": a.owner_ref,
        "amount": str(a.amount),
        "currency": a.currency,
        "occurred_at": a.occurred_at.isoformat(),
        "precise_time": a.precise_time,
        "payee_ref": a.payee_ref,
        "source_event_id": a.source_event_id,
    }


def _activity(raw: str) -> Activity:
    d = json.loads(raw)
    return Activity(
        kind=ActivityKind(d["kind"]),
        ref=d["ref"],
        account_ref=d["account_ref"],
        owner_ref=d["owner_ref"],
        amount=Decimal(d["amount"]),
        currency=d["currency"],
        occurred_at=datetime.fromisoformat(d["occurred_at"]),
        precise_time=d["precise_time"],
        payee_ref=d["payee_ref"],
        source_event_id=d["source_event_id"],
    )
