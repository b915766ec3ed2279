"""/health/live answers while the process runs; /health/ready only when Postgres and the broker do,
checked with a round trip each time (an outage shows while it lasts).

A service still accepts work into its outbox while the broker is unreachable.
"""

from __future__ import annotations

import pytest
from coffre_testing.app import running_app
from coffre_testing.example.service import ExampleSettings, create_app
from coffre_testing.waiting import eventually
from devstack.kafka import EmbeddedKafka
from devstack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_ready_when_database_and_broker_are_reachable(example_settings):
    async with running_app(create_app(example_settings)) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True}


async def test_not_ready_without_a_broker_but_still_accepting_work(infra, schema_name):
    settings = infra.settings(
        ExampleSettings,
        service_name="example",
        schema=schema_name,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
    )
    app = create_app(settings)
    async with running_app(app, wait_for_kafka=False) as client:
        ready = await client.get("/health/ready")
        accepted = await client.post("/notes", json={"owner": "o", "text": "queued"})
        unsent = await app.state.runtime.db.fetchval(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        )
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["code"] == "service.not-ready"
    assert ready.json()["checks"] == {"database": True, "broker": False}
    assert accepted.status_code == 201
    assert unsent == 1


async def test_readiness_reports_a_broker_outage_while_it_lasts(infra, schema_name, tmp_path):
    broker = EmbeddedKafka(free_port(), log_file=tmp_path / "kafka.log")
    broker.start()
    settings = infra.settings(
        ExampleSettings,
        service_name="example",
        schema=schema_name,
        kafka_bootstrap_servers=broker.bootstrap_servers,
    )
    try:
        async with running_app(create_app(settings)) as client:

            async def ready_is(status: int) -> bool:
                return (await client.get("/health/ready")).status_code == status

            assert await ready_is(200)
            broker.stop(kill=True)
            await eventually(lambda: ready_is(503), timeout=30)
            assert (await client.get("/health/ready")).json()["checks"]["broker"] is False
            broker.start()
            await eventually(lambda: ready_is(200), timeout=60)
    finally:
        broker.stop()
