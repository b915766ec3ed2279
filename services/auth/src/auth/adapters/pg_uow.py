"""Auth's unit of work on Postgres: common's UnitOfWork (transaction + outbox) with auth's
repositories bound to its connection; the sign-in events it commits feed auth's metrics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from common.db.uow import UnitOfWork
from common.events.base import Event
from common.runtime import Runtime

from auth.adapters.pg_accounts import PgAccounts, PgFactors, PgLinks
from auth.adapters.pg_erasure import PgErasureLog
from auth.adapters.pg_keys import PgKeys, PgTenants
from auth.adapters.pg_oidc import PgOidc
from auth.adapters.pg_security import PgChallenges, PgFailures, PgRates, PgSessions
from auth.adapters.sealing import SecretBox
from auth.service import metrics


class PgAuthUnitOfWork:
    accounts: PgAccounts
    links: PgLinks
    factors: PgFactors
    challenges: PgChallenges
    sessions: PgSessions
    failures: PgFailures
    rates: PgRates
    keys: PgKeys
    tenants: PgTenants
    oidc: PgOidc
    erasure: PgErasureLog

    def __init__(self, inner: UnitOfWork, box: SecretBox) -> None:
        self.inner = inner
        self.box = box

    async def __aenter__(self) -> PgAuthUnitOfWork:
        await self.inner.__aenter__()
        conn = self.inner.conn
        self.accounts = PgAccounts(conn)
        self.links = PgLinks(conn)
        self.factors = PgFactors(conn, self.box)
        self.challenges = PgChallenges(conn)
        self.sessions = PgSessions(conn)
        self.failures = PgFailures(conn)
        self.rates = PgRates(conn)
        self.keys = PgKeys(conn, self.box)
        self.tenants = PgTenants(conn)
        self.oidc = PgOidc(conn, self.box)
        self.erasure = PgErasureLog(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, tb)

    def record(self, payload: Event, *, subject: str) -> uuid.UUID:
        if isinstance(payload, metrics.COUNTED):
            self.inner.after_commit(partial(metrics.count_committed, payload))
        return self.inner.record(payload, subject=subject)

    async def commit(self) -> None:
        await self.inner.commit()


@dataclass
class PgAuthUnitOfWorkFactory:
    runtime: Runtime
    box: SecretBox

    def __call__(self) -> PgAuthUnitOfWork:
        return PgAuthUnitOfWork(self.runtime.uow(), self.box)
