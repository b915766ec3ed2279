"""The Postgres unit of work: common's `UnitOfWork` (outbox included) with our repositories."""

from __future__ import annotations

import asyncpg
from common.db.repositories import RepositoryStore, RepositoryUnitOfWork
from common.runtime import Runtime

from archive.adapters.pg_journal import PgJournal
from archive.adapters.pg_members import PgMembers, PgMovements
from archive.adapters.pg_receipts import PgReceipts
from archive.adapters.pg_upload_keys import PgUploadKeys


class PgStore(RepositoryStore):
    """Our repositories on one open common unit of work (a consumer's, which commits itself)."""

    def bind(self, conn: asyncpg.Connection) -> None:
        self.receipts = PgReceipts(conn)
        self.journal = PgJournal(conn)
        self.members = PgMembers(conn)
        self.movements = PgMovements(conn)
        self.upload_keys = PgUploadKeys(conn)


class PgUnitOfWork(RepositoryUnitOfWork, PgStore):
    """``async with PgUnitOfWork(runtime) as uow: ...; await uow.commit()``."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.uow())
