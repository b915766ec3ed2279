"""Broker stopped during writes: after it restarts every event is delivered, in order per key (5b).

The broker here keeps its log in a local S3 endpoint, as a real Kafka keeps it on disk, so a
restart loses nothing that was acknowledged.
"""

from __future__ import annotations

import uuid

import pytest
from coffre_testing.app import running_app
from coffre_testing.example.service import ExampleSettings, create_app
from coffre_testing.waiting import eventually
from devstack.kafka import EmbeddedKafka, EmbeddedS3
from devstack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]

OWNERS = 3
PER_PHASE = 10


async def _write(client, owners: list[str], start: int) -> None:
    for seq in range(start, start + PER_PHASE):
        for owner in owners:
            r = await client.post("/notes", json={"owner": owner, "seq": seq, "text": f"n{seq}"})
            assert r.status_code == 201


async def test_events_written_while_broker_is_down_are_all_delivered_in_order(
    infra, schema_name, tmp_path
):
    storage = EmbeddedS3(free_port())
    storage.start()
    broker = EmbeddedKafka(
        free_port(),
        log_file=tmp_path / "kafka.log",
        storage_url=f"s3://{storage.bucket}/",
        storage_env=storage.broker_env,
    )
    broker.start()
    settings = infra.settings(
        ExampleSettings,
        service_name="example",
        schema=schema_name,
        kafka_bootstrap_servers=broker.bootstrap_servers,
    )
    owners = [f"key-{i}-{uuid.uuid4().hex[:6]}" for i in range(OWNERS)]
    app = create_app(settings, consumer_group=f"outage-{schema_name}")
    try:
        async with running_app(app) as client:
            db = app.state.runtime.db

            async def effects_reach(n: int) -> bool:
                return await db.fetchval("SELECT count(*) FROM note_effects") >= n

            await _write(client, owners, 0)
            await eventually(lambda: effects_reach(OWNERS * PER_PHASE))

            broker.stop()
            await _write(client, owners, PER_PHASE)
            unsent = await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            assert unsent > 0, "writes must be accepted into the outbox while the broker is down"

            broker.start()
            await _write(client, owners, 2 * PER_PHASE)
            await eventually(lambda: effects_reach(3 * OWNERS * PER_PHASE), timeout=90)

            assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
            for owner in owners:
                seqs = [
                    r["seq"]
                    for r in await db.fetch(
                        "SELECT seq FROM note_effects WHERE owner = $1 ORDER BY id", owner
                    )
                ]
                assert seqs == list(range(3 * PER_PHASE)), (
                    f"order or completeness broken for {owner}"
                )
    finally:
        broker.stop()
        storage.stop()
