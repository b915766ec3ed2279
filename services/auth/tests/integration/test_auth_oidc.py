"""OpenID Connect single sign-on end to end: the real auth app on the real Postgres, talking over
real HTTP to the local OIDC provider exactly as it would to a company's identity provider."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from auth.entrypoints.oidc import COOKIE
from auth.service import oidc_tenants
from auth.service.oidc_tenants import OidcConfig
from auth_it_conftest import RunningAuth
from auth_it_helpers import UA
from coffre_testing.app import LogCapture
from coffre_testing.oidc_provider import (
    LocalOidcProvider,
    ProviderUser,
    RegisteredClient,
    mint,
    new_signing_key,
)
from common.logging import configure_logging
from test_auth_secrets_at_rest import _values

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
SECRET = "client-secret-" + uuid.uuid4().hex


async def _tenant(auth: RunningAuth, idp: LocalOidcProvider, *, secret: bool = True) -> str:
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    redirect = f"http://testserver/v1/oidc/{slug}/callback"
    assert auth.container.deps is not None
    config = OidcConfig(idp.issuer, f"coffre-{slug}", redirect, SECRET if secret else None)
    await oidc_tenants.configure(auth.container.deps, slug, "ACME", config)
    jwks = None
    if not secret:
        jwks = (await auth.client.get(f"/v1/oidc/{slug}/jwks.json")).json()
    idp.register(RegisteredClient(config.client_id, redirect, SECRET if secret else None, jwks))
    return slug


async def _authorize(auth: RunningAuth, slug: str) -> str:
    """Start at Coffre, sign in at the provider; return the callback path and query."""
    r = await auth.client.get(f"/v1/oidc/{slug}/login", headers=UA)
    assert r.status_code == 302, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["code_challenge"][0]
    async with httpx.AsyncClient() as browser:
        back = await browser.get(r.headers["location"])
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    return f"{callback.path}?{callback.query}"


async def _callback(auth: RunningAuth, path: str) -> httpx.Response:
    return await auth.client.get(path, headers=UA)


async def _outbox(auth: RunningAuth) -> list[dict[str, Any]]:
    rows = await auth.runtime.db.fetch("SELECT topic, envelope FROM outbox ORDER BY id")
    return [{"topic": r["topic"], **json.loads(r["envelope"])} for r in rows]


async def test_code_flow_signs_the_provider_user_in_to_one_account(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    first = await _callback(auth, await _authorize(auth, slug))
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    bearer = {"authorization": f"Bearer {first.json()['access_token']}"}
    me = (await auth.client.get("/v1/me", headers=bearer)).json()
    assert me["email"] == "ann@acme.test"
    again = await _callback(auth, await _authorize(auth, slug))
    bearer = {"authorization": f"Bearer {again.json()['access_token']}"}
    assert (await auth.client.get("/v1/me", headers=bearer)).json()["user_id"] == me["user_id"]
    events = await _outbox(auth)
    registered = [e for e in events if "user-registered" in e["topic"]]
    logins = [e for e in events if "login-succeeded" in e["topic"]]
    assert len(registered) == 1
    assert registered[0]["payload"]["method"] == "sso"
    assert [e["payload"]["methods"] for e in logins] == [["oidc"], ["oidc"]]


async def test_private_key_jwt_client_signs_in(auth: RunningAuth, idp: LocalOidcProvider) -> None:
    slug = await _tenant(auth, idp, secret=False)
    r = await _callback(auth, await _authorize(auth, slug))
    assert r.status_code == 200, r.text


async def test_replayed_state_and_code_are_refused(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    path = await _authorize(auth, slug)
    assert (await _callback(auth, path)).status_code == 200
    replay = await _callback(auth, path)
    assert replay.status_code == 401
    assert replay.json()["code"] == "auth.sso-refused"
    assert "open sign-in" in replay.json()["detail"]
    used_code = parse_qs(urlsplit(path).query)["code"][0]
    fresh_state = parse_qs(urlsplit(await _authorize(auth, slug)).query)["state"][0]
    r = await _callback(auth, f"/v1/oidc/{slug}/callback?state={fresh_state}&code={used_code}")
    assert r.status_code == 401
    assert "refused the authorization code" in r.json()["detail"]


async def test_code_injected_into_another_login_fails_pkce(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    """A code stolen from one login and presented with another login's state: the verifier we
    send is that other login's, so the provider refuses the exchange (PKCE)."""
    slug = await _tenant(auth, idp)
    stolen = parse_qs(urlsplit(await _authorize(auth, slug)).query)["code"][0]
    mine = parse_qs(urlsplit(await _authorize(auth, slug)).query)["state"][0]
    r = await _callback(auth, f"/v1/oidc/{slug}/callback?state={mine}&code={stolen}")
    assert r.status_code == 401
    assert "refused the authorization code" in r.json()["detail"]


