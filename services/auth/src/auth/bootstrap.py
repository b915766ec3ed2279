"""Wiring: settings → policies, adapters and the use cases' dependencies (no I/O here)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import httpx
from common.db import MigrationSet
from common.db.erasure import ErasurePurgeLoop
from common.logging import get_logger
from common.runtime import Runtime
from common.security.access_tokens import AccessTokenVerifier, JwksCache

from auth.adapters.clock import SystemClock
from auth.adapters.mail import HttpMailer, RecordingMailer
from auth.adapters.oidc_http import HttpOidcProvider
from auth.adapters.pg_keys import purge_expired
from auth.adapters.pg_uow import PgAuthUnitOfWorkFactory
from auth.adapters.saml import Pysaml2ServiceProvider
from auth.adapters.sealing import SecretBox
from auth.adapters.sms import HttpSmsSender, RecordingSmsSender
from auth.domain.codes import Pepper
from auth.domain.lockout import LockoutPolicy
from auth.domain.passwords import Argon2Parameters, PasswordHasher
from auth.domain.ratelimit import RateLimits
from auth.domain.sessions import SessionPolicy
from auth.service.deps import AuthPolicy, Deps
from auth.service.ports import Clock, Mailer, SmsSender, UnitOfWorkFactory
from auth.service.tokens import IssuerJwksSource, TokenIssuer, TokenSettings
from auth.settings import AuthSettings

log = get_logger(__name__)
MIGRATIONS = MigrationSet.from_folder("auth", Path(__file__).parent / "adapters" / "migrations")
MAINTENANCE_EVERY_SECONDS = 300
STOP_GRACE_SECONDS = 10.0


def policy_from(settings: AuthSettings) -> AuthPolicy:
    rates = RateLimits()
    rates = replace(
        rates,
        login_per_ip=replace(rates.login_per_ip, limit=settings.rate_login_per_ip),
        login_per_account=replace(rates.login_per_account, limit=settings.rate_login_per_account),
        sms_per_account=replace(rates.sms_per_account, limit=settings.rate_sms_per_account),
    )
    return AuthPolicy(
        rates=rates,
        require_second_factor=settings.require_second_factor,
        link_base_url=settings.app_base_url,
        sessions=SessionPolicy(
            idle_member=timedelta(minutes=settings.idle_member_minutes),
            idle_payment=timedelta(minutes=settings.idle_payment_minutes),
            absolute=timedelta(hours=settings.absolute_hours),
            access_ttl=timedelta(seconds=settings.access_ttl_seconds),
        ),
        lockout=LockoutPolicy(
            settings.lockout_failures, timedelta(minutes=settings.lockout_minutes)
        ),
    )


def senders(settings: AuthSettings) -> tuple[SmsSender, Mailer]:
    sms: SmsSender = RecordingSmsSender()
    mail: Mailer = RecordingMailer()
    if settings.sms_provider == "http" and settings.sms_url and settings.sms_api_key:
        sms = HttpSmsSender(settings.sms_url, settings.sms_api_key.get_secret_value())
    if settings.mail_provider == "http" and settings.mail_url and settings.mail_api_key:
        mail = HttpMailer(settings.mail_url, settings.mail_api_key.get_secret_value())
    return sms, mail


def build_deps(
    settings: AuthSettings,
    uow: UnitOfWorkFactory,
    clock: Clock | None = None,
    sms: SmsSender | None = None,
    mailer: Mailer | None = None,
) -> Deps:
    clock = clock or SystemClock()
    default_sms, default_mail = senders(settings)
    tokens = TokenIssuer(
        uow,
        clock,
        TokenSettings(
            issuer=settings.issuer,
            audience=settings.audience,
            stepup_ttl=timedelta(seconds=settings.stepup_ttl_seconds),
        ),
    )
    hasher = PasswordHasher(
        Argon2Parameters(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
    )
    return Deps(
        uow=uow,
        clock=clock,
        hasher=hasher,
        pepper=Pepper(settings.pepper.get_secret_value().encode()),
        sms=sms or default_sms,
        mailer=mailer or default_mail,
        tokens=tokens,
        policy=policy_from(settings),
    )


@dataclass
class Container:
    """Everything the HTTP edge needs; filled in when the runtime has started."""

    settings: AuthSettings
    sms: SmsSender | None = None
    mailer: Mailer | None = None
    deps: Deps | None = None
    verifier: AccessTokenVerifier | None = None
    saml: Pysaml2ServiceProvider | None = None
    oidc: HttpOidcProvider | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _purge: ErasurePurgeLoop | None = None

    async def start(self, runtime: Runtime) -> None:
        box = SecretBox(self.settings.key_encryption_key.get_secret_value().encode())
        deps = build_deps(
            self.settings, PgAuthUnitOfWorkFactory(runtime, box), sms=self.sms, mailer=self.mailer
        )
        self.deps, self.sms, self.mailer = deps, deps.sms, deps.mailer
        await deps.tokens.jwks()
        jwks = JwksCache(IssuerJwksSource(deps.tokens), ttl_seconds=30, min_refresh_seconds=1)
        self.verifier = AccessTokenVerifier(
            jwks, issuer=self.settings.issuer, audience=self.settings.audience
        )
        self.saml = Pysaml2ServiceProvider(
            self.settings.public_base_url, self.settings.saml_xmlsec_binary
        )
        self.oidc = HttpOidcProvider(
            httpx.AsyncClient(timeout=self.settings.oidc_timeout_seconds, follow_redirects=False)
        )
        self._stopping.clear()
        self._tasks.append(asyncio.create_task(self._maintain(runtime), name="auth-maintenance"))
        self._purge = ErasurePurgeLoop(runtime.db)
        self._purge.start()

    async def stop(self, runtime: Runtime) -> None:
        """Let a maintenance pass in flight finish (bounded) rather than cut it mid-transaction,
        so the pool it borrows from closes whole; cancel only what overruns the grace."""
        if self._purge is not None:
            await self._purge.stop()
        if self.oidc is not None:
            await self.oidc.client.aclose()
        self._stopping.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
        for task in late:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _maintain(self, runtime: Runtime) -> None:
        while not self._stopping.is_set():
            await self.maintain_once(runtime)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), MAINTENANCE_EVERY_SECONDS)

    async def maintain_once(self, runtime: Runtime) -> None:
        """Purge expired rows, and rotate the signing key when it is old enough.

        Each step fails on its own: a failed purge never stops a due key rotation.
        """
        assert self.deps is not None
        try:
            async with runtime.db.pool.acquire() as conn:
                purged = await purge_expired(conn, self.deps.clock.now())
            log.info("auth_maintenance", purged=purged)
        except Exception as exc:
            log.warning("auth_purge_failed", error=type(exc).__name__)
        try:
            every = timedelta(days=self.settings.key_rotation_days)
            if await self._newest_key_age() >= every:
                await self.deps.tokens.rotate()
                log.info("signing_key_rotated")
        except Exception as exc:
            log.warning("signing_key_rotation_failed", error=type(exc).__name__)

    async def _newest_key_age(self) -> timedelta:
        assert self.deps is not None
        async with self.deps.uow() as uow:
            keys = await uow.keys.all()
        if not keys:
            return timedelta(0)
        newest = max(k.created_at for k in keys)
        return self.deps.clock.now() - newest
