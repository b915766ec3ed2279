"""Every service serves Prometheus text on /metrics with HTTP rate, errors and duration per
route template (never per concrete path, so no identifier becomes a label)."""

from __future__ import annotations

import uuid

import pytest
from coffre_testing.app import running_app
from coffre_testing.example.service import create_app
from coffre_testing.waiting import eventually
from common.db import Database
from common.messaging.outbox_sampler import sample_outbox_once
from common.metrics import prometheus_text

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_metrics_show_requests_per_route_template_and_status(example_settings, owner):
    app = create_app(example_settings)
    async with running_app(app) as client:
        for seq in range(3):
            await client.post("/notes", json={"owner": owner, "seq": seq, "text": "t"})
        await client.post("/notes", json={"owner": owner})  # a 422
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    lines = scraped.text.splitlines()
    durations = [line for line in lines if line.startswith("http_server_")]
    assert any('http_target="/notes"' in line and "_count" in line for line in durations), durations
    assert any('http_status_code="422"' in line for line in durations)
    assert owner not in scraped.text
    assert "/metrics" not in "\n".join(durations)


async def test_outbox_backlog_and_oldest_age_are_sampled_for_the_scrape(infra, example_settings):
    async with running_app(create_app(example_settings), wait_for_kafka=False):
        pass  # migrations applied; the relay is stopped again, so rows stay unsent
    db = await Database.connect(infra.database_url, example_settings.schema_name)
    try:
        await db.pool.execute(
            "INSERT INTO outbox (event_id, topic, message_key, envelope, created_at) "
            "SELECT gen_random_uuid(), 'example.t.v1', 'k', '\\x00', now() - interval '90 seconds' "
            "FROM generate_series(1, 3)"
        )
        unsent, oldest = await sample_outbox_once(db, "example-backlog")
    finally:
        await db.close()
    assert unsent == 3
    assert oldest >= 90
    lines = prometheus_text().decode().splitlines()
    service = 'service="example-backlog"'
    assert any(
        line.startswith("coffre_outbox_backlog") and service in line and line.endswith(" 3.0")
        for line in lines
    ), lines
    assert any(
        line.startswith("coffre_outbox_oldest_unsent_age") and service in line for line in lines
    )


async def test_relay_and_consumer_batches_show_in_the_metrics(example_settings, owner):
    group = f"metrics-{uuid.uuid4().hex[:8]}"
    app = create_app(example_settings, consumer_group=group, batch=True)
    async with running_app(app) as client:
        for seq in range(5):
            await client.post("/notes", json={"owner": owner, "seq": seq, "text": "t"})
        db = app.state.runtime.db

        async def all_consumed() -> bool:
            count = await db.fetchval("SELECT count(*) FROM note_effects WHERE owner = $1", owner)
            return bool(count == 5)

        await eventually(all_consumed, timeout=60)

        async def scraped_batches() -> bool:
            return (
                f'coffre_consumer_batch_size_count{{group="{group}"'
                in (await client.get("/metrics")).text
            )

        await eventually(scraped_batches, timeout=30)  # recorded after the offset commit
        lines = (await client.get("/metrics")).text.splitlines()
    mine = [line for line in lines if f'group="{group}"' in line]
    assert any(
        line.startswith("coffre_consumer_events_total") and "processed" in line for line in mine
    )
    assert any(line.startswith("coffre_consumer_lag") and line.endswith(" 0.0") for line in mine)
    assert any(line.startswith("coffre_outbox_published_total") for line in lines)
    assert owner not in "\n".join(lines)