async def test_answer_in_another_browser_or_with_an_error_is_refused(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    path = await _authorize(auth, slug)
    auth.client.cookies.clear()
    r = await _callback(auth, path)
    assert r.status_code == 401
    assert "another browser" in r.json()["detail"]
    state = parse_qs(urlsplit(await _authorize(auth, slug)).query)["state"][0]
    r = await _callback(auth, f"/v1/oidc/{slug}/callback?state={state}&error=access_denied")
    assert r.status_code == 401
    assert "refused the sign-in" in r.json()["detail"]
    failed = [e for e in await _outbox(auth) if "login-failed" in e["topic"]]
    assert [e["payload"]["stage"] for e in failed] == ["oidc", "oidc"]


async def test_id_token_with_another_nonce_is_refused(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    idp.claims_hook = lambda claims: {**claims, "nonce": "replayed-from-elsewhere"}
    r = await _callback(auth, await _authorize(auth, slug))
    assert r.status_code == 401
    assert "nonce" in r.json()["detail"]


async def test_id_token_signed_by_an_unknown_key_is_refused_after_one_jwks_refetch(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    assert (await _callback(auth, await _authorize(auth, slug))).status_code == 200
    assert auth.container.oidc is not None
    auth.container.oidc.min_refresh_seconds = 0
    stranger = new_signing_key()
    idp.sign = lambda claims: mint(claims, stranger)
    before = idp.jwks_fetches
    r = await _callback(auth, await _authorize(auth, slug))
    assert r.status_code == 401
    assert "unknown key" in r.json()["detail"]
    assert idp.jwks_fetches == before + 1
    idp.extra_keys.append(stranger)
    r = await _callback(auth, await _authorize(auth, slug))
    assert r.status_code == 200, r.text


async def test_address_of_another_account_is_not_taken_over(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    assert (await _callback(auth, await _authorize(auth, slug))).status_code == 200
    idp.user = ProviderUser(subject="someone-else", email="ann@acme.test", email_verified=True)
    r = await _callback(auth, await _authorize(auth, slug))
    assert r.status_code == 401
    assert "another account" in r.json()["detail"]


async def test_unknown_tenant_unreachable_provider_and_saml_routes_answer_problems(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    r = await auth.client.get("/v1/oidc/nobody-here/login")
    assert r.status_code == 404
    assert r.json()["code"] == "auth.tenant-not-found"
    slug = f"gone-{uuid.uuid4().hex[:6]}"
    assert auth.container.deps is not None
    closed = "http://127.0.0.1:9"
    config = OidcConfig(closed, "c", f"http://testserver/v1/oidc/{slug}/callback", SECRET)
    await oidc_tenants.configure(auth.container.deps, slug, "Gone", config)
    r = await auth.client.get(f"/v1/oidc/{slug}/login")
    assert r.status_code == 503
    assert r.json()["code"] == "auth.idp-unavailable"
    r = await auth.client.get(f"/v1/oidc/{slug}/callback?state=x&code=y")
    assert r.status_code == 401
    r = await auth.client.get(f"/v1/sso/{slug}/metadata")
    assert r.status_code == 404, "a tenant without SAML is unknown to the SAML routes"


async def test_client_secret_and_login_values_are_never_stored_or_logged(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    capture = LogCapture()
    configure_logging("auth", json=True, stream=capture)  # type: ignore[arg-type]
    try:
        sent, code, tokens, pending = await _sign_in_and_leave_one_open(auth, idp)
    finally:
        configure_logging("auth", json=True)
    secrets = [
        SECRET, code, sent["state"][0], sent["nonce"][0], pending["state"][0],
        pending["nonce"][0], auth.client.cookies[COOKIE], tokens["refresh_token"],
    ]  # fmt: skip
    tables = await auth.runtime.db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
        auth.settings.schema_name,
    )
    assert {"oidc_clients", "oidc_logins"} <= {t["table_name"] for t in tables}
    values: list[Any] = []
    for t in tables:
        rows = await auth.runtime.db.fetch(f'SELECT * FROM "{t["table_name"]}"')
        values += [v for row in rows for v in _values(dict(row))]
    dump = " ".join(str(v) for v in values)
    assert capture.events("oidc_login_succeeded")
    for found in (s for s in secrets if s in dump or s in capture.text):
        pytest.fail(f"in clear in a table or a log line: {found[:6]}…")


async def _sign_in_and_leave_one_open(
    auth: RunningAuth, idp: LocalOidcProvider
) -> tuple[dict[str, list[str]], str, dict[str, Any], dict[str, list[str]]]:
    slug = await _tenant(auth, idp)
    start = await auth.client.get(f"/v1/oidc/{slug}/login", headers=UA)
    sent = parse_qs(urlsplit(start.headers["location"]).query)
    async with httpx.AsyncClient() as browser:
        back = urlsplit((await browser.get(start.headers["location"])).headers["location"])
    code = parse_qs(back.query)["code"][0]
    tokens = (await _callback(auth, f"{back.path}?{back.query}")).json()
    in_flight = await auth.client.get(f"/v1/oidc/{slug}/login")
    return sent, code, tokens, parse_qs(urlsplit(in_flight.headers["location"]).query)


async def test_login_older_than_ten_minutes_is_refused_and_purged(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = await _tenant(auth, idp)
    path = await _authorize(auth, slug)
    await _authorize(auth, slug)
    async with auth.runtime.db.pool.acquire() as conn:
        await conn.execute("UPDATE oidc_logins SET expires_at = now() - interval '1 second'")
    r = await _callback(auth, path)
    assert r.status_code == 401
    assert "open sign-in" in r.json()["detail"]
    assert await auth.runtime.db.fetchval("SELECT count(*) FROM oidc_logins") == 1
    await auth.container.maintain_once(auth.runtime)
    assert await auth.runtime.db.fetchval("SELECT count(*) FROM oidc_logins") == 0
