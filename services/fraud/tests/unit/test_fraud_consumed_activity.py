"""The consumer parses an activity from the event fields it has already validated: the same
activity, and the same rejections, as parsing the event's JSON payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from common.events import Envelope, Event
from common.events.aggregation import TransactionIngested
from common.events.payments import PaymentInitiated
from common.messaging import Received
from common.messaging.decoding import EventDecoder
from fraud.domain.activity import Activity
from fraud.domain.errors import InvalidActivity
from fraud.domain.validation import InputLimits, parse_payment, parse_transaction
from fraud.entrypoints.consumers import _activity
from fraud.evaluation.scenarios import generate
from fraud.service.engine import Engine, RandomIds

pytestmark = pytest.mark.unit

NOW = datetime(2030, 1, 1, tzinfo=UTC)
DECODER = EventDecoder("fraud.activity", [PaymentInitiated, TransactionIngested], 1_000_000)


def _consumed(event: Event, subject: str) -> Received:
    """The event as the consumer hands it over: encoded, then decoded and validated once."""
    envelope, decoded = DECODER.decode(
        Envelope.wrap(event, producer="t", subject=subject).to_bytes()
    )
    return Received(decoded, envelope)


def _from_json(received: Received, limits: InputLimits) -> Activity:
    payload = received.event.model_dump(mode="json")
    context: dict[str, Any] = {
        "owner_ref": received.envelope.subject,
        "event_id": str(received.envelope.event_id),
        "now": NOW,
        "limits": limits,
    }
    if isinstance(received.event, PaymentInitiated):
        return parse_payment(payload, **context)
    return parse_transaction(payload, **context | {"owner_ref": payload["user_id"]})


def _container(limits: InputLimits = InputLimits()) -> Any:
    return SimpleNamespace(engine=Engine(clock=lambda: NOW, limits=limits))


def _events() -> list[Received]:
    consumed = []
    for synthetic in generate(7, accounts=60, days=7).scorable:
        payload = dict(synthetic.payload)
        if synthetic.kind == "payment":
            event: Event = PaymentInitiated.model_validate(payload)
        else:
            payload.update(user_id=synthetic.owner_ref, status="booked")
            event = TransactionIngested.model_validate(payload)
        consumed.append(_consumed(event, synthetic.owner_ref))
    return consumed


def test_activities_parsed_from_validated_events_equal_those_parsed_from_their_json() -> None:
    consumed = _events()
    assert {type(r.event) for r in consumed} == {PaymentInitiated, TransactionIngested}
    container = _container()
    for received in consumed:
        assert _activity(container, received) == _from_json(received, InputLimits())


def test_an_activity_refused_from_its_json_is_refused_from_the_validated_event() -> None:
    limits = InputLimits(max_amount=InputLimits().max_amount.scaleb(-9))  # 1 unit at most
    refused = 0
    for received in _events()[:200]:
        try:
            expected: Activity | str = _from_json(received, limits)
        except InvalidActivity as exc:
            expected = f"{exc.code} {exc.reason} {exc.message}"
            refused += 1
        try:
            got: Activity | str = _activity(_container(limits), received)
        except InvalidActivity as exc:
            got = f"{exc.code} {exc.reason} {exc.message}"
        assert got == expected
    assert refused > 0


def test_ids_are_distinct_random_version_4_uuids_in_hex() -> None:
    ids = RandomIds(batch=8)
    drawn = [ids() for _ in range(100)]
    assert len(set(drawn)) == len(drawn)
    for value in drawn:
        parsed = uuid.UUID(hex=value)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, value)
