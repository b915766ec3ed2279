"""Postgres access: a pool per service schema, migrations, and the unit of work."""

from common.db.database import Database
from common.db.migrations import Migration, MigrationSet, downgrade, migrate
from common.db.uow import UnitOfWork

__all__ = ["Database", "Migration", "MigrationSet", "UnitOfWork", "downgrade", "migrate"]
