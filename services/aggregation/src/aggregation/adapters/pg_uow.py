"""The Postgres unit of work: common's `UnitOfWork` (outbox included) with our repositories."""

from __future__ import annotations

import asyncpg
from common.db.repositories import RepositoryStore, RepositoryUnitOfWork
from common.runtime import Runtime

from aggregation.adapters.pg_accounts import PgAccounts, PgPullLog
from aggregation.adapters.pg_connections import PgConnections, PgTeardowns
from aggregation.adapters.pg_erasure import PgErasureLog
from aggregation.adapters.pg_transactions import PgTransactions


class PgStore(RepositoryStore):
    """Our repositories on one open common unit of work (a consumer's, which commits itself)."""

    def bind(self, conn: asyncpg.Connection) -> None:
        self.connections = PgConnections(conn)
        self.accounts = PgAccounts(conn)
        self.pulls = PgPullLog(conn)
        self.transactions = PgTransactions(conn)
        self.teardowns = PgTeardowns(conn)
        self.erasure = PgErasureLog(conn)


class PgUnitOfWork(RepositoryUnitOfWork, PgStore):
    """``async with PgUnitOfWork(runtime) as uow: ...; await uow.commit()``."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.uow())
