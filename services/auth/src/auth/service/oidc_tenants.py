"""Configuring a tenant's OpenID Connect client.

Rules: a tenant is created when its slug is new, or gains OIDC beside its SAML IdP; with a client
secret the client authenticates by ``client_secret_basic``, without one by ``private_key_jwt``
with an ES256 key Coffre generates (kept when the tenant is reconfigured, so the provider's
registration stays valid) and publishes at ``/v1/oidc/{tenant}/jwks.json``; the credential is
sealed at rest and never returned nor logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from common.logging import get_logger
from joserfc.jwk import ECKey

from auth.domain.errors import TenantNotFound
from auth.domain.oidc import DEFAULT_ALGORITHMS, DEFAULT_SCOPES, ClientAuth, OidcClient
from auth.domain.sso import Tenant
from auth.service.deps import Deps
from auth.service.oidc import tenant_client

log = get_logger(__name__)


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    link_verified_email: bool = False


def new_client_key() -> dict[str, Any]:
    """A fresh ES256 key for ``private_key_jwt`` (private JWK, with its ``kid``)."""
    kid = secrets.token_urlsafe(12)
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"})
    return dict(key.as_dict(private=True))


def public_jwk(private_jwk: dict[str, Any]) -> dict[str, Any]:
    return dict(ECKey.import_key(dict(private_jwk)).as_dict(private=False))


async def configure(deps: Deps, slug: str, name: str, config: OidcConfig) -> OidcClient:
    """Create or update the tenant's OIDC client; return it."""
    auth: ClientAuth = "client_secret_basic" if config.client_secret else "private_key_jwt"
    async with deps.uow() as uow:
        tenant = await uow.tenants.by_slug(slug)
        if tenant is None:
            tenant = Tenant.create(slug, name, None, None, deps.clock.now())
            await uow.tenants.add(tenant)
        previous = await uow.oidc.client(tenant.id)
        key = previous.private_jwk if previous and previous.private_jwk else None
        client = OidcClient(
            tenant_id=tenant.id,
            issuer=config.issuer,
            client_id=config.client_id,
            client_auth=auth,
            redirect_uri=config.redirect_uri,
            created_at=deps.clock.now(),
            scopes=config.scopes,
            algorithms=config.algorithms,
            link_verified_email=config.link_verified_email,
            client_secret=config.client_secret,
            private_jwk=None if config.client_secret else (key or new_client_key()),
        )
        await uow.oidc.save_client(client)
        await uow.commit()
    log.info("oidc_tenant_configured", tenant=slug, issuer=config.issuer, client_auth=auth)
    return client


async def client_jwks(deps: Deps, slug: str) -> dict[str, Any]:
    """The public key a ``private_key_jwt`` client signs its assertions with."""
    async with deps.uow() as uow:
        _, client = await tenant_client(uow, slug)
    if client.private_jwk is None:
        raise TenantNotFound("this tenant's client authenticates with a secret")
    return {"keys": [public_jwk(client.private_jwk)]}
