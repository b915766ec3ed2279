"""Runs the fraud service with a timer around each stage of a consumed batch (bench only).

Stages: ``fetch`` (the subscriber's poll, including its idle wait), ``decode``, ``wait`` (for
the previous batch to commit), ``inbox`` (claim), ``load`` (locks and reads), ``score`` (pure
Python, per batch), ``write`` (set-based statements), ``publish`` (building the outbox events),
``commit`` (outbox rows + COMMIT), ``offsets`` (Kafka offset commit) and ``batch`` (a whole
batch's unit of work); ``committed`` is, per event, its event time (the bench's ``x-bench-due``
header, wall clock) → the commit of its batch. On SIGUSR1 (numbered files) and at exit it
writes, per stage, the calls, the total seconds and the p50/p99 of one call to the JSON file
named by ``FRAUD_BENCH_STAGES``, then starts over; ``records`` holds the sizes of the batches
polled. Production code never imports this module.
"""

from __future__ import annotations

import atexit
import functools
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


def _sized_fetch(owner: Any) -> None:
    original = owner.get_msg

    async def get_msg(self: Any, consumer: Any) -> Any:
        started = time.perf_counter()
        records = await original(self, consumer)
        SPANS["fetch"].append(time.perf_counter() - started)
        if records:
            SIZES.append(len(records))
        return records

    owner.get_msg = get_msg


def _committed(owner: Any) -> None:
    """After a batch's unit of work committed: each event's event time → now."""
    original = owner.apply

    async def apply(self: Any, deliveries: Any) -> Any:
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


def install() -> None:
    from aiokafka import AIOKafkaConsumer
    from common.db.uow import UnitOfWork
    from common.messaging import consumer, pipeline
    from faststream.kafka.subscriber.usecase import BatchSubscriber
    from fraud.adapters.pg_scoring import PgScoring
    from fraud.service import batch, scoring

    _sized_fetch(BatchSubscriber)
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
