"""The raw broker baseline every benchmark prints its figures beside, measured in the same run."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def raw_kafka_rate(bootstrap: str, count: int, size: int = 200) -> float:
    """aiokafka alone: ``count`` messages of ``size`` bytes produced (acks=all) and consumed."""
    topic = f"bench.raw-{uuid.uuid4().hex[:8]}"
    payload = b"x" * size
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, payload, key=str(i % 16).encode()) for i in range(count)
        ]
        await asyncio.gather(*futures)
        seen = 0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500)
            seen += sum(len(records) for records in batches.values())
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
