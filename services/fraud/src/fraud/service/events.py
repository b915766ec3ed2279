"""Domain records as the public events of ``common.events.fraud``."""

from __future__ import annotations

from datetime import datetime

from common.events.fraud import (
    FraudAlertRaised,
    PaymentHoldResolved,
    ScoreReason,
    SecurityReportReady,
    TransactionScored,
)

from fraud.domain.records import Alert, HoldStatus, PaymentDecision, ScoreRecord
from fraud.domain.report import WeeklyReport
from fraud.domain.scoring import Reason


def reasons(items: tuple[Reason, ...]) -> tuple[ScoreReason, ...]:
    return tuple(
        ScoreReason(
            code=r.code,
            feature=r.feature,
            value=round(r.value, 6),
            contribution=round(r.contribution, 6),
        )
        for r in items
    )


def transaction_scored(record: ScoreRecord) -> TransactionScored:
    return TransactionScored(
        score_id=record.score_id,
        kind=record.kind.value,
        activity_ref=record.activity_ref,
        account_ref=record.account_ref,
        source_event_id=record.source_event_id,
        score=round(record.value, 6),
        decision=record.decision.value,
        reasons=reasons(record.reasons),
        model_version=record.model_version,
        scored_at=record.scored_at,
    )


def alert_raised(alert: Alert) -> FraudAlertRaised:
    return FraudAlertRaised(
        alert_id=alert.alert_id,
        score_id=alert.score_id,
        kind=alert.kind.value,
        activity_ref=alert.activity_ref,
        account_ref=alert.account_ref,
        decision=alert.decision.value,
        score=round(alert.value, 6),
        reasons=reasons(alert.reasons),
        raised_at=alert.raised_at,
    )


def hold_resolved(decision: PaymentDecision, alert_id: str, at: datetime) -> PaymentHoldResolved:
    outcome = "released" if decision.status is HoldStatus.RELEASED else "cancelled"
    return PaymentHoldResolved(
        payment_id=decision.payment_id,
        alert_id=alert_id,
        outcome=outcome,
        analyst_id=decision.analyst_id or "",
        resolved_at=at,
    )


def report_ready(report: WeeklyReport) -> SecurityReportReady:
    facts = report.facts
    return SecurityReportReady(
        report_id=report.report_id,
        owner_ref=report.owner_ref,
        week=report.week.label,
        period_start=report.week.start,
        period_end=report.week.end,
        alerts=len(facts.alerts),
        blocked_payments=facts.blocked_payments,
        new_devices=facts.new_devices,
        generated_at=report.generated_at,
    )
