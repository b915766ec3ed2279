"""Single sign-on through a company's SAML identity provider.

Rules: a login starts at Coffre (SP-initiated); the response must answer a request we sent,
each request id is used once and lives 10 minutes; each assertion id is accepted once (replay
protection, kept until the assertion's end); the IdP's persistent NameID maps to one Coffre
account within that tenant, created at first login; an address already used by another account
is never linked silently.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from common.events.auth import UserRegistered
from defusedxml import ElementTree

from auth.domain.accounts import Account, normalise_email
from auth.domain.errors import SsoRefused, TenantNotFound
from auth.domain.sessions import Scope
from auth.domain.sso import SLUG, SsoIdentity, Tenant
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.ports import AuthUnitOfWork
from auth.service.sessions import TokenPair, start_session
from auth.service.throttle import limit

REQUEST_TTL = timedelta(minutes=10)
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


class SamlServiceProvider(Protocol):
    def metadata(self, tenant: Tenant) -> str: ...
    def begin(self, tenant: Tenant) -> tuple[str, str]: ...
    def in_response_to(self, saml_response: str) -> str | None: ...
    def verify(self, tenant: Tenant, saml_response: str, request_id: str) -> SsoIdentity: ...


def idp_entity_id(metadata_xml: str) -> str:
    try:
        root = ElementTree.fromstring(metadata_xml.encode())
    except Exception:
        raise SsoRefused("the identity provider metadata is not valid XML") from None
    if root.tag != f"{MD}EntityDescriptor" or root.find(f"{MD}IDPSSODescriptor") is None:
        raise SsoRefused("the metadata does not describe one identity provider")
    return str(root.attrib["entityID"])


async def create_tenant(deps: Deps, slug: str, name: str, metadata_xml: str) -> Tenant:
    tenant = Tenant.create(slug, name, idp_entity_id(metadata_xml), metadata_xml, deps.clock.now())
    async with deps.uow() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def _tenant(uow: AuthUnitOfWork, slug: str) -> Tenant:
    if not SLUG.match(slug):
        raise TenantNotFound()
    tenant = await uow.tenants.by_slug(slug)
    if tenant is None or tenant.idp_metadata_xml is None:
        raise TenantNotFound()
    return tenant


async def metadata(deps: Deps, sp: SamlServiceProvider, slug: str) -> str:
    async with deps.uow() as uow:
        tenant = await _tenant(uow, slug)
    return sp.metadata(tenant)


async def begin(deps: Deps, sp: SamlServiceProvider, slug: str, ctx: RequestContext) -> str:
    await limit(deps, deps.policy.rates.login_per_ip, ctx.ip)
    async with deps.uow() as uow:
        tenant = await _tenant(uow, slug)
        request_id, url = sp.begin(tenant)
        await uow.tenants.add_request(request_id, tenant.id, deps.clock.now() + REQUEST_TTL)
        await uow.commit()
    return url


async def complete(
    deps: Deps, sp: SamlServiceProvider, slug: str, saml_response: str, ctx: RequestContext
) -> TokenPair:
    await limit(deps, deps.policy.rates.login_per_ip, ctx.ip)
    request_id = sp.in_response_to(saml_response)
    if request_id is None:
        raise SsoRefused("unsolicited responses are not accepted")
    async with deps.uow() as uow:
        tenant = await _tenant(uow, slug)
        if not await uow.tenants.take_request(request_id, tenant.id, deps.clock.now()):
            await uow.commit()
            raise SsoRefused("the response does not answer an open request")
        await uow.commit()
    identity = sp.verify(tenant, saml_response, request_id)
    async with deps.uow() as uow:
        if not await uow.tenants.remember_assertion(
            identity.assertion_id, identity.not_on_or_after
        ):
            raise SsoRefused("this assertion was already used")
        account = await _account_for(deps, uow, tenant, identity, ctx)
        tokens = await start_session(deps, uow, account, Scope.MEMBER, ("saml",), ctx)
        await uow.commit()
    return tokens


async def _account_for(
    deps: Deps, uow: AuthUnitOfWork, tenant: Tenant, identity: SsoIdentity, ctx: RequestContext
) -> Account:
    account = await uow.accounts.by_external_id(tenant.id, identity.name_id)
    if account is not None:
        return account
    if not identity.email:
        raise SsoRefused("the identity provider sent no e-mail address")
    email = normalise_email(identity.email)
    if await uow.accounts.by_email(email) is not None:
        raise SsoRefused("this address belongs to another account; ask support to link it")
    account = Account.open(email, None, deps.clock.now())
    account.tenant_id, account.external_id = tenant.id, identity.name_id
    await uow.accounts.add(account)
    uow.record(
        UserRegistered(
            user_id=account.id,
            method="sso",
            tenant_id=tenant.id,
            verified_email=email,
            **ctx.acting(account.id).audit(),
        ),
        subject=str(account.id),
    )
    return account
