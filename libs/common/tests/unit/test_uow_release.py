"""A unit of work whose BEGIN fails or is cancelled gives its connection back to the pool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from common.db.uow import UnitOfWork

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class _Connection:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def execute(self, query: str) -> None:
        assert query == "BEGIN"
        raise self.error


class _Pool:
    def __init__(self, error: BaseException) -> None:
        self.lent: list[Any] = []
        self.error = error

    async def acquire(self) -> _Connection:
        conn = _Connection(self.error)
        self.lent.append(conn)
        return conn

    async def release(self, conn: Any) -> None:
        self.lent.remove(conn)


class _Db:
    schema = "unit"

    def __init__(self, error: BaseException) -> None:
        self.pool = _Pool(error)


@pytest.mark.parametrize("error", [asyncio.CancelledError(), OSError("connection reset")])
async def test_unit_of_work_releases_its_connection_when_begin_fails(error):
    db = _Db(error)
    with pytest.raises(type(error)):
        async with UnitOfWork(db, producer="unit"):  # type: ignore[arg-type]
            pytest.fail("the block must not run")
    assert db.pool.lent == []
