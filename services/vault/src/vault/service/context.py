"""What every use case needs, and the guard that audits refusals.

Rules:
- An allowed operation that changes state writes its audit entry in the same transaction as its
  effect; one that only discloses (a read, an unwrap) hands its entry to the group-commit
  appender and answers once it is durable. Either way there is no decrypt without its entry.
- A refused or failed operation is rolled back, then its audit entry (outcome ``denied`` for a
  policy or identity refusal, ``failed`` otherwise, with the error code) is committed on its own.
- What a caller names (subject, purpose, reference) is recorded as sent, even when invalid, but
  as one printable line of at most 128 characters: control characters (NUL included, which
  Postgres cannot store) become ``?``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from common.errors import CoffreError, Forbidden, Unauthenticated

from vault.domain.audit import AuditDraft, AuditEntry, DetailValue, Outcome
from vault.domain.caller import Caller
from vault.domain.errors import PolicyDenied
from vault.domain.policy import Action, Policy
from vault.service.appender import AuditAppender
from vault.service.keyring import Keyring
from vault.service.ports import Clock, UnitOfWork, UnitOfWorkFactory
from vault.service.subjects import SubjectCache


@dataclass(frozen=True, slots=True)
class VaultContext:
    uow: UnitOfWorkFactory
    keyring: Keyring
    policy: Policy
    clock: Clock
    appender: AuditAppender
    subjects: SubjectCache
    max_secret_bytes: int = 16 * 1024
    erasure_hold: timedelta = timedelta(0)
    """How long an erasure may wait for the member's consents to be revoked; 0: never."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_IN_AUDIT = 128


def printable(value: str | None) -> str | None:
    """A caller-supplied name as it may go into the audit log."""
    if value is None:
        return None
    return _CONTROL.sub("?", value[:MAX_NAME_IN_AUDIT])


def draft_for(
    caller: Caller,
    action: Action | str,
    *,
    subject: str | None = None,
    purpose: str | None = None,
    ref: str | None = None,
) -> AuditDraft:
    return AuditDraft(
        actor=caller.service,
        action=str(action),
        outcome=Outcome.ALLOWED,
        subject=printable(subject),
        purpose=printable(purpose),
        ref=printable(ref),
        operator=caller.operator,
    )


async def audit_now(ctx: VaultContext, draft: AuditDraft) -> AuditEntry:
    """Append one entry in its own committed transaction."""
    async with ctx.uow() as uow:
        entry = await uow.audit.append(draft, ctx.clock.now())
        await uow.commit()
    return entry


@asynccontextmanager
async def guarded(ctx: VaultContext, draft: AuditDraft) -> AsyncIterator[UnitOfWork]:
    """A unit of work whose client-caused failures are audited after the rollback."""
    try:
        async with ctx.uow() as uow:
            yield uow
    except CoffreError as exc:
        await audit_now(ctx, failed(draft, exc))
        raise


async def require_any(ctx: VaultContext, caller: Caller, action: Action) -> None:
    """Refuse (audited ``denied``) a caller that may never do ``action``, before its input is
    read: permission comes first."""
    try:
        ctx.policy.check_any(caller.service, action)
    except PolicyDenied as exc:
        await audit_now(ctx, failed(draft_for(caller, action), exc))
        raise


def failed(draft: AuditDraft, exc: CoffreError) -> AuditDraft:
    """The entry of a refused or failed call: ``denied`` (policy, identity) or ``failed``."""
    outcome = Outcome.DENIED if isinstance(exc, Forbidden | Unauthenticated) else Outcome.FAILED
    return draft._replace(outcome=outcome, detail={"error": exc.code})


async def record(
    uow: UnitOfWork, ctx: VaultContext, draft: AuditDraft, **detail: DetailValue
) -> AuditEntry:
    """Append the allowed entry inside the operation's own transaction."""
    clean = {k: v for k, v in detail.items() if v is not None}
    return await uow.audit.append(draft._replace(detail=clean), ctx.clock.now())
