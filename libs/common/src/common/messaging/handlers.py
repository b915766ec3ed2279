"""The two shapes of event handler a consumer can subscribe (see ``common.messaging.consumer``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from common.db.uow import UnitOfWork
from common.events.base import Envelope, Event
from common.messaging.dead_letter import SourceMessage


class EventHandler(Protocol):
    async def __call__(self, event: Event, envelope: Envelope, uow: UnitOfWork) -> None: ...


class Received(NamedTuple):
    """One consumed event, as a batch handler sees it."""

    event: Event
    envelope: Envelope


class BatchHandler(Protocol):
    async def __call__(self, events: Sequence[Received], uow: UnitOfWork) -> None: ...


class Delivery(NamedTuple):
    source: SourceMessage
    envelope: Envelope
    event: Event
