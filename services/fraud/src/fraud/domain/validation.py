"""Turns raw event payloads into ``Activity`` values, or rejects them with a reason.

Rules: a missing field, a currency that is not an active ISO 4217 code, an amount that is not a
plain decimal, has more decimals than its currency allows, is zero for a payment or exceeds the
configured ceiling, a time without a zone or far in the future, and a reference shaped like a
full IBAN are all rejected with a stable reason (the consumer dead-letters them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from common.events.payments import looks_like_iban

from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.currencies import minor_units
from fraud.domain.errors import AbsurdAmount, BadCurrency, MalformedField, MissingField

_AMOUNT = re.compile(r"^-?[0-9]{1,18}(\.[0-9]{1,6})?$")
_REF = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


@dataclass(frozen=True, slots=True)
class InputLimits:
    """Bounds beyond which an input is absurd rather than suspicious."""

    max_amount: Decimal = Decimal("1000000000")
    max_clock_skew: timedelta = timedelta(hours=24)


def parse_transaction(
    payload: Mapping[str, Any],
    *,
    owner_ref: str | None,
    event_id: str | None,
    now: datetime,
    limits: InputLimits = InputLimits(),
) -> Activity:
    """A ``TransactionIngested`` payload as an Activity (time = booking date, imprecise)."""
    booked = _date(payload, "booking_date")
    currency = _currency(payload)
    return Activity(
        kind=ActivityKind.TRANSACTION,
        ref=_ref(payload, "transaction_ref"),
        account_ref=_ref(payload, "account_ref"),
        owner_ref=owner_ref,
        amount=_amount(payload, currency, limits, payment=False),
        currency=currency,
        occurred_at=_not_future(
            datetime.combine(booked, time(12), tzinfo=UTC), "booking_date", now, limits
        ),
        precise_time=False,
        source_event_id=event_id,
    )


def parse_payment(
    payload: Mapping[str, Any],
    *,
    owner_ref: str | None,
    event_id: str | None,
    now: datetime,
    limits: InputLimits = InputLimits(),
) -> Activity:
    """A ``PaymentInitiated`` payload (or a decision request) as an outflow Activity."""
    currency = _currency(payload)
    initiated = _not_future(_datetime(payload, "initiated_at"), "initiated_at", now, limits)
    device = payload.get("device_id")
    return Activity(
        kind=ActivityKind.PAYMENT,
        ref=_ref(payload, "payment_id"),
        account_ref=_ref(payload, "account_ref"),
        owner_ref=owner_ref,
        amount=-_amount(payload, currency, limits, payment=True),
        currency=currency,
        occurred_at=initiated,
        precise_time=True,
        payee_ref=_ref(payload, "payee_ref"),
        device_id=_ref(payload, "device_id") if device is not None else None,
        source_event_id=event_id,
    )


def _required(payload: Mapping[str, Any], field: str) -> Any:
    value = payload.get(field)
    if value is None or value == "":
        raise MissingField(field)
    return value


def _ref(payload: Mapping[str, Any], field: str) -> str:
    value = _required(payload, field)
    if not isinstance(value, str) or not _REF.match(value):
        raise MalformedField(field, "must be an opaque reference of at most 128 safe characters")
    if looks_like_iban(value):
        raise MalformedField(field, "must be an opaque reference, not a full IBAN")
    return value


def _currency(payload: Mapping[str, Any]) -> str:
    value = _required(payload, "currency")
    if not isinstance(value, str) or minor_units(value) is None:
        raise BadCurrency("currency is not an active ISO 4217 code")
    return value


def _amount(
    payload: Mapping[str, Any], currency: str, limits: InputLimits, *, payment: bool
) -> Decimal:
    raw = _required(payload, "amount")
    text = raw if isinstance(raw, str) else str(raw) if isinstance(raw, int) else None
    if text is None or not _AMOUNT.match(text):
        raise MalformedField("amount", "must be a plain decimal string")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise MalformedField("amount", "must be a plain decimal string") from exc
    exponent = amount.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > (minor_units(currency) or 0):
        raise AbsurdAmount(f"amount has more decimals than {currency} allows")
    if abs(amount) > limits.max_amount:
        raise AbsurdAmount("amount exceeds the configured ceiling")
    if payment and amount <= 0:
        raise AbsurdAmount("a payment amount must be positive")
    return amount


def _datetime(payload: Mapping[str, Any], field: str) -> datetime:
    value = _required(payload, field)
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise MalformedField(field, "must be an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise MalformedField(field, "must carry a time zone")
    return moment.astimezone(UTC)


def _date(payload: Mapping[str, Any], field: str) -> date:
    value = _required(payload, field)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise MalformedField(field, "must be an ISO 8601 date") from exc


def _not_future(moment: datetime, field: str, now: datetime, limits: InputLimits) -> datetime:
    if moment > now + limits.max_clock_skew:
        raise MalformedField(field, "is too far in the future")
    return moment
