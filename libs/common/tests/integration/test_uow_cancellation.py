"""A unit of work cancelled at any point gives its connection back to the pool.

A request cancelled by its client, or a background task cancelled at shutdown, can be
interrupted anywhere: while BEGIN is on the wire, mid-query, during the rollback. Whatever the
point, the task ends as cancelled and the pool stays whole, so ``Pool.close()`` returns.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from common.db import Database
from common.db.uow import UnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _busy_units_of_work(db: Database) -> None:
    while True:
        async with UnitOfWork(db, producer="example") as uow:
            await uow.conn.execute("INSERT INTO cancel_probe VALUES (1)")
            await uow.conn.fetchval("SELECT count(*) FROM cancel_probe")


async def test_unit_of_work_cancelled_anywhere_releases_its_connection(infra, schema_name):
    db = await Database.connect(infra.database_url, schema_name, min_size=1, max_size=3)
    await db.pool.execute("CREATE TABLE cancel_probe (x int)")
    pick = random.Random(7)
    try:
        for _ in range(300):
            task = asyncio.create_task(_busy_units_of_work(db))
            await asyncio.sleep(pick.uniform(0, 0.004))  # the cut point varies
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=20)
            assert done, "a cancelled unit of work must end"
            assert task.cancelled(), f"cancellation became {task.exception()!r}"
        assert db.pool.get_idle_size() == db.pool.get_size()
        assert await db.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(db.close(), 20)
