"""Versioned event types and the one envelope; importing this package registers every type.

Each domain's event classes live in their own module here (``common.events.<domain>``).
"""

from __future__ import annotations

import importlib
import pkgutil

from common.events.base import (
    DEAD_LETTER_TOPIC,
    Envelope,
    Event,
    TraceContext,
    all_topics,
    decode_envelope,
    event,
    event_class,
    registered_events,
    topic_name,
)


def load_all() -> None:
    """Import every ``common.events.<domain>`` module so each type is registered."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


load_all()

__all__ = [
    "DEAD_LETTER_TOPIC",
    "Envelope",
    "Event",
    "TraceContext",
    "all_topics",
    "decode_envelope",
    "event",
    "event_class",
    "load_all",
    "registered_events",
    "topic_name",
]
