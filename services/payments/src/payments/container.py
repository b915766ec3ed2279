"""The one place that wires payments' use cases to their adapters.

Rules: building a container does no I/O; ``start`` (in the app's lifespan) opens the bank,
vault and fraud clients, the JWKS cache and the worker; ``stop`` closes them. Tests may hand
in transports (in-process bank, vault or fraud), a clock or a JWKS source; nothing else
differs from production.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from common.http.peers import PeerClients
from common.logging import get_logger
from common.runtime import Runtime
from common.security.access_tokens import JwksSource
from common.security.stepup import StepUpVerifier

from payments.adapters.berlin_group_pis import BerlinGroupBank
from payments.adapters.clock import SystemClock
from payments.adapters.fraud_client import HttpFraudClient
from payments.adapters.pg_uow import PgUnitOfWork
from payments.adapters.vault_client import HttpVaultClient
from payments.domain.refs import RefKeys
from payments.entrypoints.members import MemberAuthenticator
from payments.service import metrics
from payments.service.context import Context
from payments.service.ports import Clock
from payments.service.worker import Worker
from payments.settings import PaymentsSettings

log = get_logger(__name__)


class Container:
    def __init__(
        self,
        settings: PaymentsSettings,
        runtime: Runtime,
        *,
        bank_transport: httpx.AsyncBaseTransport | None = None,
        vault_transport: httpx.AsyncBaseTransport | None = None,
        fraud_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        jwks_source: JwksSource | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self._transports = (bank_transport, vault_transport, fraud_transport)
        self._clock = clock or SystemClock()
        self._jwks_source = jwks_source
        self._peers = PeerClients(settings)
        self._ready = asyncio.Event()
        self.worker: Worker | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._ctx: Context | None = None
        self._members: MemberAuthenticator | None = None

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("the container is not started")
        return self._ctx

    @property
    def members(self) -> MemberAuthenticator:
        if self._members is None:
            raise RuntimeError("the container is not started")
        return self._members

    async def ready(self) -> Context:
        await self._ready.wait()
        return self.ctx

    async def start(self, runtime: Runtime) -> None:
        s, peers = self.settings, self._peers
        bank_t, vault_t, fraud_t = self._transports
        members = peers.member_tokens(s, self._jwks_source)
        self._ctx = Context(
            uow=lambda: PgUnitOfWork(runtime),
            bank=BerlinGroupBank(
                peers.open(s.bank_base_url, transport=bank_t, timeout=s.bank_timeout_seconds + 5),
                timeout=s.bank_timeout_seconds,
            ),
            vault=HttpVaultClient(peers.open(
                s.vault_url, transport=vault_t, timeout=s.vault_timeout_seconds, audience="vault"
            )),
            fraud=HttpFraudClient(peers.open(
                s.fraud_url, transport=fraud_t, timeout=s.fraud_timeout_seconds, audience="fraud"
            )),
            stepup=StepUpVerifier(members.keys, issuer=s.token_issuer),
            clock=self._clock,
            refs=RefKeys(s.ref_key.get_secret_value().encode()),
            policy=s.policy(),
        )  # fmt: skip
        self._members = MemberAuthenticator(members, s.member_scope, self._ctx.uow)
        if s.worker_enabled:
            self.worker = Worker(self._ctx, s.worker_interval_seconds)
            self.worker.start()
        self._sampler = asyncio.create_task(
            metrics.sample_live_forever(self._ctx.uow, s.metrics_sample_seconds),
            name="payments-state-sampler",
        )
        self._ready.set()

    async def stop(self, runtime: Runtime) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        if self.worker is not None:
            await self.worker.stop()
        await self._peers.aclose()

    def kick(self) -> None:
        """Wake the worker soon (after the caller's transaction has committed)."""
        if self.worker is not None:
            asyncio.get_running_loop().call_later(0.05, self.worker.kick)
