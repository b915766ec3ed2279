"""Reading what really reached the broker, for assertions in integration tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from coffre_testing.waiting import patient


async def collect(
    bootstrap_servers: str,
    topic: str,
    *,
    count: int,
    timeout: float = 20.0,
    where: Callable[[ConsumerRecord[bytes, bytes]], bool] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``count`` matching records arrived or time is up."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"probe-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patient(timeout)
    try:
        while len(found) < count and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found.extend(r for r in records if where is None or where(r))
    finally:
        await consumer.stop()
    return found


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


async def group_caught_up(bootstrap_servers: str, group: str, topic: str) -> bool:
    """True when ``group`` has committed, on every partition of ``topic``, the end offset.

    After that, nothing the group consumes can still change (no redelivery is pending), so a
    test can assert on effects without sleeping first."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        for partition in partitions:
            if (await consumer.committed(partition) or 0) < ends[partition]:
                return False
        return bool(partitions)
    finally:
        await consumer.stop()
