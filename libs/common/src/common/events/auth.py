"""Events the auth service publishes (audit, alerts, registration).

Rules: every audit event names the actor, the IP address and the user agent of the request that
caused it, and never carries a password, code, token, secret or full phone number; payloads are
frozen; a change is additive, a breaking change is a new version.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from common.events.base import Event, event


class AuthEvent(Event):
    """Base of auth's audit payloads: the actor and where the request came from."""

    actor_id: UUID | None = Field(None, description="Member or operator who acted; None if unknown")
    ip: str | None = Field(None, description="Client IP address of the request")
    user_agent: str | None = Field(None, description="Client user agent (truncated to 256 chars)")


@event("auth.user-registered", 1)
class UserRegistered(AuthEvent):
    user_id: UUID = Field(description="The new member's id")
    method: str = Field(description="How the account was created: password or sso")
    tenant_id: UUID | None = Field(None, description="Company tenant for SSO accounts")
    verified_email: str | None = Field(
        None,
        description="The address the member proved they own (link or identity provider); "
        "archive accepts forwarded receipts from it.",
    )


@event("auth.login-succeeded", 1)
class LoginSucceeded(AuthEvent):
    user_id: UUID = Field(description="The member who signed in")
    session_id: UUID = Field(description="The new session")
    methods: list[str] = Field(description="Authentication methods used (pwd, otp, sms, ...)")
    scope: str = Field(description="Session scope: enrol, member or payment")


@event("auth.login-failed", 1)
class LoginFailed(AuthEvent):
    user_id: UUID | None = Field(None, description="The account, when the address is known")
    reason: str = Field(description="bad-credentials, bad-code, code-reused, locked, ...")
    stage: str = Field(description="password, second-factor or oidc")


@event("auth.account-locked", 1)
class AccountLocked(AuthEvent):
    """An alert: repeated failures locked sign-in for an account."""

    user_id: UUID = Field(description="The locked account")
    locked_until: datetime = Field(description="When sign-in opens again")
    failures: int = Field(description="Consecutive failures that caused the lock")


@event("auth.challenge-locked", 1)
class ChallengeLocked(AuthEvent):
    """An alert: too many wrong codes locked a challenge."""

    user_id: UUID = Field(description="The member the challenge belongs to")
    challenge_id: UUID = Field(description="The locked challenge")
    purpose: str = Field(description="login, step-up or phone-confirm")
    method: str | None = Field(None, description="sms, totp or recovery")


@event("auth.factor-enrolled", 1)
class FactorEnrolled(AuthEvent):
    user_id: UUID = Field(description="The member")
    factor: str = Field(description="totp, sms or recovery-codes")


@event("auth.factor-removed", 1)
class FactorRemoved(AuthEvent):
    user_id: UUID = Field(description="The member")
    factor: str = Field(description="totp, sms or recovery-codes")


@event("auth.step-up-issued", 1)
class StepUpIssued(AuthEvent):
    user_id: UUID = Field(description="The member asked to authorise")
    challenge_id: UUID = Field(description="The step-up challenge")
    operation_kind: str = Field(description="payment, deposit or withdrawal")
    operation_id: str = Field(description="The operation's id in its own service")
    operation_digest: str = Field(description="SHA-256 digest the code is bound to")
    method: str = Field(description="sms or totp")


@event("auth.step-up-verified", 1)
class StepUpVerified(AuthEvent):
    user_id: UUID = Field(description="The member who authorised")
    challenge_id: UUID = Field(description="The step-up challenge")
    authorisation_id: str = Field(description="Id (jti) of the signed single-use authorisation")
    operation_id: str = Field(description="The operation's id in its own service")
    operation_digest: str = Field(description="SHA-256 digest the authorisation is bound to")
    expires_at: datetime = Field(description="When the authorisation expires")


@event("auth.step-up-failed", 1)
class StepUpFailed(AuthEvent):
    user_id: UUID = Field(description="The member")
    challenge_id: UUID = Field(description="The step-up challenge")
    reason: str = Field(description="bad-code, code-reused, expired or locked")
    attempts: int = Field(description="Wrong codes so far on this challenge")


@event("auth.session-revoked", 1)
class SessionRevoked(AuthEvent):
    user_id: UUID = Field(description="The session's member")
    session_id: UUID = Field(description="The revoked session")
    reason: str = Field(
        description="logout, revoke-all, refresh-reuse, factor-change, password-reset, erasure"
    )
    revoked_at: datetime | None = Field(None, description="When auth revoked the session")
    tokens_expire_by: datetime | None = Field(
        None,
        description="No access token of this session is valid after this instant: a consumer "
        "refuses the session's tokens until then and may forget the session afterwards",
    )


@event("auth.password-reset-requested", 1)
class PasswordResetRequested(AuthEvent):
    """A reset link was e-mailed to an account's address (asked by anyone who knows it)."""

    user_id: UUID = Field(description="The account whose address got the link")


@event("auth.password-reset-completed", 1)
class PasswordResetCompleted(AuthEvent):
    """An account's password was replaced through a reset link; its sessions were revoked."""

    user_id: UUID = Field(description="The account whose password changed")
    second_factor: str | None = Field(
        None, description="The second factor proved with it: totp or recovery; None if none"
    )
    sessions_revoked: int = Field(description="Sessions revoked (each also as SessionRevoked)")


AUTH_EVENTS: tuple[type[AuthEvent], ...] = (
    UserRegistered,
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    ChallengeLocked,
    FactorEnrolled,
    FactorRemoved,
    StepUpIssued,
    StepUpVerified,
    StepUpFailed,
    SessionRevoked,
    PasswordResetRequested,
    PasswordResetCompleted,
)
