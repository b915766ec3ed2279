"""The Postgres unit of work: common's `UnitOfWork` (outbox included) with our repositories."""

from __future__ import annotations

from types import TracebackType

from common.db.uow import UnitOfWork as CommonUnitOfWork
from common.events import Event
from common.runtime import Runtime

from aggregation.adapters.pg_accounts import PgAccounts, PgPullLog
from aggregation.adapters.pg_connections import PgConnections, PgTeardowns
from aggregation.adapters.pg_erasure import PgErasureLog
from aggregation.adapters.pg_transactions import PgTransactions


class PgStore:
    """Repositories on one open common unit of work (a consumer's, which commits itself)."""

    def __init__(self, uow: CommonUnitOfWork) -> None:
        self._bind(uow)

    def _bind(self, uow: CommonUnitOfWork) -> None:
        self._uow = uow
        conn = uow.conn
        self.connections = PgConnections(conn)
        self.accounts = PgAccounts(conn)
        self.pulls = PgPullLog(conn)
        self.transactions = PgTransactions(conn)
        self.teardowns = PgTeardowns(conn)
        self.erasure = PgErasureLog(conn)

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None:
        self._uow.record(event, subject=subject, key=key)


class PgUnitOfWork(PgStore):
    """``async with PgUnitOfWork(runtime) as uow: ...; await uow.commit()``."""

    def __init__(self, runtime: Runtime) -> None:
        self._inner = runtime.uow()

    async def __aenter__(self) -> PgUnitOfWork:
        await self._inner.__aenter__()
        self._bind(self._inner)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._inner.commit()
