"""What the fraud service scores: transactions and payments, normalised into one ``Activity``.

Rules: an amount is signed (negative = money leaving the account); a payment is always an
outflow; a transaction only has a booking date, so its time is imprecise and never feeds
hour-of-day or one-hour features; account and payee references are opaque, never a full IBAN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum


class ActivityKind(StrEnum):
    TRANSACTION = "transaction"
    PAYMENT = "payment"


@dataclass(frozen=True, slots=True)
class Activity:
    """One scorable money movement (its magnitude and timestamp computed once, when built)."""

    kind: ActivityKind
    ref: str
    account_ref: str
    owner_ref: str | None
    amount: Decimal
    currency: str
    occurred_at: datetime
    precise_time: bool
    payee_ref: str | None = None
    device_id: str | None = None
    source_event_id: str | None = None
    magnitude: float = field(init=False, repr=False, compare=False)
    """The amount's size as a float."""
    timestamp: float = field(init=False, repr=False, compare=False)
    """``occurred_at`` in POSIX seconds."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "magnitude", float(abs(self.amount)))
        object.__setattr__(self, "timestamp", self.occurred_at.timestamp())

    @property
    def is_outflow(self) -> bool:
        return self.amount < 0


class SignalKind(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    STEP_UP = "step_up"
    STEP_UP_FAILED = "step_up_failed"
    FACTOR_CHANGED = "factor_changed"
    CONSENT_GRANTED = "consent_granted"
    CONSENT_ENDED = "consent_ended"


@dataclass(frozen=True, slots=True)
class SecuritySignal:
    """A security-relevant fact about an account owner, from auth or aggregation."""

    kind: SignalKind
    owner_ref: str
    occurred_at: datetime
    device_id: str | None = None
    consent_ref: str | None = None
    expires_at: datetime | None = None
    source_event_id: str | None = None


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is a programming error here."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC)
