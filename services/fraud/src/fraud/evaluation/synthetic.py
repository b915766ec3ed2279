"""A seeded generator of labelled synthetic activity with injected fraud patterns.

Rules: the same seed gives the same stream, in time order; benign accounts have their own
habits (hours, amounts, payees, devices) and sometimes look odd (a new phone, a big purchase
from a new shop); fraud is injected after a week of history as card testing, account takeover
(a new device, then a new payee and a large amount), velocity spikes and a factor change
followed by a payout; every payment and transaction carries its label and pattern.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from fraud.domain.activity import SecuritySignal, SignalKind

START = datetime(2026, 1, 5, tzinfo=UTC)
PATTERNS = ("card_testing", "account_takeover", "velocity_spike", "factor_change_payout")


@dataclass(frozen=True, slots=True)
class SyntheticEvent:
    at: datetime
    kind: Literal["payment", "transaction", "signal"]
    owner_ref: str
    payload: dict[str, Any] = field(default_factory=dict)
    signal: SecuritySignal | None = None
    is_fraud: bool = False
    pattern: str | None = None


@dataclass(slots=True)
class Habits:
    owner_ref: str
    account_ref: str
    device: str
    daily_payments: float
    log_mean: float
    log_sigma: float
    peak_hour: float
    payees: list[str]


@dataclass
class Dataset:
    seed: int
    events: list[SyntheticEvent]
    owners: dict[str, str]

    @property
    def scorable(self) -> list[SyntheticEvent]:
        return [e for e in self.events if e.kind != "signal"]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.events: list[SyntheticEvent] = []
        self._ids = 0

    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self.seed}-{self._ids:07d}"

    def habits(self, index: int) -> Habits:
        r = self.rng
        return Habits(
            owner_ref=f"user-{index:05d}",
            account_ref=f"acct-{index:05d}",
            device=f"device-{index:05d}-home",
            daily_payments=r.uniform(0.3, 3.0),
            log_mean=r.uniform(2.5, 5.0),
            log_sigma=r.uniform(0.3, 0.8),
            peak_hour=r.uniform(8, 20),
            payees=[self._payee() for _ in range(r.randint(3, 10))],
        )

    def _payee(self) -> str:
        return f"payee-{self.rng.getrandbits(64):016x}"

    def signal(
        self, h: Habits, at: datetime, kind: SignalKind, device: str | None = None, **extra: Any
    ) -> None:
        sig = SecuritySignal(kind, h.owner_ref, at, device_id=device, **extra)
        self.events.append(SyntheticEvent(at, "signal", h.owner_ref, signal=sig))

    def payment(
        self,
        h: Habits,
        at: datetime,
        amount: Decimal,
        payee: str,
        device: str,
        pattern: str | None = None,
    ) -> None:
        payload = {
            "payment_id": self._id("pay"),
            "account_ref": h.account_ref,
            "amount": str(amount),
            "currency": "EUR",
            "payee_ref": payee,
            "initiated_at": at.isoformat(),
            "device_id": device,
        }
        self.events.append(
            SyntheticEvent(at, "payment", h.owner_ref, payload, None, pattern is not None, pattern)
        )

    def transaction(self, h: Habits, at: datetime, amount: Decimal) -> None:
        payload = {
            "transaction_ref": self._id("txn"),
            "account_ref": h.account_ref,
            "amount": str(amount),
            "currency": "EUR",
            "booking_date": at.date().isoformat(),
            "label": "card purchase",
        }
        self.events.append(SyntheticEvent(at, "transaction", h.owner_ref, payload))

    def amount(self, h: Habits, scale: float = 1.0) -> Decimal:
        value = math.exp(self.rng.gauss(h.log_mean, h.log_sigma)) * scale
        return Decimal(str(round(max(value, 1.0), 2)))

    def moment(self, h: Habits, day: int) -> datetime:
        hour = min(23.9, max(6.0, self.rng.gauss(h.peak_hour, 2.0)))
        return START + timedelta(days=day, hours=hour)
