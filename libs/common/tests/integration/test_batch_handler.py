"""The batch handler API: one call per polled batch, set-based effects, same guarantees."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from coffre_testing.app import running_app
from coffre_testing.example.service import NoteRecorded, create_app
from coffre_testing.kafka import collect, header
from coffre_testing.waiting import eventually
from common.events import DEAD_LETTER_TOPIC
from common.events.base import encode_envelope

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_a_batch_handler_applies_each_event_once_in_order_and_sets_aside_a_refused_one(
    infra, example_settings, owner
):
    group = f"batch-{uuid.uuid4().hex[:8]}"
    app = create_app(example_settings, consumer_group=group, batch=True)
    async with running_app(app) as client:
        db = app.state.runtime.db
        for seq in range(20):
            text = "reject-me" if seq == 7 else f"n{seq}"
            r = await client.post("/notes", json={"owner": owner, "seq": seq, "text": text})
            assert r.status_code == 201

        async def counted() -> bool:
            return (
                await db.fetchval("SELECT count(*) FROM note_effects WHERE owner = $1", owner) >= 19
            )

        await eventually(counted, timeout=30)
        seqs = [
            r["seq"]
            for r in await db.fetch(
                "SELECT seq FROM note_effects WHERE owner = $1 ORDER BY id", owner
            )
        ]
        claimed = await db.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group)
    assert seqs == [s for s in range(20) if s != 7]
    assert claimed == 19
    [dead] = await collect(
        infra.bootstrap_servers,
        DEAD_LETTER_TOPIC,
        count=1,
        where=lambda r: header(r, "x-dlq-consumer") == group,
    )
    assert header(dead, "x-dlq-code") == "note-refused"


async def test_a_batch_handler_sees_a_redelivered_event_only_once(infra, example_settings, owner):
    group = f"batch-redo-{uuid.uuid4().hex[:8]}"
    _, _, twice = encode_envelope(
        NoteRecorded(note_id=1, owner=owner, seq=0, text="t"), producer="test", subject=owner
    )
    _, _, once = encode_envelope(
        NoteRecorded(note_id=2, owner=owner, seq=1, text="t"), producer="test", subject=owner
    )
    _, _, last = encode_envelope(
        NoteRecorded(note_id=3, owner=owner, seq=2, text="t"), producer="test", subject=owner
    )
    app = create_app(example_settings, consumer_group=group, batch=True)
    async with running_app(app):
        db = app.state.runtime.db
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for value in (twice, twice, once, twice, last):  # one key: one partition, in order
                await producer.send_and_wait(NoteRecorded.topic(), value, key=owner.encode())
        finally:
            await producer.stop()

        async def last_counted() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM note_effects WHERE owner = $1 AND seq = 2", owner
                )
            )

        await eventually(last_counted, timeout=30)
        rows = await db.fetch("SELECT seq FROM note_effects WHERE owner = $1 ORDER BY id", owner)
    assert [r["seq"] for r in rows] == [0, 1, 2]
