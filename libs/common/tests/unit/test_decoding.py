"""A consumed body is decoded and validated once, with the same rejection reasons as before."""

from __future__ import annotations

import json

import pytest
from common.errors import EventRejected
from common.events import Event, event
from common.events.base import decode_envelope, encode_envelope
from common.events.erasure import ErasureRequested
from common.messaging.decoding import EventDecoder
from pydantic import Field

pytestmark = pytest.mark.unit


@event("unittest.thing-decoded", 1)
class ThingDecoded(Event):
    name: str = Field(description="A name.")


DECODER = EventDecoder("tests", [ThingDecoded], max_bytes=10_000)


def _raw(**changes: object) -> bytes:
    _, _, data = encode_envelope(ThingDecoded(name="x"), producer="tests", subject="u")
    body = json.loads(data)
    body.update(changes)
    return json.dumps(body).encode()


def test_an_envelope_decodes_to_the_same_envelope_and_typed_event_as_before() -> None:
    event_id, _, raw = encode_envelope(
        ThingDecoded(name="x"), producer="tests", subject="u", trace={"traceparent": "00-a-b-01"}
    )
    envelope, payload = DECODER.decode(raw)
    assert payload == ThingDecoded(name="x")
    assert envelope == decode_envelope(raw)
    assert envelope.event_id == event_id
    assert envelope.trace.traceparent == "00-a-b-01"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        (b"x" * 20_000, "oversized"),
        (b"\xff not json", "malformed"),
        (b"[1, 2]", "malformed"),
        (b'{"event_id": "nope"}', "malformed"),
        (_raw(type="unittest.never-registered"), "unknown-type"),
        (_raw(version=7), "unknown-type"),
        (_raw(type=ErasureRequested.event_type), "unexpected-type"),
        (_raw(event_id="nope"), "malformed"),
        (_raw(payload={"name": {"password": "hunter2"}}), "invalid-payload"),
    ],
)
def test_bad_bodies_are_refused_with_their_reason_and_never_echoed(
    raw: bytes | None, reason: str
) -> None:
    with pytest.raises(EventRejected) as info:
        DECODER.decode(raw)
    assert info.value.extensions["reason"] == reason
    assert "hunter2" not in info.value.message


def test_an_encoded_envelope_is_what_the_envelope_model_would_write() -> None:
    _, _, raw = encode_envelope(ThingDecoded(name='é"x'), producer="p", subject="s")
    envelope = decode_envelope(raw)
    assert json.loads(envelope.to_bytes()) == {
        **json.loads(raw),
        "occurred_at": json.loads(envelope.to_bytes())["occurred_at"],
    }
    assert envelope.parse() == ThingDecoded(name='é"x')


@event("unittest.other-thing-decoded", 1)
class OtherThingDecoded(Event):
    name: str = Field(description="A name, the same shape as ThingDecoded's.")


@event("unittest.thing-decoded", 2)
class ThingDecodedV2(Event):
    name: str = Field(description="A name.")
    size: int = Field(0, description="A size, new in version 2.")


@pytest.mark.parametrize(
    "handled",
    [
        [ThingDecoded, OtherThingDecoded],  # one version per type: tagged by type
        [OtherThingDecoded, ThingDecoded, ThingDecodedV2],  # two versions of one type
    ],
)
def test_a_consumer_of_several_types_decodes_each_body_as_its_own_type_and_version(
    handled: list[type[Event]],
) -> None:
    decoder = EventDecoder("tests", handled, max_bytes=10_000)
    for cls in handled:
        _, _, raw = encode_envelope(cls(name="x"), producer="tests", subject="u")
        envelope, payload = decoder.decode(raw)
        assert type(payload) is cls
        assert (envelope.type, envelope.version) == (cls.event_type, cls.event_version)
        assert envelope == decode_envelope(raw)
    with pytest.raises(EventRejected) as info:
        decoder.decode(_raw(type=ErasureRequested.event_type))
    assert info.value.extensions["reason"] == "unexpected-type"
    with pytest.raises(EventRejected) as info:
        decoder.decode(_raw(payload={"name": ["not", "a", "name"]}))
    assert info.value.extensions["reason"] == "invalid-payload"
