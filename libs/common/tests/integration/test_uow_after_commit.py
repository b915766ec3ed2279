"""``after_commit`` callbacks run once the transaction is durable, and never for work that was
rolled back — whole, or in a savepoint that failed."""

from __future__ import annotations

import pytest
from coffre_testing.infra import Infra
from common.db import Database
from common.db.uow import UnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _failing_savepoint(uow: UnitOfWork, ran: list[str]) -> None:
    async with uow.savepoint():
        uow.after_commit(lambda: ran.append("undone-in-savepoint"))
        raise RuntimeError("this event fails")


async def test_callbacks_run_after_commit_and_never_for_rolled_back_work(
    infra: Infra, schema_name: str
) -> None:
    db = await Database.connect(infra.database_url, schema_name, min_size=1, max_size=2)
    ran: list[str] = []
    try:
        async with UnitOfWork(db, producer="test") as uow:
            uow.after_commit(lambda: ran.append("kept"))
            with pytest.raises(RuntimeError):
                await _failing_savepoint(uow, ran)
            assert ran == []  # not before the commit
            await uow.commit()
        async with UnitOfWork(db, producer="test") as uow:
            uow.after_commit(lambda: ran.append("rolled-back"))
        assert ran == ["kept"]
    finally:
        await db.close()
