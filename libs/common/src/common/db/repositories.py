"""Repositories bound to one unit of work: the base each service's Postgres unit of work uses.

Rules: a service lists its repositories once, in ``bind(conn)``; the same set serves a unit of
work the service opens and commits itself (``RepositoryUnitOfWork``) and one a consumer opened
and commits (``RepositoryStore`` over the consumer's ``uow``). Events recorded through either go
to the outbox of that transaction.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import asyncpg

from common.db.uow import UnitOfWork
from common.events.base import Event


class RepositoryStore:
    """A service's repositories on an open common unit of work; subclasses fill ``bind``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._attach(uow)

    def _attach(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.bind(uow.conn)

    def bind(self, conn: asyncpg.Connection) -> None:
        """Create the service's repositories on ``conn``."""
        raise NotImplementedError

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None:
        self._uow.record(event, subject=subject, key=key)


class RepositoryUnitOfWork(RepositoryStore):
    """``async with PgUnitOfWork(runtime) as uow: ...; await uow.commit()`` — the service's
    repositories on a unit of work it opens, and only ``commit`` commits."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._inner = uow

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        self._attach(self._inner)
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
