"""The Postgres unit of work: common's `UnitOfWork` (outbox included) with our repositories."""

from __future__ import annotations

from types import TracebackType

from common.db.uow import UnitOfWork as CommonUnitOfWork
from common.events import Event
from common.runtime import Runtime

from archive.adapters.pg_journal import PgJournal
from archive.adapters.pg_members import PgMembers, PgMovements
from archive.adapters.pg_receipts import PgReceipts


class PgStore:
    """Repositories on one open common unit of work (a consumer's, which commits itself)."""

    def __init__(self, uow: CommonUnitOfWork) -> None:
        self._bind(uow)

    def _bind(self, uow: CommonUnitOfWork) -> None:
        self._uow = uow
        conn = uow.conn
        self.receipts = PgReceipts(conn)
        self.journal = PgJournal(conn)
        self.members = PgMembers(conn)
        self.movements = PgMovements(conn)

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
