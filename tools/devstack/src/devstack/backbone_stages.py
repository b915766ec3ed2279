"""The backbone's stages measured one at a time, to see where end-to-end time goes.

Each stage runs alone on the same fresh schema, in order: ``write`` (units of work fill the
outbox while no relay runs), ``relay`` (one relay publishes the whole backlog), ``consume`` (a
consumer group placed at the topic's end before the relay ran reads the backlog through its
inbox with the batch handler). Rates are events per second of the stage alone; the consume rate
runs from the first event handled to the last, so the group's join is not counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from coffre_testing.example.service import MIGRATIONS, ExampleSettings, NoteRecorded
from common.db import MigrationSet, UnitOfWork
from common.messaging import Received, subscribe
from common.messaging.kafka import create_producer
from common.messaging.relay import OutboxRelay
from common.runtime import Runtime

from devstack.backbone_bench import Counter, Scenario, place_group_at_end, settings_for, write_all


@dataclass(frozen=True)
class StageRates:
    write: float
    relay: float
    consume: float


class TimedCounter(Counter):
    """Counts like ``Counter`` and remembers when the first event of the run was handled."""

    first: float | None = None

    async def many(self, events: Sequence[Received], uow: UnitOfWork) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        await super().many(events, uow)


async def run_stages(database_url: str, bootstrap: str, scenario: Scenario) -> StageRates:
    settings = settings_for(database_url, bootstrap, scenario.writers)
    migrations = MigrationSet.from_folder("example", MIGRATIONS)
    group = f"bench-stages-{settings.schema_name}"
    await place_group_at_end(bootstrap, group, NoteRecorded.topic())
    writer = Runtime(settings, migrations=migrations, run_relay=False)
    await writer.start()
    try:
        counter = TimedCounter(f"{settings.schema_name}", scenario.count)
        started = time.perf_counter()
        await write_all(writer, scenario, counter.prefix)
        write_rate = scenario.count / (time.perf_counter() - started)
        relay_rate = await _relay_alone(writer, scenario.count)
    finally:
        await writer.stop()
    consume_rate = await _consume_alone(settings, migrations, group, counter)
    return StageRates(write_rate, relay_rate, consume_rate)


async def _relay_alone(runtime: Runtime, count: int) -> float:
    s = runtime.settings
    relay = OutboxRelay(
        runtime.db,
        lambda: create_producer(s, client_suffix="relay", max_batch_size=262_144),
        lease_seconds=s.relay_lease_seconds,
    )
    task = asyncio.create_task(relay.run())
    try:
        while relay.published == 0:  # noqa: ASYNC110 - a bench probe polling a counter
            await asyncio.sleep(0.001)
        started = time.perf_counter()
        first = relay.published
        while relay.published < count:  # noqa: ASYNC110 - a bench probe polling a counter
            await asyncio.sleep(0.002)
        return (count - first) / max(time.perf_counter() - started, 1e-9)
    finally:
        relay.stop()
        await task


async def _consume_alone(
    settings: ExampleSettings, migrations: MigrationSet, group: str, counter: TimedCounter
) -> float:
    def register(rt: Runtime) -> None:
        subscribe(rt, consumer=group, events=[NoteRecorded], handle_many=counter.many)

    runtime = Runtime(settings, migrations=migrations, register_consumers=register, run_relay=False)
    await runtime.start()
    try:
        await asyncio.wait_for(counter.done.wait(), timeout=600)
        assert counter.first is not None
        return counter.count / max(time.perf_counter() - counter.first, 1e-9)
    finally:
        await runtime.stop()
