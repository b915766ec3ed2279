"""What the operator commands share: settings from the environment, a pool, the use-case context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from common.db.database import Database
from common.db.migrations import migrate
from common.db.uow import UnitOfWork as CommonUnitOfWork

from vault.container import make_context, migrations
from vault.service.context import VaultContext
from vault.settings import VaultSettings


@asynccontextmanager
async def vault_context(settings: VaultSettings) -> AsyncIterator[tuple[Database, VaultContext]]:
    db = await Database.connect(
        settings.database_url.get_secret_value(), settings.schema_name, app="vault-cli"
    )
    try:
        await migrate(db, migrations())
        ctx = make_context(settings, lambda: CommonUnitOfWork(db, producer="vault"), lambda: db)
        try:
            yield db, ctx
        finally:
            await ctx.appender.close()
    finally:
        await db.close()
