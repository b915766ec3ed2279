"""The outbox relay: publishes a schema's outbox rows to Kafka, in order, at least once.

Rules:
- One relay per schema is active at a time (a Postgres advisory lock elects it), so rows are
  published in id order; other replicas wait as standbys.
- A row is marked sent only after the broker acknowledged it (acks=all). Per message key, only
  the rows before the first failure are marked, so a retry never overtakes an earlier event of
  the same key. While the broker is down the relay retries with capped exponential backoff and
  loses nothing.
- The trace context stored with each row becomes the parent of the publish span, whose W3C
  context goes into the Kafka headers.
- A commit wakes the relay at once (LISTEN/NOTIFY); a poll interval covers missed wake-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from common.db.database import Database
from common.db.uow import outbox_channel
from common.logging import get_logger
from common.tracing import carrier_to_kafka_headers, context_from_carrier, current_trace_carrier

log = get_logger(__name__)
_tracer = trace.get_tracer("coffre.outbox")


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 15.0,
        standby_interval: float = 3.0,
    ) -> None:
        self._db = db
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._standby_interval = standby_interval
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False
        self.published = 0
        self.broker_reachable = False

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Run until ``stop``: become leader, then publish whenever rows are waiting."""
        lock_key = zlib.crc32(f"outbox:{self._db.schema}".encode()) & 0x7FFFFFFF
        while not self._stopping.is_set():
            try:
                async with self._db.pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key):
                        await self._sleep(self._standby_interval)
                        continue
                    try:
                        await self._lead(conn)
                    finally:
                        self.is_leader = False
                        with contextlib.suppress(Exception):
                            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox_relay_db_unavailable", error=type(exc).__name__)
                await self._sleep(self._standby_interval)
        await self._close_producer()

    async def _lead(self, conn: asyncpg.Connection) -> None:
        self.is_leader = True
        channel = outbox_channel(self._db.schema)
        await conn.add_listener(channel, self._on_notify)
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    sent = await self.publish_pending()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    self.broker_reachable = False
                    delay = min(self._max_backoff, 0.2 * 2**failures) * (0.5 + random.random())
                    log.warning("outbox_publish_failed", error=type(exc).__name__, retry_in=delay)
                    await self._close_producer()
                    await self._sleep(delay)
                    continue
                if sent < self._batch_size:
                    await self._sleep(self._poll_interval)
        finally:
            with contextlib.suppress(Exception):
                await conn.remove_listener(channel, self._on_notify)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
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

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; return how many were marked sent."""
        rows = await self._db.fetch(
            "SELECT id, topic, message_key, envelope, headers FROM outbox "
            "WHERE sent_at IS NULL ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            return 0
        producer = await self._ensure_producer()
        futures = [await self._send(producer, row) for row in rows]
        results = await asyncio.gather(*futures, return_exceptions=True)
        sent_ids, failed = _sent_prefix_per_key(rows, results)
        if sent_ids:
            await self._db.fetch(
                "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
                sent_ids,
            )
        self.published += len(sent_ids)
        self.broker_reachable = not failed
        if failed:
            await self._db.fetch(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)",
                [row_id for row_id, _ in failed],
                type(failed[0][1]).__name__,
            )
            raise failed[0][1]
        return len(sent_ids)

    async def _send(self, producer: AIOKafkaProducer, row: asyncpg.Record) -> Any:
        parent = context_from_carrier(json.loads(row["headers"]))
        with _tracer.start_as_current_span(
            f"{row['topic']} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": row["topic"]},
        ):
            headers = carrier_to_kafka_headers(current_trace_carrier())
            return await producer.send(
                row["topic"],
                value=bytes(row["envelope"]),
                key=row["message_key"].encode(),
                headers=headers,
            )


def _sent_prefix_per_key(
    rows: Sequence[asyncpg.Record], results: Sequence[Any]
) -> tuple[list[int], list[tuple[int, BaseException]]]:
    """Rows acknowledged before the first failure of their key, and the failures."""
    blocked: set[str] = set()
    sent: list[int] = []
    failed: list[tuple[int, BaseException]] = []
    for row, result in zip(rows, results, strict=True):
        key = row["message_key"]
        if isinstance(result, BaseException):
            blocked.add(key)
            failed.append((row["id"], result))
        elif key not in blocked:
            sent.append(row["id"])
    return sent, failed
