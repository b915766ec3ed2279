"""An OpenID Connect provider over HTTP: discovery, JWKS and the token endpoint (httpx).

Rules: discovery is read from ``{issuer}/.well-known/openid-configuration`` and must name the
configured issuer exactly, endpoints in https (http only on loopback) and, when it lists PKCE
methods, ``S256``; discovery and keys are cached for an hour; a ``kid`` we do not know refetches
the JWKS at most once per 30 s per issuer (a rotation is picked up, a flood of made-up ``kid``s
costs the provider nothing), and a failed refetch keeps the keys already known; answers larger
than 256 kB are refused; the client authenticates with HTTP Basic (``client_secret_basic``) or a
signed ES256 assertion (``private_key_jwt``, RFC 7523). Codes, verifiers, secrets and tokens are
never logged.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from common.errors import ValidationFailed
from common.logging import get_logger
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from auth.domain.errors import IdpAnsweredWrongly, IdpUnavailable, SsoRefused
from auth.domain.id_tokens import PublicKey
from auth.domain.oidc import OidcClient, checked_url
from auth.service.oidc import ProviderMetadata, TokenAnswer

log = get_logger(__name__)
MAX_ANSWER_BYTES = 256_000
MAX_KEYS = 100
CACHE_SECONDS = 3600.0
MIN_REFRESH_SECONDS = 30.0
ASSERTION_TTL_SECONDS = 60


@dataclass
class _Keys:
    keys: dict[str, PublicKey]
    fetched_at: float


@dataclass
class HttpOidcProvider:
    """Talks to tenants' OIDC providers; one instance (and one HTTP client) per process."""

    client: httpx.AsyncClient
    cache_seconds: float = CACHE_SECONDS
    min_refresh_seconds: float = MIN_REFRESH_SECONDS
    clock: Callable[[], float] = time.monotonic
    _metadata: dict[str, tuple[ProviderMetadata, float]] = field(default_factory=dict)
    _keys: dict[str, _Keys] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    jwks_fetches: int = 0

    async def metadata(self, issuer: str) -> ProviderMetadata:
        cached = self._metadata.get(issuer)
        if cached is not None and self.clock() - cached[1] < self.cache_seconds:
            return cached[0]
        document = await self._json("GET", issuer.rstrip("/") + "/.well-known/openid-configuration")
        found = _parse_metadata(document, issuer)
        self._metadata[issuer] = (found, self.clock())
        return found

    async def authorization_url(
        self, client: OidcClient, state: str, nonce: str, challenge: str
    ) -> str:
        found = await self.metadata(client.issuer)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": client.redirect_uri,
                "scope": " ".join(client.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in found.authorization_endpoint else "?"
        return found.authorization_endpoint + separator + query

    async def exchange(self, client: OidcClient, code: str, verifier: str) -> TokenAnswer:
        found = await self.metadata(client.issuer)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        }
        auth: tuple[str, str] | None = None
        if client.client_auth == "client_secret_basic":
            assert client.client_secret is not None
            auth = (client.client_id, client.client_secret)
        else:
            form["client_id"] = client.client_id
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = client_assertion(client, found.token_endpoint)
        document = await self._json("POST", found.token_endpoint, data=form, auth=auth)
        return _token_answer(document)

    async def key(self, client: OidcClient, kid: str) -> PublicKey | None:
        issuer = client.issuer
        cached = self._keys.get(issuer)
        now = self.clock()
        age = None if cached is None else now - cached.fetched_at
        unknown = cached is None or kid not in cached.keys
        may_refetch = age is not None and age >= self.min_refresh_seconds
        if age is None or age >= self.cache_seconds or (unknown and may_refetch):
            await self._refresh(issuer, now)
        cached = self._keys.get(issuer)
        return cached.keys.get(kid) if cached else None

    async def _refresh(self, issuer: str, now: float) -> None:
        async with self._locks.setdefault(issuer, asyncio.Lock()):
            cached = self._keys.get(issuer)
            if cached is not None and cached.fetched_at >= now:
                return
            try:
                found = await self.metadata(issuer)
                self.jwks_fetches += 1
                keys = parse_jwks(await self._json("GET", found.jwks_uri))
            except (IdpUnavailable, IdpAnsweredWrongly):
                if cached is None:
                    raise
                log.warning("oidc_jwks_refresh_failed", issuer=issuer)
                cached.fetched_at = self.clock()
                return
            self._keys[issuer] = _Keys(keys, self.clock())

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.client.stream(method, url, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise IdpAnsweredWrongly("the identity provider's answer is too large")
        except httpx.HTTPError as exc:
            log.warning("oidc_provider_unreachable", error=type(exc).__name__, url=url)
            raise IdpUnavailable() from None
        return _json_answer(response.status_code, bytes(body), url)


def _json_answer(status: int, body: bytes, url: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if status == 400 and isinstance(document, dict) and "error" in document:
        log.warning("oidc_token_refused", error=str(document.get("error"))[:64], url=url)
        raise SsoRefused("the identity provider refused the authorization code")
    if status >= 500:
        raise IdpUnavailable()
    if status != 200 or not isinstance(document, dict):
        log.warning("oidc_provider_answered_wrongly", status=status, url=url)
        raise IdpAnsweredWrongly()
    return document


def _parse_metadata(document: Mapping[str, Any], issuer: str) -> ProviderMetadata:
    if document.get("issuer") != issuer:
        raise IdpAnsweredWrongly("the provider's discovery names another issuer")
    methods = document.get("code_challenge_methods_supported")
    if methods is not None and (not isinstance(methods, list) or "S256" not in methods):
        raise IdpAnsweredWrongly("the provider does not support PKCE with S256")
    try:
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=_endpoint(document, "authorization_endpoint"),
            token_endpoint=_endpoint(document, "token_endpoint"),
            jwks_uri=_endpoint(document, "jwks_uri"),
        )
    except ValidationFailed as exc:
        raise IdpAnsweredWrongly(exc.message) from None


def _endpoint(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise IdpAnsweredWrongly(f"the provider's discovery has no {name}")
    return checked_url(value, name)


def parse_jwks(document: Mapping[str, Any]) -> dict[str, PublicKey]:
    """The public signing keys of a JWKS by ``kid``; private or unusable entries are skipped."""
    raw = document.get("keys")
    if not isinstance(raw, list):
        raise IdpAnsweredWrongly("the provider's JWKS has no key list")
    keys: dict[str, PublicKey] = {}
    for entry in raw[:MAX_KEYS]:
        if not isinstance(entry, dict) or "d" in entry or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            key = KeySet.import_key_set({"keys": [entry]}).keys[0]
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        if isinstance(key, RSAKey | ECKey | OKPKey):
            keys[kid] = key
    return keys


def _token_answer(document: Mapping[str, Any]) -> TokenAnswer:
    id_token, access_token = document.get("id_token"), document.get("access_token")
    if not isinstance(id_token, str):
        raise IdpAnsweredWrongly("the token endpoint returned no ID token")
    return TokenAnswer(
        id_token=id_token, access_token=access_token if isinstance(access_token, str) else None
    )


def client_assertion(client: OidcClient, token_endpoint: str) -> str:
    """A signed JWT that authenticates the client at the token endpoint (RFC 7523 §2.2)."""
    assert client.private_jwk is not None
    key = ECKey.import_key(dict(client.private_jwk))
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": token_endpoint,
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + ASSERTION_TTL_SECONDS,
    }
    header = {"alg": "ES256", "kid": str(client.private_jwk.get("kid", "")), "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=["ES256"])
