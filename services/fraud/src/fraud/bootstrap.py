"""Wiring: settings → scoring engine, adapters, verifiers and background tasks (no I/O here).

Rules: every replica loads the newest saved model at start and refreshes it every
``model_refresh_seconds``; the weekly reports run on whichever replica claims the week first;
parked transactions are released every ``park_check_seconds`` and erased members' outbox rows
purged once sent (every replica; rows are claimed with row locks).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from common.db import MigrationSet
from common.db.erasure import ErasurePurgeLoop
from common.logging import get_logger
from common.runtime import Runtime
from common.security.access_tokens import AccessTokenVerifier, HttpJwksSource, JwksCache
from common.security.service_identity import ServiceTokenVerifier

from fraud.adapters.pdf import ReportlabRenderer
from fraud.adapters.pg_signals import PgModelStore
from fraud.adapters.pg_uow import PgUnitOfWork
from fraud.domain.validation import InputLimits
from fraud.service.engine import Engine, ModelHolder, utc_now
from fraud.service.parking import release_due
from fraud.service.reports import scheduled_reports
from fraud.service.state_cache import AccountCache, SnapshotPolicy
from fraud.settings import FraudSettings

log = get_logger(__name__)
MIGRATIONS = MigrationSet.from_folder("fraud", Path(__file__).parent / "adapters" / "migrations")


def build_engine(settings: FraudSettings, clock: Callable[[], datetime] = utc_now) -> Engine:
    return Engine(
        policy=settings.policy(),
        models=ModelHolder(),
        limits=InputLimits(max_amount=settings.max_amount),
        auto_register_accounts=settings.auto_register_accounts,
        park_timeout=timedelta(seconds=settings.park_timeout_seconds),
        clock=clock,
        states=AccountCache(
            settings.state_cache_accounts,
            SnapshotPolicy(settings.snapshot_every_events, settings.snapshot_every_seconds),
        ),
    )


@dataclass
class Container:
    """Everything the HTTP and Kafka edges need; completed when the runtime has started."""

    settings: FraudSettings
    access_tokens: AccessTokenVerifier | None = None
    services: ServiceTokenVerifier | None = None
    clock: Callable[[], datetime] = utc_now
    renderer: ReportlabRenderer = field(default_factory=ReportlabRenderer)
    engine: Engine = field(init=False)
    runtime: Runtime | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _purge: ErasurePurgeLoop | None = None

    def __post_init__(self) -> None:
        self.engine = build_engine(self.settings, self.clock)

    def uow(self) -> PgUnitOfWork:
        if self.runtime is None:
            raise RuntimeError("the runtime is not started")
        return PgUnitOfWork(self.runtime.uow)

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        s = self.settings
        if self.access_tokens is None:
            jwks = JwksCache(HttpJwksSource(s.auth_jwks_url))
            self.access_tokens = AccessTokenVerifier(
                jwks, issuer=s.token_issuer, audience=s.token_audience
            )
        if self.services is None and s.service_trust_dir:
            self.services = ServiceTokenVerifier.from_folder(s.service_name, s.service_trust_dir)
        await self.refresh_model()
        self._tasks.append(asyncio.create_task(self._every_model_refresh(), name="fraud-model"))
        self._tasks.append(asyncio.create_task(self._every_report_check(), name="fraud-reports"))
        self._tasks.append(asyncio.create_task(self._every_parked_pass(), name="fraud-parked"))
        self._purge = ErasurePurgeLoop(runtime.db)
        self._purge.start()

    async def stop(self, runtime: Runtime) -> None:
        if self._purge is not None:
            await self._purge.stop()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def refresh_model(self) -> None:
        assert self.runtime is not None
        async with self.runtime.db.pool.acquire() as conn:
            await self.engine.models.refresh(PgModelStore(conn))

    async def _every_model_refresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.model_refresh_seconds)
            try:
                await self.refresh_model()
            except Exception as exc:  # keep scoring with the model we have
                log.warning("model_refresh_failed", error=type(exc).__name__)

    async def _every_parked_pass(self) -> None:
        while True:
            try:
                await release_due(self.uow, self.engine)
            except Exception as exc:  # retried at the next pass
                log.warning("parked_pass_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.park_check_seconds)

    async def _every_report_check(self) -> None:
        s = self.settings
        while True:
            try:
                reports = await scheduled_reports(
                    self.uow,
                    self.engine,
                    self.renderer,
                    weekday=s.report_weekday,
                    hour=s.report_hour,
                )
                if reports:
                    log.info("weekly_reports_generated", reports=len(reports))
            except Exception as exc:  # retried at the next check
                log.warning("weekly_reports_failed", error=type(exc).__name__)
            await asyncio.sleep(s.report_check_seconds)
