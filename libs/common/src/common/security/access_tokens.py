"""Local verification of auth's signed JWTs against its published JWKS.

Rules: a token is accepted only when its header names an allowed asymmetric algorithm (never
``none`` nor an HMAC one), the expected ``typ`` and a ``kid`` found in the JWKS; its signature
verifies; ``iss`` equals the configured issuer, ``aud`` contains the configured audience, ``exp``
lies in the future — strictly, with no leeway, so no service accepts a token after the instant
auth chose for it to end (auth never lets it outlive the session's idle or absolute end) —,
``iat`` / ``nbf`` not in the future beyond the leeway (clock skew), and its lifetime does not
exceed the configured maximum. The JWKS is cached; an unknown ``kid`` triggers at most one
refetch per ``min_refresh_seconds`` (key rotation), and a failed refetch keeps the keys already
known.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from common.errors import CoffreError, Unauthenticated

ACCESS_TOKEN_TYPE = "at+jwt"
DEFAULT_ALGORITHMS: tuple[str, ...] = ("Ed25519",)
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})
MAX_TOKEN_BYTES = 8192

Clock = Callable[[], float]


class InvalidToken(Unauthenticated):
    code = "auth.token-invalid"
    title = "The token is not valid"
    bearer_error: str | None = "invalid_token"


class MissingToken(InvalidToken):
    """No bearer token at all: RFC 6750 §3.1 wants the bare challenge, without an error code."""

    bearer_error = None


class ExpiredToken(InvalidToken):
    code = "auth.token-expired"
    title = "The token has expired"


class InsufficientScope(CoffreError):
    code = "auth.insufficient-scope"
    status = 403
    title = "The token does not grant this scope"
    bearer_error: str | None = "insufficient_scope"


class JwksUnavailable(CoffreError):
    code = "auth.jwks-unavailable"
    status = 503
    title = "The signing keys cannot be fetched"


class JwksSource(Protocol):
    """Where a JWKS document comes from (auth's HTTP endpoint, or a fixed document in tests)."""

    async def fetch(self) -> Mapping[str, Any]: ...


@dataclass
class StaticJwksSource:
    """A fixed JWKS document; auth uses it in-process, tests use it too."""

    document: Mapping[str, Any]
    fetches: int = 0

    async def fetch(self) -> Mapping[str, Any]:
        self.fetches += 1
        return self.document


@dataclass
class HttpJwksSource:
    """Fetch the JWKS over HTTP (``GET {auth}/.well-known/jwks.json``)."""

    url: str
    client: httpx.AsyncClient | None = None
    timeout_seconds: float = 3.0

    async def fetch(self) -> Mapping[str, Any]:
        try:
            if self.client is not None:
                response = await self.client.get(self.url, timeout=self.timeout_seconds)
            else:
                async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                    response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JwksUnavailable(f"JWKS fetch failed: {type(exc).__name__}") from None
        if not isinstance(document, dict):
            raise JwksUnavailable("JWKS document is not an object")
        return document


@dataclass
class JwksCache:
    """Caches a key set; refreshes after ``ttl_seconds`` or on an unknown ``kid`` (rate-limited)."""

    source: JwksSource
    ttl_seconds: float = 300.0
    min_refresh_seconds: float = 10.0
    clock: Clock = time.monotonic
    _keys: dict[str, OKPKey] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def key(self, kid: str) -> OKPKey | None:
        now = self.clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self.ttl_seconds
        may_refresh = self._fetched_at is None or now - self._fetched_at >= self.min_refresh_seconds
        if stale or (kid not in self._keys and may_refresh):
            await self._refresh(now)
        return self._keys.get(kid)

    async def _refresh(self, now: float) -> None:
        async with self._lock:
            if self._fetched_at is not None and self._fetched_at >= now:
                return
            try:
                document = await self.source.fetch()
                keys = _parse_jwks(document)
            except JwksUnavailable:
                if not self._keys:
                    raise
                self._fetched_at = self.clock()
                return
            self._keys = keys
            self._fetched_at = self.clock()


def _parse_jwks(document: Mapping[str, Any]) -> dict[str, OKPKey]:
    raw = document.get("keys")
    if not isinstance(raw, list):
        raise JwksUnavailable("JWKS document has no key list")
    keys: dict[str, OKPKey] = {}
    for entry in raw:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or "d" in entry:
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = KeySet.import_key_set({"keys": [entry]}).keys[0]
        except (JoseError, ValueError, TypeError):
            continue
        if isinstance(key, OKPKey):
            keys[kid] = key
    return keys


def _b64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError):
        raise InvalidToken("malformed token") from None
    if not isinstance(value, dict):
        raise InvalidToken("malformed token")
    return value


