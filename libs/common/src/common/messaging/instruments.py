"""The backbone's metrics: what the relay published, what consumers processed, how far behind
they are, what went to the dead-letter topic, and how much waits in each outbox.

Rules: labels are the service, the topic, the consumer group, the partition and an outcome —
never an event id, a key or a subject. Gauges that need a query (the outbox backlog) are
sampled by the runtime on a schedule and read from memory at scrape time, so a scrape never
touches Postgres.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from common.metrics import LATENCY_BUCKETS, meter

_meter = meter("coffre.messaging")

published = _meter.create_counter(
    "coffre.outbox.published", unit="{event}", description="Events the relay published."
)
consumed = _meter.create_counter(
    "coffre.consumer.events", unit="{event}", description="Events consumers handled, by outcome."
)
batch_size = _meter.create_histogram(
    "coffre.consumer.batch.size",
    unit="{event}",
    description="Events per consumed batch.",
    explicit_bucket_boundaries_advisory=[1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
)
batch_duration = _meter.create_histogram(
    "coffre.consumer.batch.duration",
    unit="s",
    description="Time to handle and commit one consumed batch.",
    explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS),
)
dead_lettered = _meter.create_counter(
    "coffre.dead_letters", unit="{event}", description="Events sent to the dead-letter topic."
)

_lag: dict[tuple[str, str, int], int] = {}
_backlog: dict[str, tuple[int, float]] = {}


def record_lag(group: str, topic: str, partition: int, lag: int) -> None:
    """Remember a partition's lag (high-water mark minus the next offset to consume)."""
    _lag[(group, topic, partition)] = max(lag, 0)


def observe_batch(
    group: str,
    records: Sequence[Any],
    outcomes: Mapping[int, str],
    seconds: float,
    highwater: Any,
) -> None:
    """Record one consumed batch: its size, its time, each event's outcome, and the lag left on
    each partition it read (``highwater(TopicPartition)`` of the Kafka consumer, or None)."""
    batch_size.record(len(records), {"group": group})
    batch_duration.record(seconds, {"group": group})
    for outcome, count in Counter(outcomes.values()).items():
        consumed.add(count, {"group": group, "outcome": outcome})
    last: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        last[key] = max(last.get(key, -1), record.offset)
    for (topic, partition), offset in last.items():
        mark = highwater(topic, partition)
        if mark is not None:
            record_lag(group, topic, partition, mark - offset - 1)


def record_backlog(service: str, unsent: int, oldest_age_seconds: float) -> None:
    """Remember a service's outbox backlog, as last sampled."""
    _backlog[service] = (unsent, oldest_age_seconds)


def _observe_lag(_: CallbackOptions) -> Iterable[Observation]:
    for (group, topic, partition), lag in list(_lag.items()):
        yield Observation(lag, {"group": group, "topic": topic, "partition": partition})


def _observe_backlog(_: CallbackOptions) -> Iterable[Observation]:
    for service, (unsent, _age) in list(_backlog.items()):
        yield Observation(unsent, {"service": service})


def _observe_oldest(_: CallbackOptions) -> Iterable[Observation]:
    for service, (_unsent, age) in list(_backlog.items()):
        yield Observation(age, {"service": service})


_meter.create_observable_gauge(
    "coffre.consumer.lag", [_observe_lag], unit="{event}", description="Consumer lag."
)
_meter.create_observable_gauge(
    "coffre.outbox.backlog", [_observe_backlog], unit="{event}", description="Unsent outbox rows."
)
_meter.create_observable_gauge(
    "coffre.outbox.oldest_unsent_age",
    [_observe_oldest],
    unit="s",
    description="Age of the oldest unsent outbox row (0 when none waits).",
)
