"""Scores, alerts and payment decisions: what the service records and how they may change.

Rules: a score is immutable and keeps the features it was computed from (the model learns from
them); an alert is resolved once, by one identified analyst, as fraud or legitimate; a payment
decided ``review`` is held until an analyst releases it (legitimate) or cancels it (fraud); a
``block`` refuses it outright; only a held payment can be released or cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from fraud.domain.activity import ActivityKind
from fraud.domain.errors import AlertAlreadyResolved, PaymentNotHeld
from fraud.domain.features import Features
from fraud.domain.scoring import Decision, Reason


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    score_id: str
    kind: ActivityKind
    activity_ref: str
    account_ref: str
    owner_ref: str | None
    value: float
    decision: Decision
    reasons: tuple[Reason, ...]
    features: Features
    model_version: int
    scored_at: datetime
    source_event_id: str | None = None


class Verdict(StrEnum):
    FRAUD = "fraud"
    LEGITIMATE = "legitimate"


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(slots=True)
class Alert:
    alert_id: str
    score_id: str
    kind: ActivityKind
    activity_ref: str
    account_ref: str
    owner_ref: str | None
    decision: Decision
    value: float
    reasons: tuple[Reason, ...]
    raised_at: datetime
    status: AlertStatus = AlertStatus.OPEN
    verdict: Verdict | None = None
    analyst_id: str | None = None
    resolved_at: datetime | None = None

    def resolve(self, verdict: Verdict, analyst_id: str, at: datetime) -> None:
        if self.status is AlertStatus.RESOLVED:
            raise AlertAlreadyResolved("this alert already has a verdict")
        self.status = AlertStatus.RESOLVED
        self.verdict = verdict
        self.analyst_id = analyst_id
        self.resolved_at = at


class HoldStatus(StrEnum):
    CLEARED = "cleared"
    HELD = "held"
    BLOCKED = "blocked"
    RELEASED = "released"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """What payments should do with the payment now."""

    EXECUTE = "execute"
    HOLD = "hold"
    REFUSE = "refuse"


_OUTCOMES = {
    HoldStatus.CLEARED: Outcome.EXECUTE,
    HoldStatus.RELEASED: Outcome.EXECUTE,
    HoldStatus.HELD: Outcome.HOLD,
    HoldStatus.BLOCKED: Outcome.REFUSE,
    HoldStatus.CANCELLED: Outcome.REFUSE,
}

_INITIAL = {
    Decision.PASS: HoldStatus.CLEARED,
    Decision.REVIEW: HoldStatus.HELD,
    Decision.BLOCK: HoldStatus.BLOCKED,
}


@dataclass(slots=True)
class PaymentDecision:
    payment_id: str
    account_ref: str
    owner_ref: str | None
    amount: Decimal
    currency: str
    payee_ref: str
    score_id: str
    decision: Decision
    decided_at: datetime
    alert_id: str | None = None
    status: HoldStatus = field(init=False)
    analyst_id: str | None = None
    resolved_at: datetime | None = None

    def __post_init__(self) -> None:
        self.status = _INITIAL[self.decision]

    @property
    def outcome(self) -> Outcome:
        return _OUTCOMES[self.status]

    def same_request(self, amount: Decimal, currency: str, payee_ref: str, account: str) -> bool:
        return (self.amount, self.currency, self.payee_ref, self.account_ref) == (
            amount,
            currency,
            payee_ref,
            account,
        )

    def settle(self, verdict: Verdict, analyst_id: str, at: datetime) -> None:
        """Release (legitimate) or cancel (fraud) a held payment."""
        if self.status is not HoldStatus.HELD:
            raise PaymentNotHeld(f"payment is {self.status.value}, not held")
        self.status = HoldStatus.RELEASED if verdict is Verdict.LEGITIMATE else HoldStatus.CANCELLED
        self.analyst_id = analyst_id
        self.resolved_at = at


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which record, and when."""

    actor_id: str
    action: str
    target: str
    at: datetime
    details: dict[str, str] = field(default_factory=dict)
