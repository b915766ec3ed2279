"""Sessions, factor management, step-up with dynamic linking, and erasure."""

from __future__ import annotations

import uuid

import pytest
from auth.domain.challenges import Method
from auth.domain.errors import (
    ChallengeExpired,
    ChallengeNotFound,
    FactorAlreadyEnrolled,
    FactorNotEnrolled,
    InvalidCode,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    SessionExpired,
)
from auth.domain.errors import (
    ChallengeLocked as Locked,
)
from auth.domain.sessions import Scope
from auth.service import erasure, factors, login, sessions, stepup
from auth.service.sessions import TokenPair
from auth_unit_helpers import CTX, PASSWORD, Harness
from common.events.auth import (
    ChallengeLocked,
    FactorEnrolled,
    FactorRemoved,
    SessionRevoked,
    StepUpFailed,
    StepUpIssued,
    StepUpVerified,
)
from common.events.erasure import ErasureCompleted, ErasureRequested
from common.security.access_tokens import ExpiredToken
from common.security.stepup import Operation, StepUpExpired, StepUpMismatch

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

IBAN = "FR76 3000 6000 0112 3456 7890 189"
OP = Operation("payment", "125.50", "EUR", IBAN, "pay-42")


async def _signed_in(h: Harness) -> tuple[uuid.UUID, TokenPair]:
    user_id = await h.account()
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert result.tokens is not None
    return user_id, result.tokens


async def test_refresh_rotates_the_token_and_counts_as_activity(h: Harness) -> None:
    _, pair = await _signed_in(h)
    h.clock.advance(minutes=15)
    second = await sessions.refresh(h.deps, pair.refresh_token, CTX)
    assert second.refresh_token != pair.refresh_token
    assert second.session_id == pair.session_id
    h.clock.advance(minutes=15)
    third = await sessions.refresh(h.deps, second.refresh_token, CTX)
    assert third.session_id == pair.session_id


async def test_reused_refresh_token_revokes_the_whole_family(h: Harness) -> None:
    user_id, pair = await _signed_in(h)
    newer = await sessions.refresh(h.deps, pair.refresh_token, CTX)
    with pytest.raises(RefreshTokenReused):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, newer.refresh_token, CTX)
    revoked = h.state.of_type(SessionRevoked)
    assert [(e.user_id, e.reason) for e in revoked] == [(user_id, "refresh-reuse")]


async def test_idle_session_cannot_be_refreshed(h: Harness) -> None:
    _, pair = await _signed_in(h)
    h.clock.advance(minutes=20)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)


async def test_access_token_expires_after_five_minutes(h: Harness) -> None:
    _, pair = await _signed_in(h)
    h.clock.advance(minutes=5, seconds=6)
    with pytest.raises(ExpiredToken):
        await h.verifier.verify(pair.access_token)


async def test_unknown_refresh_token_is_refused(h: Harness) -> None:
    with pytest.raises(InvalidToken):
        await sessions.refresh(h.deps, "made-up", CTX)


async def test_logout_and_revoke_all(h: Harness) -> None:
    user_id, pair = await _signed_in(h)
    await sessions.logout(h.deps, user_id, pair.session_id, CTX)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)
    a = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    b = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert await sessions.revoke_all(h.deps, user_id, CTX) == 2
    for result in (a, b):
        assert result.tokens is not None
        with pytest.raises(SessionExpired):
            await sessions.active_session(h.deps, user_id, result.tokens.session_id)
    assert len(h.state.of_type(SessionRevoked)) == 3


