"""The consumer pipeline commits a batch's offsets only after it applied, and never skips one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
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
