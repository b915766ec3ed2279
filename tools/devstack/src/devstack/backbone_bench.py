"""The backbone benchmark: outbox → relay → consumer with inbox, beside raw aiokafka.

Each scenario runs the example service's shapes on a fresh schema and consumer group:
``writers`` concurrent producers commit ``count`` events, ``per_tx`` per transaction (plain
units of work, ``shared_commit`` ones that share commits, or ``batched_writes``: each event one
write of the batched-write path, ``common.db.batched_writes``); the relay publishes them; a
consumer records each once (a per-event handler with one INSERT each, or a batch handler with
one INSERT per batch), in the bench process or, with ``consumer_process``, in a process of its
own. It reports the write rate and the end-to-end rate (first write to last event consumed).
``purge_backlog`` first fills the outbox and inbox with that many rows past the redelivery
horizon and purges them while the scenario runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from coffre_testing.example.service import MIGRATIONS, ExampleSettings, NoteRecorded
from common.db import MigrationSet, UnitOfWork
from common.db.batched_writes import Outgoing
from common.events import Envelope, Event
from common.events.base import encode_envelope
from common.messaging import OutboxRelay, Received, ensure_topics, subscribe
from common.runtime import Runtime

from devstack.backbone_consumer import JOIN_SECONDS, ConsumerDone, ConsumerProcess


@dataclass(frozen=True)
class Scenario:
    count: int
    writers: int = 16
    per_tx: int = 1
    shared_commit: bool = False
    batched_writes: bool = False
    batch_handler: bool = False
    purge_backlog: int = 0
    consumer_process: bool = False
    """The consumer in a process of its own (``devstack.backbone_consumer``), as a consuming
    service is deployed; the bench process keeps the writers and the relay."""


@dataclass(frozen=True)
class Result:
    write_rate: float
    relay_rate: float
    end_to_end_rate: float
    purged: int
    commits: int
    handler_calls: int
    bench_cpu_s: float = 0.0
    """CPU seconds of the bench process from the first write to the last event consumed."""
    consumer_cpu_s: float | None = None
    """CPU seconds of the consuming process (``consumer_process`` scenarios only)."""


def settings_for(database_url: str, bootstrap: str, writers: int) -> ExampleSettings:
    return ExampleSettings.model_validate(
        {
            "service_name": "bench",
            "environment": "test",
            "database_url": database_url,
            "database_schema": f"bench_{uuid.uuid4().hex[:6]}",
            "kafka_bootstrap_servers": bootstrap,
            "kafka_idempotent_producer": False,
            "kafka_session_timeout_ms": 2000,
            "kafka_heartbeat_interval_ms": 300,
            "db_pool_max": writers + 6,
            "redelivery_horizon_seconds": 3600,
        }
    )


class Counter:
    """The consumer side: counts this run's events once each, through the inbox."""

    def __init__(self, prefix: str, count: int) -> None:
        self.prefix = prefix
        self.count = count
        self.processed = 0
        self.calls = 0
        self.done = asyncio.Event()

    def _seen(self, n: int) -> None:
        self.calls += 1
        self.processed += n
        if self.processed >= self.count:
            self.done.set()

    async def one(self, event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        assert isinstance(event, NoteRecorded)
        if event.owner.startswith(self.prefix):
            await uow.conn.execute(
                "INSERT INTO note_effects (owner, seq, event_id) VALUES ($1, $2, $3)",
                event.owner,
                event.seq,
                envelope.event_id,
            )
            self._seen(1)

    async def many(self, events: Sequence[Received], uow: UnitOfWork) -> None:
        mine = [
            (r.event, r.envelope.event_id)
            for r in events
            if isinstance(r.event, NoteRecorded) and r.event.owner.startswith(self.prefix)
        ]
        await uow.conn.execute(
            "INSERT INTO note_effects (owner, seq, event_id) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[])",
            [e.owner for e, _ in mine],
            [e.seq for e, _ in mine],
            [i for _, i in mine],
        )
        self._seen(len(mine))


def example_runtime(
    settings: ExampleSettings, register: Callable[[Runtime], None] | None
) -> Runtime:
    """The example service's runtime the bench writes or consumes with."""
    return Runtime(
        settings,
        migrations=MigrationSet.from_folder("example", MIGRATIONS),
        register_consumers=register,
    )


async def counting_consumer(
    bootstrap: str, settings: ExampleSettings, counter: Counter, *, batch_handler: bool
) -> Callable[[Runtime], None]:
    """What registers ``counter`` (its batch or per-event handler) as a runtime's consumer, in
    a group of its own placed at the topic's end."""
    group = f"bench-{settings.schema_name}"
    await place_group_at_end(bootstrap, group, NoteRecorded.topic())

    def register(runtime: Runtime) -> None:
        if batch_handler:
            subscribe(runtime, consumer=group, events=[NoteRecorded], handle_many=counter.many)
        else:
            subscribe(runtime, consumer=group, events=[NoteRecorded], handler=counter.one)

    return register


async def run_scenario(database_url: str, bootstrap: str, scenario: Scenario) -> Result:
    settings = settings_for(database_url, bootstrap, scenario.writers)
    counter = Counter(uuid.uuid4().hex[:6], scenario.count)
    if scenario.consumer_process:
        consumer = ConsumerProcess(
            database_url,
            bootstrap,
            counter.prefix,
            scenario.count,
            batch_handler=scenario.batch_handler,
        )
        async with consumer:
            return await _produce(settings, scenario, counter, None, consumer.done)
    register = await counting_consumer(
        bootstrap, settings, counter, batch_handler=scenario.batch_handler
    )

    async def consumed() -> ConsumerDone:
        await asyncio.wait_for(counter.done.wait(), timeout=600)
        return ConsumerDone(time.time(), counter.calls, None)

    return await _produce(settings, scenario, counter, register, consumed)


async def _produce(
    settings: ExampleSettings,
    scenario: Scenario,
    counter: Counter,
    register: Callable[[Runtime], None] | None,
    consumed: Callable[[], Awaitable[ConsumerDone]],
) -> Result:
    """Write the scenario's events (the relay publishing them) and wait until ``consumed``
    reports them all handled; ``register`` adds the consumer to this process's runtime."""
    runtime = example_runtime(settings, register)
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.kafka_connected.wait(), 30)
        if register is not None:
            await asyncio.sleep(JOIN_SECONDS)  # partitions assigned
        if scenario.purge_backlog:
            await _fill_purge_backlog(runtime, scenario.purge_backlog)
        relay = runtime.relay
        assert relay is not None
        published_before = relay.published
        started, started_at, cpu = time.perf_counter(), time.time(), time.process_time()
        relayed = asyncio.create_task(_relayed(relay, published_before + scenario.count))
        await write_all(runtime, scenario, counter.prefix)
        written = time.perf_counter() - started
        done = await consumed()
        elapsed, cpu = done.at - started_at, time.process_time() - cpu
        purged = 0
        if scenario.purge_backlog:
            purged = scenario.purge_backlog - await runtime.db.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = 'purge-backlog'"
            )
        relay_seconds = (await relayed) - started
        shared, _ = runtime.shared_commits
        commits = shared if scenario.shared_commit else -(-scenario.count // scenario.per_tx)
        if scenario.batched_writes:
            commits = runtime.writes.batches_committed
        return Result(
            scenario.count / written,
            scenario.count / relay_seconds,
            scenario.count / elapsed,
            purged,
            commits,
            done.calls,
            cpu,
            done.cpu_s,
        )
    finally:
        await runtime.stop()


async def _relayed(relay: OutboxRelay, target: int) -> float:
    """When the relay had every event of the run acknowledged by the broker."""
    while relay.published < target:  # noqa: ASYNC110 - a bench probe polling a counter
        await asyncio.sleep(0.005)
    return time.perf_counter()


async def write_all(runtime: Runtime, scenario: Scenario, prefix: str) -> None:
    await asyncio.gather(*(_writer(runtime, scenario, prefix, i) for i in range(scenario.writers)))


async def place_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit ``group``'s offsets at the topic's current end, so its consumer reads only this
    run's events, not every earlier scenario's backlog."""
    await ensure_topics(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(100):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer.topics()  # refreshes the metadata
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no partitions for {topic}")


def envelope_size(prefix: str = "abcdef", seq: int = 10_000) -> int:
    """The size of one of the bench's events as the broker carries it (its envelope's bytes), so
    the raw baseline can send messages of the same size."""
    owner = f"{prefix}-{seq % 16}"
    note = NoteRecorded(note_id=seq, owner=owner, seq=seq, text="x" * 100)
    return len(encode_envelope(note, producer="bench", subject=owner)[2])


INSERT_NOTE = "INSERT INTO notes (owner, seq, text) VALUES ($1, $2, $3)"


async def _writer(runtime: Runtime, scenario: Scenario, prefix: str, index: int) -> None:
    """Single-event transactions insert their note; batched ones insert their notes with one
    statement, then record one event per note; batched writes submit each note and its event
    as one write and wait until it is durable."""
    per_tx, count = scenario.per_tx, scenario.count
    if scenario.batched_writes:
        writes = runtime.writes
        for seq in range(index, count, scenario.writers):
            owner = f"{prefix}-{seq % 16}"
            note = NoteRecorded(note_id=seq, owner=owner, seq=seq, text="x" * 100)
            await writes.write(INSERT_NOTE, owner, seq, "x" * 100, events=[Outgoing(note, owner)])
        return
    for first in range(index * per_tx, count, scenario.writers * per_tx):
        seqs = range(first, min(first + per_tx, count))
        owners = [f"{prefix}-{seq % 16}" for seq in seqs]
        async with runtime.uow(shared_commit=scenario.shared_commit) as uow:
            await uow.conn.execute(
                "INSERT INTO notes (owner, seq, text) "
                "SELECT o, s, $3 FROM unnest($1::text[], $2::int[]) AS n(o, s)",
                owners,
                list(seqs),
                "x" * 100,
            )
            for owner, seq in zip(owners, seqs, strict=True):
                uow.record(
                    NoteRecorded(note_id=seq, owner=owner, seq=seq, text="x" * 100), subject=owner
                )
            await uow.commit()


async def _fill_purge_backlog(runtime: Runtime, rows: int) -> None:
    """Sent outbox rows and inbox ids two hours old (past the bench's one-hour horizon), and a
    relay that purges every 0.2 s while the scenario runs."""
    async with runtime.db.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, message_key, envelope, sent_at) "
            "SELECT gen_random_uuid(), 'bench.old', 'k', '\\x00'::bytea, "
            "now() - interval '2 hours' FROM generate_series(1, $1)",
            rows,
        )
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id, topic, processed_at) "
            "SELECT 'purge-backlog', gen_random_uuid(), 'bench.old', now() - interval '2 hours' "
            "FROM generate_series(1, $1)",
            rows,
        )
    assert runtime.relay is not None
    runtime.relay.purge_interval = 0.2
    runtime.relay.purge_at = 0.0
