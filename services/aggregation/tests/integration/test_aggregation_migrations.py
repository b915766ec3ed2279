"""Migrations apply, roll back completely, and apply again."""

from __future__ import annotations

from typing import Any

import pytest
from aggregation.app import MIGRATIONS
from common.db.database import Database
from common.db.migrations import downgrade, migrate

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_migrations_go_up_down_and_up_again(infra: Any, schema_name: str) -> None:
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db, MIGRATIONS)
        tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1"
        assert await db.fetchval(tables, schema_name) >= 6
        await downgrade(db, MIGRATIONS, to_version=0)
        mine = (
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_name IN ('connections', 'accounts', 'transactions', 'teardowns')"
        )
        assert await db.fetchval(mine, schema_name) == 0
        await migrate(db, MIGRATIONS)
        assert await db.fetchval(mine, schema_name) == 4
    finally:
        await db.close()
