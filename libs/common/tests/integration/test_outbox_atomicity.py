"""A state change and its event commit atomically (issue item 5a)."""

from __future__ import annotations

import pytest
from coffre_testing.app import running_app
from coffre_testing.example.service import NoteIn, NoteRecorded, create_app, record_note
from coffre_testing.kafka import collect

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_exception_before_commit_publishes_nothing(infra, example_settings, owner):
    app = create_app(example_settings)
    async with running_app(app) as client:
        runtime = app.state.runtime
        with pytest.raises(RuntimeError):
            async with runtime.uow() as uow:
                await record_note(uow, NoteIn(owner=owner, text="lost", fail_before_commit=True))
        response = await client.post("/notes", json={"owner": owner, "seq": 1, "text": "kept"})
        assert response.status_code == 201
        published = await collect(
            infra.bootstrap_servers,
            NoteRecorded.topic(),
            count=2,
            timeout=6,
            where=lambda r: owner.encode() in r.value,
        )
        assert await runtime.db.fetchval("SELECT count(*) FROM notes WHERE owner = $1", owner) == 1
        assert await runtime.db.fetchval("SELECT count(*) FROM outbox") == 1
    assert [b'"kept"' in r.value for r in published] == [True]


async def test_failed_request_leaves_no_row_and_no_outbox_entry(infra, example_settings, owner):
    app = create_app(example_settings)
    async with running_app(app) as client:
        response = await client.post(
            "/notes", json={"owner": owner, "text": "x", "fail_before_commit": True}
        )
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert "simulated" not in response.text
        db = app.state.runtime.db
        assert await db.fetchval("SELECT count(*) FROM notes") == 0
        assert await db.fetchval("SELECT count(*) FROM outbox") == 0
