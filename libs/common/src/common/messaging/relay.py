"""The outbox relay: publishes a schema's outbox rows to Kafka, in order per key, at least once.

Rules:
- One relay per schema leads at a time, holding a fenced lease (``common.messaging.lease``) on
  a connection it keeps; other replicas wait as standbys. It selects, renews and marks rows sent
  on that connection only, and stops publishing as soon as the lease may have lapsed.
- A row is marked sent only after the broker acknowledged it (acks=all), one UPDATE per round
  for every acknowledged row. Per partition one record batch is in flight at a time
  (``common.messaging.lanes``), so a failed send never lets a later event of its key through;
  after a failure the relay drains, backs off (capped exponential) and selects again.
- It pipelines: while batches wait for acknowledgement it selects the next rows and fills the
  other partitions' lanes.
- Ids are taken when a row is inserted, not when it commits, so a row can become visible after
  rows with higher ids. The relay reads ahead with an id cursor, but re-scans the unsent rows
  below it whenever it is idle and at least every ``gap_interval`` seconds: no
  "id > high-water mark" shortcut ever skips such a row.
- Commits wake the relay in-process (``RelayWakeup``) or by NOTIFY from other replicas; it
  lingers ``linger`` seconds (5 ms) after a wake-up so one select takes the rows of the
  commits around it; a poll interval covers a missed wake-up. The leader also purges rows
  past the redelivery horizon, in the background on its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from common.db.database import Database
from common.db.uow import outbox_channel
from common.logging import get_logger
from common.messaging.lanes import Partitioner
from common.messaging.lease import LeadershipLost, Lease
from common.messaging.purge import PURGE_CHUNK, purge_expired
from common.messaging.relay_round import DB_ERRORS, PublishRound

log = get_logger(__name__)
LINGER_SECONDS = 0.005
"""How long the relay waits after a commit's wake-up before it selects (its default)."""


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        batch_size: int = 1000,
        max_pending: int = 5000,
        poll_interval: float = 1.0,
        gap_interval: float = 0.25,
        max_backoff: float = 15.0,
        standby_interval: float = 1.0,
        lease_seconds: float = 5.0,
        redelivery_horizon: float | None = None,
        purge_interval: float = 30.0,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self._db = db
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._poll_interval = poll_interval
        self._gap_interval = gap_interval
        self._max_backoff = max_backoff
        self._standby_interval = standby_interval
        self._lease_seconds = lease_seconds
        self._horizon = redelivery_horizon
        self.purge_interval = purge_interval
        self.linger = linger
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._partitioner = Partitioner()
        self.is_leader = False
        self.published = 0
        self.lease_attempts = 0
        self.broker_reachable = False
        self.purged = (0, 0)
        self.purge_at = 0.0
        self.purge_task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """A commit happened in this process: look for new rows now."""
        self._wake.set()

    async def run(self) -> None:
        """Run until ``stop``: take the lease, then publish whenever rows are waiting."""
        while not self._stopping.is_set():
            try:
                async with self._db.pool.acquire() as conn:
                    self.lease_attempts += 1
                    lease = await Lease.acquire(conn, self.holder, self._lease_seconds)
                    if lease is None:
                        await self._sleep(self._standby_interval)
                        continue
                    await self._lead(conn, lease)
            except LeadershipLost as exc:
                log.warning("outbox_relay_leadership_lost", reason=str(exc))
            except DB_ERRORS as exc:
                log.warning("outbox_relay_db_unavailable", error=type(exc).__name__)
                await self._sleep(self._standby_interval)
            finally:
                self.is_leader = False
        if self.purge_task is not None:
            await asyncio.wait({self.purge_task}, timeout=5)
        await self._close_producer()

    async def _lead(self, conn: asyncpg.Connection, lease: Lease) -> None:
        self.is_leader = True
        log.info("outbox_relay_leading", generation=lease.generation)
        channel = outbox_channel(self._db.schema)
        await conn.add_listener(channel, self._on_notify)
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    await PublishRound(self, conn, lease, await self._ensure_producer()).run()
                    break
                except (LeadershipLost, *DB_ERRORS):
                    raise
                except Exception as exc:
                    failures += 1
                    self.broker_reachable = False
                    delay = min(self._max_backoff, 0.2 * 2**failures) * (0.5 + random.random())
                    log.warning("outbox_publish_failed", error=type(exc).__name__, retry_in=delay)
                    await self._close_producer()
                    await self._sleep(min(delay, lease.valid_until - time.monotonic()))
            with contextlib.suppress(*DB_ERRORS):
                await lease.release(conn)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.remove_listener(channel, self._on_notify)

    async def purge_once(self) -> None:
        """Delete one chunk of sent outbox rows and inbox ids past the redelivery horizon."""
        assert self._horizon is not None
        try:
            async with self._db.pool.acquire() as conn:
                self.purged = await purge_expired(conn, self._horizon)
        except DB_ERRORS as exc:
            log.warning("outbox_purge_failed", error=type(exc).__name__)
            return
        if max(self.purged) >= PURGE_CHUNK:
            self.purge_at = min(self.purge_at, time.monotonic() + min(1.0, self.purge_interval))

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))
        self._wake.clear()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
