"""What every use case is given: the ports and the policy in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from archive.service.ports import (
    Clock,
    DocumentKeys,
    ObjectStore,
    Renderer,
    Sealer,
    UnitOfWorkFactory,
)


@dataclass(frozen=True)
class Policy:
    """The rules' numbers (each one a setting)."""

    retention_years: int = 10
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 3600.0
    match_window_days: int = 3
    mail_domain: str = "receipts.coffre.local"
    batch_size: int = 20
    archival_every: timedelta = timedelta(days=730)
    upload_key_ttl: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class Context:
    uow: UnitOfWorkFactory
    keys: DocumentKeys
    store: ObjectStore
    sealer: Sealer
    renderer: Renderer
    clock: Clock
    policy: Policy
