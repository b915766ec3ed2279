"""Session use cases: start, refresh with rotation and reuse detection, logout, revoke all.

Rules: a refresh token is an opaque random value stored only as a keyed hash; refreshing uses
it once and hands out a new one; a reused one revokes the whole session; a session that has
been idle past its scope's timeout or reached its absolute end cannot be refreshed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from common.events.auth import LoginSucceeded, SessionRevoked
from common.logging import get_logger

from auth.domain.accounts import Account
from auth.domain.codes import new_token
from auth.domain.errors import InvalidToken, RefreshTokenReused, SessionExpired
from auth.domain.sessions import RefreshToken, Scope, Session
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.ports import AuthUnitOfWork
from auth.service.throttle import limit

REFRESH_PURPOSE = "refresh-token"
log = get_logger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    session_id: uuid.UUID
    scope: Scope
    idle_expires_at: datetime
    absolute_expires_at: datetime


async def _new_refresh(deps: Deps, uow: AuthUnitOfWork, session: Session) -> str:
    token = new_token()
    digest = deps.pepper.digest(REFRESH_PURPOSE, token)
    await uow.sessions.add_refresh(RefreshToken(digest, session.id, deps.clock.now()))
    return token


async def _pair(deps: Deps, session: Session, refresh: str) -> TokenPair:
    policy = deps.policy.sessions
    access = await deps.tokens.access_token(session, policy)
    return TokenPair(
        access.token,
        access.expires_at,
        refresh,
        session.id,
        session.scope,
        session.idle_expires_at(policy),
        session.absolute_expires_at,
    )


async def start_session(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    scope: Scope,
    methods: tuple[str, ...],
    ctx: RequestContext,
) -> TokenPair:
    """Open a session inside the caller's unit of work and record the successful login."""
    session = Session.start(
        account.id,
        scope,
        methods,
        deps.clock.now(),
        deps.policy.sessions,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        tenant_id=account.tenant_id,
    )
    await uow.sessions.add(session)
    refresh = await _new_refresh(deps, uow, session)
    uow.record(
        LoginSucceeded(
            user_id=account.id,
            session_id=session.id,
            methods=list(methods),
            scope=scope.value,
            **ctx.acting(account.id).audit(),
        ),
        subject=str(account.id),
    )
    return await _pair(deps, session, refresh)


async def refresh(deps: Deps, refresh_token: str, ctx: RequestContext) -> TokenPair:
    await limit(deps, deps.policy.rates.refresh_per_ip, ctx.ip)
    now = deps.clock.now()
    digest = deps.pepper.digest(REFRESH_PURPOSE, refresh_token)
    async with deps.uow() as uow:
        token = await uow.sessions.refresh_token(digest)
        session = await uow.sessions.get(token.session_id) if token else None
        if token is None or session is None:
            log.warning("refresh_token_refused", reason="unknown", ip=ctx.ip)
            raise InvalidToken()
        was_revoked = session.revoked_at is not None
        try:
            session.refresh(token, now, deps.policy.sessions)
        except RefreshTokenReused:
            if not was_revoked:
                await uow.sessions.update(session)
                _record_revoked(deps, uow, session, ctx.acting(session.user_id))
                await uow.commit()
            raise
        await uow.sessions.update(session)
        await uow.sessions.update_refresh(token)
        new = await _new_refresh(deps, uow, session)
        await uow.commit()
    return await _pair(deps, session, new)


def _record_revoked(deps: Deps, uow: AuthUnitOfWork, session: Session, ctx: RequestContext) -> None:
    """Publish the revocation with what a consumer needs to refuse the session's tokens."""
    revoked_at = session.revoked_at or deps.clock.now()
    expire_by = min(revoked_at + deps.policy.sessions.access_ttl, session.absolute_expires_at)
    uow.record(
        SessionRevoked(
            user_id=session.user_id,
            session_id=session.id,
            reason=session.revoked_reason or "revoked",
            revoked_at=revoked_at,
            tokens_expire_by=expire_by,
            **ctx.audit(),
        ),
        subject=str(session.user_id),
    )


async def active_session(
    deps: Deps, user_id: uuid.UUID, session_id: uuid.UUID, *, touch: bool = True
) -> Session:
    """The caller's session if still active (auth's own endpoints count as activity)."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        session = await uow.sessions.get(session_id)
        if session is None or session.user_id != user_id:
            raise SessionExpired()
        session.ensure_active(now, deps.policy.sessions)
        if touch:
            session.last_seen_at = now
            await uow.sessions.update(session)
            await uow.commit()
    return session


async def logout(
    deps: Deps, user_id: uuid.UUID, session_id: uuid.UUID, ctx: RequestContext
) -> None:
    async with deps.uow() as uow:
        session = await uow.sessions.get(session_id)
        if session is None or session.user_id != user_id:
            return
        if session.revoke(deps.clock.now(), "logout"):
            await uow.sessions.update(session)
            _record_revoked(deps, uow, session, ctx.acting(user_id))
        await uow.commit()


async def revoke_all(
    deps: Deps, user_id: uuid.UUID, ctx: RequestContext, reason: str = "revoke-all"
) -> int:
    async with deps.uow() as uow:
        count = await revoke_all_in(deps, uow, user_id, ctx, reason)
        await uow.commit()
    return count


async def revoke_all_in(
    deps: Deps,
    uow: AuthUnitOfWork,
    user_id: uuid.UUID,
    ctx: RequestContext,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    now, count = deps.clock.now(), 0
    for session in await uow.sessions.active_for_user(user_id):
        if session.id != keep and session.revoke(now, reason):
            await uow.sessions.update(session)
            _record_revoked(deps, uow, session, ctx.acting(user_id))
            count += 1
    return count
