"""Pure domain rules: passwords, TOTP, recovery codes, challenges, sessions, lockout, keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from auth.domain.accounts import mask_phone, normalise_email, normalise_phone
from auth.domain.challenges import Challenge, Purpose
from auth.domain.codes import Pepper, new_sms_code
from auth.domain.errors import (
    AccountLocked,
    ChallengeExpired,
    ChallengeLocked,
    CodeAlreadyUsed,
    InvalidCode,
    InvalidEmail,
    InvalidPhone,
    RefreshTokenReused,
    SessionExpired,
    WeakPassword,
)
from auth.domain.keys import KeyRing
from auth.domain.lockout import FailureCount, LockoutPolicy
from auth.domain.passwords import Argon2Parameters, PasswordHasher, PasswordPolicy
from auth.domain.ratelimit import RateRule
from auth.domain.recovery import RecoveryCodes
from auth.domain.sessions import RefreshToken, Scope, Session, SessionPolicy
from auth.domain.totp import TotpFactor, new_secret, qr_png

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 15, 9, 0, 0, tzinfo=UTC)
PEPPER = Pepper(b"k" * 32)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pass1", "too-short"),
        ("x" * 129, "too-long"),
        ("password1234", "common"),
        ("P@ssw0rd12345!", "common"),
        ("qwertyuiop123", "common"),
        ("azertyuiop123", "common"),
        ("motdepasse2024!", "common"),
        ("ada.lovelace-rocks", "contains-personal-data"),
        ("aaaaaaaaaaaaaaaa", "too-guessable"),
        ("abcabcabcabcabc", "too-guessable"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        PasswordPolicy().check(password, context=["ada.lovelace"])
    assert reason in caught.value.extensions["reasons"]  # type: ignore[operator]
    assert password not in caught.value.message


@pytest.mark.parametrize("password", ["violet-harbour-tundra-42", "correct horse battery staple"])
def test_strong_passwords_pass_the_policy(password: str) -> None:
    PasswordPolicy().check(password, context=["ada"])


def test_argon2id_hash_uses_at_least_owasp_parameters() -> None:
    hashed = PasswordHasher().hash("violet-harbour-tundra-42")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(hashed, "violet-harbour-tundra-42")
    assert not PasswordHasher().verify(hashed, "violet-harbour-tundra-43")
    assert not PasswordHasher().verify("not-a-hash", "x")


def test_parameters_below_the_owasp_floor_are_refused() -> None:
    with pytest.raises(ValueError, match="OWASP"):
        Argon2Parameters(memory_kib=8192)


def test_hash_made_with_older_parameters_needs_rehash() -> None:
    weak = PasswordHasher().hash("violet-harbour-tundra-42")
    stronger = PasswordHasher(Argon2Parameters(memory_kib=24_576, time_cost=3))
    assert stronger.needs_rehash(weak)
    assert stronger.verify(weak, "violet-harbour-tundra-42")
    assert not PasswordHasher().needs_rehash(weak)


def test_email_and_phone_are_normalised_or_refused() -> None:
    assert normalise_email("  Ada@Example.ORG ") == "ada@example.org"
    assert normalise_phone("0033 6 12 34 56 78") == "+33612345678"
    assert mask_phone("+33612345678") == "+33*******78"
    with pytest.raises(InvalidEmail):
        normalise_email("not-an-email")
    with pytest.raises(InvalidPhone):
        normalise_phone("12345")


def _totp() -> tuple[TotpFactor, pyotp.TOTP]:
    secret = new_secret()
    return TotpFactor(uuid.uuid4(), secret, NOW), pyotp.TOTP(secret)


def test_totp_code_is_accepted_once_only() -> None:
    factor, totp = _totp()
    code = totp.at(NOW)
    factor.use(code, NOW)
    with pytest.raises(CodeAlreadyUsed):
        factor.use(code, NOW + timedelta(seconds=5))


def test_totp_accepts_one_step_of_drift_either_side_and_no_more() -> None:
    factor, totp = _totp()
    factor.use(totp.at(NOW - timedelta(seconds=30)), NOW)
    factor.use(totp.at(NOW + timedelta(seconds=30)), NOW)
    for offset in (-90, 90):
        with pytest.raises((InvalidCode, CodeAlreadyUsed)):
            factor.use(totp.at(NOW + timedelta(seconds=offset)), NOW + timedelta(seconds=1))


def test_totp_code_older_than_the_last_used_step_is_refused() -> None:
    factor, totp = _totp()
    factor.use(totp.at(NOW), NOW)
    with pytest.raises(CodeAlreadyUsed):
        factor.use(totp.at(NOW - timedelta(seconds=30)), NOW)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_malformed_totp_codes_are_invalid(code: str) -> None:
    factor, _ = _totp()
    with pytest.raises(InvalidCode):
        factor.use(code, NOW)


def test_otpauth_uri_and_qr_png_are_produced() -> None:
    factor, _ = _totp()
    uri = factor.provisioning_uri("ada@example.org", "Coffre")
    assert uri.startswith("otpauth://totp/Coffre:ada%40example.org?secret=")
    assert "issuer=Coffre" in uri
    assert qr_png(uri).startswith(b"\x89PNG\r\n\x1a\n")


def test_recovery_codes_are_single_use_and_stored_hashed() -> None:
    user = uuid.uuid4()
    codes, shown = RecoveryCodes.issue(user, PEPPER)
    assert len(shown) == 10
    assert len(set(shown)) == 10
    assert codes.remaining == 10
    assert not any(c in h or c.replace("-", "") in h for c in shown for h in codes.hashes)
    assert codes.consume(shown[0].lower().replace("-", " "), PEPPER)
    assert not codes.consume(shown[0], PEPPER)
    assert not codes.consume("AAAA-BBBB-CCCC-DDDD", PEPPER)
    assert codes.remaining == 9


def test_sms_codes_are_six_digits() -> None:
    codes = {new_sms_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def _challenge() -> Challenge:
    return Challenge.open(uuid.uuid4(), Purpose.STEP_UP, NOW, timedelta(minutes=5))


def test_sms_code_expires_after_five_minutes() -> None:
    c = _challenge()
    c.set_sms_code("123456", PEPPER, NOW)
    assert c.sms_code_matches("123456", PEPPER, NOW + timedelta(seconds=299))
    with pytest.raises(ChallengeExpired):
        c.sms_code_matches("123456", PEPPER, NOW + timedelta(minutes=5))


def test_five_wrong_codes_lock_the_challenge() -> None:
    c = _challenge()
    assert [c.record_failure(NOW) for _ in range(5)] == [False] * 4 + [True]
    with pytest.raises(ChallengeLocked):
        c.ensure_open(NOW)


def test_challenge_is_single_use() -> None:
    c = _challenge()
    c.consume(NOW)
    with pytest.raises(ChallengeExpired):
        c.ensure_open(NOW)


def test_challenge_code_is_stored_as_a_keyed_hash() -> None:
    c = _challenge()
    c.set_sms_code("123456", PEPPER, NOW)
    assert c.code_hash
    assert "123456" not in c.code_hash
    assert not c.sms_code_matches("123456", Pepper(b"z" * 32), NOW)


POLICY = SessionPolicy()


def _session(scope: Scope = Scope.MEMBER) -> Session:
    return Session.start(uuid.uuid4(), scope, ("pwd",), NOW, POLICY)


def test_member_session_ends_after_20_idle_minutes_with_no_grace() -> None:
    s = _session()
    s.ensure_active(NOW + timedelta(minutes=19, seconds=59), POLICY)
    with pytest.raises(SessionExpired):
        s.ensure_active(NOW + timedelta(minutes=20), POLICY)


def test_payment_scope_session_ends_after_5_idle_minutes() -> None:
    s = _session(Scope.PAYMENT)
    with pytest.raises(SessionExpired):
        s.ensure_active(NOW + timedelta(minutes=5), POLICY)


def test_absolute_lifetime_ends_even_an_active_session() -> None:
    s = _session()
    s.last_seen_at = NOW + timedelta(hours=11, minutes=59)
    with pytest.raises(SessionExpired):
        s.ensure_active(NOW + timedelta(hours=12), POLICY)


def test_access_token_never_outlives_the_session() -> None:
    s = _session(Scope.PAYMENT)
    assert s.access_expires_at(NOW, POLICY) == NOW + timedelta(minutes=5)
    s.absolute_expires_at = NOW + timedelta(minutes=1)
    assert s.access_expires_at(NOW, POLICY) == NOW + timedelta(minutes=1)
    with pytest.raises(ValueError, match="5 minutes"):
        SessionPolicy(access_ttl=timedelta(minutes=6))


def test_reused_refresh_token_revokes_the_session() -> None:
    s = _session()
    token = RefreshToken("h", s.id, NOW)
    s.refresh(token, NOW + timedelta(minutes=1), POLICY)
    with pytest.raises(RefreshTokenReused):
        s.refresh(token, NOW + timedelta(minutes=2), POLICY)
    assert s.revoked_reason == "refresh-reuse"
    with pytest.raises(SessionExpired):
        s.refresh(RefreshToken("h2", s.id, NOW), NOW + timedelta(minutes=2), POLICY)


def test_five_failures_lock_for_thirty_minutes_then_unlock() -> None:
    count, policy = FailureCount("acct:x"), LockoutPolicy()
    assert [count.fail(NOW, policy) for _ in range(5)] == [False] * 4 + [True]
    with pytest.raises(AccountLocked) as caught:
        count.ensure_unlocked(NOW + timedelta(minutes=10))
    assert caught.value.retry_after == 20 * 60
    count.ensure_unlocked(NOW + timedelta(minutes=30))
    assert not count.fail(NOW + timedelta(minutes=31), policy)
    assert count.failures == 1


def test_success_resets_the_failure_count() -> None:
    count, policy = FailureCount("k"), LockoutPolicy()
    for _ in range(4):
        count.fail(NOW, policy)
    count.succeed()
    assert not count.fail(NOW, policy)
    assert count.failures == 1


def test_rate_window_and_retry_after() -> None:
    rule = RateRule("r", 3, timedelta(minutes=5))
    at = NOW + timedelta(minutes=2, seconds=30)
    assert rule.window_start(at) == NOW
    assert rule.retry_after(at) == 150


def test_rotated_key_is_published_before_it_signs_and_old_one_after() -> None:
    ring = KeyRing()
    first = ring.rotate(NOW)
    second = ring.rotate(NOW + timedelta(days=1), publish_ahead=timedelta(minutes=2))
    day = NOW + timedelta(days=1)
    assert ring.active(day) is first
    assert {k["kid"] for k in ring.jwks(day, timedelta(minutes=10))["keys"]} == {
        first.kid,
        second.kid,
    }
    assert ring.active(day + timedelta(minutes=2)) is second
    later = day + timedelta(minutes=13)
    assert [k["kid"] for k in ring.jwks(later, timedelta(minutes=10))["keys"]] == [second.kid]
    assert all("d" not in k for k in ring.jwks(later, timedelta(minutes=10))["keys"])
