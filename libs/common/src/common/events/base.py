"""The one event envelope and the registry of versioned event types.

Rules:
- Every event crossing a service boundary is an ``Envelope`` around one registered ``Event``.
- An event type is a frozen pydantic model, one class per type *and* version, registered with
  ``@event("<domain>.<event-name>", version)``; its topic is ``<domain>.<event-name>.v<N>``.
- Changes to a version are additive; a breaking change is a new class with a new version.
- Decoding rejects, with an ``EventRejected`` naming the reason, anything that is not valid JSON,
  exceeds the size limit, has no envelope shape, or names an unknown type or version.
- Payloads never carry a password, code, token, key or full IBAN.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import EventRejected

DEAD_LETTER_TOPIC = "coffre.dead-letter.v1"
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9-]*$")
DEFAULT_MAX_EVENT_BYTES = 1_000_000


class Event(BaseModel):
    """Base of every event payload. Subclasses are registered with ``@event``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    event_version: ClassVar[int]

    @classmethod
    def topic(cls) -> str:
        return topic_name(cls.event_type, cls.event_version)


E = TypeVar("E", bound=type[Event])

_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def topic_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def event(event_type: str, version: int) -> Callable[[E], E]:
    """Register an event class under its type and version."""
    if not EVENT_TYPE_PATTERN.match(event_type):
        raise ValueError(f"event type {event_type!r} must look like '<domain>.<event-name>'")
    if version < 1:
        raise ValueError("event versions start at 1")

    def register(cls: E) -> E:
        key = (event_type, version)
        existing = _REGISTRY.get(key)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"{event_type} v{version} is already registered")
        cls.event_type = event_type
        cls.event_version = version
        _REGISTRY[key] = cls
        return cls

    return register


def registered_events() -> dict[tuple[str, int], type[Event]]:
    return dict(_REGISTRY)


def event_class(event_type: str, version: int) -> type[Event]:
    try:
        return _REGISTRY[(event_type, version)]
    except KeyError:
        raise EventRejected(
            f"unknown event type {event_type!r} version {version}", reason="unknown-type"
        ) from None


def is_contract(cls: type[Event]) -> bool:
    """Part of the platform's contract: defined in ``common.events``, not in a test or example."""
    return cls.__module__.startswith("common.events.")


def all_topics() -> list[str]:
    """Every topic of the platform's contract, and the dead-letter topic."""
    contract = {cls.topic() for cls in _REGISTRY.values() if is_contract(cls)}
    return sorted(contract | {DEAD_LETTER_TOPIC})


class TraceContext(BaseModel):
    """W3C trace context of the code that recorded the event."""

    model_config = ConfigDict(frozen=True)

    traceparent: str | None = Field(None, description="W3C traceparent header value.")
    tracestate: str | None = Field(None, description="W3C tracestate header value.")


