"""A company tenant's OpenID Connect identity provider, and one login in flight.

Rules: a tenant trusts at most one OIDC issuer, named exactly (an ``https`` URL, or plain
``http`` on a loopback host for development); the redirect URI is Coffre's own callback as the
public base URL makes it (the provider enforces https on it in production); the client
authenticates at the token endpoint with a secret (``client_secret_basic``) or a signed
assertion (``private_key_jwt``), and that credential is a secret (sealed at rest, never
logged); ID tokens are accepted only with an asymmetric algorithm from the tenant's allow-list
(never ``none``, never HMAC); a login in flight is single use, lives 10 minutes, is bound to the
browser that started it, and keeps its PKCE verifier (sealed) and its state, nonce and browser
binding only as keyed digests.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from common.errors import ValidationFailed

LOGIN_TTL = timedelta(minutes=10)
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
    | {"EdDSA", "Ed25519"}
)
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "PS256", "EdDSA")
DEFAULT_SCOPES: tuple[str, ...] = ("openid", "email", "profile")
ClientAuth = Literal["client_secret_basic", "private_key_jwt"]
SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/")


def checked_url(url: str, what: str, *, any_http: bool = False) -> str:
    """An absolute ``https`` URL (``http`` only on a loopback host, or anywhere when
    ``any_http``), without a fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
        raise ValidationFailed(f"the {what} must be an absolute https URL")
    if parts.scheme == "http" and not (any_http or _loopback(parts.hostname)):
        raise ValidationFailed(f"the {what} must use https")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class OidcClient:
    """How Coffre signs members of one tenant in through the tenant's OIDC provider."""

    tenant_id: uuid.UUID
    issuer: str
    client_id: str
    client_auth: ClientAuth
    redirect_uri: str
    created_at: datetime
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    link_verified_email: bool = False
    client_secret: str | None = field(default=None, repr=False)
    private_jwk: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        checked_url(self.issuer, "issuer")
        checked_url(self.redirect_uri, "redirect URI", any_http=True)
        if not 0 < len(self.client_id) <= 255:
            raise ValidationFailed("the client id must be 1 to 255 characters")
        if "openid" not in self.scopes or any(set(s) - SCOPE_CHARS for s in self.scopes):
            raise ValidationFailed("the scopes must include openid and be plain tokens")
        if not self.algorithms or set(self.algorithms) - ASYMMETRIC_ALGORITHMS:
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ValidationFailed(f"ID-token algorithms must be among {allowed}")
        if self.client_auth == "client_secret_basic" and not self.client_secret:
            raise ValidationFailed("client_secret_basic needs a client secret")
        if self.client_auth == "private_key_jwt" and not self.private_jwk:
            raise ValidationFailed("private_key_jwt needs a private key")

    @property
    def external_namespace(self) -> str:
        """Prefix of the accounts' external ids: a subject is unique only within its issuer."""
        return f"oidc|{self.issuer}|"

    def external_id(self, subject: str) -> str:
        return self.external_namespace + subject


def code_challenge(verifier: str) -> str:
    """PKCE ``S256``: BASE64URL(SHA-256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PendingLogin:
    """One authorization request we sent and have not seen answered yet."""

    state_digest: str
    tenant_id: uuid.UUID
    nonce_digest: str
    browser_digest: str
    code_verifier: str = field(repr=False)
    expires_at: datetime

    def open_at(self, now: datetime) -> bool:
        return now < self.expires_at


def claim_is_true(value: object) -> bool:
    """A boolean claim is true when it is JSON ``true``; the string ``"true"`` (any case), which
    some providers send for ``email_verified``, counts too. Anything else is false."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


@dataclass(frozen=True)
class OidcIdentity:
    """What a verified ID token says about the member."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
