from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from common.events.payments import PaymentInitiated
from fraud.domain.activity import ActivityKind
from fraud.domain.errors import (
    AbsurdAmount,
    BadCurrency,
    InvalidActivity,
    MalformedField,
    MissingField,
)
from fraud.domain.validation import InputLimits, parse_payment, parse_transaction
from fraud_builders import T0, payment_payload, transaction_payload
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def _payment(**overrides: object):  # type: ignore[no-untyped-def]
    return parse_payment(payment_payload(**overrides), owner_ref="user-1", event_id="e", now=T0)


def _transaction(**overrides: object):  # type: ignore[no-untyped-def]
    return parse_transaction(
        transaction_payload(**overrides), owner_ref="user-1", event_id="e", now=T0
    )


def test_payment_is_an_outflow_with_a_precise_time() -> None:
    activity = _payment()
    assert activity.kind is ActivityKind.PAYMENT
    assert activity.amount == Decimal("-25.00")
    assert activity.is_outflow
    assert activity.precise_time
    assert activity.occurred_at == T0


def test_transaction_keeps_its_sign_and_is_dated_at_noon_without_precise_time() -> None:
    credit = _transaction(amount="1200.00")
    assert credit.amount == Decimal("1200.00")
    assert not credit.is_outflow
    assert not credit.precise_time
    assert credit.occurred_at.hour == 12


@pytest.mark.parametrize(
    "field", ["payment_id", "account_ref", "amount", "currency", "payee_ref", "initiated_at"]
)
def test_payment_missing_a_required_field_is_rejected_with_its_name(field: str) -> None:
    with pytest.raises(MissingField) as caught:
        _payment(**{field: None})
    assert caught.value.reason == "missing-field"
    assert caught.value.extensions["field"] == field


@pytest.mark.parametrize("field", ["transaction_ref", "account_ref", "amount", "booking_date"])
def test_transaction_missing_a_required_field_is_rejected(field: str) -> None:
    with pytest.raises(MissingField):
        _transaction(**{field: None})


@pytest.mark.parametrize("currency", ["XXX", "XAU", "eur", "EURO", "ZZZ", 978])
def test_currency_that_is_not_an_active_iso_4217_code_is_rejected(currency: object) -> None:
    with pytest.raises(BadCurrency) as caught:
        _payment(currency=currency)
    assert caught.value.reason == "bad-currency"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10.001", "EUR"), ("100.5", "JPY"), ("2000000000", "EUR"), ("0", "EUR"), ("0.00", "EUR")],
)
def test_absurd_payment_amount_is_rejected(amount: str, currency: str) -> None:
    with pytest.raises(AbsurdAmount) as caught:
        _payment(amount=amount, currency=currency)
    assert caught.value.reason == "absurd-amount"


@pytest.mark.parametrize("amount", ["1e5", "NaN", "Infinity", "12,50", " 12", "", 12.5])
def test_amount_that_is_not_a_plain_decimal_is_rejected(amount: object) -> None:
    with pytest.raises(InvalidActivity):
        _payment(amount=amount)


def test_three_decimals_are_fine_for_a_three_decimal_currency() -> None:
    assert _payment(amount="1.250", currency="KWD").amount == Decimal("-1.250")


def test_ceiling_on_amounts_comes_from_configuration() -> None:
    limits = InputLimits(max_amount=Decimal("100"))
    with pytest.raises(AbsurdAmount):
        parse_payment(
            payment_payload(amount="100.01"), owner_ref=None, event_id=None, now=T0, limits=limits
        )


def test_negative_payment_amount_is_rejected() -> None:
    with pytest.raises(AbsurdAmount):
        _payment(amount="-5.00")


def test_time_without_zone_is_rejected() -> None:
    with pytest.raises(MalformedField):
        _payment(initiated_at="2026-11-02T10:00:00")


def test_time_far_in_the_future_is_rejected() -> None:
    with pytest.raises(MalformedField):
        _payment(initiated_at=(T0 + timedelta(days=3)).isoformat())


def test_unparseable_dates_are_rejected() -> None:
    with pytest.raises(MalformedField):
        _payment(initiated_at="yesterday")
    with pytest.raises(MalformedField):
        _transaction(booking_date="02/11/2026")


@pytest.mark.parametrize("field", ["payee_ref", "account_ref"])
def test_full_iban_as_a_reference_is_rejected_without_echoing_it(field: str) -> None:
    iban = "FR7630006000011234567890189"
    with pytest.raises(MalformedField) as caught:
        _payment(**{field: iban})
    assert iban not in str(caught.value)
    assert iban not in repr(caught.value.extensions)


def test_reference_with_unsafe_characters_is_rejected() -> None:
    with pytest.raises(MalformedField):
        _payment(payee_ref="payee'; drop table scores;--")


def test_payment_initiated_event_refuses_a_full_iban_payee() -> None:
    fields = payment_payload(payee_ref="DE89 3704 0044 0532 0130 00")
    with pytest.raises(ValidationError):
        PaymentInitiated.model_validate(fields)


def test_payment_initiated_event_accepts_an_opaque_payee() -> None:
    event = PaymentInitiated.model_validate(payment_payload())
    assert event.payee_ref == "payee-known-0001"
    assert PaymentInitiated.topic() == "payments.payment-initiated.v1"
