"""A relay lane keeps one record batch in flight; after a failure nothing later in it is sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from common.messaging.lanes import Lane, OutboxRow

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class TwoPerBatch:
    def __init__(self) -> None:
        self.rows: list[bytes] = []

    def append(self, *, key: bytes, value: bytes, timestamp: Any, headers: Any) -> object | None:
        if len(self.rows) == 2:
            return None
        self.rows.append(value)
        return object()

    def close(self) -> None:
        pass


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []
        self.futures: list[asyncio.Future[Any]] = []

    def create_batch(self) -> TwoPerBatch:
        return TwoPerBatch()

    async def send_batch(self, batch: TwoPerBatch, topic: str, *, partition: int) -> Any:
        self.sent.append(batch.rows)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future


def _row(i: int) -> OutboxRow:
    return OutboxRow(i, "t", b"key", f"e{i}".encode(), None, None)


async def test_the_next_batch_of_a_lane_waits_for_the_previous_acknowledgement():
    producer, lane = FakeProducer(), Lane("t", 0)
    lane.queue.extend(_row(i) for i in range(1, 6))
    await lane.launch(producer)  # type: ignore[arg-type]
    await lane.launch(producer)  # type: ignore[arg-type]
    assert producer.sent == [[b"e1", b"e2"]]
    producer.futures[0].set_result(None)
    assert lane.settle() == ([1, 2], None)
    await lane.launch(producer)  # type: ignore[arg-type]
    assert producer.sent[-1] == [b"e3", b"e4"]


async def test_after_a_failed_batch_nothing_later_of_the_lane_is_sent():
    producer, lane = FakeProducer(), Lane("t", 0)
    lane.queue.extend(_row(i) for i in range(1, 6))
    await lane.launch(producer)  # type: ignore[arg-type]
    boom = TimeoutError("produce timed out")
    producer.futures[0].set_exception(boom)
    ids, error = lane.settle()
    assert (ids, error) == ([1, 2], boom)
    await lane.launch(producer)  # type: ignore[arg-type]
    assert producer.sent == [[b"e1", b"e2"]], "e3.. must wait for e1 and e2 to be re-sent first"
    assert not lane.queue
