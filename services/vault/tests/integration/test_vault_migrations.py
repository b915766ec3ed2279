from __future__ import annotations

import pytest
from common.db.database import Database
from common.db.migrations import applied_versions, downgrade, migrate
from vault.container import migrations
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_migrations_go_up_down_and_up_again(vault_settings: VaultSettings) -> None:
    db = await Database.connect(
        vault_settings.database_url.get_secret_value(), vault_settings.schema_name
    )
    try:
        await migrate(db, migrations())
        assert await applied_versions(db, "vault") == [1, 2, 3]
        await downgrade(db, migrations(), to_version=0)
        assert await applied_versions(db, "vault") == []
        assert await db.fetchval("SELECT to_regclass('audit_log')") is None
        await migrate(db, migrations())
        assert await db.fetchval("SELECT seq FROM audit_head") == 0
    finally:
        await db.close()
