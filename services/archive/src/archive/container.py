"""The one place that wires archive's use cases to their adapters.

Rules: building a container does no I/O; `start` (in the app's lifespan) loads the seal
material, opens the vault client and the object store (creating the locked bucket if
missing; a store that is down only delays storing: receipts wait staged and are retried),
the JWKS cache, the SMTP server and the scheduler; `stop` closes them after in-flight
work ends. Tests may hand in document keys, a store, a sealer, a clock, a vault transport or a
JWKS source; nothing else differs from production.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import httpx
from common.http.peers import PeerClients
from common.logging import get_logger
from common.runtime import Runtime
from common.security.access_tokens import JwksSource

from archive.adapters.clock import SystemClock
from archive.adapters.faults import KillingStore
from archive.adapters.pg_uow import PgUnitOfWork
from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.renderer import PdfRenderer
from archive.adapters.s3_store import S3ObjectStore
from archive.adapters.sealing import build_sealer
from archive.adapters.vault_keys import HttpDocumentKeys
from archive.domain.errors import StoreUnavailable
from archive.entrypoints.members import MemberAuthenticator
from archive.service.context import Context, Policy
from archive.service.ports import Clock, DocumentKeys, ObjectStore, Sealer
from archive.service.scheduler import Scheduler
from archive.settings import ArchiveSettings

log = get_logger(__name__)


class Container:
    def __init__(
        self,
        settings: ArchiveSettings,
        runtime: Runtime,
        *,
        keys: DocumentKeys | None = None,
        store: ObjectStore | None = None,
        sealer: Sealer | None = None,
        clock: Clock | None = None,
        vault_transport: httpx.AsyncBaseTransport | None = None,
        jwks_source: JwksSource | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self._keys, self._store, self._sealer = keys, store, sealer
        self._clock = clock or SystemClock()
        self._vault_transport = vault_transport
        self._jwks_source = jwks_source
        self._peers = PeerClients(settings)
        self._built_sealer: PadesSealer | None = None
        self._ready = asyncio.Event()
        self._ctx: Context | None = None
        self._members: MemberAuthenticator | None = None
        self.scheduler: Scheduler | None = None
        self.smtp: asyncio.Server | None = None
        self._smtp_tasks: set[asyncio.Task[Any]] = set()

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

    def policy(self) -> Policy:
        s = self.settings
        return Policy(
            retention_years=s.retention_years,
            retry_base_seconds=s.retry_base_seconds,
            retry_cap_seconds=s.retry_cap_seconds,
            match_window_days=s.match_window_days,
            mail_domain=s.smtp_domain,
            archival_every=timedelta(days=s.archival_timestamp_days),
            upload_key_ttl=timedelta(hours=s.upload_key_ttl_hours),
        )

    async def start(self, runtime: Runtime) -> None:
        s = self.settings
        store = self._store or self._s3()
        sealer: Sealer = self._sealer or await self._build_sealer()
        if s.fault_kill_at is not None:
            store = KillingStore(
                store, after_writes={"after-intake": 0, "after-store": 2}[s.fault_kill_at]
            )
        try:
            await store.ensure_bucket()
        except StoreUnavailable as exc:
            log.warning("object_store_unavailable_at_start", error=exc.message)
        self._ctx = Context(
            uow=lambda: PgUnitOfWork(runtime),
            keys=self._keys or self._vault(),
            store=store,
            sealer=sealer,
            renderer=PdfRenderer(s.max_pixels, s.body_font_file),
            clock=self._clock,
            policy=self.policy(),
        )
        verifier = self._peers.member_tokens(s, self._jwks_source)
        self._members = MemberAuthenticator(verifier, frozenset(s.member_scopes))
        if s.smtp_enabled:
            await self._start_smtp()
        if s.scheduler_enabled:
            self.scheduler = Scheduler(
                self._ctx,
                s.scheduler_interval_seconds,
                s.sweep_interval_seconds,
                s.sweep_sample_size,
            )
            self.scheduler.start()
        self._ready.set()

    async def _build_sealer(self) -> Sealer:
        self._built_sealer = await asyncio.to_thread(build_sealer, self.settings)
        return self._built_sealer

    async def _start_smtp(self) -> None:
        from archive.entrypoints.smtp import start_smtp

        s = self.settings
        self.smtp, handler = await start_smtp(
            self.ctx,
            host=s.smtp_host,
            port=s.smtp_port,
            domain=s.smtp_domain,
            max_message_bytes=s.smtp_max_message_bytes,
            max_recipients=s.smtp_max_recipients,
            max_attachments=s.smtp_max_attachments,
        )
        self._smtp_tasks = handler.tasks
        log.info("smtp_listening", port=self.smtp_port)

    @property
    def smtp_port(self) -> int | None:
        if self.smtp is None or not self.smtp.sockets:
            return None
        port: int = self.smtp.sockets[0].getsockname()[1]
        return port

    async def stop(self, runtime: Runtime) -> None:
        if self.smtp is not None:
            self.smtp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.smtp.wait_closed(), 5)
        if self._smtp_tasks:
            await asyncio.wait(set(self._smtp_tasks), timeout=30)
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self._peers.aclose()
        if self._built_sealer is not None:
            await asyncio.to_thread(self._built_sealer.close)

    async def ready(self) -> Context:
        """The context, once `start` has built it (consumers may be called before)."""
        await self._ready.wait()
        return self.ctx

    def _s3(self) -> S3ObjectStore:
        s = self.settings
        secret = s.s3_secret_access_key.get_secret_value() if s.s3_secret_access_key else None
        return S3ObjectStore(
            s.s3_bucket,
            endpoint_url=s.s3_endpoint_url,
            region=s.s3_region,
            access_key_id=s.s3_access_key_id,
            secret_access_key=secret,
            create_bucket=s.s3_create_bucket,
        )

    def _vault(self) -> DocumentKeys:
        s = self.settings
        client = self._peers.open(
            s.vault_url,
            transport=self._vault_transport,
            timeout=s.vault_timeout_seconds,
            audience="vault",
        )
        return HttpDocumentKeys(client)
