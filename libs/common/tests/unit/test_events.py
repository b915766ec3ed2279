"""The envelope, the registry and decoding that rejects bad input with a reason."""

from __future__ import annotations

import json
import uuid

import pytest
from common.errors import EventRejected
from common.events import Envelope, Event, all_topics, decode_envelope, event, registered_events
from common.events.erasure import ErasureRequested
from pydantic import Field

pytestmark = pytest.mark.unit


@event("unittest.thing-happened", 1)
class ThingHappened(Event):
    name: str = Field(description="What happened.")


@event("unittest.thing-happened", 2)
class ThingHappenedV2(Event):
    name: str = Field(description="What happened.")
    count: int = Field(description="How often.")


def test_topic_carries_domain_event_and_version() -> None:
    assert ThingHappened.topic() == "unittest.thing-happened.v1"
    assert ThingHappenedV2.topic() == "unittest.thing-happened.v2"
    assert "erasure.erasure-requested.v1" in all_topics()
    assert "coffre.dead-letter.v1" in all_topics()
    assert "unittest.thing-happened.v1" not in all_topics(), "test events are not the contract"


def test_envelope_round_trips_to_the_typed_payload() -> None:
    env = Envelope.wrap(ThingHappened(name="x"), producer="tests", subject="user-1")
    decoded = decode_envelope(env.to_bytes())
    assert decoded == env
    assert decoded.parse() == ThingHappened(name="x")


def test_additive_fields_are_ignored_by_older_readers() -> None:
    env = Envelope.wrap(ThingHappened(name="x"), producer="tests", subject="u")
    data = json.loads(env.to_bytes())
    data["payload"]["added_later"] = True
    assert decode_envelope(json.dumps(data).encode()).parse() == ThingHappened(name="x")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe not json", "malformed"),
        (b'{"event_id": "nope"}', "malformed"),
        (None, "empty"),
        (b"x" * 2_000_000, "oversized"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(EventRejected) as info:
        decode_envelope(raw)
    assert info.value.extensions["reason"] == reason


def _raw(**changes: object) -> bytes:
    env = Envelope.wrap(ThingHappened(name="x"), producer="tests", subject="u")
    data = json.loads(env.to_bytes())
    data.update(changes)
    return json.dumps(data).encode()


def test_unknown_type_or_version_is_rejected() -> None:
    for raw in (_raw(type="unittest.never-registered"), _raw(version=7)):
        with pytest.raises(EventRejected) as info:
            decode_envelope(raw)
        assert info.value.extensions["reason"] == "unknown-type"


def test_invalid_payload_is_rejected_without_echoing_values() -> None:
    env = decode_envelope(_raw(payload={"name": {"password": "hunter2"}}))
    with pytest.raises(EventRejected) as info:
        env.parse()
    assert "hunter2" not in info.value.message
    assert info.value.extensions["reason"] == "invalid-payload"


def test_a_type_and_version_registers_once() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @event("unittest.thing-happened", 1)
        class Other(Event):
            pass


def test_event_type_names_are_checked() -> None:
    with pytest.raises(ValueError):
        event("NoDomain", 1)
    with pytest.raises(ValueError):
        event("a.b", 0)


def test_registry_knows_the_erasure_events() -> None:
    assert registered_events()[("erasure.erasure-requested", 1)] is ErasureRequested


def test_oversized_event_cannot_be_recorded() -> None:
    env = Envelope.wrap(ThingHappened(name="x" * 5000), producer="t", subject=str(uuid.uuid4()))
    with pytest.raises(EventRejected):
        env.to_bytes(max_bytes=1024)
