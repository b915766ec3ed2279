"""The fraud bench's open-loop load: events sent on a fixed schedule, scores read back.

Rules: the producer never waits for a score before sending the next event (open loop): event
``i`` of a phase is due at ``start + i / rate`` and its latency counts from that due time, so a
producer that falls behind its schedule cannot hide a slow service (no coordinated omission);
each event carries its due time (wall clock, ``x-bench-due``) for the service-side timer;
the backlog is the number of events due but not yet scored, sampled while the phase runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from common.events.fraud import TransactionScored

Message = tuple[str, bytes, bytes, str]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Scored:
    """Reads TransactionScored and records when each activity's score arrived (wall clock)."""

    def __init__(
        self, bootstrap: str, topic: str = TransactionScored.topic(), fetch_max_wait_ms: int = 5
    ) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"bench-scored-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            session_timeout_ms=2000,
            heartbeat_interval_ms=300,
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_poll_records=5000,
        )
        self.arrived: dict[str, float] = {}
        self.order: list[str] = []
        """Each ref once, in the order its score arrived (the backlog counts from it)."""
        self.decisions: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self.raw = topic != TransactionScored.topic()

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=20)
            now = time.time()
            for records in batches.values():
                for record in records:
                    if self.raw:
                        assert record.key is not None
                        self._arrived(record.key.decode(), now)
                        continue
                    payload = json.loads(record.value)["payload"]
                    self._arrived(payload["activity_ref"], now)
                    self.decisions[payload["activity_ref"]] = payload["decision"]

    def _arrived(self, ref: str, now: float) -> None:
        if ref not in self.arrived:
            self.arrived[ref] = now
            self.order.append(ref)

    async def wait_for(self, refs: list[str], timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(ref in self.arrived for ref in refs):
                return
            await asyncio.sleep(0.05)
        missing = sum(1 for ref in refs if ref not in self.arrived)
        raise TimeoutError(f"{missing} events were not scored within {timeout} s")


@dataclass
class Offered:
    """What one phase sent: each ref's due time, and how far the producer fell behind (an event
    leaves at the first tick after it is due, so up to one tick of that is by design)."""

    due: dict[str, float] = field(default_factory=dict)
    behind_max_s: float = 0.0
    first_sent: float = 0.0
    last_sent: float = 0.0
    backlog: list[tuple[float, int]] = field(default_factory=list)
    scored: int = 0
    """How many of this phase's events have a score, counted up to ``counted`` arrivals."""
    counted: int = 0

    @property
    def sent_per_second(self) -> float:
        return len(self.due) / max(self.last_sent - self.first_sent, 1e-9)


async def offer(
    producer: AIOKafkaProducer,
    messages: list[Message],
    rate: float | None,
    scored: Scored,
    tick: float,
) -> Offered:
    """Send at ``rate`` events/s on a fixed schedule (None: all at once), sampling the backlog
    (due but not scored) every 100 ms while sending. Events leave as the outbox relays of
    payments and aggregation, which publish them, send theirs: every ``tick`` seconds (their
    linger after a commit), what is due by then goes as one record batch per partition (one
    that fills up goes at once and the next starts). Each key's partition is worked out once
    (as the producer would, by the key's hash), not for every event it sends."""
    offered = Offered()
    partitions: dict[tuple[str, bytes], int] = {}
    sampler = asyncio.create_task(_sample_backlog(offered, scored))
    futures: list[asyncio.Future[Any]] = []
    started = time.time()
    offered.first_sent = started
    index = 0
    try:
        while index < len(messages):
            now = time.time()
            batches: dict[tuple[str, int], BatchBuilder] = {}
            while index < len(messages):
                due = started + index / rate if rate is not None else now
                if due > now:
                    break
                topic, value, key, ref = messages[index]
                partition = partitions.get((topic, key))
                if partition is None:
                    partition = partitions[(topic, key)] = await _partition(producer, topic, key)
                offered.due[ref] = due
                offered.behind_max_s = max(offered.behind_max_s, now - due)
                headers = [("x-bench-due", repr(due).encode())]
                batch = batches.get((topic, partition))
                if batch is None:
                    batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    batch.close()
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
                batches[(topic, partition)] = batch
                index += 1
            for (topic, partition), batch in batches.items():
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            if index < len(messages) and rate is not None:
                next_due = started + index / rate
                await asyncio.sleep(max(next_due - time.time(), now + tick - time.time(), 0))
        offered.last_sent = time.time()
        await asyncio.gather(*futures)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    offered.backlog.append((time.time() - started, _backlog(offered, scored)))
    return offered


async def _partition(producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
    """The partition the producer's default partitioner gives ``key``."""
    every = sorted(await producer.partitions_for(topic))
    return int(DefaultPartitioner()(key, every, every))


def _backlog(offered: Offered, scored: Scored) -> int:
    """Events due but not scored: only the scores arrived since the last count are looked at."""
    for ref in scored.order[offered.counted :]:
        if ref in offered.due:
            offered.scored += 1
    offered.counted = len(scored.order)
    return len(offered.due) - offered.scored


async def _sample_backlog(offered: Offered, scored: Scored) -> None:
    started = time.time()
    while True:
        await asyncio.sleep(0.1)
        offered.backlog.append((time.time() - started, _backlog(offered, scored)))


@dataclass
class Phase:
    """One phase's figures: rate scored, latency from event time to the score on the broker."""

    scored_per_second: float
    p50_ms: float
    p99_ms: float
    offered: Offered

    @property
    def count(self) -> int:
        return len(self.offered.due)

    def backlog_at(self, share: float) -> int:
        """The backlog sampled at ``share`` of the sending window (1.0: when sending ended)."""
        samples = self.offered.backlog
        if not samples:
            return 0
        window = self.offered.last_sent - self.offered.first_sent
        eligible = [n for at, n in samples if at <= share * window + 1e-6]
        return eligible[-1] if eligible else samples[0][1]

    def backlog_trend(self) -> float:
        """How fast the backlog grew over the second half of the sending window, in events per
        second (least squares over its 100 ms samples; below zero: it shrank). Two samples
        alone (half-way, end) follow the noise of single batches; a service that keeps up
        shows a trend near zero, one that falls behind the shortfall of its rate."""
        window = self.offered.last_sent - self.offered.first_sent
        points = [(at, n) for at, n in self.offered.backlog if window / 2 <= at <= window + 1e-6]
        if len(points) < 2:
            return 0.0
        mean_t = sum(t for t, _ in points) / len(points)
        mean_n = sum(n for _, n in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        if spread == 0:
            return 0.0
        return sum((t - mean_t) * (n - mean_n) for t, n in points) / spread


def measure(offered: Offered, scored: Scored) -> Phase:
    due = offered.due
    latencies = [(scored.arrived[ref] - at) * 1000 for ref, at in due.items()]
    first, last = min(due.values()), max(scored.arrived[ref] for ref in due)
    rate = len(due) / max(last - first, 1e-9)
    return Phase(rate, pct(latencies, 50), pct(latencies, 99), offered)
