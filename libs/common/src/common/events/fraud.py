"""Fraud events (owned by the fraud service).

Rules: every score travels with its reasons; amounts are decimal strings; no event carries a
full IBAN, a device secret or a credential; changes are additive, a breaking change is a new
version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.events.base import Event, event

Decision = Literal["pass", "review", "block"]
ActivityKind = Literal["transaction", "payment"]


class ScoreReason(BaseModel):
    """One feature or rule that drove a score."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="Stable reason code, e.g. 'card_testing' or 'model:new_payee'.")
    feature: str = Field(description="Feature the reason is about.")
    value: float = Field(description="Value of that feature for this event.")
    contribution: float = Field(ge=0, description="Share of the final score it accounts for.")


@event("fraud.transaction-scored", 1)
class TransactionScored(Event):
    """A transaction or a payment was scored."""

    score_id: str = Field(description="Identifier of this score.")
    kind: ActivityKind = Field(description="What was scored.")
    activity_ref: str = Field(description="transaction_ref or payment_id of what was scored.")
    account_ref: str = Field(description="Opaque account reference.")
    source_event_id: str | None = Field(default=None, description="Event that was scored.")
    score: float = Field(ge=0, le=1, description="Fraud score, 0 (benign) to 1 (fraud).")
    decision: Decision = Field(description="pass, review or block, from configured thresholds.")
    reasons: tuple[ScoreReason, ...] = Field(description="Top contributing features and rules.")
    model_version: int = Field(ge=0, description="Version of the online model used.")
    scored_at: datetime = Field(description="When the score was computed (UTC).")


@event("fraud.alert-raised", 1)
class FraudAlertRaised(Event):
    """A score reached review or block: an analyst should look, the owner may be warned."""

    alert_id: str = Field(description="Identifier of the alert.")
    score_id: str = Field(description="Score that raised it.")
    kind: ActivityKind = Field(description="What was scored.")
    activity_ref: str = Field(description="transaction_ref or payment_id.")
    account_ref: str = Field(description="Opaque account reference.")
    decision: Decision = Field(description="review or block.")
    score: float = Field(ge=0, le=1, description="Fraud score.")
    reasons: tuple[ScoreReason, ...] = Field(description="Top contributing features and rules.")
    raised_at: datetime = Field(description="When the alert was raised (UTC).")


@event("fraud.payment-hold-resolved", 1)
class PaymentHoldResolved(Event):
    """An analyst released or cancelled a payment that fraud held for review."""

    payment_id: str = Field(description="The held payment.")
    alert_id: str = Field(description="Alert the analyst resolved.")
    outcome: Literal["released", "cancelled"] = Field(description="What happens to the payment.")
    analyst_id: str = Field(description="Identifier of the analyst who decided.")
    resolved_at: datetime = Field(description="When the analyst decided (UTC).")


@event("fraud.security-report-ready", 1)
class SecurityReportReady(Event):
    """An account owner's weekly security report is ready to fetch."""

    report_id: str = Field(description="Identifier of the report.")
    owner_ref: str = Field(description="The account owner (user id) the report is for.")
    week: str = Field(pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week, e.g. '2026-W47'.")
    period_start: date = Field(description="First day covered (Monday).")
    period_end: date = Field(description="Last day covered (Sunday).")
    alerts: int = Field(ge=0, description="Alerts raised on the owner's accounts that week.")
    blocked_payments: int = Field(ge=0, description="Payments blocked or cancelled that week.")
    new_devices: int = Field(ge=0, description="Logins from devices not seen before.")
    generated_at: datetime = Field(description="When the report was generated (UTC).")
