"""A unit of work gives its connection back whatever moment it is cancelled at."""

from __future__ import annotations

import asyncio

import pytest
from coffre_testing.infra import Infra
from common.db import Database
from common.db.uow import UnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

POOL_SIZE = 2


async def _use(db: Database) -> None:
    async with UnitOfWork(db, producer="test") as uow:
        await uow.conn.fetchval("SELECT 1")
        await uow.commit()


async def _pool_is_whole(db: Database) -> bool:
    """Every connection of the pool can be acquired at once (bounded wait)."""
    held = []
    try:
        for _ in range(POOL_SIZE):
            held.append(await db.pool.acquire(timeout=5))
    except TimeoutError:
        return False
    finally:
        for conn in held:
            await db.pool.release(conn)
    return True


async def test_a_unit_of_work_cancelled_at_any_await_point_releases_its_connection(
    infra: Infra, schema_name: str
) -> None:
    db = await Database.connect(
        infra.database_url, schema_name, min_size=POOL_SIZE, max_size=POOL_SIZE
    )
    try:
        for steps in range(40):  # every scheduling point, from acquire to commit
            task = asyncio.create_task(_use(db))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert await _pool_is_whole(db), f"a connection leaked when cancelled after {steps}"
    finally:
        await asyncio.wait_for(db.close(), 30)
