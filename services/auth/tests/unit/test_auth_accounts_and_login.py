"""Registration and login use cases, against the in-memory fakes and a controllable clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from auth.domain.challenges import Method
from auth.domain.errors import (
    AccountLocked as Locked,
)
from auth.domain.errors import (
    ChallengeExpired,
    InvalidCredentials,
    LinkInvalid,
    RateLimited,
    SecondFactorRequired,
    WeakPassword,
)
from auth.domain.passwords import Argon2Parameters, PasswordHasher
from auth.domain.sessions import Scope
from auth.service import login, registration
from auth.service.deps import AuthPolicy
from auth_unit_helpers import CTX, PASSWORD, Harness
from common.events.auth import AccountLocked, LoginFailed, LoginSucceeded, UserRegistered

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_registration_creates_the_account_only_when_its_link_is_redeemed(
    h: Harness,
) -> None:
    await registration.register(h.deps, "Ada@Example.org", CTX)
    assert h.state.accounts == {}
    mail = h.mailer.last_to("ada@example.org")
    assert mail is not None
    assert "https://app.coffre.local/register#token=" in mail.body
    token = h.mailer.last_link_token("ada@example.org")
    user_id = await registration.complete(h.deps, token, PASSWORD, CTX)
    account = h.state.accounts[user_id]
    assert account.email == "ada@example.org"
    assert account.password_hash
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert h.state.of_type(UserRegistered)[0].ip == CTX.ip
    assert h.state.links == {}


async def test_registration_link_works_once_and_expires_after_an_hour(h: Harness) -> None:
    await registration.register(h.deps, "ada@example.org", CTX)
    token = h.mailer.last_link_token("ada@example.org")
    await registration.complete(h.deps, token, PASSWORD, CTX)
    with pytest.raises(LinkInvalid):
        await registration.complete(h.deps, token, PASSWORD, CTX)
    await registration.register(h.deps, "bob@example.org", CTX)
    late = h.mailer.last_link_token("bob@example.org")
    h.clock.advance(minutes=60)
    with pytest.raises(LinkInvalid):
        await registration.complete(h.deps, late, PASSWORD, CTX)
    assert len(h.state.accounts) == 1


async def test_registration_announces_the_verified_address_only_once_verified(
    h: Harness,
) -> None:
    await registration.register(h.deps, "Ada@Example.org", CTX)
    assert h.state.of_type(UserRegistered) == []
    token = h.mailer.last_link_token("ada@example.org")
    await registration.complete(h.deps, token, PASSWORD, CTX)
    assert h.state.of_type(UserRegistered)[0].verified_email == "ada@example.org"


async def test_registering_a_taken_address_answers_the_same_and_changes_nothing(
    h: Harness,
) -> None:
    user_id = await h.account()
    before = h.state.accounts[user_id].password_hash
    assert await registration.register(h.deps, "ada@example.org", CTX) is None
    assert h.state.accounts[user_id].password_hash == before
    assert h.state.links == {}
    notice = h.mailer.last_to("ada@example.org")
    assert notice is not None
    assert "already exists" in notice.body
    assert notice.link_token is None


async def test_weak_password_is_refused_when_the_link_is_redeemed_and_the_link_still_works(
    h: Harness,
) -> None:
    await registration.register(h.deps, "ada@example.org", CTX)
    token = h.mailer.last_link_token("ada@example.org")
    with pytest.raises(WeakPassword):
        await registration.complete(h.deps, token, "password1234", CTX)
    assert h.state.accounts == {}
    assert await registration.complete(h.deps, token, PASSWORD, CTX)


async def test_of_two_registrations_only_the_mailbox_owner_sets_the_password(h: Harness) -> None:
    await registration.register(h.deps, "ada@example.org", CTX)  # a stranger asks first
    await registration.register(h.deps, "ada@example.org", CTX)  # then the owner
    first, second = (m.link_token for m in h.mailer.messages if m.to == "ada@example.org")
    assert first
    assert second
    await registration.complete(h.deps, first, PASSWORD, CTX)  # only the mailbox holds links
    with pytest.raises(LinkInvalid):
        await registration.complete(h.deps, second, "attacker-chosen-passphrase-9", CTX)
    assert (await login.login(h.deps, "ada@example.org", PASSWORD, CTX)).tokens is not None
    with pytest.raises(InvalidCredentials):
        await login.login(h.deps, "ada@example.org", "attacker-chosen-passphrase-9", CTX)


async def test_registration_is_limited_per_address(h: Harness) -> None:
    for _ in range(3):
        await registration.register(h.deps, "ada@example.org", CTX)
    with pytest.raises(RateLimited):
        await registration.register(h.deps, "ada@example.org", CTX)
    assert len([m for m in h.mailer.messages if m.to == "ada@example.org"]) == 3


async def test_login_without_second_factor_returns_tokens_others_can_verify(h: Harness) -> None:
    user_id = await h.account()
    result = await login.login(h.deps, "ADA@example.org", PASSWORD, CTX)
    assert result.tokens is not None
    assert result.ticket is None
    claims = await h.verifier.verify(result.tokens.access_token, required_scope="member")
    assert claims.subject == str(user_id)
    assert claims.methods == ("pwd",)
    assert claims.expires_at - claims.issued_at == 300
    event = h.state.of_type(LoginSucceeded)[0]
    assert event.user_id == user_id
    assert event.user_agent == "pytest/1.0"


async def test_unknown_address_and_wrong_password_get_the_same_answer(h: Harness) -> None:
    await h.account()
    errors = []
    for email, password in (
        ("ada@example.org", "wrong-" + PASSWORD),
        ("eve@example.org", PASSWORD),
    ):
        with pytest.raises(InvalidCredentials) as caught:
            await login.login(h.deps, email, password, CTX)
        errors.append((caught.value.code, caught.value.status, caught.value.message))
    assert errors[0] == errors[1]


async def test_unknown_address_costs_one_password_hash_like_a_known_one(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: each wrong login runs exactly one argon2 verification against a hash
    of the same cost parameters, whether the address exists or not."""
    await h.account()
    hasher = h.deps.hasher
    verified: list[str] = []
    real_verify = hasher.verify

    def counting_verify(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(hasher, "verify", counting_verify)

    async def hashes_checked(email: str) -> list[str]:
        verified.clear()
        with pytest.raises(InvalidCredentials):
            await login.login(h.deps, email, "wrong-" + PASSWORD, CTX)
        return list(verified)

    (known,) = await hashes_checked("ada@example.org")
    (unknown,) = await hashes_checked("nobody@example.org")
    assert _argon_parameters(unknown) == _argon_parameters(known)


def _argon_parameters(phc: str) -> tuple[str, str, str]:
    """``$argon2id$v=19$m=…,t=…,p=…$salt$hash`` → (variant, version, cost parameters)."""
    _, variant, version, parameters, *_ = phc.split("$")
    return variant, version, parameters


async def test_five_failed_passwords_lock_the_account_for_thirty_minutes(h: Harness) -> None:
    user_id = await h.account()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await login.login(h.deps, "ada@example.org", "wrong-" + PASSWORD, CTX)
    with pytest.raises(Locked) as caught:
        await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert caught.value.retry_after == 1800
    assert caught.value.status == 423
    alert = h.state.of_type(AccountLocked)[0]
    assert alert.user_id == user_id
    assert alert.failures == 5
    assert len(h.state.of_type(LoginFailed)) == 5
    h.clock.advance(minutes=30)
    assert (await login.login(h.deps, "ada@example.org", PASSWORD, CTX)).tokens is not None


async def test_unknown_address_locks_exactly_like_a_known_one(h: Harness) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await login.login(h.deps, "nobody@example.org", PASSWORD, CTX)
    with pytest.raises(Locked):
        await login.login(h.deps, "nobody@example.org", PASSWORD, CTX)


async def test_successful_login_resets_the_failure_count(h: Harness) -> None:
    await h.account()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await login.login(h.deps, "ada@example.org", "wrong-" + PASSWORD, CTX)
    await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await login.login(h.deps, "ada@example.org", "wrong-" + PASSWORD, CTX)
    assert (await login.login(h.deps, "ada@example.org", PASSWORD, CTX)).tokens is not None


async def test_login_rate_limit_per_ip_answers_429_with_retry_after() -> None:
    policy = AuthPolicy()
    rates = replace(policy.rates, login_per_ip=replace(policy.rates.login_per_ip, limit=3))
    h = Harness(policy=replace(policy, rates=rates))
    await h.account()
    for _ in range(3):
        await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    with pytest.raises(RateLimited) as caught:
        await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert caught.value.status == 429
    assert 0 < caught.value.retry_after <= 300
    h.clock.advance(seconds=caught.value.retry_after)
    await login.login(h.deps, "ada@example.org", PASSWORD, CTX)


async def test_hash_is_upgraded_when_parameters_grow(h: Harness) -> None:
    user_id = await h.account()
    h.deps.hasher = PasswordHasher(Argon2Parameters(memory_kib=20_480, time_cost=3))
    await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert "$m=20480,t=3,p=1$" in (h.state.accounts[user_id].password_hash or "")


async def test_payment_scope_needs_a_second_factor(h: Harness) -> None:
    await h.account()
    with pytest.raises(SecondFactorRequired):
        await login.login(h.deps, "ada@example.org", PASSWORD, CTX, Scope.PAYMENT)


async def test_mandatory_second_factor_limits_the_session_to_enrolment() -> None:
    h = Harness(policy=AuthPolicy(require_second_factor=True))
    await h.account()
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert result.tokens is not None
    assert result.tokens.scope is Scope.ENROL
    claims = await h.verifier.verify(result.tokens.access_token)
    assert claims.scopes == {"enrol"}


async def test_login_with_totp_needs_a_fresh_code_each_time(h: Harness) -> None:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    first = await login.login(h.deps, "ada@example.org", PASSWORD, CTX, Scope.PAYMENT)
    assert first.tokens is None
    assert first.ticket
    assert first.methods == ["totp", "recovery"]
    code = totp.at(h.clock.now())
    tokens = await login.complete_login(h.deps, first.ticket, Method.TOTP, code, CTX)
    claims = await h.verifier.verify(tokens.access_token, required_scope="payment")
    assert claims.methods == ("pwd", "otp")
    assert claims.subject == str(user_id)
    second = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert second.ticket is not None
    with pytest.raises(Exception, match="already used"):
        await login.complete_login(h.deps, second.ticket, Method.TOTP, code, CTX)


async def test_login_ticket_is_single_use_and_expires(h: Harness) -> None:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert result.ticket is not None
    await login.complete_login(h.deps, result.ticket, Method.TOTP, totp.at(h.clock.now()), CTX)
    h.clock.advance(seconds=30)
    with pytest.raises(ChallengeExpired):
        await login.complete_login(h.deps, result.ticket, Method.TOTP, totp.at(h.clock.now()), CTX)
    late = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert late.ticket is not None
    h.clock.advance(minutes=5)
    with pytest.raises(ChallengeExpired):
        await login.complete_login(h.deps, late.ticket, Method.TOTP, totp.at(h.clock.now()), CTX)
    refused = [e for e in h.state.of_type(LoginFailed) if e.stage == "second-factor"]
    assert [(e.user_id, e.reason) for e in refused] == [(user_id, "challenge-expired")] * 2


async def test_login_by_sms_code(h: Harness) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert result.ticket is not None
    assert "sms" in result.methods
    masked, _ = await login.send_login_sms(h.deps, result.ticket, CTX)
    assert masked == "+33*******78"
    tokens = await login.complete_login(h.deps, result.ticket, Method.SMS, h.last_code(), CTX)
    assert (await h.verifier.verify(tokens.access_token)).methods == ("pwd", "sms")


async def test_recovery_code_completes_a_login_once(h: Harness) -> None:
    user_id = await h.account()
    _, codes = await h.with_totp(user_id)
    first = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert first.ticket is not None
    await login.complete_login(h.deps, first.ticket, Method.RECOVERY, codes[0], CTX)
    again = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert again.ticket is not None
    with pytest.raises(Exception, match="wrong"):
        await login.complete_login(h.deps, again.ticket, Method.RECOVERY, codes[0], CTX)


async def test_wrong_second_factor_codes_lock_the_account(h: Harness) -> None:
    user_id = await h.account()
    await h.with_totp(user_id)
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert result.ticket is not None
    for _ in range(5):
        with pytest.raises(Exception, match="wrong"):
            await login.complete_login(h.deps, result.ticket, Method.TOTP, "000000", CTX)
    assert h.state.of_type(AccountLocked)
    with pytest.raises(Locked):
        await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    h.clock.advance(timedelta(minutes=30))
    assert (await login.login(h.deps, "ada@example.org", PASSWORD, CTX)).ticket