async def test_totp_enrolment_confirms_with_a_first_code_and_gives_recovery_codes(
    h: Harness,
) -> None:
    user_id = await h.account()
    enrolment = await factors.start_totp(h.deps, user_id, CTX)
    assert enrolment.otpauth_uri.startswith("otpauth://totp/")
    assert enrolment.qr_png[:4] == b"\x89PNG"
    assert "totp" not in h.state.accounts[user_id].factors
    with pytest.raises(InvalidCode):
        await factors.confirm_totp(h.deps, user_id, "000000", CTX)
    import pyotp

    codes = await factors.confirm_totp(
        h.deps, user_id, pyotp.TOTP(enrolment.secret).at(h.clock.now()), CTX
    )
    assert len(codes) == 10
    assert "totp" in h.state.accounts[user_id].factors
    assert {e.factor for e in h.state.of_type(FactorEnrolled)} == {"totp", "recovery-codes"}
    with pytest.raises(FactorAlreadyEnrolled):
        await factors.start_totp(h.deps, user_id, CTX)


async def test_phone_counts_only_once_its_code_is_entered(h: Harness) -> None:
    user_id = await h.account()
    challenge = await factors.start_phone(h.deps, user_id, "+33 6 12 34 56 78", CTX)
    assert "sms" not in h.state.accounts[user_id].factors
    wrong = "000000" if h.last_code() != "000000" else "111111"
    with pytest.raises(InvalidCode):
        await factors.confirm_phone(h.deps, user_id, challenge.id, wrong, CTX)
    await factors.confirm_phone(h.deps, user_id, challenge.id, h.last_code(), CTX)
    account = h.state.accounts[user_id]
    assert "sms" in account.factors
    assert account.phone == "+33612345678"


async def test_removing_a_factor_needs_a_current_code_and_revokes_other_sessions(
    h: Harness,
) -> None:
    user_id, pair = await _signed_in(h)
    totp, codes = await h.with_totp(user_id)
    other = await login.login(h.deps, "ada@example.org", PASSWORD, CTX)
    assert other.ticket is not None
    other_pair = await login.complete_login(
        h.deps, other.ticket, Method.TOTP, totp.at(h.clock.now()), CTX
    )
    with pytest.raises(InvalidCode):
        await factors.remove_factor(h.deps, user_id, pair.session_id, "totp", "123", CTX)
    await factors.remove_factor(h.deps, user_id, pair.session_id, "totp", codes[3], CTX)
    assert "totp" not in h.state.accounts[user_id].factors
    assert h.state.recovery == {}
    assert h.state.of_type(FactorRemoved)[0].factor == "totp"
    with pytest.raises(SessionExpired):
        await sessions.active_session(h.deps, user_id, other_pair.session_id)
    await sessions.active_session(h.deps, user_id, pair.session_id)


async def test_step_up_sms_shows_amount_and_payee_and_authorises_that_operation_only(
    h: Harness,
) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    started = await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    text = h.sms.messages[-1].text
    assert "125.5 EUR" in text
    assert "FR76…0189" in text
    assert "payment" in text
    granted = await stepup.verify_stepup(h.deps, user_id, started.challenge_id, h.last_code(), CTX)
    auth = await h.stepup_verifier.verify(granted.authorisation, OP, subject=str(user_id))
    assert auth.authorisation_id == granted.authorisation_id
    for changed in (
        Operation("payment", "125.51", "EUR", IBAN, "pay-42"),
        Operation("payment", "125.50", "EUR", "DE89370400440532013000", "pay-42"),
    ):
        with pytest.raises(StepUpMismatch):
            await h.stepup_verifier.verify(granted.authorisation, changed, subject=str(user_id))
    issued, verified = h.state.of_type(StepUpIssued)[0], h.state.of_type(StepUpVerified)[0]
    assert issued.operation_digest == verified.operation_digest == granted.operation_digest
    assert verified.authorisation_id == granted.authorisation_id


async def test_step_up_code_works_once(h: Harness) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    started = await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    code = h.last_code()
    await stepup.verify_stepup(h.deps, user_id, started.challenge_id, code, CTX)
    with pytest.raises(ChallengeExpired):
        await stepup.verify_stepup(h.deps, user_id, started.challenge_id, code, CTX)


