"""The vault's unit of work over ``common.db.UnitOfWork``: the repositories on one connection.

Rules: ``PgVaultUnitOfWork(runtime.uow)`` owns its transaction (``commit`` commits, events go to
the outbox in it); ``PgVaultUnitOfWork.attached(uow)`` borrows a transaction someone else
commits (the consumer's, with its inbox row) and its ``commit`` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from common.db.uow import UnitOfWork as CommonUnitOfWork
from common.events.base import Event

from vault.adapters.pg_audit import PgAuditLog
from vault.adapters.pg_holds import PgErasureHolds
from vault.adapters.pg_keys import PgDataKeys, PgMasterKeys, PgSubjectEpochs
from vault.adapters.pg_records import PgGrants, PgRotations, PgSealingKeys, PgSecrets


class PgVaultUnitOfWork:
    master_keys: PgMasterKeys
    data_keys: PgDataKeys
    secrets: PgSecrets
    grants: PgGrants
    rotations: PgRotations
    sealing_keys: PgSealingKeys
    audit: PgAuditLog
    erasure_holds: PgErasureHolds
    subject_epochs: PgSubjectEpochs

    def __init__(
        self,
        open_common: Callable[[], CommonUnitOfWork] | None = None,
        *,
        borrowed: CommonUnitOfWork | None = None,
    ) -> None:
        self._open_common = open_common
        self._borrowed = borrowed
        self._inner: CommonUnitOfWork | None = borrowed

    @classmethod
    def attached(cls, uow: CommonUnitOfWork) -> PgVaultUnitOfWork:
        return cls(borrowed=uow)

    @property
    def inner(self) -> CommonUnitOfWork:
        if self._inner is None:
            raise RuntimeError("the unit of work is not open")
        return self._inner

    async def __aenter__(self) -> Self:
        if self._borrowed is None:
            assert self._open_common is not None
            self._inner = await self._open_common().__aenter__()
        conn = self.inner.conn
        self.master_keys = PgMasterKeys(conn)
        self.data_keys = PgDataKeys(conn)
        self.secrets = PgSecrets(conn)
        self.grants = PgGrants(conn)
        self.rotations = PgRotations(conn)
        self.sealing_keys = PgSealingKeys(conn)
        self.audit = PgAuditLog(conn)
        self.erasure_holds = PgErasureHolds(conn)
        self.subject_epochs = PgSubjectEpochs(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._borrowed is None and self._inner is not None:
            inner, self._inner = self._inner, None
            await inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        if self._borrowed is None:
            await self.inner.commit()

    def publish(self, event: Event, *, subject: str) -> None:
        self.inner.record(event, subject=subject)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.inner.after_commit(callback)


def pg_uow_factory(open_common: Callable[[], CommonUnitOfWork]) -> Callable[[], PgVaultUnitOfWork]:
    return lambda: PgVaultUnitOfWork(open_common)
