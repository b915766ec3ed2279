"""The one place that wires aggregation's use cases to their adapters.

Rules: building a container does no I/O; `start` (in the app's lifespan) opens the agent and
vault clients, the JWKS cache and the scheduler, and resumes first pulls a crash cut short;
`stop` closes them after in-flight background pulls end. Tests may hand in transports
(in-process agent or vault), a vault, a clock or a JWKS source; nothing else differs from
production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import httpx
from common.db.erasure import ErasurePurgeLoop
from common.db.uow import UnitOfWork as CommonUnitOfWork
from common.events import Envelope, Event
from common.events.erasure import ErasureRequested
from common.http.peers import PeerClients
from common.logging import get_logger
from common.runtime import Runtime
from common.security.access_tokens import JwksSource

from aggregation.adapters.berlin_group import RetryPolicy
from aggregation.adapters.berlin_group_embedded import EmbeddedBerlinGroupAgent
from aggregation.adapters.clock import SystemClock
from aggregation.adapters.memory_vault import InMemoryConsentVault
from aggregation.adapters.pg_uow import PgStore, PgUnitOfWork
from aggregation.adapters.vault_client import HttpVaultClient
from aggregation.adapters.vault_credentials import HttpCredentialVault
from aggregation.domain.refs import RefKeys
from aggregation.entrypoints.members import MemberAuthenticator
from aggregation.service.context import Context
from aggregation.service.credential_ports import CredentialVault
from aggregation.service.embedded import CredentialContext
from aggregation.service.erasure import erase_member
from aggregation.service.ports import Clock, ConsentVault
from aggregation.service.scheduler import Scheduler
from aggregation.service.sync import resume_first_pulls
from aggregation.settings import AggregationSettings

log = get_logger(__name__)


class Container:
    def __init__(
        self,
        settings: AggregationSettings,
        runtime: Runtime,
        *,
        agent_transport: httpx.AsyncBaseTransport | None = None,
        vault_transport: httpx.AsyncBaseTransport | None = None,
        vault: ConsentVault | None = None,
        credential_vault: CredentialVault | None = None,
        clock: Clock | None = None,
        jwks_source: JwksSource | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self._agent_transport = agent_transport
        self._vault_transport = vault_transport
        self._vault = vault
        self._credential_vault = credential_vault
        self._clock = clock or SystemClock()
        self._jwks_source = jwks_source
        self._peers = PeerClients(settings)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ready = asyncio.Event()
        self.scheduler: Scheduler | None = None
        self._purge: ErasurePurgeLoop | None = None
        self._ctx: Context | None = None
        self._credentials: CredentialContext | None = None
        self._members: MemberAuthenticator | None = None

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("the container is not started")
        return self._ctx

    @property
    def credentials(self) -> CredentialContext:
        if self._credentials is None:
            raise RuntimeError("the container is not started")
        return self._credentials

    @property
    def members(self) -> MemberAuthenticator:
        if self._members is None:
            raise RuntimeError("the container is not started")
        return self._members

    async def start(self, runtime: Runtime) -> None:
        s = self.settings
        agent_client = self._peers.open(
            s.agent_base_url, transport=self._agent_transport, timeout=s.agent_timeout_seconds + 5
        )
        retry = RetryPolicy(
            attempts=s.agent_attempts,
            base_delay=s.agent_backoff_seconds,
            timeout=s.agent_timeout_seconds,
        )
        agent = EmbeddedBerlinGroupAgent(agent_client, retry)
        self._ctx = Context(
            uow=lambda: PgUnitOfWork(runtime),
            agent=agent,
            vault=self._vault or self._consent_vault(),
            clock=self._clock,
            refs=RefKeys(s.ref_key.get_secret_value().encode()),
            policy=s.policy(),
        )
        self._credentials = CredentialContext(
            vault=self._credential_vault or self._http_credential_vault(), agent=agent
        )
        verifier = self._peers.member_tokens(s, self._jwks_source)
        self._members = MemberAuthenticator(verifier, frozenset(s.member_scopes))
        if s.scheduler_enabled:
            self.scheduler = Scheduler(self._ctx, s.scheduler_interval_seconds)
            self.scheduler.start()
        self._purge = ErasurePurgeLoop(runtime.db)
        self._purge.start()
        self._ready.set()
        if s.initial_sync:
            self.spawn(resume_first_pulls(self._ctx), name="resume-first-pulls")

    async def stop(self, runtime: Runtime) -> None:
        if self._purge is not None:
            await self._purge.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(self._tasks, timeout=30)
        await self._peers.aclose()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run work after the response (an initial pull); failures are logged, never raised."""

        async def guarded() -> None:
            try:
                await work
            except Exception as exc:
                log.warning(
                    "background_work_failed",
                    work=name,
                    error=getattr(exc, "code", type(exc).__name__),
                )

        task = asyncio.create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for background work to finish (tests)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def on_erasure(self, event: Event, envelope: Envelope, uow: CommonUnitOfWork) -> None:
        """Erase the member: revoke consents at the agent, delete tokens, delete their data."""
        assert isinstance(event, ErasureRequested)
        await self._ready.wait()
        await erase_member(self.ctx, PgStore(uow), event.user_id, event.request_id)

    def _consent_vault(self) -> ConsentVault:
        s = self.settings
        if s.consent_vault == "memory":
            log.warning(
                "consent_vault_in_memory", note="development only: tokens die with the process"
            )
            return InMemoryConsentVault()
        return HttpVaultClient(self._vault_client())

    def _http_credential_vault(self) -> CredentialVault:
        s = self.settings
        if s.service_identity_key_file is None:
            raise RuntimeError(
                "sealed bank credentials need the vault: set service_identity_key_file"
            )
        return HttpCredentialVault(self._vault_client(), s.agent_name, s.sealing_keys_cache_seconds)

    def _vault_client(self) -> httpx.AsyncClient:
        s = self.settings
        return self._peers.open(
            s.vault_url,
            transport=self._vault_transport,
            timeout=s.vault_timeout_seconds,
            audience="vault",
        )
