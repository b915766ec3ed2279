"""A consumer killed after its DB commit but before its offset commit: no duplicate effect (5c)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import pytest
from coffre_testing.app import running_app
from coffre_testing.example.service import NoteRecorded, create_app
from coffre_testing.kafka import group_caught_up
from coffre_testing.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.asyncio,
    pytest.mark.timeout(900),
]


async def test_redelivery_after_a_crash_between_db_commit_and_offset_commit_has_no_effect(
    infra, example_settings, owner
):
    group = f"crash-{uuid.uuid4().hex[:8]}"
    producer_app = create_app(example_settings)
    async with running_app(producer_app) as client:
        for seq in range(5):
            r = await client.post("/notes", json={"owner": owner, "seq": seq, "text": "t"})
            assert r.status_code == 201
        db = producer_app.state.runtime.db
        await eventually(
            lambda: _count(db, "SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL")
        )

    env = {
        **os.environ,
        "EXAMPLE_SETTINGS": example_settings.model_dump_json(
            context=None, exclude={"database_url"}
        )[:-1]
        + f', "database_url": {json.dumps(example_settings.database_url.get_secret_value())}}}',
        "GROUP": group,
        "CRASH_AT_SEQ": "2",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coffre_testing.example.crash_consumer", env=env
    )
    return_code = await asyncio.wait_for(process.wait(), timeout=600)
    assert return_code == -9, "the consumer must have been killed mid-flight"

    consumer_app = create_app(example_settings, consumer_group=group)
    async with running_app(consumer_app):
        db = consumer_app.state.runtime.db

        async def all_counted() -> bool:
            return (
                await db.fetchval(
                    "SELECT count(DISTINCT seq) FROM note_effects WHERE owner = $1", owner
                )
                == 5
            )

        await eventually(all_counted, timeout=120)
        await eventually(
            lambda: group_caught_up(infra.bootstrap_servers, group, NoteRecorded.topic()),
            timeout=120,
        )
        rows = await db.fetch(
            "SELECT seq, count(*) AS n FROM note_effects WHERE owner = $1 "
            "GROUP BY seq ORDER BY seq",
            owner,
        )
        redelivered = await db.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group)
    assert [(r["seq"], r["n"]) for r in rows] == [(s, 1) for s in range(5)]
    assert redelivered == 5


async def _count(db, query: str) -> bool:
    return bool(await db.fetchval(query))
