"""A small OpenID Connect provider for tests, served over real HTTP (uvicorn on a free port).

It does what a real provider does on the authorization-code flow with PKCE: discovery, a JWKS,
an authorize endpoint that signs the configured test user in at once (auto-consent), and a token
endpoint that authenticates the client (``client_secret_basic`` or ``private_key_jwt`` against
the client's registered JWKS), checks the redirect URI, refuses a code used twice or older than
60 s, and checks the PKCE verifier against the S256 challenge before it signs an ID token with a
key generated at start. Tests make it misbehave on purpose through ``claims_hook`` (change the
ID token's claims) and ``sign`` (sign with another key, algorithm or header).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from devstack.ports import free_port
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CODE_TTL_SECONDS = 60
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Claims = dict[str, Any]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def half_hash(access_token: str) -> str:
    """``at_hash`` for an RS256/ES256 ID token."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def new_signing_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(
        2048, parameters={"kid": kid or secrets.token_hex(8), "use": "sig", "alg": "RS256"}
    )


def mint(claims: Claims, key: Any, alg: str = "RS256", header: dict[str, Any] | None = None) -> str:
    """Sign ``claims`` as a compact JWT (any algorithm, including ones a verifier must refuse)."""
    head = {"alg": alg, "typ": "JWT", **({"kid": key.kid} if key.kid else {}), **(header or {})}
    return jwt.encode(head, claims, key, algorithms=[alg])


@dataclass
class ProviderUser:
    subject: str = "employee-1"
    email: str | None = "ann@acme.test"
    email_verified: bool = True


@dataclass
class RegisteredClient:
    client_id: str
    redirect_uri: str
    secret: str | None = None
    jwks: dict[str, Any] | None = None


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: ProviderUser
    issued_at: float
    used: bool = False


@dataclass
class LocalOidcProvider:
    """The provider's state; ``app`` serves it, ``running`` puts it on a real port."""

    issuer: str = ""
    key: RSAKey = field(default_factory=new_signing_key)
    user: ProviderUser = field(default_factory=ProviderUser)
    clients: dict[str, RegisteredClient] = field(default_factory=dict)
    claims_hook: Callable[[Claims], Claims] | None = None
    sign: Callable[[Claims], str] | None = None
    jwks_fetches: int = 0
    token_requests: int = 0
    extra_keys: list[RSAKey] = field(default_factory=list)
    _grants: dict[str, _Grant] = field(default_factory=dict)

    def register(self, client: RegisteredClient) -> None:
        self.clients[client.client_id] = client

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    def id_token(self, claims: Claims) -> str:
        """Sign claims as this provider does (or as ``sign`` says)."""
        return self.sign(claims) if self.sign else mint(claims, self.key)

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        self.jwks_fetches += 1
        keys = [k.as_dict(private=False) for k in (self.key, *self.extra_keys)]
        return JSONResponse({"keys": keys})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        client = self.clients.get(q.get("client_id", ""))
        if client is None or q.get("redirect_uri") != client.redirect_uri:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return _back(client, q.get("state"), error="invalid_request")
        if "openid" not in q.get("scope", "").split() or not q.get("code_challenge"):
            return _back(client, q.get("state"), error="invalid_request")
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            client.client_id,
            client.redirect_uri,
            q["code_challenge"],
            q.get("nonce"),
            self.user,
            time.time(),
        )
        return _back(client, q.get("state"), code=code)

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: str(v) for k, v in (await request.form()).items()}
        client = self._authenticate(request, form)
        if client is None:
            return _error("invalid_client", 401)
        grant = self._grants.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or grant is None:
            return _error("invalid_grant")
        if grant.used or time.time() - grant.issued_at > CODE_TTL_SECONDS:
            grant.used = True
            return _error("invalid_grant")
        grant.used = True
        if grant.client_id != client.client_id or form.get("redirect_uri") != grant.redirect_uri:
            return _error("invalid_grant")
        if s256(form.get("code_verifier", "")) != grant.challenge:
            return _error("invalid_grant")
        return JSONResponse(self._tokens(client, grant), headers={"Cache-Control": "no-store"})

    def _tokens(self, client: RegisteredClient, grant: _Grant) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        now = int(time.time())
        claims: Claims = {
            "iss": self.issuer,
            "sub": grant.user.subject,
            "aud": client.client_id,
            "iat": now,
            "exp": now + 300,
            "at_hash": half_hash(access),
            "email_verified": grant.user.email_verified,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if grant.user.email is not None:
            claims["email"] = grant.user.email
        if self.claims_hook is not None:
            claims = self.claims_hook(claims)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(claims),
        }

    def _authenticate(self, request: Request, form: dict[str, str]) -> RegisteredClient | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:]).decode()
            except ValueError:
                return None
            client_id, _, secret = raw.partition(":")
            client = self.clients.get(client_id)
            if client is None or client.secret is None:
                return None
            return client if secrets.compare_digest(client.secret, secret) else None
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            return self._assertion_client(form)
        return None

    def _assertion_client(self, form: dict[str, str]) -> RegisteredClient | None:
        client = self.clients.get(form.get("client_id", ""))
        if client is None or client.jwks is None:
            return None
        try:
            token = jwt.decode(
                form.get("client_assertion", ""),
                KeySet.import_key_set(client.jwks),  # type: ignore[arg-type]
                algorithms=["ES256"],
            )
        except (JoseError, ValueError):
            return None
        c = token.claims
        now = time.time()
        fresh = isinstance(c.get("exp"), int) and c["exp"] > now and c.get("jti")
        right = c.get("iss") == c.get("sub") == client.client_id
        return client if fresh and right and c.get("aud") == f"{self.issuer}/token" else None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LocalOidcProvider]:
        """Serve the provider on ``http://127.0.0.1:<free port>`` for the block's duration."""
        port = free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            for _ in range(500):
                if server.started or task.done():
                    break
                await asyncio.sleep(0.01)
            if not server.started:
                raise RuntimeError("the test OIDC provider did not start")
            yield self
        finally:
            server.should_exit = True
            await task


def _back(client: RegisteredClient, state: str | None, **params: str) -> Response:
    query = urlencode({**params, **({"state": state} if state is not None else {})})
    return RedirectResponse(f"{client.redirect_uri}?{query}", status_code=302)


def _error(error: str, status: int = 400) -> Response:
    return JSONResponse({"error": error}, status_code=status)
