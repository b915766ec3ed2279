"""Password reset: by e-mail link, with the second factor when enrolled, revoking every session."""

from __future__ import annotations

import pytest
from auth.domain.challenges import Method
from auth.domain.errors import (
    InvalidCode,
    InvalidCredentials,
    LinkInvalid,
    ProofRequired,
    RateLimited,
    SessionExpired,
    WeakPassword,
)
from auth.service import login, password_reset, registration, reset_factor, sessions
from auth_unit_helpers import CTX, PASSWORD, Harness
from common.events.auth import PasswordResetCompleted, PasswordResetRequested, SessionRevoked

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

NEW_PASSWORD = "copper-lantern-meadow-77"
ADA = "ada@example.org"


async def _sign_in(h: Harness, password: str = PASSWORD) -> sessions.TokenPair:
    result = await login.login(h.deps, ADA, password, CTX)
    assert result.tokens is not None
    return result.tokens


async def test_asking_for_a_reset_answers_the_same_whether_or_not_the_address_has_an_account(
    h: Harness,
) -> None:
    user_id = await h.account()
    assert await password_reset.request_reset(h.deps, ADA, CTX) is None
    assert await password_reset.request_reset(h.deps, "ghost@example.org", CTX) is None
    assert h.mailer.last_link_token(ADA)
    ghost = h.mailer.last_to("ghost@example.org")
    assert ghost is not None
    assert ghost.link_token is None
    assert [e.user_id for e in h.state.of_type(PasswordResetRequested)] == [user_id]


async def test_a_reset_sets_the_new_password_revokes_every_session_and_tells_the_member(
    h: Harness,
) -> None:
    user_id = await h.account()
    first, second = await _sign_in(h), await _sign_in(h)
    await password_reset.request_reset(h.deps, ADA, CTX)
    token = h.mailer.last_link_token(ADA)
    assert await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, None, CTX) == 2
    for pair in (first, second):
        with pytest.raises(SessionExpired):
            await sessions.active_session(h.deps, user_id, pair.session_id)
    revoked = h.state.of_type(SessionRevoked)
    assert {(e.session_id, e.reason) for e in revoked} == {
        (first.session_id, "password-reset"),
        (second.session_id, "password-reset"),
    }
    done = h.state.of_type(PasswordResetCompleted)[0]
    assert (done.user_id, done.sessions_revoked, done.second_factor) == (user_id, 2, None)
    notice = h.mailer.last_to(ADA)
    assert notice is not None
    assert "was changed" in notice.subject
    with pytest.raises(InvalidCredentials):
        await _sign_in(h, PASSWORD)
    assert await _sign_in(h, NEW_PASSWORD)


async def test_a_reset_link_works_once_expires_after_30_minutes_and_survives_a_weak_password(
    h: Harness,
) -> None:
    await h.account()
    await password_reset.request_reset(h.deps, ADA, CTX)
    token = h.mailer.last_link_token(ADA)
    with pytest.raises(WeakPassword):
        await password_reset.complete_reset(h.deps, token, "password1234", None, CTX)
    await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, None, CTX)
    with pytest.raises(LinkInvalid):
        await password_reset.complete_reset(h.deps, token, NEW_PASSWORD + "x", None, CTX)
    await password_reset.request_reset(h.deps, ADA, CTX)
    late = h.mailer.last_link_token(ADA)
    h.clock.advance(minutes=30)
    with pytest.raises(LinkInvalid):
        await password_reset.complete_reset(h.deps, late, PASSWORD, None, CTX)


async def test_a_reset_needs_the_enrolled_second_factor_and_counts_a_wrong_one(
    h: Harness,
) -> None:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    await password_reset.request_reset(h.deps, ADA, CTX)
    token = h.mailer.last_link_token(ADA)
    with pytest.raises(ProofRequired):
        await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, None, CTX)
    with pytest.raises(InvalidCode):
        await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, "000000", CTX)
    assert h.state.failures[f"acct:{user_id}"].failures == 1
    code = totp.at(h.clock.now())
    await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, code, CTX)
    assert h.state.of_type(PasswordResetCompleted)[0].second_factor == "totp"
    assert h.state.failures[f"acct:{user_id}"].failures == 0


async def test_a_registration_link_cannot_reset_a_password_nor_the_reverse(h: Harness) -> None:
    await h.account()
    await registration.register(h.deps, "bob@example.org", CTX)
    with pytest.raises(LinkInvalid):
        await password_reset.complete_reset(
            h.deps, h.mailer.last_link_token("bob@example.org"), NEW_PASSWORD, None, CTX
        )
    await password_reset.request_reset(h.deps, ADA, CTX)
    with pytest.raises(LinkInvalid):
        await registration.complete(h.deps, h.mailer.last_link_token(ADA), NEW_PASSWORD, CTX)


async def test_asking_for_resets_is_limited_per_address(h: Harness) -> None:
    await h.account()
    for _ in range(3):
        await password_reset.request_reset(h.deps, ADA, CTX)
    with pytest.raises(RateLimited):
        await password_reset.request_reset(h.deps, ADA, CTX)


async def test_a_member_with_only_a_phone_resets_with_a_code_texted_for_the_link(
    h: Harness,
) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    await password_reset.request_reset(h.deps, ADA, CTX)
    token = h.mailer.last_link_token(ADA)
    sent_to, _ = await reset_factor.send_reset_sms(h.deps, token, CTX)
    assert sent_to.endswith("78")
    code = h.last_code()
    texted = h.sms.last_to("+33612345678")
    assert texted is not None
    assert "password reset" in texted.text
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(InvalidCode):
        await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, wrong, CTX, Method.SMS)
    assert h.state.failures[f"acct:{user_id}"].failures == 1
    await password_reset.complete_reset(h.deps, token, NEW_PASSWORD, code, CTX, Method.SMS)
    assert h.state.of_type(PasswordResetCompleted)[0].second_factor == "sms"
    assert (await login.login(h.deps, ADA, NEW_PASSWORD, CTX)).ticket
