"""OpenID Connect single sign-on routes: start, callback, and the client's public key.

Rules: the start answers a 302 to the provider and sets a short-lived, HttpOnly, SameSite=Lax
cookie (scoped to the tenant's OIDC path, ``Secure`` on https) that binds the login to this
browser; the callback answers the same tokens as a SAML login and clears that cookie; every
refusal is an RFC 9457 problem (401 ``auth.sso-refused``, 404 unknown tenant, 422 malformed
query, 502/503 when the provider answers wrongly or not at all).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from auth.adapters.oidc_http import HttpOidcProvider
from auth.domain.oidc import LOGIN_TTL
from auth.entrypoints.deps_http import container, context, get_deps
from auth.entrypoints.http import NO_STORE, _tokens
from auth.entrypoints.schemas import TokensOut
from auth.service import oidc, oidc_tenants
from auth.service.context import RequestContext
from auth.service.deps import Deps

oidc_router = APIRouter(prefix="/v1/oidc", tags=["sso"])
COOKIE = "coffre_oidc_login"
Param = Annotated[str | None, Query(max_length=4096)]
Short = Annotated[str | None, Query(max_length=256)]
REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {
        "description": "Redirect to the identity provider's authorization endpoint.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
}


def _provider(request: Request) -> HttpOidcProvider:
    found = container(request).oidc
    assert found is not None
    return found


def _cookie_path(slug: str) -> str:
    return f"/v1/oidc/{slug}/"


@oidc_router.get(
    "/{slug}/login", status_code=302, responses=REDIRECT, response_class=RedirectResponse
)
async def oidc_login(
    slug: str,
    request: Request,
    deps: Deps = Depends(get_deps),
    ctx: RequestContext = Depends(context),
) -> RedirectResponse:
    """Start an authorization-code login with PKCE at the tenant's OIDC provider."""
    started = await oidc.begin(deps, _provider(request), slug, ctx)
    response = RedirectResponse(started.url, status_code=302, headers=NO_STORE)
    response.set_cookie(
        COOKIE,
        started.browser_token,
        max_age=int(LOGIN_TTL.total_seconds()),
        path=_cookie_path(slug),
        secure=container(request).settings.public_base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


@oidc_router.get("/{slug}/callback", response_model=TokensOut)
async def oidc_callback(
    slug: str,
    request: Request,
    state: Param = None,
    code: Param = None,
    error: Short = None,
    login_cookie: Annotated[str | None, Cookie(alias=COOKIE, max_length=256)] = None,
    deps: Deps = Depends(get_deps),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    """The provider's redirect back: exchange the code, check the ID token, open a session."""
    answer = oidc.Answer(state=state, code=code, error=error, browser_token=login_cookie)
    pair = await oidc.complete(deps, _provider(request), slug, answer, ctx)
    response = JSONResponse(_tokens(pair).model_dump(mode="json"), headers=NO_STORE)
    response.delete_cookie(COOKIE, path=_cookie_path(slug))
    return response


@oidc_router.get("/{slug}/jwks.json")
async def oidc_client_jwks(slug: str, deps: Deps = Depends(get_deps)) -> JSONResponse:
    """The public key of the tenant's ``private_key_jwt`` client, to register at the provider."""
    keys = await oidc_tenants.client_jwks(deps, slug)
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})
