"""Session limits as a member meets them: idle timeouts per scope, absolute lifetime, reuse."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from auth.domain.challenges import Method
from auth.domain.errors import RefreshTokenReused, SessionExpired
from auth.domain.sessions import Scope, SessionPolicy
from auth.service import login, sessions
from auth.service.deps import AuthPolicy
from auth.service.sessions import TokenPair
from auth_unit_helpers import CTX, PASSWORD, Harness
from common.events.auth import SessionRevoked
from common.security.access_tokens import ExpiredToken

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def _member(h: Harness) -> TokenPair:
    await h.account()
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert result.tokens is not None
    return result.tokens


async def _payment(h: Harness) -> TokenPair:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX, Scope.PAYMENT)
    assert result.ticket is not None
    return await login.complete_login(
        h.deps, result.ticket, Method.TOTP, totp.at(h.clock.now()), CTX
    )


async def _use(h: Harness, pair: TokenPair) -> None:
    claims = await h.verifier.verify(pair.access_token)
    user_id = uuid.UUID(claims.subject)
    await sessions.active_session(h.deps, user_id, pair.session_id)


async def test_member_session_is_cut_after_20_idle_minutes_with_no_grace(h: Harness) -> None:
    pair = await _member(h)
    assert pair.idle_expires_at - h.clock.now() == timedelta(minutes=20)
    h.clock.advance(minutes=19, seconds=59)
    fresh = await sessions.refresh(h.deps, pair.refresh_token, CTX)
    h.clock.advance(minutes=20)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, fresh.refresh_token, CTX)


async def test_activity_on_auth_endpoints_keeps_a_member_session_alive(h: Harness) -> None:
    pair = await _member(h)
    h.clock.advance(minutes=4)
    await _use(h, pair)
    h.clock.advance(minutes=19)
    fresh = await sessions.refresh(h.deps, pair.refresh_token, CTX)
    assert fresh.session_id == pair.session_id


async def test_payment_scope_session_is_cut_after_5_idle_minutes(h: Harness) -> None:
    pair = await _payment(h)
    assert pair.scope is Scope.PAYMENT
    assert pair.idle_expires_at - h.clock.now() == timedelta(minutes=5)
    assert pair.access_expires_at <= pair.idle_expires_at
    h.clock.advance(minutes=4, seconds=59)
    fresh = await sessions.refresh(h.deps, pair.refresh_token, CTX)
    h.clock.advance(minutes=5)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, fresh.refresh_token, CTX)


async def test_idle_timeouts_follow_the_configuration() -> None:
    policy = replace(AuthPolicy(), sessions=SessionPolicy(idle_member=timedelta(minutes=7)))
    h = Harness(policy=policy)
    pair = await _member(h)
    h.clock.advance(minutes=7)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)


async def test_an_always_active_session_still_ends_at_its_absolute_lifetime(h: Harness) -> None:
    pair = await _member(h)
    end = pair.absolute_expires_at
    assert end - h.clock.now() == timedelta(hours=12)
    while h.clock.now() + timedelta(minutes=10) < end:
        h.clock.advance(minutes=10)
        pair = await sessions.refresh(h.deps, pair.refresh_token, CTX)
        assert pair.access_expires_at <= end
    h.clock.current = end
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)


async def test_a_reused_refresh_token_revokes_every_token_of_the_family(h: Harness) -> None:
    first = await _member(h)
    second = await sessions.refresh(h.deps, first.refresh_token, CTX)
    third = await sessions.refresh(h.deps, second.refresh_token, CTX)
    with pytest.raises(RefreshTokenReused):
        await sessions.refresh(h.deps, first.refresh_token, CTX)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, third.refresh_token, CTX)
    with pytest.raises(SessionExpired):
        await _use(h, third)
    assert [e.reason for e in h.state.of_type(SessionRevoked)] == ["refresh-reuse"]


async def test_no_service_accepts_a_payment_token_once_auth_refuses_the_idle_session(
    h: Harness,
) -> None:
    pair = await _payment(h)
    user_id = (await h.verifier.verify(pair.access_token)).subject
    h.clock.advance(seconds=(pair.idle_expires_at - h.clock.now()).total_seconds() - 1)
    await h.verifier.verify(pair.access_token, required_scope="payment")  # default 5 s leeway
    await sessions.active_session(h.deps, uuid.UUID(user_id), pair.session_id, touch=False)
    h.clock.advance(seconds=1)
    with pytest.raises(SessionExpired):
        await sessions.active_session(h.deps, uuid.UUID(user_id), pair.session_id, touch=False)
    for late in (0, 1, 4):
        h.clock.advance(seconds=late)
        with pytest.raises(ExpiredToken):
            await h.verifier.verify(pair.access_token, required_scope="payment")


async def test_a_revocation_event_tells_consumers_which_session_and_until_when(
    h: Harness,
) -> None:
    pair = await _member(h)
    claims = await h.verifier.verify(pair.access_token)
    await sessions.logout(h.deps, uuid.UUID(claims.subject), pair.session_id, CTX)
    event = h.state.of_type(SessionRevoked)[-1]
    assert (event.session_id, str(event.user_id)) == (pair.session_id, claims.subject)
    assert event.revoked_at == h.clock.now()
    assert event.tokens_expire_by == h.clock.now() + timedelta(minutes=5)
    assert event.tokens_expire_by.timestamp() >= claims.expires_at
