"""Service identity: how one Coffre service proves who it is to another (the vault relies on it).

Rules:
- Each service holds its own Ed25519 private key; the services it calls trust its public key,
  found as ``<service>.pub.pem`` in a trust folder (the dev stack generates both; in Kubernetes
  they come from Secrets). No shared secret exists between services.
- A caller sends a short-lived signed token (JWT, Ed25519 per RFC 9864, ≤ 5 minutes) in
  ``Authorization: Bearer``: ``iss``/``sub`` = the caller, ``aud`` = the callee, ``iat``, ``exp``,
  ``jti``. The callee accepts only tokens for itself, signed by a key it trusts under that exact
  service name, unexpired (30 s clock skew), and refuses anything else with 401.
- A token that verified is remembered by its exact text (signature included) until its expiry
  plus the skew, so a caller reusing its token costs one signature check per token, not per
  request; any other text, and the same text once expired, is checked in full again.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from common.errors import Unauthenticated

MAX_TTL_SECONDS = 300
CLOCK_SKEW_SECONDS = 30
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


@dataclass(frozen=True)
class ServiceCaller:
    """A verified calling service."""

    name: str
    token_id: str


def generate_identity(service: str, folder: Path) -> tuple[Path, Path]:
    """Write ``<service>.key.pem`` (0600) and ``<service>.pub.pem`` if absent; return both."""
    folder.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = folder / f"{service}.key.pem", folder / f"{service}.pub.pem"
    if not key_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path.touch(mode=0o600)
        key_path.write_bytes(pem)
        pub_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return key_path, pub_path


def _okp(key: Ed25519PrivateKey | Ed25519PublicKey) -> OKPKey:
    if isinstance(key, Ed25519PrivateKey):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    else:
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return OKPKey.import_key(pem)


class ServiceTokenIssuer:
    """Issues this service's tokens; caches one per audience until close to expiry."""

    def __init__(self, service: str, private_key: Ed25519PrivateKey, *, ttl: int = 120) -> None:
        if not SERVICE_NAME.match(service):
            raise ValueError(f"invalid service name {service!r}")
        if not 0 < ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"service token lifetime must be 1..{MAX_TTL_SECONDS} s")
        self.service = service
        self._key = _okp(private_key)
        self._ttl = ttl
        self._cache: dict[str, tuple[str, float]] = {}

    @classmethod
    def from_file(cls, service: str, path: str | Path, *, ttl: int = 120) -> ServiceTokenIssuer:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a service identity key must be Ed25519")
        return cls(service, key, ttl=ttl)

    def token_for(self, audience: str, *, now: float | None = None) -> str:
        now = time.time() if now is None else now
        cached = self._cache.get(audience)
        if cached and cached[1] - now > self._ttl / 3:
            return cached[0]
        claims = {
            "iss": self.service,
            "sub": self.service,
            "aud": audience,
            "iat": int(now),
            "exp": int(now) + self._ttl,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(
            {"alg": "Ed25519", "typ": "JWT"}, claims, self._key, algorithms=["Ed25519"]
        )
        self._cache[audience] = (token, now + self._ttl)
        return token

    def headers_for(self, audience: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(audience)}"}


class ServiceTokenVerifier:
    """Verifies tokens sent to ``audience`` against the public keys it trusts."""

    def __init__(
        self, audience: str, trusted: dict[str, Ed25519PublicKey], *, remember: int = 4096
    ) -> None:
        self.audience = audience
        self._trusted = {name: _okp(key) for name, key in trusted.items()}
        self._remember = remember
        self._verified: OrderedDict[str, tuple[ServiceCaller, int]] = OrderedDict()

    @classmethod
    def from_folder(cls, audience: str, folder: str | Path) -> ServiceTokenVerifier:
        trusted: dict[str, Ed25519PublicKey] = {}
        for path in sorted(Path(folder).glob("*.pub.pem")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if isinstance(key, Ed25519PublicKey):
                trusted[path.name.removesuffix(".pub.pem")] = key
        return cls(audience, trusted)

    def verify(self, authorization: str | None, *, now: float | None = None) -> ServiceCaller:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated("a service token is required", reason="missing-token")
        token = authorization.removeprefix("Bearer ").strip()
        now = time.time() if now is None else now
        known = self._verified.get(token)
        if known is not None:
            if now <= known[1] + CLOCK_SKEW_SECONDS:
                return known[0]
            del self._verified[token]
        caller = _claimed_issuer(token)
        key = self._trusted.get(caller or "")
        if caller is None or key is None:
            raise Unauthenticated("the calling service is not trusted", reason="untrusted-caller")
        try:
            decoded = jwt.decode(token, key, algorithms=["Ed25519"])
        except (JoseError, ValueError):
            raise Unauthenticated("the service token is invalid", reason="bad-signature") from None
        verified = self._check_claims(decoded.claims, caller, now)
        self._remember_token(token, verified, decoded.claims["exp"])
        return verified

    def _remember_token(self, token: str, verified: ServiceCaller, exp: int) -> None:
        if self._remember <= 0:
            return
        self._verified[token] = (verified, exp)
        while len(self._verified) > self._remember:
            self._verified.popitem(last=False)

    def _check_claims(self, claims: dict[str, object], caller: str, now: float) -> ServiceCaller:
        exp, iat = claims.get("exp"), claims.get("iat")
        if claims.get("aud") != self.audience:
            raise Unauthenticated(
                "the service token is for another audience", reason="wrong-audience"
            )
        if claims.get("sub") != caller:
            raise Unauthenticated("the service token subject does not match", reason="bad-subject")
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise Unauthenticated("the service token lacks its lifetime", reason="bad-claims")
        if exp - iat > MAX_TTL_SECONDS:
            raise Unauthenticated("the service token lives too long", reason="bad-claims")
        if now > exp + CLOCK_SKEW_SECONDS or iat > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("the service token has expired", reason="expired")
        return ServiceCaller(name=caller, token_id=str(claims.get("jti", "")))


def _claimed_issuer(token: str) -> str | None:
    """The issuer a token claims, read before its signature is checked against that issuer."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return None
    iss = claims.get("iss") if isinstance(claims, dict) else None
    return iss if isinstance(iss, str) else None


class ServiceAuth:
    """httpx auth that attaches a fresh service token for one callee to every request."""

    def __init__(self, issuer: ServiceTokenIssuer, audience: str) -> None:
        self._issuer = issuer
        self._audience = audience

    def __call__(self, request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {self._issuer.token_for(self._audience)}"
        return request
