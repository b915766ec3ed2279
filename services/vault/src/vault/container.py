"""The vault's wiring for one process: KMS, use-case context, identity verifier, grant sweeper.

Rule: constructing a container does no I/O; ``start`` (in the app lifespan, once the runtime's
pool is open) makes sure a master key and the sealing keys exist, starts the sweeper that ends
expired grants and releases erasure holds past their deadline, the task that anchors the
audit head outside the database every ``anchor_seconds`` (and once more on the way out), and the
one that verifies the audit rows written since its last check every ``audit_verify_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from common.db.database import Database
from common.db.migrations import MigrationSet
from common.db.uow import UnitOfWork as CommonUnitOfWork
from common.logging import get_logger
from common.runtime import Runtime
from common.security.service_identity import ServiceTokenVerifier
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.adapters.anchors import FileAnchorStore, load_or_create_anchor_key
from vault.adapters.kms import AwsKms, LocalFileKms
from vault.adapters.pg_audit_batches import PgAuditBatches
from vault.adapters.pg_uow import pg_uow_factory
from vault.bootstrap import build_context
from vault.domain.anchor import Checkpoint
from vault.domain.audit import Head, VerifyReport
from vault.domain.errors import ConcurrentUpdate, RotationConflict
from vault.domain.policy import DEFAULT_POLICY, Policy
from vault.service import anchoring, erasure, grants, reseal, sealing
from vault.service.chain_watch import ChainWatch
from vault.service.context import VaultContext
from vault.service.ports import Kms
from vault.settings import VaultSettings

log = get_logger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "adapters" / "migrations"


def migrations() -> MigrationSet:
    """The vault's SQL migrations (read when asked, never at import)."""
    return MigrationSet.from_folder("vault", MIGRATIONS_DIR)


def make_kms(settings: VaultSettings) -> Kms:
    if settings.kms == "aws":
        assert settings.aws_kms_key_id is not None
        return AwsKms.connect(
            settings.aws_kms_key_id,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )
    return LocalFileKms(settings.kms_key_file)


def make_context(
    settings: VaultSettings,
    open_common: Callable[[], CommonUnitOfWork],
    database: Callable[[], Database],
    kms: Kms | None = None,
) -> VaultContext:
    """The use cases over Postgres; ``database`` gives the open pool (called after start-up)."""
    return build_context(
        pg_uow_factory(open_common),
        kms or make_kms(settings),
        policy=Policy.parse(settings.policy) if settings.policy is not None else DEFAULT_POLICY,
        cache_ttl_seconds=settings.cache_ttl_seconds,
        cache_max_uses=settings.cache_max_uses,
        cache_max_entries=settings.cache_max_entries,
        max_secret_bytes=settings.max_secret_bytes,
        erasure_hold=timedelta(seconds=settings.erasure_hold_seconds),
        audit_batches=PgAuditBatches(database),
    )


async def ensure_keys(ctx: VaultContext) -> None:
    """A master key and the sealing keys exist; replicas starting together may race once."""
    for attempt in range(3):
        try:
            async with ctx.uow() as uow:
                await ctx.keyring.active_master(uow)
                await uow.commit()
            await sealing.ensure_keys(ctx)
            return
        except (RotationConflict, ConcurrentUpdate):
            if attempt == 2:
                raise
            await asyncio.sleep(0.2)


class Container:
    def __init__(
        self, settings: VaultSettings, runtime: Runtime, *, kms: Kms | None = None
    ) -> None:
        self.settings = settings
        self.ctx = make_context(settings, runtime.uow, lambda: runtime.db, kms)
        self.agent_keys = reseal.parse_agent_keys(settings.agent_keys)
        self.verifier = ServiceTokenVerifier("vault", {})
        self._sweeper: asyncio.Task[None] | None = None
        self._anchorer: asyncio.Task[None] | None = None
        self.anchors = FileAnchorStore(settings.anchor_dir)
        self.anchor_key: Ed25519PrivateKey | None = None
        self.last_anchor: Head | None = None
        self.chain_watch = ChainWatch(
            self.ctx, full_every_seconds=settings.audit_full_verify_seconds
        )
        self._chain_checker: asyncio.Task[None] | None = None

    async def start(self, runtime: Runtime) -> None:
        if self.settings.service_trust_dir:
            self.verifier = ServiceTokenVerifier.from_folder(
                "vault", self.settings.service_trust_dir
            )
        await ensure_keys(self.ctx)
        self._sweeper = asyncio.create_task(self._sweep(), name="vault-grant-sweeper")
        self._chain_checker = asyncio.create_task(self._check_loop(), name="vault-chain-check")
        try:
            self.anchor_key = load_or_create_anchor_key(self.settings.anchor_key_file)
        except (OSError, ValueError) as exc:  # the vault serves on; the gap is logged loudly
            log.error("audit_anchoring_disabled", error=type(exc).__name__)
            return
        self._anchorer = asyncio.create_task(self._anchor_loop(), name="vault-audit-anchor")

    async def stop(self, runtime: Runtime) -> None:
        for task in (self._sweeper, self._anchorer, self._chain_checker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.ctx.appender.close()
        await self._anchor_once()  # the last head of this process, anchored on the way out

    async def anchor_now(self) -> Checkpoint | None:
        """Anchor the head now if it moved since the last checkpoint of this process."""
        assert self.anchor_key is not None, "the container is not started"
        checkpoint = await anchoring.anchor_head(
            self.ctx, self.anchor_key, self.anchors, self.last_anchor
        )
        if checkpoint is not None:
            self.last_anchor = checkpoint.head
        return checkpoint

    async def _anchor_once(self) -> None:
        if self.anchor_key is None:
            return
        try:
            await self.anchor_now()
        except Exception as exc:  # the next round (or the next start) anchors it
            log.warning("audit_anchor_failed", error=type(exc).__name__)

    async def _anchor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.anchor_seconds)
            await self._anchor_once()

    async def check_chain_now(self) -> VerifyReport:
        """Verify the audit rows written since the last check (from the latest anchor that
        verifies, the first time) and set the chain gauge."""
        anchor = None
        if self.anchor_key is not None:
            anchor, _ = self.anchors.latest(self.anchor_key.public_key())
        return await self.chain_watch.check(anchor.head if anchor else None)

    async def _check_loop(self) -> None:
        while True:
            try:
                await self.check_chain_now()
            except Exception as exc:  # unreadable now (database down): the next tick retries
                log.warning("audit_chain_check_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.audit_verify_seconds)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.grant_sweep_seconds)
            try:
                ended = await grants.end_expired_grants(self.ctx)
                if ended:
                    log.info("grants_expired", count=ended)
                released = await erasure.release_due_holds(self.ctx)
                if released:
                    log.info("erasure_holds_released", count=released, reason="deadline")
            except Exception as exc:  # keep sweeping; the next round retries
                log.warning("grant_sweep_failed", error=type(exc).__name__)
