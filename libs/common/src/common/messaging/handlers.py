"""The two shapes of event handler a consumer can subscribe (see ``common.messaging.consumer``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from common.db.uow import UnitOfWork
from common.events.base import Envelope, Event
from common.messaging.dead_letter import SourceMessage


class EventHandler(Protocol):
    async def __call__(self, event: Event, envelope: Envelope, uow: UnitOfWork) -> None: ...


@dataclass(frozen=True, slots=True)
class Received:
    """One consumed event, as a batch handler sees it."""

    event: Event
    envelope: Envelope


class BatchHandler(Protocol):
    async def __call__(self, events: Sequence[Received], uow: UnitOfWork) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    source: SourceMessage
    envelope: Envelope
    event: Event
