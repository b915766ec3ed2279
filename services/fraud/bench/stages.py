"""Runs the fraud service with a timer around each stage of a consumed batch (bench only).

Stages: ``fetch`` (the activity subscriber's poll, including its idle wait), ``decode``,
``wait`` (for the previous batch to commit), ``inbox`` (claim), ``load`` (locks and reads),
``score`` (pure Python, per event), ``write`` (set-based statements), ``publish`` (building one
outbox event), ``commit`` (outbox rows + COMMIT), ``offsets`` (Kafka offset commit) and
``batch`` (a whole batch's unit of work); ``committed`` is, per event, its event time (the
bench's ``x-bench-due`` header, wall clock) → the commit of its batch; ``gc`` is each garbage
collection (all generations) and ``lag`` how late the event loop wakes a 5 ms timer: every stage
above is wall time in one event loop, so a stage that awaits (``fetch``, ``wait``) also counts
the time the loop spends running the other tasks' synchronous stretches, which ``lag`` shows. On
SIGUSR1 (numbered files) and at exit it writes, per stage, the calls, the total seconds and the
p50 / p99 / max of one call to the JSON file named by ``FRAUD_BENCH_STAGES``, then starts over;
``records`` holds the sizes of the batches applied. Production code never imports this module.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import gc
import json
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

SPANS: dict[str, list[float]] = defaultdict(list)
SIZES: list[int] = []
COMMITTED: list[float] = []
"""Per event: seconds from its event time (the ``x-bench-due`` header) to its batch's commit."""


def _timed_async(owner: Any, name: str, stage: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            SPANS[stage].append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def _timed_sync(owner: Any, name: str, stage: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPANS[stage].append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def _is_activity(group: object) -> bool:
    """Whether a consumer group is the activity subscriber's (the one the bench loads)."""
    return str(group).endswith(".activity")


def _timed_fetch(owner: Any) -> None:
    """Time the activity subscriber's polls only: the security and erasure subscribers idle
    through the bench, and each of their empty polls (a 100 ms wait, then as long a pause)
    would otherwise count as a 200 ms fetch."""
    original = owner.get_msg

    async def get_msg(self: Any, consumer: Any) -> Any:
        started = time.perf_counter()
        records = await original(self, consumer)
        if not _is_activity(self.group_id):
            return records
        SPANS["fetch"].append(time.perf_counter() - started)
        return records

    owner.get_msg = get_msg


def _committed(owner: Any) -> None:
    """After a batch's unit of work committed: each event's event time → now; the activity
    subscriber's batch sizes as applied (what was polled and what joined it meanwhile)."""
    original = owner.apply

    async def apply(self: Any, deliveries: Any) -> Any:
        if _is_activity(self._consumer) and deliveries:
            SIZES.append(len(deliveries))
        started = time.perf_counter()
        try:
            return await original(self, deliveries)
        finally:
            SPANS["batch"].append(time.perf_counter() - started)
            now = time.time()
            for delivery in deliveries:
                due = dict(delivery.source.headers).get("x-bench-due")
                if due is not None:
                    COMMITTED.append(now - float(due))

    owner.apply = apply


def _collections() -> None:
    """Time every garbage collection (``gc`` stage)."""
    started = 0.0

    def callback(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            SPANS["gc"].append(time.perf_counter() - started)

    gc.callbacks.append(callback)


async def _loop_lag() -> None:
    """How late a 5 ms timer fires (``lag`` stage): the loop's longest synchronous stretches."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        SPANS["lag"].append(time.perf_counter() - started - 0.005)


def _lag_probe(owner: Any) -> None:
    """Start the lag probe on the service's loop when its broker starts."""
    original = owner.start

    async def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _PROBE
        if _PROBE is None:
            _PROBE = asyncio.get_running_loop().create_task(_loop_lag())
        return await original(self, *args, **kwargs)

    owner.start = start


_PROBE: asyncio.Task[None] | None = None


def install() -> None:
    from aiokafka import AIOKafkaConsumer
    from common.db.uow import UnitOfWork
    from common.messaging import consumer, pipeline
    from faststream.kafka import KafkaBroker
    from faststream.kafka.subscriber.usecase import BatchSubscriber
    from fraud.adapters.pg_scoring import PgScoring
    from fraud.service import batch, scoring

    _collections()
    _lag_probe(KafkaBroker)
    _timed_fetch(BatchSubscriber)
    _timed_async(consumer.ConsumerBatch, "decode", "decode")
    _timed_async(pipeline.BatchPipeline, "ready", "wait")
    _committed(consumer.ConsumerBatch)
    _timed_async(UnitOfWork, "claim_inbox_many", "inbox")
    _timed_async(scoring, "_load", "load")
    _timed_sync(batch.ScoringBatch, "score", "score")
    _timed_async(PgScoring, "record_many", "write")
    _timed_sync(scoring, "_publish", "publish")
    _timed_async(UnitOfWork, "commit", "commit")
    _timed_async(AIOKafkaConsumer, "commit", "offsets")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def dump(path: str) -> None:
    report: dict[str, Any] = {
        stage: {
            "calls": len(values),
            "total_s": sum(values),
            "p50_ms": _pct(values, 50) * 1000,
            "p99_ms": _pct(values, 99) * 1000,
            "max_ms": max(values, default=0.0) * 1000,
        }
        for stage, values in SPANS.items()
    }
    report["records"] = {
        "batches": len(SIZES),
        "mean": sum(SIZES) / max(len(SIZES), 1),
        "p50": _pct([float(s) for s in SIZES], 50),
        "max": max(SIZES, default=0),
    }
    report["committed"] = {
        "events": len(COMMITTED),
        "p50_ms": _pct(COMMITTED, 50) * 1000,
        "p99_ms": _pct(COMMITTED, 99) * 1000,
        "max_ms": max(COMMITTED, default=0.0) * 1000,
    }
    with open(path, "w") as out:
        json.dump(report, out)
    SPANS.clear()
    SIZES.clear()
    COMMITTED.clear()


def _on_signal(path: str) -> None:
    """SIGUSR1: write what was measured since the last signal to ``path``.N, then start over."""
    count = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal count
        count += 1
        dump(f"{path}.{count}")

    signal.signal(signal.SIGUSR1, handler)


def main() -> None:
    install()
    path = os.environ["FRAUD_BENCH_STAGES"]
    _on_signal(path)
    atexit.register(dump, path)
    from fraud.entrypoints.main import main as serve

    serve()


if __name__ == "__main__":
    main()
