"""Time-boxed operator grants: one named operator, one secret, limited time and uses.

Rules:
- Permission comes first: a caller that may not request grants is refused (``denied``) before
  anything it sent is validated, and one that may is checked for the named purpose before the
  names, reason, lifetime and uses are.
- Asking for a grant needs ``grant.request`` for the secret's purpose, a reason and the member's
  consent reference; the grant holds its own copy of the secret under the subject's data key.
- Using it needs ``grant.use``, the named operator and an open grant; each use is audited and
  counted; the last use, the expiry, a revocation or an erasure deletes the copy.
- An expired grant found at use time is ended (copy deleted) before the refusal.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from vault.domain import crypto, names
from vault.domain.caller import VAULT, Caller
from vault.domain.errors import GrantNotFound, InvalidName
from vault.domain.grants import EndReason, Grant, GrantRequest
from vault.domain.policy import Action
from vault.service.context import VaultContext, draft_for, guarded, record, require_any
from vault.service.ports import UnitOfWork
from vault.service.secrets import SecretRef, open_secret


async def may_request_grants(ctx: VaultContext, caller: Caller) -> None:
    """Refuse (audited as ``denied``) a caller that may never request a grant."""
    await require_any(ctx, caller, Action.REQUEST_GRANT)


async def request_grant(ctx: VaultContext, caller: Caller, request: GrantRequest) -> Grant:
    draft = draft_for(
        Caller(caller.service, request.operator if _valid_operator(request) else None),
        Action.REQUEST_GRANT,
        subject=request.subject,
        purpose=request.purpose,
        ref=request.secret_id,
    )
    async with guarded(ctx, draft) as uow:
        ctx.policy.check_any(caller.service, Action.REQUEST_GRANT)
        ctx.policy.check(caller.service, request.purpose, Action.REQUEST_GRANT)
        request.validated()
        ref = SecretRef(request.subject, request.purpose, request.secret_id)
        plaintext, key_id = await open_secret(ctx, uow, caller, ref, Action.REQUEST_GRANT)
        key = await ctx.keyring.load(uow, key_id)
        grant = _new_grant(ctx, caller, request, key.key_id, key.version)
        aad = crypto.secret_aad(grant.subject, grant.purpose, grant.copy_ref, key.version)
        copy = crypto.seal(await ctx.keyring.open(uow, key), plaintext, aad)
        grant = replace(grant, copy=copy)
        await uow.grants.add(grant)
        await record(
            uow,
            ctx,
            draft,
            grant_id=grant.grant_id,
            consent_ref=grant.consent_ref,
            reason=grant.reason,
            expires_at=grant.expires_at.isoformat(),
            max_uses=grant.max_uses,
        )
        await uow.commit()
    return grant


def _valid_operator(request: GrantRequest) -> bool:
    """An operator name goes into the audit entry only when it is a valid name."""
    try:
        names.operator(request.operator)
    except InvalidName:
        return False
    return True


def _new_grant(
    ctx: VaultContext, caller: Caller, request: GrantRequest, key_id: str, key_version: int
) -> Grant:
    now = ctx.clock.now()
    return Grant(
        grant_id=str(uuid.uuid4()),
        requested_by=caller.service,
        operator=request.operator,
        subject=request.subject,
        purpose=request.purpose,
        secret_id=request.secret_id,
        reason=request.reason,
        consent_ref=request.consent_ref,
        created_at=now,
        expires_at=now + request.ttl,
        max_uses=request.max_uses,
        uses=0,
        copy=None,
        copy_key_id=key_id,
        copy_key_version=key_version,
    )


async def use_grant(ctx: VaultContext, caller: Caller, grant_id: str) -> bytes:
    """The secret's value for the grant's operator; ``caller.operator`` must be that operator."""
    draft = draft_for(caller, Action.USE_GRANT, ref=grant_id)
    await _end_if_expired(ctx, grant_id)
    async with guarded(ctx, draft) as uow:
        grant = await _load(uow, grant_id)
        ctx.policy.check(caller.service, grant.purpose, Action.USE_GRANT)
        grant.check_use(ctx.clock.now(), caller.operator or "")
        key = await ctx.keyring.load(uow, grant.copy_key_id)
        aad = crypto.secret_aad(
            grant.subject, grant.purpose, grant.copy_ref, grant.copy_key_version
        )
        plaintext = crypto.open_sealed(await ctx.keyring.open(uow, key), grant.copy or b"", aad)
        used = grant.used(ctx.clock.now())
        await uow.grants.save(used)
        draft = draft_for(
            caller, Action.USE_GRANT, subject=grant.subject, purpose=grant.purpose, ref=grant_id
        )
        await record(uow, ctx, draft, uses=used.uses, max_uses=used.max_uses, ended=used.ended)
        await uow.commit()
    return plaintext


async def _load(uow: UnitOfWork, grant_id: str) -> Grant:
    try:
        uuid.UUID(grant_id)
    except ValueError:
        raise GrantNotFound() from None
    grant = await uow.grants.get(grant_id)
    if grant is None:
        raise GrantNotFound()
    return grant


async def _end_if_expired(ctx: VaultContext, grant_id: str) -> None:
    async with ctx.uow() as uow:
        try:
            grant = await _load(uow, grant_id)
        except GrantNotFound:
            return
        if grant.due_to_end(ctx.clock.now()):
            await _end(ctx, uow, grant, EndReason.EXPIRED, Caller(VAULT))
            await uow.commit()


async def _end(
    ctx: VaultContext, uow: UnitOfWork, grant: Grant, reason: EndReason, by: Caller
) -> Grant:
    ended = grant.end(ctx.clock.now(), reason)
    await uow.grants.save(ended)
    draft = draft_for(
        by, "grant.end", subject=grant.subject, purpose=grant.purpose, ref=grant.grant_id
    )
    await record(uow, ctx, draft, reason=str(reason), uses=grant.uses, copy_deleted=True)
    return ended


async def revoke_grant(ctx: VaultContext, caller: Caller, grant_id: str) -> Grant:
    draft = draft_for(caller, "grant.revoke", ref=grant_id)
    async with guarded(ctx, draft) as uow:
        grant = await _load(uow, grant_id)
        ctx.policy.check(caller.service, grant.purpose, Action.REQUEST_GRANT)
        if grant.ended:
            return grant
        ended = await _end(ctx, uow, grant, EndReason.REVOKED, caller)
        await uow.commit()
    return ended


async def end_expired_grants(ctx: VaultContext, limit: int = 500) -> int:
    """End every grant past its expiry (deleting its copy); returns how many ended."""
    async with ctx.uow() as uow:
        due = await uow.grants.due_to_end(ctx.clock.now(), limit)
        for grant in due:
            await _end(ctx, uow, grant, EndReason.EXPIRED, Caller(VAULT))
        await uow.commit()
    return len(due)
