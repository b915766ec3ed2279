from __future__ import annotations

import pytest
from common.db import Database
from common.db.migrations import downgrade, migrate
from fraud.bootstrap import MIGRATIONS

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_migrations_go_up_down_and_up_again(infra, schema_name: str) -> None:
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db, MIGRATIONS)
        assert await db.fetchval("SELECT version FROM model_state") == 0
        await downgrade(db, MIGRATIONS, to_version=0)
        assert await db.fetchval("SELECT to_regclass('scores')") is None
        await migrate(db, MIGRATIONS)
        assert await db.fetchval("SELECT to_regclass('scores')") is not None
    finally:
        await db.close()


async def test_audit_log_is_append_only(infra, schema_name: str) -> None:
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db, MIGRATIONS)
        await db.fetchval(
            "INSERT INTO audit_log (actor_id, action, target, at) "
            "VALUES ('a', 'alert.fraud', 't', now()) RETURNING id"
        )
        with pytest.raises(Exception, match="append-only"):
            await db.fetchval("UPDATE audit_log SET actor_id = 'b' RETURNING id")
        with pytest.raises(Exception, match="append-only"):
            await db.fetchval("DELETE FROM audit_log RETURNING id")
    finally:
        await db.close()
