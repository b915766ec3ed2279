"""Archive's Kafka subscriber: one consumer group for the four event types it reacts to
(members' verified addresses, movements to match, erasure), so it joins the broker once."""

from __future__ import annotations

from common.db.uow import UnitOfWork
from common.events import Envelope, Event
from common.events.aggregation import TransactionIngested
from common.events.auth import UserRegistered
from common.events.erasure import ErasureRequested
from common.events.payments import PaymentExecuted
from common.messaging import subscribe
from common.runtime import Runtime

from archive.container import Container


def register(runtime: Runtime, container: Container) -> None:
    async def on_event(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        """Members' verified addresses, receipts matched to movements, erasure vs retention."""
        if isinstance(event, UserRegistered):
            await container.on_member(event, envelope, uow)
        elif isinstance(event, ErasureRequested):
            await container.on_erasure(event, envelope, uow)
        else:
            await container.on_movement(event, envelope, uow)

    subscribe(
        runtime,
        consumer=container.settings.consumer_group,
        events=[UserRegistered, TransactionIngested, PaymentExecuted, ErasureRequested],
        handler=on_event,
    )
