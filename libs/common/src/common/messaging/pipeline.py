"""Consuming with the next batch fetched and decoded while the previous one commits.

Rules:
- A subscriber's batches are applied strictly one after another: a batch's database work starts
  only after the previous batch's unit of work and offset commit finished. What overlaps is
  fetching and decoding the next batch (and dead-lettering its undecodable messages).
- Offsets are committed explicitly, per partition, to just after the batch's last message, and
  only after the batch's unit of work committed. A crash in between means redelivery, which the
  inbox absorbs; a failed offset commit (a rebalance) likewise.
- If a batch fails unexpectedly, the consumer seeks back to its first offsets and the batch
  fetched after it is not applied: both are read again, nothing is skipped.
- On stop, the batch in flight is finished before the consumer closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from common.logging import get_logger

log = get_logger(__name__)


class BatchPipeline:
    """The batch of one subscriber whose commit is in flight."""

    def __init__(self, consumer: str) -> None:
        self._consumer = consumer
        self._task: asyncio.Task[None] | None = None
        self._first: dict[TopicPartition, int] = {}

    async def ready(self, kafka: AIOKafkaConsumer) -> bool:
        """Wait for the previous batch; False when it failed (the consumer was sought back)."""
        task, self._task = self._task, None
        if task is None:
            return True
        try:
            await asyncio.shield(task)
        except Exception as exc:
            log.error("event_batch_failed", consumer=self._consumer, error=type(exc).__name__)
            for partition, offset in self._first.items():
                with contextlib.suppress(Exception):  # no longer assigned: its new owner reads it
                    kafka.seek(partition, offset)
            return False
        return True

    def start(
        self,
        kafka: AIOKafkaConsumer,
        records: Sequence[ConsumerRecord[bytes, bytes]],
        work: Awaitable[object],
    ) -> None:
        """Apply a batch in the background, then commit its offsets."""
        first: dict[TopicPartition, int] = {}
        last: dict[TopicPartition, int] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            first.setdefault(partition, record.offset)
            last[partition] = record.offset

        async def apply() -> None:
            await work
            try:
                await kafka.commit({p: offset + 1 for p, offset in last.items()})
            except Exception as exc:
                log.warning(
                    "event_offsets_not_committed", consumer=self._consumer, error=type(exc).__name__
                )

        self._first = first
        self._task = asyncio.get_running_loop().create_task(apply())

    async def drain(self, timeout: float = 10.0) -> None:
        """Let the batch in flight finish (on stop)."""
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=timeout)
