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
- Commits wake the relay in-process (``RelayWakeup``) or by NOTIFY from other replicas; a poll
  interval covers a missed wake-up. The leader also purges rows past the redelivery horizon.
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
from common.messaging.lanes import Lane, OutboxRow, Partitioner
from common.messaging.lease import LeadershipLost, Lease
from common.messaging.purge import PURGE_CHUNK, purge_expired

log = get_logger(__name__)
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
_SELECT = (
    "SELECT id, topic, message_key, envelope, headers->>'traceparent' AS tp, "
    "headers->>'tracestate' AS ts FROM outbox WHERE sent_at IS NULL AND id > $1 "
    "ORDER BY id LIMIT $2"
)
_SELECT_IDS_BELOW = "SELECT id FROM outbox WHERE sent_at IS NULL AND id <= $1"
_SELECT_BY_IDS = (
    "SELECT id, topic, message_key, envelope, headers->>'traceparent' AS tp, "
    "headers->>'tracestate' AS ts FROM outbox WHERE id = ANY($1::bigint[]) AND sent_at IS NULL "
    "ORDER BY id"
)
_MARK_FAILED = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])"
)


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
                    await _Round(self, conn, lease, await self._ensure_producer()).run()
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


class _Round:
    """One stretch of leadership with one producer: runs until stop, or raises on a failure."""

    def __init__(
        self, relay: OutboxRelay, conn: asyncpg.Connection, lease: Lease, producer: AIOKafkaProducer
    ) -> None:
        self.relay = relay
        self.conn = conn
        self.lease = lease
        self.producer = producer
        self.lanes: dict[tuple[str, int], Lane] = {}
        self.pending: set[int] = set()
        self.cursor = 0
        self.gap_checked = 0.0
        self.error: BaseException | None = None

    async def run(self) -> None:
        relay = self.relay
        while not relay._stopping.is_set():
            await self.lease.keep(self.conn)
            fetched = await self._select() if len(self.pending) < relay._max_pending else 0
            self.lease.check()
            for lane in self.lanes.values():
                await lane.launch(self.producer)
            if fetched < relay._batch_size or len(self.pending) >= relay._max_pending:
                await self._wait()
            await self._settle()
            if self.error is not None:
                await self._drain_and_raise()
            relay.broker_reachable = True
            await self._purge_if_due()
        await self._finish()

    async def _select(self) -> int:
        rows = await self.conn.fetch(_SELECT, self.cursor, self.relay._batch_size)
        if rows:
            self.cursor = rows[-1]["id"]
        for row in rows:
            await self._enqueue(row)
        count = len(rows)
        now = time.monotonic()
        idle = count == 0 and len(self.pending) == 0
        if idle or now - self.gap_checked > self.relay._gap_interval:
            self.gap_checked = now
            for row in await self._late_rows():
                await self._enqueue(row)
        return count

    async def _late_rows(self) -> list[asyncpg.Record]:
        """Unsent rows below the cursor that are not in flight: committed after later ids."""
        below = await self.conn.fetch(_SELECT_IDS_BELOW, self.cursor)
        late = [r["id"] for r in below if r["id"] not in self.pending]
        if not late:
            return []
        log.info("outbox_late_rows", count=len(late))
        return list(await self.conn.fetch(_SELECT_BY_IDS, late))

    async def _enqueue(self, record: asyncpg.Record) -> None:
        row = OutboxRow(
            record["id"],
            record["topic"],
            record["message_key"].encode(),
            bytes(record["envelope"]),
            record["tp"],
            record["ts"],
        )
        partition = await self.relay._partitioner.partition(self.producer, row.topic, row.key)
        lane = self.lanes.get((row.topic, partition))
        if lane is None:
            lane = self.lanes[(row.topic, partition)] = Lane(row.topic, partition)
        lane.queue.append(row)
        self.pending.add(row.id)

    async def _wait(self) -> None:
        """Until a chunk is acknowledged, a commit wakes us, or the poll interval passes."""
        futures: list[asyncio.Future[Any]] = [
            lane.in_flight.future for lane in self.lanes.values() if lane.in_flight is not None
        ]
        waker = asyncio.ensure_future(self.relay._wake.wait())
        try:
            timeout = min(self.relay._poll_interval, self.lease.renew_at - time.monotonic())
            await asyncio.wait(
                [*futures, waker], timeout=max(timeout, 0.0), return_when="FIRST_COMPLETED"
            )
        finally:
            waker.cancel()
        self.relay._wake.clear()

    async def _settle(self) -> None:
        acked: list[int] = []
        failed: list[int] = []
        for lane in self.lanes.values():
            if lane.in_flight is not None and lane.in_flight.future.done():
                ids, error = lane.settle()
                (failed if error else acked).extend(ids)
                if error is not None:
                    self.error = self.error or error
        if acked:
            await self.lease.mark_sent(self.conn, acked)
            self.relay.published += len(acked)
        self.pending.difference_update(acked)
        if failed:
            await self.conn.execute(_MARK_FAILED, failed, type(self.error).__name__)
            self.pending.difference_update(failed)

    async def _drain_and_raise(self) -> None:
        """Let chunks already in flight finish (their rows are marked), then fail the round."""
        futures = [lane.in_flight.future for lane in self.lanes.values() if lane.in_flight]
        if futures:
            await asyncio.wait(futures, timeout=max(self.lease.valid_until - time.monotonic(), 0))
        await self._settle()
        assert self.error is not None
        raise self.error

    async def _finish(self) -> None:
        """On stop: give chunks in flight a moment, and mark those acknowledged."""
        futures = [lane.in_flight.future for lane in self.lanes.values() if lane.in_flight]
        if futures:
            await asyncio.wait(futures, timeout=2.0)
        with contextlib.suppress(LeadershipLost, *DB_ERRORS):
            await self._settle()

    async def _purge_if_due(self) -> None:
        relay = self.relay
        if relay._horizon is None or time.monotonic() < relay.purge_at:
            return
        relay.purged = await purge_expired(self.conn, relay._horizon)
        full = max(relay.purged) >= PURGE_CHUNK
        relay.purge_at = time.monotonic() + (
            min(1.0, relay.purge_interval) if full else relay.purge_interval
        )
