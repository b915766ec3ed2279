"""Postgres repositories for weekly reports and the facts they are built from.

Rules: a week runs from Monday 00:00 to the next Monday 00:00 UTC; facts come only from fraud's
own tables (scores, alerts, decisions, logged signals, consents).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import asyncpg

from fraud.domain.records import HoldStatus
from fraud.domain.report import (
    CONSENT_HORIZON,
    AlertSummary,
    DailyActivity,
    ExpiringConsent,
    ReportFacts,
    Week,
    WeeklyReport,
    report_from_json,
)


def _bounds(week: Week) -> tuple[datetime, datetime]:
    start = datetime.combine(week.start, time(0), tzinfo=UTC)
    return start, start + timedelta(days=7)


class PgReports:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, report: WeeklyReport, pdf: bytes) -> None:
        await self.conn.execute(
            "INSERT INTO reports (report_id, owner_ref, week, generated_at, body, pdf) "
            "VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
            report.report_id,
            report.owner_ref,
            report.week.label,
            report.generated_at,
            json.dumps(report.to_json()),
            pdf,
        )

    async def get(self, report_id: str) -> tuple[WeeklyReport, bytes] | None:
        row = await self.conn.fetchrow(
            "SELECT body, pdf FROM reports WHERE report_id = $1", report_id
        )
        if row is None:
            return None
        return report_from_json(json.loads(row["body"])), bytes(row["pdf"])

    async def find(self, owner_ref: str, week: Week) -> WeeklyReport | None:
        raw = await self.conn.fetchval(
            "SELECT body FROM reports WHERE owner_ref = $1 AND week = $2 "
            "ORDER BY generated_at DESC LIMIT 1",
            owner_ref,
            week.label,
        )
        return report_from_json(json.loads(raw)) if raw is not None else None


_SIGNAL_COUNTS = """
SELECT count(*) FILTER (WHERE kind = 'login') AS logins,
       count(*) FILTER (WHERE kind = 'login_failed') AS failed_logins,
       count(*) FILTER (WHERE new_device) AS new_devices,
       count(*) FILTER (WHERE kind = 'step_up') AS step_ups,
       count(*) FILTER (WHERE kind = 'step_up_failed') AS failed_step_ups,
       count(*) FILTER (WHERE kind = 'factor_changed') AS factor_changes
FROM security_events WHERE owner_ref = $1 AND occurred_at >= $2 AND occurred_at < $3
"""

_DECISION_COUNTS = """
SELECT count(*) FILTER (WHERE status = ANY($4::text[])) AS refused,
       count(*) FILTER (WHERE status = 'held') AS held
FROM payment_decisions WHERE owner_ref = $1 AND decided_at >= $2 AND decided_at < $3
"""

_DAILY = """
SELECT (scored_at AT TIME ZONE 'UTC')::date AS day, count(*) AS scored,
       count(*) FILTER (WHERE decision = 'pass') AS passed,
       count(*) FILTER (WHERE decision = 'review') AS reviewed,
       count(*) FILTER (WHERE decision = 'block') AS blocked,
       max(value) AS max_score
FROM scores WHERE owner_ref = $1 AND scored_at >= $2 AND scored_at < $3
GROUP BY 1 ORDER BY 1
"""

_ALERTS = """
SELECT alert_id, kind, decision, value, raised_at, reasons -> 0 ->> 0 AS top_reason, verdict
FROM alerts WHERE owner_ref = $1 AND raised_at >= $2 AND raised_at < $3
ORDER BY raised_at
"""

_CONSENTS = """
SELECT consent_ref, expires_at FROM consents
WHERE owner_ref = $1 AND expires_at >= $2 AND expires_at <= $3 ORDER BY consent_ref
"""

_ACTIVE = """
SELECT owner_ref FROM security_events WHERE occurred_at >= $1 AND occurred_at < $2
UNION
SELECT owner_ref FROM scores WHERE owner_ref IS NOT NULL AND scored_at >= $1 AND scored_at < $2
ORDER BY 1
"""


class PgReportSource:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def owners_active(self, week: Week) -> list[str]:
        rows = await self.conn.fetch(_ACTIVE, *_bounds(week))
        return [row["owner_ref"] for row in rows]

    async def facts(self, owner_ref: str, week: Week, now: datetime) -> ReportFacts:
        start, end = _bounds(week)
        signals = await self.conn.fetchrow(_SIGNAL_COUNTS, owner_ref, start, end)
        refused = [HoldStatus.BLOCKED.value, HoldStatus.CANCELLED.value]
        decisions = await self.conn.fetchrow(_DECISION_COUNTS, owner_ref, start, end, refused)
        alerts = await self.conn.fetch(_ALERTS, owner_ref, start, end)
        consents = await self.conn.fetch(_CONSENTS, owner_ref, now, now + CONSENT_HORIZON)
        daily = await self.conn.fetch(_DAILY, owner_ref, start, end)
        return ReportFacts(
            **{name: int(signals[name]) for name in signals.keys()},  # noqa: SIM118
            blocked_payments=int(decisions["refused"]),
            held_payments=int(decisions["held"]),
            alerts=tuple(
                AlertSummary(
                    r["alert_id"],
                    r["kind"],
                    r["decision"],
                    r["value"],
                    r["raised_at"],
                    r["top_reason"],
                    r["verdict"],
                )
                for r in alerts
            ),
            expiring_consents=tuple(ExpiringConsent(r[0], r[1]) for r in consents),
            daily=tuple(DailyActivity(**dict(r)) for r in daily),
        )
