"""Outbox rows written in the COMMIT's round trip are stored exactly as recorded (hex literals:
no key, subject or payload can change the statement), and so are rows written with parameters
and rows written by binary COPY."""

from __future__ import annotations

import json

import pytest
from coffre_testing.example.service import MIGRATIONS, NoteRecorded
from common.db import Database, MigrationSet
from common.db.migrations import migrate
from common.db.uow import COPY_FROM_ROWS, INLINE_OUTBOX_ROWS, UnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

HOSTILE = ["o'; DROP TABLE outbox; --", "back\\slash \\x00ff", 'quote " and $$ dollars $$', "ünï ☃"]


@pytest.mark.parametrize(
    "count", [1, INLINE_OUTBOX_ROWS, INLINE_OUTBOX_ROWS + 3, COPY_FROM_ROWS + 4]
)
async def test_outbox_rows_keep_keys_subjects_and_bytes_whatever_they_contain(
    infra, schema_name, count
):
    db = await Database.connect(infra.database_url, schema_name, max_size=2)
    try:
        await migrate(db, MigrationSet.from_folder("example", MIGRATIONS))
        async with UnitOfWork(db, producer="test") as uow:
            for i in range(count):
                text = HOSTILE[i % len(HOSTILE)]
                uow.record(
                    NoteRecorded(note_id=i, owner=text, seq=i, text=text),
                    subject=f"s-{text}",
                    key=f"k-{text}",
                )
            expected = [
                (str(p.event_id), p.topic, p.key, p.subject, p.data, json.loads(p.headers))
                for p in uow._pending
            ]
            await uow.commit()
        rows = await db.fetch(
            "SELECT event_id::text, topic, message_key, subject, envelope, headers::text "
            "FROM outbox ORDER BY id"
        )
        assert [(*tuple(r)[:5], json.loads(r["headers"])) for r in rows] == expected
        assert await db.fetchval("SELECT count(*) FROM outbox") == count
    finally:
        await db.close()
