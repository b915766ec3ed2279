"""The Postgres unit of work: common's ``UnitOfWork`` (outbox included) with our repositories;
each payment transition it commits is counted in the metrics."""

from __future__ import annotations

from functools import partial

import asyncpg
from common.db.repositories import RepositoryStore, RepositoryUnitOfWork
from common.events import Event
from common.events.payments import PaymentTransition
from common.runtime import Runtime

from payments.adapters.pg_consents import PgConsents
from payments.adapters.pg_misc import PgIdempotency, PgLedger, PgSessions
from payments.adapters.pg_payments import PgAudit, PgPayments
from payments.service import metrics


class PgStore(RepositoryStore):
    """Our repositories on one open common unit of work (a consumer's, which commits itself)."""

    def bind(self, conn: asyncpg.Connection) -> None:
        self.payments = PgPayments(conn)
        self.consents = PgConsents(conn)
        self.idempotency = PgIdempotency(conn)
        self.audit = PgAudit(conn)
        self.sessions = PgSessions(conn)
        self.ledger = PgLedger(conn)

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None:
        super().record(event, subject=subject, key=key)
        if isinstance(event, PaymentTransition):
            self._uow.after_commit(partial(metrics.count_transition, event))

    async def lock_member(self, user_id: str) -> None:
        await self._uow.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7005))", user_id
        )


class PgUnitOfWork(RepositoryUnitOfWork, PgStore):
    """``async with PgUnitOfWork(runtime) as uow: ...; await uow.commit()``."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.uow())
