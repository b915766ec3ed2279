"""HTTP request and response bodies (pydantic), described for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from common.events.fraud import ScoreReason
from pydantic import BaseModel, ConfigDict, Field

from fraud.domain.records import Alert
from fraud.service.events import reasons
from fraud.service.scoring import DecidedPayment


class DecisionRequest(BaseModel):
    """A payment to decide on before it executes (sent by the payments service)."""

    model_config = ConfigDict(extra="forbid")

    payment_id: str = Field(min_length=1, max_length=64, description="Payment identifier.")
    owner_ref: str = Field(min_length=1, max_length=128, description="The member paying.")
    account_ref: str = Field(min_length=1, max_length=128, description="Debited account ref.")
    amount: str = Field(min_length=1, max_length=32, description="Decimal string, e.g. '12.50'.")
    currency: str = Field(min_length=1, max_length=8, description="ISO 4217 code.")
    payee_ref: str = Field(min_length=1, max_length=128, description="Opaque payee reference.")
    initiated_at: datetime = Field(description="When the member initiated it (with zone).")
    device_id: str | None = Field(None, max_length=128, description="Device used, if known.")


class DecisionOut(BaseModel):
    payment_id: str
    decision: Literal["pass", "review", "block"]
    outcome: Literal["execute", "hold", "refuse"] = Field(
        description="What payments must do now: execute, hold for an analyst, or refuse."
    )
    status: str = Field(description="cleared, held, blocked, released or cancelled.")
    score: float
    reasons: tuple[ScoreReason, ...]
    alert_id: str | None
    model_version: int
    decided_at: datetime

    @classmethod
    def of(cls, decided: DecidedPayment) -> DecisionOut:
        d, s = decided.decision, decided.score
        return cls(
            payment_id=d.payment_id,
            decision=d.decision.value,
            outcome=d.outcome.value,
            status=d.status.value,
            score=round(s.value, 6),
            reasons=reasons(s.reasons),
            alert_id=d.alert_id,
            model_version=s.model_version,
            decided_at=d.decided_at,
        )


class AlertOut(BaseModel):
    alert_id: str
    kind: Literal["transaction", "payment"]
    activity_ref: str
    account_ref: str
    owner_ref: str | None
    decision: Literal["pass", "review", "block"]
    score: float
    reasons: tuple[ScoreReason, ...]
    raised_at: datetime
    status: Literal["open", "resolved"]
    verdict: Literal["fraud", "legitimate"] | None
    analyst_id: str | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls(
            alert_id=alert.alert_id,
            kind=alert.kind.value,
            activity_ref=alert.activity_ref,
            account_ref=alert.account_ref,
            owner_ref=alert.owner_ref,
            decision=alert.decision.value,
            score=round(alert.value, 6),
            reasons=reasons(alert.reasons),
            raised_at=alert.raised_at,
            status=alert.status.value,
            verdict=alert.verdict.value if alert.verdict else None,
            analyst_id=alert.analyst_id,
            resolved_at=alert.resolved_at,
        )


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    next_before: datetime | None = Field(description="Pass as 'before' for the next page.")


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["fraud", "legitimate"]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    week: str | None = Field(
        None, pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week; default: last full week."
    )
    owner_ref: str | None = Field(
        None, min_length=1, max_length=128, description="Analysts only: whose report."
    )
    fresh: bool = Field(False, description="Build a new report even if one exists.")
