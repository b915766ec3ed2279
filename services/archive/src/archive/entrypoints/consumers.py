"""Archive's Kafka subscribers: members (verified addresses), movements to match, erasure."""

from __future__ import annotations

from common.events.aggregation import TransactionIngested
from common.events.auth import UserRegistered
from common.events.erasure import ErasureRequested
from common.events.payments import PaymentExecuted
from common.messaging import subscribe
from common.runtime import Runtime

from archive.container import Container


def register(runtime: Runtime, container: Container) -> None:
    group = container.settings.consumer_group
    subscribe(
        runtime, consumer=f"{group}.members", events=[UserRegistered], handler=container.on_member
    )
    subscribe(
        runtime,
        consumer=f"{group}.matching",
        events=[TransactionIngested, PaymentExecuted],
        handler=container.on_movement,
    )
    subscribe(
        runtime,
        consumer=f"{group}.erasure",
        events=[ErasureRequested],
        handler=container.on_erasure,
    )
