"""The pure domain: amounts, IBANs, references and the payment state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from payments.domain.errors import (
    AmountInvalid,
    AuthorisationExpired,
    CurrencyNotSupported,
    CurrencyUnknown,
    IbanInvalid,
    PaymentStateConflict,
)
from payments.domain.events import events_for
from payments.domain.iban import mask_iban, normalise_iban
from payments.domain.money import Money, parse_amount, parse_currency
from payments.domain.payment import Actor, ActorKind, Kind, Payment, State

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EUR = frozenset({"EUR"})


@pytest.mark.parametrize("raw", ["10.001", "-5", "0", "0.00", "NaN", "nan", "Infinity", "1e3",
                                 float("nan"), True, None, "1000000000", " ", "12,50"])  # fmt: skip
def test_amounts_that_are_not_positive_exact_decimals_are_refused(raw: object) -> None:
    with pytest.raises(AmountInvalid):
        parse_amount(raw, "EUR")


def test_amounts_keep_the_currency_minor_units() -> None:
    assert parse_amount("10.5", "EUR") == Money(Decimal("10.50"), "EUR")
    assert parse_amount(12, "EUR").text() == "12.00"
    assert parse_amount(10.01, "EUR").text() == "10.01"
    with pytest.raises(AmountInvalid):
        parse_amount("10.5", "JPY")


def test_unknown_and_unsupported_currencies_are_refused_differently() -> None:
    with pytest.raises(CurrencyUnknown):
        parse_currency("XYZ", EUR)
    with pytest.raises(CurrencyNotSupported):
        parse_currency("USD", EUR)
    assert parse_currency("eur", EUR) == "EUR"


def test_iban_checksum_and_length_are_checked() -> None:
    assert normalise_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    for bad in ["DE89370400440532013001", "DE8937040044053201300", "XX", "", 42]:
        with pytest.raises(IbanInvalid):
            normalise_iban(bad)
    assert mask_iban("DE89370400440532013000") == "DE89 **** 3000"


def _payment(**kw: object) -> Payment:
    values: dict[str, object] = dict(
        payment_id="p-1", user_id="u-1", kind=Kind.PAYMENT, consent_id="c-1",
        account_ref="ac_" + "0" * 40, money=Money(Decimal("25.00"), "EUR"),
        payee_ref="py_" + "1" * 40, payee_name="Camille", payee_masked="DE89 **** 3000",
        remittance="",
    ) | kw  # fmt: skip
    member = Actor(ActorKind.MEMBER, "u-1", "s-1", "d-1")
    return Payment.create(
        actor=member, now=NOW, authorisation_window=timedelta(minutes=5), **values
    )


def test_a_payment_reaches_the_bank_only_after_fraud_clears_it() -> None:
    p = _payment()
    with pytest.raises(PaymentStateConflict):
        p.start_submission(NOW)
    p.authorise(Actor(ActorKind.MEMBER, "u-1"), "auth-1", NOW)
    assert p.state is State.SCREENING
    with pytest.raises(PaymentStateConflict):
        p.start_submission(NOW)
    p.fraud_decided("review", Actor(ActorKind.FRAUD), NOW)
    with pytest.raises(PaymentStateConflict):
        p.start_submission(NOW)
    p.hold_resolved(True, Actor(ActorKind.ANALYST, "a-1"), NOW)
    p.start_submission(NOW)
    assert p.state is State.SUBMITTING


def test_authorisation_after_the_window_is_refused() -> None:
    p = _payment()
    with pytest.raises(AuthorisationExpired):
        p.authorise(Actor(ActorKind.MEMBER, "u-1"), "auth-1", NOW + timedelta(minutes=5))


def test_a_payment_sent_to_the_bank_can_no_longer_be_cancelled() -> None:
    p = _payment()
    p.authorise(Actor(ActorKind.MEMBER, "u-1"), "auth-1", NOW)
    p.fraud_decided("pass", Actor(ActorKind.FRAUD), NOW)
    p.start_submission(NOW)
    with pytest.raises(PaymentStateConflict):
        p.cancel(Actor(ActorKind.MEMBER, "u-1"), NOW, "member-cancelled")


def test_the_bank_request_id_is_stable_for_a_payment() -> None:
    assert _payment().bank_request_id == _payment().bank_request_id
    assert _payment().bank_request_id != _payment(payment_id="p-2").bank_request_id


def test_every_transition_is_one_event_with_its_author_and_no_iban() -> None:
    p = _payment()
    p.authorise(Actor(ActorKind.MEMBER, "u-1", "s-1", "d-1"), "auth-1", NOW)
    events = [e for entry in p.entries for e in events_for(p, entry)]
    names = [type(e).__name__ for e in events]
    assert names == ["PaymentCreated", "PaymentAuthorised", "PaymentInitiated"]
    authorised = events[1].model_dump()
    assert (authorised["session_id"], authorised["authorisation_id"]) == ("s-1", "auth-1")
    assert all("DE89370400440532013000" not in e.model_dump_json() for e in events)
