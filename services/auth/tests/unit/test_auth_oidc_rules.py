"""OIDC client rules: tenant configuration, the provider adapter (discovery, bounded JWKS
refresh, PKCE at the token endpoint) against the local provider's app in-process, and which
account an identity signs in to."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from auth.adapters.oidc_http import HttpOidcProvider
from auth.domain.accounts import Account
from auth.domain.errors import IdpAnsweredWrongly, SsoRefused
from auth.domain.oidc import OidcClient, OidcIdentity, claim_is_true, code_challenge
from auth.domain.sso import Tenant
from auth.entrypoints.main import _oidc_config, _oidc_parser
from auth.service.oidc_accounts import account_for
from auth_unit_helpers import CTX, Harness
from coffre_testing.oidc_provider import LocalOidcProvider, RegisteredClient, new_signing_key
from common.errors import ValidationFailed

pytestmark = pytest.mark.unit
ISSUER = "http://127.0.0.1:1"
REDIRECT = "https://coffre.test/v1/oidc/acme/callback"


def _client(**changes: Any) -> OidcClient:
    values: dict[str, Any] = {
        "tenant_id": uuid.uuid4(),
        "issuer": ISSUER,
        "client_id": "coffre",
        "client_auth": "client_secret_basic",
        "redirect_uri": REDIRECT,
        "created_at": Harness().clock.now(),
        "client_secret": "s3cret",
    }
    return OidcClient(**(values | changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"algorithms": ("RS256", "HS256")},
        {"algorithms": ("none",)},
        {"algorithms": ()},
        {"issuer": "http://idp.example.com"},
        {"issuer": "not a url"},
        {"scopes": ("email",)},
        {"client_secret": None},
        {"client_auth": "private_key_jwt", "client_secret": None},
    ],
)
def test_unsafe_client_configuration_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        _client(**changes)


def test_client_secret_never_shows_in_the_clients_repr() -> None:
    assert "s3cret" not in repr(_client())


def _provider() -> tuple[LocalOidcProvider, HttpOidcProvider, list[float]]:
    idp = LocalOidcProvider(issuer=ISSUER)
    idp.register(RegisteredClient("coffre", REDIRECT, "s3cret"))
    now = [1000.0]
    transport = httpx.ASGITransport(app=idp.app)
    adapter = HttpOidcProvider(httpx.AsyncClient(transport=transport), clock=lambda: now[0])
    return idp, adapter, now


@pytest.mark.asyncio
async def test_unknown_kid_refetches_the_jwks_at_most_once_per_interval() -> None:
    idp, adapter, now = _provider()
    client = _client()
    assert await adapter.key(client, idp.key.kid or "") is not None
    assert await adapter.key(client, "made-up-1") is None
    assert await adapter.key(client, "made-up-2") is None
    assert idp.jwks_fetches == 1
    rotated = new_signing_key()
    idp.extra_keys.append(rotated)
    now[0] += 31
    assert await adapter.key(client, rotated.kid or "") is not None
    assert idp.jwks_fetches == 2


@pytest.mark.asyncio
async def test_discovery_naming_another_issuer_is_refused() -> None:
    _, adapter, _ = _provider()
    with pytest.raises(IdpAnsweredWrongly):
        await adapter.metadata("http://127.0.0.1:1/other")


@pytest.mark.asyncio
async def test_wrong_pkce_verifier_is_refused_and_the_code_burnt() -> None:
    _, adapter, _ = _provider()
    client, verifier = _client(), "v" * 43
    url = await adapter.authorization_url(client, "st", "nc", code_challenge(verifier))
    back = await adapter.client.get(url)
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    with pytest.raises(SsoRefused):
        await adapter.exchange(client, code, "w" * 43)
    with pytest.raises(SsoRefused):
        await adapter.exchange(client, code, verifier)


@pytest.mark.asyncio
async def test_right_verifier_gets_an_id_token() -> None:
    _, adapter, _ = _provider()
    client, verifier = _client(), "v" * 43
    url = await adapter.authorization_url(client, "st", "nc", code_challenge(verifier))
    back = await adapter.client.get(url)
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    answer = await adapter.exchange(client, code, verifier)
    assert answer.id_token.count(".") == 2


async def _setup(h: Harness, *, link: bool) -> tuple[Tenant, OidcClient]:
    tenant = Tenant.create("acme", "ACME", None, None, h.clock.now())
    client = _client(tenant_id=tenant.id, link_verified_email=link)
    async with h.uow() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant, client


async def _sign_in(h: Harness, tenant: Tenant, client: OidcClient, ident: OidcIdentity) -> Account:
    async with h.uow() as uow:
        account = await account_for(h.deps, uow, tenant, client, ident, CTX)
        await uow.commit()
    return account


def _ident(sub: str, verified: bool = True) -> OidcIdentity:
    return OidcIdentity(ISSUER, sub, "ann@acme.test", verified)


@pytest.mark.asyncio
async def test_identity_is_found_by_subject_and_issuer_not_by_address(h: Harness) -> None:
    tenant, client = await _setup(h, link=False)
    first = await _sign_in(h, tenant, client, _ident("emp-1"))
    assert (await _sign_in(h, tenant, client, _ident("emp-1"))).id == first.id
    with pytest.raises(SsoRefused, match="another account"):
        await _sign_in(h, tenant, client, _ident("emp-2"))


@pytest.mark.asyncio
async def test_personal_account_is_never_taken_over_even_with_linking_on(h: Harness) -> None:
    tenant, client = await _setup(h, link=True)
    await h.account("ann@acme.test")
    with pytest.raises(SsoRefused, match="another account"):
        await _sign_in(h, tenant, client, _ident("emp-1"))


@pytest.mark.asyncio
async def test_same_tenant_account_is_linked_only_with_a_verified_address(h: Harness) -> None:
    tenant, client = await _setup(h, link=True)
    saml = Account.open("ann@acme.test", None, h.clock.now())
    saml.tenant_id, saml.external_id = tenant.id, "saml-name-id"
    async with h.uow() as uow:
        await uow.accounts.add(saml)
        await uow.commit()
    with pytest.raises(SsoRefused):
        await _sign_in(h, tenant, client, _ident("emp-1", verified=False))
    assert (await _sign_in(h, tenant, client, _ident("emp-1"))).id == saml.id
    assert (await _sign_in(h, tenant, client, _ident("emp-1"))).id == saml.id


def test_add_oidc_tenant_takes_the_secret_from_the_environment_not_the_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_SECRET", "from-the-env")
    args = _oidc_parser().parse_args(
        [
            "acme",
            "ACME",
            "--issuer",
            ISSUER,
            "--client-id",
            "c",
            "--client-secret-env",
            "ACME_SECRET",
        ]
    )
    config = _oidc_config(args, "https://auth.coffre.test/")
    assert config.client_secret == "from-the-env"
    assert config.redirect_uri == "https://auth.coffre.test/v1/oidc/acme/callback"
    with pytest.raises(SystemExit):
        _oidc_parser().parse_args(["acme", "ACME", "--issuer", ISSUER, "--client-secret", "x"])
    keyed = _oidc_config(
        _oidc_parser().parse_args(["a", "A", "--issuer", ISSUER, "--client-id", "c"]), "https://x"
    )
    assert keyed.client_secret is None


@pytest.mark.parametrize(
    ("claim", "verified"),
    [
        (True, True),
        ("true", True),
        ("TRUE", True),
        (False, False),
        ("false", False),
        ("yes", False),
        (1, False),
        (None, False),
        ({"value": True}, False),
    ],
)
def test_email_verified_is_true_only_for_json_true_or_the_string_true(
    claim: object, verified: bool
) -> None:
    assert claim_is_true(claim) is verified
