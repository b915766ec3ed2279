"""Which Coffre account an OIDC identity signs in to.

Rules: an identity is the pair (issuer, subject) within its tenant — the provider's ``sub`` is
unique only for that issuer, and e-mail addresses change hands, so the account is found by that
pair, never by e-mail alone; at first login a new account is opened with the address the
provider sends (one is required); an address already used by another account is never linked
silently — except, when the tenant allows it (``link_verified_email``), an account of that same
tenant whose address the provider marks verified (``email_verified: true``), which is how a
tenant moves its members from SAML to OIDC: the account then signs in by the OIDC subject.
A personal account or another tenant's is never taken over, whatever the provider says.
"""

from __future__ import annotations

from common.events.auth import UserRegistered
from common.logging import get_logger

from auth.domain.accounts import Account, normalise_email
from auth.domain.errors import InvalidEmail, SsoRefused
from auth.domain.oidc import OidcClient, OidcIdentity
from auth.domain.sso import Tenant
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.ports import AuthUnitOfWork

log = get_logger(__name__)


async def account_for(
    deps: Deps,
    uow: AuthUnitOfWork,
    tenant: Tenant,
    client: OidcClient,
    identity: OidcIdentity,
    ctx: RequestContext,
) -> Account:
    external_id = client.external_id(identity.subject)
    account = await uow.accounts.by_external_id(tenant.id, external_id)
    if account is not None:
        return account
    if not identity.email:
        raise SsoRefused("the identity provider sent no e-mail address")
    try:
        email = normalise_email(identity.email)
    except InvalidEmail:
        raise SsoRefused("the identity provider sent an invalid e-mail address") from None
    existing = await uow.accounts.by_email(email)
    if existing is not None:
        return await _link(uow, tenant, client, identity, existing, external_id)
    account = Account.open(email, None, deps.clock.now())
    account.tenant_id, account.external_id = tenant.id, external_id
    await uow.accounts.add(account)
    uow.record(
        UserRegistered(
            user_id=account.id,
            method="sso",
            tenant_id=tenant.id,
            verified_email=email if identity.email_verified else None,
            **ctx.acting(account.id).audit(),
        ),
        subject=str(account.id),
    )
    return account


async def _link(
    uow: AuthUnitOfWork,
    tenant: Tenant,
    client: OidcClient,
    identity: OidcIdentity,
    account: Account,
    external_id: str,
) -> Account:
    same_tenant = account.tenant_id == tenant.id
    if not (client.link_verified_email and identity.email_verified and same_tenant):
        raise SsoRefused("this address belongs to another account; ask support to link it")
    account.external_id = external_id
    await uow.accounts.update(account)
    log.info("oidc_account_linked", user_id=str(account.id), tenant=tenant.slug)
    return account
