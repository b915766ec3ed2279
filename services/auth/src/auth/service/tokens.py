"""Signing access tokens and step-up authorisations with the current key; serving the JWKS.

Rules: access tokens are JWTs typed ``at+jwt`` signed with Ed25519 (EdDSA), at most 5 minutes
long, never past the session's idle or absolute end; step-up authorisations are typed
``stepup+jwt``, carry the operation digest and live ``stepup_ttl`` (2 minutes by default). Keys
are reloaded from storage every ``reload_every`` so every instance signs with the same key.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from common.security.access_tokens import ACCESS_TOKEN_TYPE
from common.security.stepup import STEPUP_AUDIENCE, STEPUP_TOKEN_TYPE
from joserfc import jwt

from auth.domain.keys import ALGORITHM, KeyRing, SigningKey
from auth.domain.sessions import Session, SessionPolicy
from auth.service.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True)
class TokenSettings:
    issuer: str = "https://auth.coffre.local"
    audience: str = "coffre-api"
    stepup_audience: str = STEPUP_AUDIENCE
    stepup_ttl: timedelta = timedelta(minutes=2)
    publish_ahead: timedelta = timedelta(minutes=2)
    reload_every: timedelta = timedelta(seconds=30)
    keep_retired_for: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class SignedToken:
    token: str
    token_id: str
    expires_at: datetime


class TokenIssuer:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, settings: TokenSettings | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.settings = settings or TokenSettings()
        self._ring: KeyRing | None = None
        self._loaded_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def _keyring(self) -> KeyRing:
        now = self._clock.now()
        fresh = self._loaded_at is not None and now - self._loaded_at < self.settings.reload_every
        if self._ring is not None and fresh and self._ring.active(now) is not None:
            return self._ring
        async with self._lock:
            async with self._uow() as uow:
                ring = KeyRing(await uow.keys.all())
                if ring.active(now) is None:
                    await uow.keys.add(ring.rotate(now))
                    await uow.commit()
            self._ring, self._loaded_at = ring, now
        return ring

    async def rotate(self) -> SigningKey:
        """Publish a new key now; it starts signing after ``publish_ahead``."""
        now = self._clock.now()
        async with self._uow() as uow:
            ring = KeyRing(await uow.keys.all())
            old = {k.kid for k in ring.keys}
            new = ring.rotate(now, self.settings.publish_ahead)
            for key in ring.keys:
                await (uow.keys.update(key) if key.kid in old else uow.keys.add(key))
            await uow.commit()
        self._ring, self._loaded_at = ring, now
        return new

    async def jwks(self) -> dict[str, Any]:
        ring = await self._keyring()
        return ring.jwks(self._clock.now(), self.settings.keep_retired_for)

    async def _sign(self, typ: str, claims: Mapping[str, Any]) -> str:
        ring = await self._keyring()
        key = ring.active(self._clock.now())
        assert key is not None
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
        return jwt.encode(header, dict(claims), key.private_key(), algorithms=[ALGORITHM])

    async def access_token(self, session: Session, policy: SessionPolicy) -> SignedToken:
        now = self._clock.now()
        expires = session.access_expires_at(now, policy)
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": str(session.user_id),
            "sid": str(session.id),
            "scope": session.scope.value,
            "amr": list(session.methods),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": jti,
        }
        if session.tenant_id is not None:
            claims["tenant"] = str(session.tenant_id)
        return SignedToken(await self._sign(ACCESS_TOKEN_TYPE, claims), jti, expires)

    async def stepup_authorisation(
        self, user_id: uuid.UUID, challenge_id: uuid.UUID, digest: str, kind: str, method: str
    ) -> SignedToken:
        now = self._clock.now()
        expires = now + self.settings.stepup_ttl
        jti = str(uuid.uuid4())
        claims = {
            "iss": self.settings.issuer,
            "aud": self.settings.stepup_audience,
            "sub": str(user_id),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": jti,
            "opd": digest,
            "opk": kind,
            "amr": method,
            "cid": str(challenge_id),
        }
        return SignedToken(await self._sign(STEPUP_TOKEN_TYPE, claims), jti, expires)


@dataclass
class IssuerJwksSource:
    """The issuer's own JWKS as a ``JwksSource``, for verifying tokens inside auth."""

    issuer: TokenIssuer

    async def fetch(self) -> Mapping[str, Any]:
        return await self.issuer.jwks()