async def test_step_up_sms_code_expires_after_five_minutes(h: Harness) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    started = await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    h.clock.advance(minutes=5)
    with pytest.raises(ChallengeExpired):
        await stepup.verify_stepup(h.deps, user_id, started.challenge_id, h.last_code(), CTX)
    assert h.state.of_type(StepUpFailed)[-1].reason == "expired"


async def test_five_wrong_step_up_codes_lock_the_challenge_and_alert(h: Harness) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    started = await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    wrong = "000000" if h.last_code() != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await stepup.verify_stepup(h.deps, user_id, started.challenge_id, wrong, CTX)
    with pytest.raises(Locked):
        await stepup.verify_stepup(h.deps, user_id, started.challenge_id, h.last_code(), CTX)
    alert = h.state.of_type(ChallengeLocked)[0]
    assert alert.challenge_id == started.challenge_id
    assert alert.purpose == "step-up"
    assert len(h.state.of_type(StepUpFailed)) == 6


async def test_step_up_by_totp_and_authorisation_expiry(h: Harness) -> None:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    started = await stepup.start_stepup(h.deps, user_id, OP, Method.TOTP, CTX)
    granted = await stepup.verify_stepup(
        h.deps, user_id, started.challenge_id, totp.at(h.clock.now()), CTX
    )
    h.clock.advance(minutes=2)
    with pytest.raises(StepUpExpired):
        await h.stepup_verifier.verify(granted.authorisation, OP, subject=str(user_id))


async def test_step_up_needs_the_chosen_factor_and_the_owner(h: Harness) -> None:
    user_id = await h.account()
    with pytest.raises(FactorNotEnrolled):
        await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    await h.with_phone(user_id)
    started = await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    with pytest.raises(ChallengeNotFound):
        await stepup.verify_stepup(h.deps, uuid.uuid4(), started.challenge_id, h.last_code(), CTX)


async def test_sms_text_never_reaches_events(h: Harness) -> None:
    user_id = await h.account()
    await h.with_phone(user_id)
    await stepup.start_stepup(h.deps, user_id, OP, Method.SMS, CTX)
    code = h.last_code()
    dumped = " ".join(e.payload.model_dump_json() for e in h.state.events)
    assert code not in dumped
    assert PASSWORD not in dumped
    assert "+33612345678" not in dumped
    assert IBAN.replace(" ", "") not in dumped.replace(" ", "")


async def test_erasure_publishes_request_deletes_own_data_and_reports_completion(
    h: Harness,
) -> None:
    user_id, pair = await _signed_in(h)
    await h.with_totp(user_id)
    with pytest.raises(InvalidCredentials):
        await erasure.delete_account(h.deps, user_id, "wrong", CTX)
    request_id = await erasure.delete_account(h.deps, user_id, PASSWORD, CTX)
    assert user_id not in h.state.accounts
    assert h.state.totp == {}
    assert h.state.recovery == {}
    assert h.state.sessions == {}
    assert h.state.refresh == {}
    requested = h.state.of_type(ErasureRequested)[0]
    completed = h.state.of_type(ErasureCompleted)[0]
    assert requested.request_id == completed.request_id == request_id
    assert completed.service == "auth"
    assert completed.proof["accounts"] == 1
    with pytest.raises(InvalidToken):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)


async def test_scope_of_session_follows_the_login(h: Harness) -> None:
    user_id = await h.account()
    totp, _ = await h.with_totp(user_id)
    result = await login.login(h.deps, "ada@example.org", PASSWORD, CTX, Scope.PAYMENT)
    assert result.ticket is not None
    pair = await login.complete_login(
        h.deps, result.ticket, Method.TOTP, totp.at(h.clock.now()), CTX
    )
    h.clock.advance(minutes=5)
    with pytest.raises(SessionExpired):
        await sessions.refresh(h.deps, pair.refresh_token, CTX)
