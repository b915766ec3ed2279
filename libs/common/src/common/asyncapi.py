"""AsyncAPI documentation of every Coffre event, generated from the event registry.

Rules: the registry is the contract. Each registered event type and version is one channel
(its topic) whose message is the envelope with that type's payload schema, field descriptions
included. ``python -m common.asyncapi > docs/asyncapi.json`` writes the document.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import Field, create_model

import common.events
from common.events.base import DEAD_LETTER_TOPIC, Envelope, Event, is_contract, registered_events


def envelope_model(event_cls: type[Event]) -> type[Any]:
    """The envelope model with ``payload`` typed as ``event_cls``."""
    return create_model(
        f"{event_cls.__name__}V{event_cls.event_version}Envelope",
        __base__=Envelope,
        payload=(event_cls, Field(description=(event_cls.__doc__ or "").strip() or None)),
    )


def build_asyncapi(title: str = "Coffre events", version: str = "1.0.0") -> dict[str, Any]:
    common.events.load_all()
    broker = KafkaBroker()
    for (event_type, event_version), cls in sorted(registered_events().items()):
        if not is_contract(cls):
            continue
        broker.publisher(
            cls.topic(),
            title=f"{event_type} v{event_version}",
            description=(cls.__doc__ or "").strip() or None,
            schema=envelope_model(cls),
        )
    broker.publisher(
        DEAD_LETTER_TOPIC,
        title="dead letters",
        description="Messages a consumer could not process, unchanged, with x-dlq-* headers.",
        schema=bytes,
    )
    spec = AsyncAPI(broker, title=title, version=version, schema_version="3.0.0")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def main() -> None:
    print(json.dumps(build_asyncapi(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
