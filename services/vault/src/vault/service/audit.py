"""Audit use cases: refuse an unidentified caller (audited), verify the chain.

Rules: a call without a service identity is refused with ``IdentityMissing`` after an audit
entry with actor ``anonymous``; verification streams the log in ``seq`` order.
"""

from __future__ import annotations

from vault.domain.audit import AuditDraft, ChainVerifier, Head, Outcome, VerifyReport
from vault.domain.caller import ANONYMOUS
from vault.domain.errors import IdentityMissing
from vault.service.context import VaultContext, audit_now


async def refuse_unidentified(ctx: VaultContext, action: str, reason: str) -> None:
    """Record the refusal, then raise ``IdentityMissing``."""
    error = IdentityMissing()
    await audit_now(
        ctx,
        AuditDraft(
            actor=ANONYMOUS,
            action=action,
            outcome=Outcome.DENIED,
            detail={"error": error.code, "reason": reason},
        ),
    )
    raise error


async def verify(ctx: VaultContext, expected_head: Head | None = None) -> VerifyReport:
    verifier = ChainVerifier(expected_head)
    async with ctx.uow() as uow:
        async for entry in uow.audit.entries():
            if not verifier.feed(entry):
                break
    return verifier.report()


async def head(ctx: VaultContext) -> Head | None:
    async with ctx.uow() as uow:
        return await uow.audit.head()
