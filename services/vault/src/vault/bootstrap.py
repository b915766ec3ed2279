"""The one place that wires the vault's use cases to their adapters."""

from __future__ import annotations

from datetime import timedelta

from vault.adapters.clock import SystemClock
from vault.domain.policy import DEFAULT_POLICY, Policy
from vault.service.appender import AuditAppender, UowAuditBatches
from vault.service.cache import DataKeyCache
from vault.service.context import VaultContext
from vault.service.keyring import Keyring
from vault.service.ports import AuditBatchWriter, Clock, Kms, UnitOfWorkFactory
from vault.service.subjects import SubjectCache


def build_context(
    uow: UnitOfWorkFactory,
    kms: Kms,
    *,
    policy: Policy = DEFAULT_POLICY,
    clock: Clock | None = None,
    cache_ttl_seconds: float = 300.0,
    cache_max_uses: int = 10_000,
    cache_max_entries: int = 10_000,
    max_secret_bytes: int = 16 * 1024,
    erasure_hold: timedelta = timedelta(0),
    audit_batches: AuditBatchWriter | None = None,
) -> VaultContext:
    """``audit_batches`` defaults to writing through the unit of work, which is right only for
    a store whose transactions run one at a time (the in-memory one); Postgres passes its own."""
    clock = clock or SystemClock()
    cache = DataKeyCache(
        clock, ttl_seconds=cache_ttl_seconds, max_uses=cache_max_uses, max_entries=cache_max_entries
    )
    return VaultContext(
        uow=uow,
        keyring=Keyring(kms, cache, clock),
        policy=policy,
        clock=clock,
        appender=AuditAppender(audit_batches or UowAuditBatches(uow), clock),
        subjects=SubjectCache(clock, ttl_seconds=cache_ttl_seconds, max_entries=cache_max_entries),
        max_secret_bytes=max_secret_bytes,
        erasure_hold=erasure_hold,
    )
