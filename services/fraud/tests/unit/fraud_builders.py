"""Builders shared by the fraud unit tests (a uniquely named module, imported by tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fraud.domain.activity import Activity, ActivityKind

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def payment(
    ref: str = "pay-1",
    *,
    amount: str = "25.00",
    at: datetime = T0,
    account: str = "acct-1",
    owner: str | None = "user-1",
    payee: str = "payee-known-0001",
    device: str | None = "device-home",
) -> Activity:
    return Activity(
        kind=ActivityKind.PAYMENT,
        ref=ref,
        account_ref=account,
        owner_ref=owner,
        amount=-Decimal(amount),
        currency="EUR",
        occurred_at=at,
        precise_time=True,
        payee_ref=payee,
        device_id=device,
    )


def transaction(
    ref: str = "txn-1",
    *,
    amount: str = "-25.00",
    at: datetime = T0,
    account: str = "acct-1",
    owner: str | None = "user-1",
) -> Activity:
    return Activity(
        kind=ActivityKind.TRANSACTION,
        ref=ref,
        account_ref=account,
        owner_ref=owner,
        amount=Decimal(amount),
        currency="EUR",
        occurred_at=at.replace(hour=12, minute=0, second=0, microsecond=0),
        precise_time=False,
    )


def payment_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "payment_id": "pay-1",
        "account_ref": "acct-1",
        "amount": "25.00",
        "currency": "EUR",
        "payee_ref": "payee-known-0001",
        "initiated_at": T0.isoformat(),
        "device_id": "device-home",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def transaction_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "transaction_ref": "txn-1",
        "account_ref": "acct-1",
        "amount": "-25.00",
        "currency": "EUR",
        "booking_date": T0.date().isoformat(),
        "label": "coffee",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}
