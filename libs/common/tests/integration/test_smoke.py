import asyncio
import uuid

import pytest

from coffre_testing.app import running_app
from coffre_testing.kafka import collect

from .example_service import ExampleSettings, NoteRecorded, create_app

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_note_flows_to_consumer(infra, schema_name):
    settings = infra.settings(ExampleSettings, service_name="example", schema=schema_name)
    app = create_app(settings, consumer_group=f"g-{schema_name}")
    owner = uuid.uuid4().hex
    async with running_app(app) as client:
        r = await client.post("/notes", json={"owner": owner, "text": "hello"})
        assert r.status_code == 201
        records = await collect(infra.bootstrap_servers, NoteRecorded.topic(), count=1, where=lambda r: owner.encode() in r.value)
        assert len(records) == 1
        db = app.state.runtime.db
        for _ in range(100):
            if await db.fetchval("SELECT count(*) FROM note_effects WHERE owner=$1", owner):
                break
            await asyncio.sleep(0.1)
        assert await db.fetchval("SELECT count(*) FROM note_effects WHERE owner=$1", owner) == 1
