"""Per-partition send lanes of the outbox relay.

Rules:
- Rows go to the partition their key hashes to (the Kafka client's own partitioner), so a lane
  holds every row of its keys, in id order.
- A lane has at most one chunk in flight; its next chunk is sent only after the broker
  acknowledged the previous one. A record batch is appended atomically, so when a chunk fails
  nothing after it in that lane was sent: a retry can never let e2 overtake e1.
- Each chunk is published in one span, linked to the trace context of every row in it; each
  message carries its own row's W3C context in its headers, so consumers continue the trace of
  the request that recorded the event.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

_tracer = trace.get_tracer("coffre.outbox")
MAX_LINKS = 128


class OutboxRow(NamedTuple):
    id: int
    topic: str
    key: bytes
    value: bytes
    traceparent: str | None
    tracestate: str | None

    def headers(self) -> list[tuple[str, bytes]]:
        headers = []
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        if self.tracestate:
            headers.append(("tracestate", self.tracestate.encode()))
        return headers


@dataclass
class Chunk:
    ids: list[int]
    future: asyncio.Future[Any]
    span: trace.Span


@dataclass
class Lane:
    topic: str
    partition: int
    queue: deque[OutboxRow] = field(default_factory=deque)
    in_flight: Chunk | None = None

    async def launch(self, producer: AIOKafkaProducer) -> None:
        """Send the head of the queue as one record batch, if nothing is in flight."""
        if self.in_flight is not None or not self.queue:
            return
        batch = producer.create_batch()
        rows: list[OutboxRow] = []
        while self.queue:
            row = self.queue[0]
            if batch.append(key=row.key, value=row.value, timestamp=None, headers=row.headers()):
                rows.append(self.queue.popleft())
            elif rows:
                break
            else:
                raise ValueError(f"outbox row {row.id} does not fit in an empty record batch")
        batch.close()
        span = _tracer.start_span(
            f"{self.topic} publish",
            kind=SpanKind.PRODUCER,
            links=_links(rows),
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self.topic,
                "messaging.destination.partition.id": str(self.partition),
                "messaging.batch.message_count": len(rows),
            },
        )
        future = await producer.send_batch(batch, self.topic, partition=self.partition)
        self.in_flight = Chunk([r.id for r in rows], future, span)

    def settle(self) -> tuple[list[int], BaseException | None]:
        """The ids of a finished chunk, or the error it failed with (the queue is then dropped:
        those rows stay unsent and are selected again, in order, after a backoff)."""
        chunk = self.in_flight
        assert chunk is not None
        assert chunk.future.done()
        self.in_flight = None
        error = chunk.future.exception()
        if error is not None:
            chunk.span.record_exception(error)
            chunk.span.set_status(trace.StatusCode.ERROR, type(error).__name__)
            chunk.span.end()
            self.queue.clear()
            return chunk.ids, error
        chunk.span.end()
        return chunk.ids, None


class Partitioner:
    """The partition of a key, as the Kafka client computes it, cached per key; a topic's
    partitions are read from the client's metadata at most every ``refresh`` seconds (reading
    them builds a new set each time)."""

    def __init__(self, refresh: float = 1.0) -> None:
        self._cache: dict[tuple[str, int, bytes], int] = {}
        self._partitions: dict[str, tuple[float, list[int]]] = {}
        self._refresh = refresh

    async def partition(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        known = self._partitions.get(topic)
        now = time.monotonic()
        if known is None or now - known[0] > self._refresh:
            known = self._partitions[topic] = (now, sorted(await producer.partitions_for(topic)))
        partitions = known[1]
        cache_key = (topic, len(partitions), key)
        found = self._cache.get(cache_key)
        if found is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            found = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
            self._cache[cache_key] = found
        return found


def _links(rows: list[OutboxRow]) -> list[Link]:
    links = []
    for row in rows[:MAX_LINKS]:
        context = span_context(row.traceparent)
        if context is not None:
            links.append(Link(context))
    return links


def span_context(traceparent: str | None) -> SpanContext | None:
    """A remote span context from a W3C traceparent, or None when it is malformed."""
    parts = (traceparent or "").split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        return SpanContext(
            int(parts[1], 16), int(parts[2], 16), True, TraceFlags(int(parts[3], 16) & 1)
        )
    except ValueError:
        return None
