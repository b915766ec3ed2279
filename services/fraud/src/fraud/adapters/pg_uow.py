"""The fraud unit of work over ``common``'s: every repository on one connection, one commit.

Rules: events published through it go to ``common``'s outbox in the same transaction; a unit of
work *borrowed* from a consumer (which has already claimed the event in the inbox) neither opens
nor commits: the consumer commits the effects, the inbox row and the events together. Each
score published is counted in the metrics once it is committed (one count per kind and
decision per unit of work; nothing is counted for one that rolls back, nor for one borrowed
inside a consumer's savepoint that rolls back).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Self

from common.db import UnitOfWork as CommonUnitOfWork
from common.events import Event
from common.events.fraud import TransactionScored

from fraud.adapters.pg_erasure import PgErasure, PgReportRuns
from fraud.adapters.pg_parking import PgParkedActivities
from fraud.adapters.pg_records import PgAlerts, PgAudit, PgDecisions, PgScores
from fraud.adapters.pg_reports import PgReports, PgReportSource
from fraud.adapters.pg_scoring import PgScoring
from fraud.adapters.pg_signals import PgConsents, PgModelStore, PgSecurityLog
from fraud.adapters.pg_state import PgDirectory, PgSecurityStates
from fraud.service import metrics


class PgUnitOfWork:
    def __init__(
        self,
        factory: Callable[[], CommonUnitOfWork] | None = None,
        *,
        borrowed: CommonUnitOfWork | None = None,
    ) -> None:
        if (factory is None) == (borrowed is None):
            raise ValueError("give either a factory or a borrowed unit of work")
        self._factory = factory
        self._borrowed = borrowed
        self._uow: CommonUnitOfWork | None = None
        self._decisions: Counter[tuple[str, str]] | None = None

    @classmethod
    def borrow(cls, uow: CommonUnitOfWork) -> PgUnitOfWork:
        return cls(borrowed=uow)

    async def __aenter__(self) -> Self:
        if self._borrowed is not None:
            self._uow = self._borrowed
        else:
            assert self._factory is not None
            self._uow = await self._factory().__aenter__()
        self._bind(self._uow)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        uow, self._uow, self._decisions = self._uow, None, None
        if self._borrowed is None and uow is not None:
            await uow.__aexit__(exc_type, exc, tb)

    def _bind(self, uow: CommonUnitOfWork) -> None:
        conn = uow.conn
        self.scoring = PgScoring(conn)
        self.security_states = PgSecurityStates(conn)
        self.directory = PgDirectory(conn)
        self.scores = PgScores(conn)
        self.alerts = PgAlerts(conn)
        self.decisions = PgDecisions(conn)
        self.security_log = PgSecurityLog(conn)
        self.consents = PgConsents(conn)
        self.models = PgModelStore(conn)
        self.audit = PgAudit(conn)
        self.reports = PgReports(conn)
        self.report_source = PgReportSource(conn)
        self.erasure = PgErasure(conn)
        self.report_runs = PgReportRuns(conn)
        self.parked = PgParkedActivities(conn)

    def publish(self, event: Event, *, subject: str, key: str | None = None) -> None:
        if self._uow is None:
            raise RuntimeError("the unit of work is not open")
        self._uow.record(event, subject=subject, key=key)
        if isinstance(event, TransactionScored):
            if self._decisions is None:
                self._decisions = Counter()
                self._uow.after_commit(partial(metrics.count_decisions, self._decisions))
            self._decisions[(event.kind, event.decision)] += 1

    async def commit(self) -> None:
        if self._uow is None:
            raise RuntimeError("the unit of work is not open")
        if self._borrowed is None:
            await self._uow.commit()
