"""Outbox and inbox are purged past the redelivery horizon; erasure purges a member's sent rows."""

from __future__ import annotations

import uuid

import pytest
from common.db import Database
from common.messaging.purge import purge_expired
from relay_it_helpers import migrated_db, write_notes

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _count(db: Database, where: str, *args: object) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {where}", *args))


async def test_only_sent_rows_and_inbox_ids_older_than_the_horizon_are_purged(infra, schema_name):
    db = await migrated_db(infra.database_url, schema_name)
    try:
        await write_notes(db, ["old", "recent", "unsent"], per_owner=2)
        await db.fetch("UPDATE outbox SET sent_at = now() - interval '2 hours' WHERE subject='old'")
        await db.fetch("UPDATE outbox SET sent_at = now() WHERE subject = 'recent'")
        await db.fetch(
            "UPDATE outbox SET created_at = now() - interval '3 hours' WHERE subject = 'unsent'"
        )
        await db.fetch(
            "INSERT INTO inbox (consumer, event_id, topic, processed_at) VALUES "
            "('c', $1, 't', now() - interval '2 hours'), ('c', $2, 't', now())",
            uuid.uuid4(),
            uuid.uuid4(),
        )
        async with db.pool.acquire() as conn:
            assert await purge_expired(conn, 3600) == (2, 1)
            assert await purge_expired(conn, 3600) == (0, 0)
        assert await _count(db, "outbox WHERE subject = 'old'") == 0
        assert await _count(db, "outbox WHERE subject = 'recent'") == 2
        assert await _count(db, "outbox WHERE subject = 'unsent' AND sent_at IS NULL") == 2
        assert await _count(db, "inbox") == 1
    finally:
        await db.close()