class Envelope(BaseModel):
    """The one envelope every Coffre event travels in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(description="Unique id; consumers deduplicate on it.")
    type: str = Field(description="'<domain>.<event-name>', e.g. 'payments.payment-initiated'.")
    version: int = Field(ge=1, description="Version of the payload schema.")
    occurred_at: datetime = Field(description="When the fact happened (UTC).")
    producer: str = Field(description="Name of the service that recorded the event.")
    subject: str = Field(description="Opaque id of the member or account it is about.")
    correlation_id: str | None = Field(None, description="Id tying events of one flow together.")
    trace: TraceContext = Field(default_factory=TraceContext, description="W3C trace context.")
    payload: dict[str, Any] = Field(description="The event body, as its registered class.")

    @property
    def topic(self) -> str:
        return topic_name(self.type, self.version)

    @classmethod
    def wrap(
        cls,
        payload: Event,
        *,
        producer: str,
        subject: str,
        correlation_id: str | None = None,
        trace: dict[str, str] | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return cls(
            event_id=uuid.uuid4(),
            type=payload.event_type,
            version=payload.event_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            subject=subject,
            correlation_id=correlation_id,
            trace=TraceContext(**(trace or {})),
            payload=payload.model_dump(mode="json"),
        )

    def parse(self) -> Event:
        """The typed payload; raises EventRejected when it does not match its class."""
        cls = event_class(self.type, self.version)
        try:
            return cls.model_validate(self.payload)
        except ValidationError as exc:
            raise EventRejected(
                f"payload of {self.type} v{self.version} is invalid: {_summarise(exc)}",
                reason="invalid-payload",
            ) from None

    def to_bytes(self, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> bytes:
        data = self.model_dump_json().encode()
        if len(data) > max_bytes:
            raise EventRejected(
                f"event {self.type} is {len(data)} bytes, over the {max_bytes} byte limit",
                reason="oversized",
            )
        return data


_ENVELOPE_FIELDS = frozenset(Envelope.model_fields)


def encode_envelope(
    payload: Event,
    *,
    producer: str,
    subject: str,
    correlation_id: str | None = None,
    trace: dict[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> tuple[uuid.UUID, datetime, bytes]:
    """A new event's id, time and envelope bytes, the payload serialised exactly once.

    The bytes are what ``Envelope.to_bytes`` would give (same fields, same JSON types); over
    ``max_bytes`` raises EventRejected before anything is stored.
    """
    event_id = uuid.uuid4()
    occurred_at = datetime.now(UTC)
    carrier = trace or {}
    head = "".join(
        (
            '{"event_id":"',
            str(event_id),
            '","type":',
            _json_str(payload.event_type),
            ',"version":',
            str(int(payload.event_version)),
            ',"occurred_at":"',
            occurred_at.isoformat(),
            '","producer":',
            _json_str(producer),
            ',"subject":',
            _json_str(subject),
            ',"correlation_id":',
            _json_str(correlation_id),
            ',"trace":{"traceparent":',
            _json_str(carrier.get("traceparent")),
            ',"tracestate":',
            _json_str(carrier.get("tracestate")),
            "}}",
        )
    )
    data = b"".join(
        (head[:-1].encode(), b',"payload":', payload.__pydantic_serializer__.to_json(payload), b"}")
    )
    if len(data) > max_bytes:
        raise EventRejected(
            f"event {payload.event_type} is {len(data)} bytes, over the {max_bytes} byte limit",
            reason="oversized",
        )
    return event_id, occurred_at, data


def envelope_from_fields(fields: dict[str, Any]) -> Envelope:
    """An ``Envelope`` from fields already validated (every field present), without validating
    them again: ``model_construct`` costs as much as a validation."""
    envelope = Envelope.__new__(Envelope)
    object.__setattr__(envelope, "__dict__", fields)
    object.__setattr__(envelope, "__pydantic_fields_set__", set(_ENVELOPE_FIELDS))
    object.__setattr__(envelope, "__pydantic_extra__", None)
    object.__setattr__(envelope, "__pydantic_private__", None)
    return envelope


def _json_str(value: str | None) -> str:
    """A string (or null) as ``json.dumps`` writes it, without building an encoder."""
    return "null" if value is None else encode_basestring_ascii(value)


def decode_envelope(raw: bytes | None, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Envelope:
    """Parse and check an envelope from Kafka bytes; raise EventRejected with a reason."""
    if raw is None:
        raise EventRejected("message has no value", reason="empty")
    if len(raw) > max_bytes:
        raise EventRejected(
            f"message is {len(raw)} bytes, over the {max_bytes} byte limit", reason="oversized"
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EventRejected("message is not valid JSON", reason="malformed") from None
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise EventRejected(
            f"message is not a Coffre envelope: {_summarise(exc)}", reason="malformed"
        ) from None
    event_class(envelope.type, envelope.version)
    return envelope


def _summarise(exc: ValidationError) -> str:
    """Field paths and messages only: never the input values, which may be sensitive."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