@dataclass(frozen=True)
class JwtRules:
    """What a verifier demands of one kind of token."""

    issuer: str
    audience: str
    token_type: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    max_lifetime_seconds: int = 300
    leeway_seconds: int = 5  # for iat / nbf only: exp is never extended


async def verify_signed_jwt(
    token: str, jwks: JwksCache, rules: JwtRules, now: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check header, signature and time/issuer/audience claims; return (header, claims)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise InvalidToken("malformed token")
    header = _b64json(token.split(".", 1)[0])
    alg = header.get("alg")
    if not isinstance(alg, str) or alg in FORBIDDEN_ALGORITHMS or alg not in rules.algorithms:
        raise InvalidToken("algorithm not allowed")
    if header.get("typ") != rules.token_type or "crit" in header:
        raise InvalidToken("unexpected token type")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("token names no key")
    key = await jwks.key(kid)
    if key is None:
        raise InvalidToken("unknown signing key")
    if key.get("alg") not in (None, alg):
        raise InvalidToken("key not valid for this algorithm")
    try:
        obj = jws.deserialize_compact(token, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError):
        raise InvalidToken("bad signature") from None
    claims = _claims_from(obj.payload)
    _check_claims(claims, rules, now)
    return header, claims


def _claims_from(payload: bytes | None) -> dict[str, Any]:
    try:
        claims = json.loads(payload or b"")
    except (ValueError, RecursionError):
        raise InvalidToken("malformed claims") from None
    if not isinstance(claims, dict):
        raise InvalidToken("malformed claims")
    return claims


def _int_claim(claims: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken(f"claim {name} missing or malformed")
    return value


def _check_claims(claims: Mapping[str, Any], rules: JwtRules, now: float) -> None:
    if claims.get("iss") != rules.issuer:
        raise InvalidToken("wrong issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if rules.audience not in audiences:
        raise InvalidToken("wrong audience")
    exp = _int_claim(claims, "exp")
    iat = _int_claim(claims, "iat")
    nbf = _int_claim(claims, "nbf", required=False)
    assert exp is not None
    assert iat is not None
    leeway = rules.leeway_seconds
    if now >= exp:
        raise ExpiredToken()
    if iat > now + leeway or (nbf is not None and nbf > now + leeway):
        raise InvalidToken("token not yet valid")
    if exp - iat > rules.max_lifetime_seconds:
        raise InvalidToken("token lifetime too long")
    for name in ("sub", "jti"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidToken(f"claim {name} missing")


@dataclass(frozen=True)
class AccessTokenClaims:
    """The verified content of an access token."""

    subject: str
    session_id: str
    scopes: frozenset[str]
    methods: tuple[str, ...]
    token_id: str
    issued_at: int
    expires_at: int
    tenant_id: str | None = None


class AccessTokenVerifier:
    """Verify auth's access tokens locally (EdDSA/Ed25519 by default, ``typ`` ``at+jwt``)."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        max_lifetime_seconds: int = 300,
        leeway_seconds: int = 5,
        clock: Clock = time.time,
    ) -> None:
        self._jwks = jwks
        self._clock = clock
        self._rules = JwtRules(
            issuer=issuer,
            audience=audience,
            token_type=ACCESS_TOKEN_TYPE,
            algorithms=algorithms,
            max_lifetime_seconds=max_lifetime_seconds,
            leeway_seconds=leeway_seconds,
        )

    @property
    def keys(self) -> JwksCache:
        """The cached keys it verifies with (other verifiers of auth's tokens share them)."""
        return self._jwks

    async def verify(self, token: str, *, required_scope: str | None = None) -> AccessTokenClaims:
        _, claims = await verify_signed_jwt(token, self._jwks, self._rules, self._clock())
        sid, scope = claims.get("sid"), claims.get("scope", "")
        amr, tenant = claims.get("amr", []), claims.get("tenant")
        if not isinstance(sid, str) or not isinstance(scope, str) or not isinstance(amr, list):
            raise InvalidToken("malformed claims")
        scopes = frozenset(scope.split())
        if required_scope is not None and required_scope not in scopes:
            raise InsufficientScope()
        return AccessTokenClaims(
            subject=claims["sub"],
            session_id=sid,
            scopes=scopes,
            methods=tuple(str(m) for m in amr),
            token_id=claims["jti"],
            issued_at=claims["iat"],
            expires_at=claims["exp"],
            tenant_id=tenant if isinstance(tenant, str) else None,
        )


def bearer_token(authorization: str | None) -> str:
    """Extract the token of an ``Authorization: Bearer …`` header, or refuse."""
    if not authorization:
        raise MissingToken("no bearer token")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise MissingToken("no bearer token")
    return value.strip()
