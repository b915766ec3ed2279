"""The activity consumer's fetch wait keeps it fed by the embedded broker when storage is slow.

The embedded broker reads every partition of a fetch from its storage within the fetch's wait
and answers a partition it has not read in time as empty. Its durable storage (the dev stack's
S3 store) answers in milliseconds, more on a loaded machine: here every storage request is held
20 ms by a proxy, so a 5 ms wait (fraud's former default) is never enough — the consumer gets
nothing however long it asks — while fraud's default wait reads everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from coffre_testing.waiting import patient
from devstack.kafka import EmbeddedKafka, EmbeddedS3
from devstack.ports import free_port
from fraud.settings import FraudSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORAGE_DELAY_SECONDS = 0.020
RECORDS = 30


@contextlib.asynccontextmanager
async def slow_proxy(target_port: int, delay: float) -> AsyncIterator[int]:
    """A TCP proxy to ``target_port`` that holds every chunk a client sends for ``delay``."""

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65_536):
                if hold:
                    await asyncio.sleep(hold)
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pump(client_r, server_w, delay), pump(server_r, client_w, 0))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()


@pytest.fixture
def s3_store(tmp_path: Path) -> Iterator[EmbeddedS3]:
    store = EmbeddedS3(free_port(), log_file=tmp_path / "s3.log")
    store.start()
    try:
        yield store
    finally:
        store.stop()


@contextlib.asynccontextmanager
async def broker_on_slow_storage(store: EmbeddedS3, tmp_path: Path) -> AsyncIterator[str]:
    async with slow_proxy(store.port, STORAGE_DELAY_SECONDS) as proxy_port:
        storage_env = {**store.broker_env, "AWS_ENDPOINT": f"http://127.0.0.1:{proxy_port}"}
        broker = EmbeddedKafka(
            free_port(),
            log_file=tmp_path / "kafka.log",
            storage_url=f"s3://{store.bucket}/",
            storage_env=storage_env,
        )
        await asyncio.to_thread(broker.start)
        try:
            yield broker.bootstrap_servers
        finally:
            await asyncio.to_thread(broker.stop)


async def _produce(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        keys = [f"acc-{n % 3}".encode() for n in range(RECORDS)]
        sent = [await producer.send(topic, b"x" * 200, key=key) for key in keys]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _consumed(bootstrap: str, topic: str, fetch_max_wait_ms: int, seconds: float) -> int:
    """How many records a fresh consumer group reads from ``topic`` within ``seconds``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"fetch-wait-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    got = 0
    try:
        while got < RECORDS and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            got += sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()
    return got


@pytest.mark.asyncio
async def test_the_default_fetch_wait_reads_everything_where_a_few_ms_starve(
    s3_store: EmbeddedS3, tmp_path: Path
) -> None:
    default_wait = FraudSettings.model_fields["fetch_max_wait_ms"].default
    async with broker_on_slow_storage(s3_store, tmp_path) as bootstrap:
        topic = f"fetch-wait-{uuid.uuid4().hex[:8]}"
        await _produce(bootstrap, topic)

        # The premise: with a wait shorter than one storage request nothing is ever read.
        assert await _consumed(bootstrap, topic, fetch_max_wait_ms=5, seconds=5) == 0

        assert await _consumed(bootstrap, topic, default_wait, seconds=patient(60)) == RECORDS
