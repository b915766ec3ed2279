"""Decoding a consumed message into its envelope and typed event, in one pass.

Rules:
- The body is JSON-decoded once and validated once: one pydantic validation, straight from the
  bytes, checks the envelope fields and the payload against its registered class together
  (each handled type's envelope pins its type and version, so the right one matches). Only a
  message that fails it is decoded again, to name the reason. (The Kafka subscriber's own
  decoder is bypassed: it would decode every body a second time.)
- Anything else is refused with an ``EventRejected`` naming the reason, the same reasons as
  ``decode_envelope``: ``empty``, ``oversized``, ``malformed`` (not JSON, not an envelope),
  ``unknown-type`` (no such registered type/version), ``unexpected-type`` (registered, but not
  handled by this consumer), ``invalid-payload``. Messages never echo input values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from common.errors import EventRejected
from common.events.base import Envelope, Event, decode_envelope, envelope_from_fields, event_class


class EventDecoder:
    """Decodes the envelopes of the event types one consumer handles."""

    def __init__(self, consumer: str, events: Iterable[type[Event]], max_bytes: int) -> None:
        self._consumer = consumer
        self._max_bytes = max_bytes
        classes = list(events)
        self._typed: dict[tuple[Any, Any], type[BaseModel]] = {
            (cls.event_type, cls.event_version): _typed_envelope(cls) for cls in classes
        }
        self._fast: TypeAdapter[Any] = TypeAdapter(_one_pass_shape(classes))

    def decode(self, raw: bytes | None) -> tuple[Envelope, Event]:
        """The envelope and its typed payload; raises EventRejected with a reason."""
        if raw is not None and len(raw) <= self._max_bytes:
            try:
                checked = self._fast.validate_json(raw)
            except ValidationError:
                pass  # name the reason below
            else:
                payload: Event = checked.payload
                return _envelope(checked, payload.model_dump(mode="json")), payload
        return self._decode_slowly(raw)

    def _decode_slowly(self, raw: bytes | None) -> tuple[Envelope, Event]:
        if raw is None or len(raw) > self._max_bytes:
            decode_envelope(raw, self._max_bytes)  # raises its 'empty' / 'oversized' rejection
        assert raw is not None
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise EventRejected("message is not valid JSON", reason="malformed") from None
        if not isinstance(data, dict):
            raise EventRejected("message is not a Coffre envelope", reason="malformed")
        typed = self._typed.get((data.get("type"), data.get("version")))
        if typed is None:
            self._refuse_type(raw)
        assert typed is not None
        try:
            checked = typed.model_validate(data)
        except ValidationError as exc:
            raise _rejection(exc) from None
        payload: Event = checked.payload  # type: ignore[attr-defined]
        return _envelope(checked, data["payload"]), payload

    def _refuse_type(self, raw: bytes) -> None:
        envelope = decode_envelope(raw, self._max_bytes)  # malformed or unknown-type
        event_class(envelope.type, envelope.version)
        raise EventRejected(
            f"{envelope.type} v{envelope.version} is not handled by {self._consumer}",
            reason="unexpected-type",
        )


def _envelope(checked: BaseModel, payload: dict[str, Any]) -> Envelope:
    """The plain ``Envelope`` of an already validated typed envelope, its payload as JSON data.
    Built without a second validation (``model_construct`` costs as much)."""
    fields = dict(checked.__dict__)
    fields["payload"] = payload
    return envelope_from_fields(fields)


def _one_pass_shape(classes: list[type[Event]]) -> Any:
    """The typed envelopes of ``classes`` as one validator. Tagged by ``type`` when each type
    is handled in one version only (the body is validated against its own class alone: a
    plain union would try every member, strictly then laxly, before it picks one)."""
    pinned = [_typed_envelope(cls, pinned=True) for cls in classes]
    if len(pinned) == 1:
        return pinned[0]
    union: Any = Union[tuple(pinned)]  # noqa: UP007
    if len({cls.event_type for cls in classes}) == len(classes):
        return Annotated[union, Field(discriminator="type")]
    return union


def _typed_envelope(cls: type[Event], *, pinned: bool = False) -> type[BaseModel]:
    """The envelope model whose payload is ``cls`` (``pinned``: and whose type and version can
    only be ``cls``'s)."""
    fields: dict[str, Any] = {"payload": (cls, ...)}
    if pinned:
        fields["type"] = (Literal[cls.event_type], ...)
        fields["version"] = (Literal[cls.event_version], ...)
    model: type[BaseModel] = create_model(f"{cls.__name__}Envelope", __base__=Envelope, **fields)
    return model


def _rejection(exc: ValidationError) -> EventRejected:
    errors = exc.errors(include_input=False, include_url=False)
    payload_errors = [e for e in errors if e["loc"][:1] == ("payload",)]
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in (payload_errors or errors)[:5]
    ]
    if payload_errors and len(payload_errors) == len(errors):
        return EventRejected(f"payload is invalid: {'; '.join(parts)}", reason="invalid-payload")
    return EventRejected(
        f"message is not a Coffre envelope: {'; '.join(parts)}", reason="malformed"
    )
