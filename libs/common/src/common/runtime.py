"""A service process's infrastructure: pool, migrations, outbox relay, producer and consumers.

Rules: nothing opens at import; ``start`` runs in the application lifespan. Postgres must be
reachable to start (migrations run first, under an advisory lock). The broker need not be: the
service accepts work into its outbox at once, and the relay and consumers connect in the
background with retries, readiness reporting the broker until they do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from common.db.batched_writes import BatchedWrites
from common.db.database import Database
from common.db.group_commit import GroupCommitter, SharedCommitUnitOfWork
from common.db.migrations import MigrationSet, migrate
from common.db.uow import UnitOfWork
from common.logging import get_logger
from common.messaging.kafka import create_broker, create_producer
from common.messaging.outbox_sampler import sample_outbox_forever
from common.messaging.pipeline import BatchPipeline
from common.messaging.relay import OutboxRelay
from common.messaging.wakeup import RelayWakeup
from common.settings import ServiceSettings

log = get_logger(__name__)

RuntimeHook = Callable[["Runtime"], Awaitable[None] | None]


class Runtime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations: MigrationSet | None = None,
        register_consumers: Callable[[Runtime], None] | None = None,
        run_relay: bool = True,
    ) -> None:
        self.settings = settings
        self.migrations = migrations
        self.broker: KafkaBroker = create_broker(settings)
        self._register_consumers = register_consumers
        self._run_relay = run_relay
        self._db: Database | None = None
        self._producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.wakeup: RelayWakeup | None = None
        self._committer: GroupCommitter | None = None
        self._writes: BatchedWrites | None = None
        self.consumer_pipelines: list[BatchPipeline] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.kafka_connected = asyncio.Event()
        self.extras: dict[str, Any] = {}

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the runtime is not started")
        return self._db

    def uow(self, *, shared_commit: bool = False) -> UnitOfWork:
        """A unit of work; with ``shared_commit`` it shares its commit with concurrent ones
        (``common.db.group_commit``: for short, database-only units of work)."""
        if shared_commit:
            if self._committer is None:
                self._committer = GroupCommitter(self.db)
            return SharedCommitUnitOfWork(
                self.db,
                self._committer,
                producer=self.settings.service_name,
                max_event_bytes=self.settings.max_event_bytes,
                on_commit=self.wakeup,
            )
        return UnitOfWork(
            self.db,
            producer=self.settings.service_name,
            max_event_bytes=self.settings.max_event_bytes,
            on_commit=self.wakeup,
        )

    @property
    def writes(self) -> BatchedWrites:
        """The batched-write path (``common.db.batched_writes``): concurrent single-statement
        writes and their events share one transaction and one commit."""
        if self._writes is None:
            self._writes = BatchedWrites(
                self.db,
                producer=self.settings.service_name,
                max_event_bytes=self.settings.max_event_bytes,
                on_commit=self.wakeup,
            )
        return self._writes

    @property
    def shared_commits(self) -> tuple[int, int]:
        """How many shared commits happened, and how many units of work they committed."""
        if self._committer is None:
            return 0, 0
        return self._committer.groups_committed, self._committer.members_committed

    def producer_for_dead_letters(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the Kafka producer is not connected yet")
        return self._producer

    async def start(self) -> None:
        s = self.settings
        self._db = await Database.connect(
            s.database_url.get_secret_value(),
            s.schema_name,
            min_size=s.db_pool_min,
            max_size=s.db_pool_max,
            app=s.service_name,
        )
        applied = await migrate(self._db, *([self.migrations] if self.migrations else []))
        if applied:
            log.info("migrations_applied", migrations=applied)
        if self._register_consumers is not None:
            self._register_consumers(self)
        self.wakeup = RelayWakeup(self._db)
        if self._run_relay:
            self.relay = OutboxRelay(
                self._db,
                lambda: create_producer(s, client_suffix="relay", max_batch_size=262_144),
                lease_seconds=s.relay_lease_seconds,
                redelivery_horizon=s.redelivery_horizon_seconds,
            )
            relay = self.relay
            self.wakeup.attach(relay.wake, lambda: relay.is_leader)
            self._tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        self._tasks.append(asyncio.create_task(self._connect_kafka(), name="kafka-connect"))
        sampler = sample_outbox_forever(self._db, s.service_name, s.metrics_sample_seconds)
        self._tasks.append(asyncio.create_task(sampler, name="outbox-sampler"))

    async def _connect_kafka(self) -> None:
        delay = 0.2
        while True:
            producer = create_producer(self.settings)
            try:
                await producer.start()
                self._producer = producer
                break
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("kafka_unavailable", error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        while True:
            try:
                await self.broker.start()
                break
            except Exception as exc:
                log.warning("kafka_consumers_unavailable", error=type(exc).__name__, exc_info=True)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
        self.kafka_connected.set()
        log.info("kafka_connected", bootstrap=self.settings.kafka_bootstrap_servers)

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "broker": False}
        with contextlib.suppress(Exception):
            checks["database"] = await asyncio.wait_for(self.db.ping(), 2)
        if self._producer is not None and self.kafka_connected.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._broker_round_trip(self._producer), 2)
                checks["broker"] = True
        return checks

    @staticmethod
    async def _broker_round_trip(producer: AIOKafkaProducer) -> None:
        """Ask the broker for fresh metadata: cached metadata would hide an outage."""
        await producer.client.fetch_all_metadata()

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        for task in self._tasks:
            if task.get_name() != "outbox-relay":
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 10)
        for pipeline in self.consumer_pipelines:
            await pipeline.drain()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        for pipeline in self.consumer_pipelines:  # a batch taken while the broker stopped
            await pipeline.drain()
        if self._committer is not None:
            await self._committer.close()
        if self._writes is not None:
            await self._writes.close()
        if self.wakeup is not None:
            await self.wakeup.close()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        if self._db is not None:
            await self._db.close()
