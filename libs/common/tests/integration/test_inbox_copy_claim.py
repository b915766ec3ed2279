"""A batch's inbox claim stores every id whatever its size (a binary COPY from
``COPY_FROM_ROWS`` ids on), and a batch holding an id claimed before is refused as a whole, so
the consumer claims it again skipping that id."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from coffre_testing.example.service import MIGRATIONS
from common.db import Database, MigrationSet
from common.db.migrations import migrate
from common.db.uow import COPY_FROM_ROWS, UnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS + 5])
async def test_a_fresh_batch_is_claimed_whole_and_a_redelivered_one_is_refused(
    infra, schema_name, count
):
    db = await Database.connect(infra.database_url, schema_name, max_size=2)
    try:
        await migrate(db, MigrationSet.from_folder("example", MIGRATIONS))
        events = [(uuid.uuid4(), f"topic-{i % 3}") for i in range(count)]
        async with UnitOfWork(db, producer="test") as uow:
            assert await uow.claim_inbox_unseen("group", events) == {e for e, _ in events}
            await uow.commit()
        stored = await db.fetch("SELECT event_id, topic FROM inbox WHERE consumer = 'group'")
        assert sorted((r["event_id"], r["topic"]) for r in stored) == sorted(events)

        again = [*((uuid.uuid4(), "topic-0") for _ in range(count)), events[-1]]
        async with UnitOfWork(db, producer="test") as uow:
            with pytest.raises(asyncpg.UniqueViolationError):
                await uow.claim_inbox_unseen("group", again)
        async with UnitOfWork(db, producer="test") as uow:
            fresh = await uow.claim_inbox_many("group", again)
            await uow.commit()
        assert fresh == {e for e, _ in again[:-1]}
        assert await db.fetchval("SELECT count(*) FROM inbox") == 2 * count
    finally:
        await db.close()
