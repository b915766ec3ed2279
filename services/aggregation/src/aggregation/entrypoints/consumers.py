"""Aggregation's Kafka subscribers: the member erasure request."""

from __future__ import annotations

from common.events.erasure import ErasureRequested
from common.messaging import subscribe
from common.runtime import Runtime

from aggregation.container import Container


def register(runtime: Runtime, container: Container) -> None:
    subscribe(
        runtime,
        consumer=container.settings.erasure_consumer_group,
        events=[ErasureRequested],
        handler=container.on_erasure,
    )
