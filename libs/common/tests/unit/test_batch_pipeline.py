"""The consumer pipeline commits a batch's offsets only after it applied, and never skips one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, IllegalStateError
from common.messaging.consumer import fetched_meanwhile
from common.messaging.pipeline import BatchPipeline

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


def _records(*offsets: tuple[int, int]) -> list[ConsumerRecord[bytes, bytes]]:
    return [ConsumerRecord("t", p, o, 0, 0, b"k", b"v", None, 1, 1, ()) for p, o in offsets]


async def test_offsets_are_committed_after_the_batch_applied_to_just_after_its_last_message():
    kafka = RecordingConsumer()
    pipeline = BatchPipeline("tests")
    applied = asyncio.Event()

    async def work() -> None:
        assert kafka.commits == []
        applied.set()

    pipeline.start(kafka, _records((0, 5), (1, 7), (0, 6)), work())  # type: ignore[arg-type]
    assert await pipeline.ready(kafka)  # type: ignore[arg-type]
    assert applied.is_set()
    assert kafka.commits == [{TopicPartition("t", 0): 7, TopicPartition("t", 1): 8}]


async def test_a_failed_batch_is_read_again_and_the_next_one_is_not_applied():
    kafka = RecordingConsumer()
    pipeline = BatchPipeline("tests")

    async def failing() -> Any:
        raise RuntimeError("unexpected")

    pipeline.start(kafka, _records((0, 5), (0, 6), (2, 1)), failing())  # type: ignore[arg-type]
    assert not await pipeline.ready(kafka)  # type: ignore[arg-type]
    assert kafka.commits == []
    assert sorted(kafka.seeks) == [(TopicPartition("t", 0), 5), (TopicPartition("t", 2), 1)]


class BufferedConsumer:
    """A client holding records fetched while the previous batch committed."""

    def __init__(
        self, buffered: list[ConsumerRecord[bytes, bytes]], error: Exception | None = None
    ):
        self.buffered = buffered
        self.error = error
        self.asked: list[tuple[int, int]] = []

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        self.asked.append((timeout_ms, max_records))
        if self.error is not None:
            raise self.error
        taken, self.buffered = self.buffered[:max_records], self.buffered[max_records:]
        found: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in taken:
            found.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        return found


async def test_what_was_fetched_meanwhile_is_taken_without_waiting_up_to_the_room_left():
    kafka = BufferedConsumer(_records((0, 8), (0, 9), (1, 3)))
    taken = await fetched_meanwhile(kafka, 2)  # type: ignore[arg-type]
    assert [(r.partition, r.offset) for r in taken] == [(0, 8), (0, 9)]
    assert kafka.asked == [(0, 2)]
    assert await fetched_meanwhile(kafka, 0) == []  # type: ignore[arg-type]
    assert kafka.asked == [(0, 2)]  # a full batch does not ask


async def test_a_client_stopping_meanwhile_leaves_the_polled_batch_as_it_is():
    for error in (ConsumerStoppedError(), IllegalStateError("rebalancing")):
        kafka = BufferedConsumer(_records((0, 1)), error)
        assert await fetched_meanwhile(kafka, 10) == []  # type: ignore[arg-type]
