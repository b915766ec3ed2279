"""Single sign-on through a company's OpenID Connect provider (authorization code + PKCE).

Rules: a login starts at Coffre, which keeps the state, nonce, PKCE verifier and a browser
binding server-side (10 minutes, single use: the answer consumes them whether it succeeds or
not); the answer must carry a state we issued for this tenant, come back to the browser that
started the login (its cookie), and carry a code that the provider's token endpoint exchanges
for an ID token passing every check of ``domain.id_tokens``; the member is then found by the
provider's subject within that tenant and issuer (never by e-mail alone), and gets the same
session a SAML login gets. Every refused answer to a tenant's callback is audited
(``LoginFailed``, stage ``oidc``) and logged with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.events.auth import LoginFailed
from common.logging import get_logger

from auth.domain.codes import new_token
from auth.domain.errors import SsoRefused, TenantNotFound
from auth.domain.id_tokens import IdTokenRules, PublicKey, read_header, verify_id_token
from auth.domain.oidc import (
    LOGIN_TTL,
    OidcClient,
    OidcIdentity,
    PendingLogin,
    claim_is_true,
    code_challenge,
)
from auth.domain.sessions import Scope
from auth.domain.sso import SLUG, Tenant
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.oidc_accounts import account_for
from auth.service.ports import AuthUnitOfWork
from auth.service.sessions import TokenPair, start_session
from auth.service.throttle import limit

log = get_logger(__name__)
STATE, NONCE, BROWSER = "oidc-state", "oidc-nonce", "oidc-browser"


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class TokenAnswer:
    id_token: str
    access_token: str | None


class OidcProvider(Protocol):
    """A tenant's OpenID Connect provider, reached over HTTP (or faked in unit tests)."""

    async def authorization_url(
        self, client: OidcClient, state: str, nonce: str, challenge: str
    ) -> str: ...
    async def exchange(self, client: OidcClient, code: str, verifier: str) -> TokenAnswer: ...
    async def key(self, client: OidcClient, kid: str) -> PublicKey | None: ...


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the value of the cookie that binds the login to it."""

    url: str
    browser_token: str


@dataclass(frozen=True)
class Answer:
    """The provider's redirect back to us, and the browser's binding cookie."""

    state: str | None
    code: str | None
    error: str | None
    browser_token: str | None


async def tenant_client(uow: AuthUnitOfWork, slug: str) -> tuple[Tenant, OidcClient]:
    """The tenant and its OIDC client; an unknown slug or a SAML-only tenant is not found."""
    tenant = await uow.tenants.by_slug(slug) if SLUG.match(slug) else None
    client = await uow.oidc.client(tenant.id) if tenant else None
    if tenant is None or client is None:
        raise TenantNotFound()
    return tenant, client


async def begin(deps: Deps, provider: OidcProvider, slug: str, ctx: RequestContext) -> Started:
    await limit(deps, deps.policy.rates.login_per_ip, ctx.ip)
    async with deps.uow() as uow:
        tenant, client = await tenant_client(uow, slug)
    state, nonce, verifier, browser = new_token(), new_token(), new_token(48), new_token()
    url = await provider.authorization_url(client, state, nonce, code_challenge(verifier))
    login = PendingLogin(
        state_digest=deps.pepper.digest(STATE, state),
        tenant_id=tenant.id,
        nonce_digest=deps.pepper.digest(NONCE, nonce),
        browser_digest=deps.pepper.digest(BROWSER, browser),
        code_verifier=verifier,
        expires_at=deps.clock.now() + LOGIN_TTL,
    )
    async with deps.uow() as uow:
        await uow.oidc.add_login(login)
        await uow.commit()
    log.info("oidc_login_started", tenant=slug)
    return Started(url, browser)


async def complete(
    deps: Deps, provider: OidcProvider, slug: str, answer: Answer, ctx: RequestContext
) -> TokenPair:
    await limit(deps, deps.policy.rates.login_per_ip, ctx.ip)
    async with deps.uow() as uow:
        tenant, client = await tenant_client(uow, slug)
    try:
        login = await _take_login(deps, tenant, answer)
        identity = await _identity(deps, provider, client, login, answer)
        async with deps.uow() as uow:
            account = await account_for(deps, uow, tenant, client, identity, ctx)
            tokens = await start_session(deps, uow, account, Scope.MEMBER, ("oidc",), ctx)
            await uow.commit()
    except SsoRefused as exc:
        await _audit_refusal(deps, tenant, exc, ctx)
        raise
    log.info("oidc_login_succeeded", tenant=slug, session_id=str(tokens.session_id))
    return tokens


async def _take_login(deps: Deps, tenant: Tenant, answer: Answer) -> PendingLogin:
    if not answer.state:
        raise SsoRefused("the answer carries no state")
    async with deps.uow() as uow:
        login = await uow.oidc.take_login(deps.pepper.digest(STATE, answer.state))
        await uow.commit()
    if login is None or login.tenant_id != tenant.id or not login.open_at(deps.clock.now()):
        raise SsoRefused("the answer does not match an open sign-in")
    browser = answer.browser_token or ""
    if not deps.pepper.matches(login.browser_digest, BROWSER, browser):
        raise SsoRefused("the sign-in was started in another browser")
    return login


async def _identity(
    deps: Deps, provider: OidcProvider, client: OidcClient, login: PendingLogin, answer: Answer
) -> OidcIdentity:
    if answer.error is not None:
        raise SsoRefused("the identity provider refused the sign-in")
    if not answer.code:
        raise SsoRefused("the answer carries no code")
    tokens = await provider.exchange(client, answer.code, login.code_verifier)
    rules = IdTokenRules(
        issuer=client.issuer,
        client_id=client.client_id,
        algorithms=client.algorithms,
        nonce_matches=lambda nonce: deps.pepper.matches(login.nonce_digest, NONCE, nonce),
        access_token=tokens.access_token,
    )
    alg, kid = read_header(tokens.id_token, rules)
    key = await provider.key(client, kid)
    if key is None:
        raise SsoRefused("the ID token is signed with an unknown key")
    claims = verify_id_token(tokens.id_token, alg, key, rules, deps.clock.now().timestamp())
    email = claims.get("email")
    return OidcIdentity(
        issuer=client.issuer,
        subject=claims["sub"],
        email=email if isinstance(email, str) else None,
        email_verified=claim_is_true(claims.get("email_verified")),
    )


async def _audit_refusal(deps: Deps, tenant: Tenant, exc: SsoRefused, ctx: RequestContext) -> None:
    log.warning("oidc_login_refused", tenant=tenant.slug, reason=exc.message)
    async with deps.uow() as uow:
        uow.record(
            LoginFailed(user_id=None, reason="sso-refused", stage="oidc", **ctx.audit()),
            subject=f"tenant:{tenant.id}",
        )
        await uow.commit()
