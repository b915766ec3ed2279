"""Poison messages go to the dead-letter topic with their reason; the consumer goes on (5d)."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from coffre_testing.app import running_app
from coffre_testing.example.service import NoteRecorded, create_app
from coffre_testing.kafka import collect, header
from coffre_testing.waiting import eventually
from common.events import DEAD_LETTER_TOPIC

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _envelope(owner: str, **changes: object) -> bytes:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": "example.note-recorded",
        "version": 1,
        "occurred_at": "2026-11-27T10:00:00Z",
        "producer": "test",
        "subject": owner,
        "payload": {"note_id": 1, "owner": owner, "seq": 0, "text": "ok"},
    }
    body.update(changes)
    return json.dumps(body).encode()


async def test_poison_messages_are_dead_lettered_and_consumption_continues(
    infra, example_settings, owner
):
    group = f"dlq-{uuid.uuid4().hex[:8]}"
    app = create_app(example_settings, consumer_group=group)
    poison = [
        (b"not json at all \xff", "malformed"),
        (_envelope(owner, type="example.unknown-thing"), "unknown-type"),
        (_envelope(owner, version=9), "unknown-type"),
        (_envelope(owner, payload={"owner": owner}), "invalid-payload"),
        (
            _envelope(
                owner, payload={"note_id": 1, "owner": owner, "seq": 0, "text": "x" * 1_200_000}
            ),
            "oversized",
        ),
    ]
    async with running_app(app):
        producer = AIOKafkaProducer(
            bootstrap_servers=infra.bootstrap_servers, acks="all", max_request_size=4_000_000
        )
        await producer.start()
        try:
            for value, _ in poison:
                await producer.send_and_wait(NoteRecorded.topic(), value, key=owner.encode())
            refused = _envelope(
                owner, payload={"note_id": 2, "owner": owner, "seq": 1, "text": "reject-me"}
            )
            await producer.send_and_wait(NoteRecorded.topic(), refused, key=owner.encode())
            await producer.send_and_wait(NoteRecorded.topic(), _envelope(owner), key=owner.encode())
        finally:
            await producer.stop()
        db = app.state.runtime.db

        async def good_one_processed() -> bool:
            return bool(
                await db.fetchval("SELECT count(*) FROM note_effects WHERE owner = $1", owner)
            )

        await eventually(good_one_processed)
        effects = await db.fetch("SELECT seq FROM note_effects WHERE owner = $1", owner)
        assert [r["seq"] for r in effects] == [0]
    dead = await collect(
        infra.bootstrap_servers,
        DEAD_LETTER_TOPIC,
        count=len(poison) + 1,
        where=lambda r: header(r, "x-dlq-consumer") == group,
    )
    assert [header(r, "x-dlq-code") for r in dead] == [code for _, code in poison] + [
        "note-refused"
    ]
    assert header(dead[-1], "x-dlq-reason") == "this note cannot be counted"
    assert all(header(r, "x-dlq-reason") for r in dead)
    assert all(header(r, "x-dlq-source-topic") == NoteRecorded.topic() for r in dead)
    assert dead[0].value == poison[0][0]
