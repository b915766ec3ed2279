"""Auth's error tree; every error a client can cause is a 4xx with a stable code.

Rule: messages never say whether an account exists, and never echo a password, code or token.
"""

from __future__ import annotations

from common.errors import (
    CoffreError,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)


class WeakPassword(ValidationFailed):
    code = "auth.password-weak"
    title = "The password does not meet the password policy"


class InvalidEmail(ValidationFailed):
    code = "auth.email-invalid"
    title = "The e-mail address is not valid"


class InvalidPhone(ValidationFailed):
    code = "auth.phone-invalid"
    title = "The phone number is not valid"


class InvalidCredentials(Unauthenticated):
    code = "auth.invalid-credentials"
    title = "The e-mail address or password is wrong"


class AccountLocked(TooManyRequests):
    """Sign-in is locked for a while (423 with Retry-After)."""

    code = "auth.account-locked"
    status = 423
    title = "Too many failed attempts; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__(None, retry_after=retry_after)


class InvalidCode(Unauthenticated):
    code = "auth.code-invalid"
    title = "The code is wrong"


class CodeAlreadyUsed(Conflict):
    """A right code presented again: refused, but not a failed guess (it counts for no lock)."""

    code = "auth.code-reused"
    title = "This code was already used; wait for the next code from your app"


class ChallengeExpired(Gone):
    code = "auth.challenge-expired"
    title = "The challenge has expired or was already used"


class ChallengeLocked(CoffreError):
    code = "auth.challenge-locked"
    status = 423
    title = "Too many wrong codes; ask for a new challenge"


class ChallengeNotFound(NotFound):
    code = "auth.challenge-not-found"
    title = "No such challenge"


class FactorNotEnrolled(Conflict):
    code = "auth.factor-not-enrolled"
    title = "This second factor is not enrolled"


class FactorAlreadyEnrolled(Conflict):
    code = "auth.factor-already-enrolled"
    title = "This second factor is already enrolled"


class SecondFactorRequired(Forbidden):
    code = "auth.second-factor-required"
    title = "A second factor is required for this scope"


class ProofRequired(Forbidden):
    code = "auth.proof-required"
    title = "A current code from an enrolled factor, or a recovery code, is required"


class SessionExpired(Unauthenticated):
    code = "auth.session-expired"
    title = "The session has expired; sign in again"
    bearer_error: str | None = "invalid_token"


class RefreshTokenReused(Unauthenticated):
    code = "auth.refresh-reused"
    title = "The refresh token was already used; the session is revoked"


class InvalidToken(Unauthenticated):
    code = "auth.token-invalid"
    title = "The token is not valid"
    bearer_error: str | None = "invalid_token"


class RateLimited(TooManyRequests):
    code = "auth.rate-limited"


class SsoRefused(Unauthenticated):
    code = "auth.sso-refused"
    title = "The identity provider's answer was refused"


class TenantNotFound(NotFound):
    code = "auth.tenant-not-found"
    title = "No such company"


class LinkInvalid(Gone):
    code = "auth.link-invalid"
    title = "The link is not valid, was already used or has expired; ask for a new one"


class IdpUnavailable(CoffreError):
    code = "auth.idp-unavailable"
    status = 503
    title = "The company's identity provider cannot be reached; try again later"


class IdpAnsweredWrongly(CoffreError):
    code = "auth.idp-bad-answer"
    status = 502
    title = "The company's identity provider answered wrongly"
