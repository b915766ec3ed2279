"""Sessions and refresh tokens.

Rules: a session ends after its scope's idle timeout (20 minutes for the member space, 5 for
payment-account scope, both configurable) with no grace window, and at its absolute lifetime
(12 hours) whatever the activity; a refresh counts as activity. Each refresh token is used once
and replaced; presenting one already used is taken as theft and revokes the session and so its
whole token family. Access tokens live at most 5 minutes and never past the session's idle or
absolute end (their ``exp`` is the earliest of the three, rounded down; verifiers give ``exp`` no
leeway, so no service accepts a token after auth refuses its session for idleness).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from auth.domain.errors import RefreshTokenReused, SessionExpired

MAX_ACCESS_TTL = timedelta(minutes=5)


class Scope(StrEnum):
    ENROL = "enrol"
    MEMBER = "member"
    PAYMENT = "payment"


@dataclass(frozen=True)
class SessionPolicy:
    idle_member: timedelta = timedelta(minutes=20)
    idle_payment: timedelta = timedelta(minutes=5)
    idle_enrol: timedelta = timedelta(minutes=10)
    absolute: timedelta = timedelta(hours=12)
    access_ttl: timedelta = MAX_ACCESS_TTL

    def __post_init__(self) -> None:
        if self.access_ttl > MAX_ACCESS_TTL or self.access_ttl <= timedelta(0):
            raise ValueError("access tokens live at most 5 minutes")

    def idle(self, scope: Scope) -> timedelta:
        return {
            Scope.MEMBER: self.idle_member,
            Scope.PAYMENT: self.idle_payment,
            Scope.ENROL: self.idle_enrol,
        }[scope]


@dataclass
class RefreshToken:
    token_hash: str
    session_id: uuid.UUID
    issued_at: datetime
    used_at: datetime | None = None


@dataclass
class Session:
    id: uuid.UUID
    user_id: uuid.UUID
    scope: Scope
    methods: tuple[str, ...]
    created_at: datetime
    last_seen_at: datetime
    absolute_expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    tenant_id: uuid.UUID | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @classmethod
    def start(
        cls,
        user_id: uuid.UUID,
        scope: Scope,
        methods: tuple[str, ...],
        now: datetime,
        policy: SessionPolicy,
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> Session:
        return cls(
            uuid.uuid4(), user_id, scope, methods, now, now, now + policy.absolute,
            ip, user_agent, tenant_id,
        )  # fmt: skip

    def idle_expires_at(self, policy: SessionPolicy) -> datetime:
        return self.last_seen_at + policy.idle(self.scope)

    def ensure_active(self, now: datetime, policy: SessionPolicy) -> None:
        if self.revoked_at is not None:
            raise SessionExpired()
        if now >= self.absolute_expires_at or now >= self.idle_expires_at(policy):
            raise SessionExpired()

    def access_expires_at(self, now: datetime, policy: SessionPolicy) -> datetime:
        return min(now + policy.access_ttl, self.absolute_expires_at, self.idle_expires_at(policy))

    def refresh(self, token: RefreshToken, now: datetime, policy: SessionPolicy) -> None:
        """Use a refresh token once; a reused one revokes the session (and its family)."""
        if token.session_id != self.id:
            raise RefreshTokenReused()
        if token.used_at is not None:
            if self.revoked_at is None:
                self.revoke(now, "refresh-reuse")
            raise RefreshTokenReused()
        self.ensure_active(now, policy)
        token.used_at = now
        self.last_seen_at = now

    def revoke(self, now: datetime, reason: str) -> bool:
        if self.revoked_at is not None:
            return False
        self.revoked_at, self.revoked_reason = now, reason
        return True
