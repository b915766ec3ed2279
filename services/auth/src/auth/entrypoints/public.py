"""Public key material, SSO endpoints and development-only inspection routes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from common.errors import NotFound
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from auth.adapters.mail import RecordingMailer
from auth.adapters.sms import RecordingSmsSender
from auth.bootstrap import Container
from auth.domain.errors import SsoRefused
from auth.entrypoints.deps_http import container, context, get_deps
from auth.entrypoints.http import NO_STORE, _tokens
from auth.entrypoints.limits import MAX_SAML_FORM_BYTES
from auth.service import sso
from auth.service.context import RequestContext
from auth.service.deps import Deps

public = APIRouter(tags=["keys"])
sso_router = APIRouter(prefix="/v1/sso", tags=["sso"])
dev = APIRouter(prefix="/v1/dev", tags=["development"])


@public.get("/.well-known/jwks.json")
async def jwks(deps: Deps = Depends(get_deps)) -> JSONResponse:
    """Public keys that verify access tokens and step-up authorisations (by ``kid``)."""
    return JSONResponse(await deps.tokens.jwks(), headers={"Cache-Control": "public, max-age=60"})


def _saml(c: Container) -> Any:
    assert c.saml is not None
    return c.saml


@sso_router.get("/{slug}/metadata")
async def metadata(slug: str, request: Request, deps: Deps = Depends(get_deps)) -> Response:
    xml = await sso.metadata(deps, _saml(container(request)), slug)
    return Response(xml, media_type="application/samlmetadata+xml")


@sso_router.get("/{slug}/login")
async def begin(
    slug: str,
    request: Request,
    deps: Deps = Depends(get_deps),
    ctx: RequestContext = Depends(context),
) -> RedirectResponse:
    url = await sso.begin(deps, _saml(container(request)), slug, ctx)
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


@sso_router.post("/{slug}/acs")
async def acs(
    slug: str,
    request: Request,
    deps: Deps = Depends(get_deps),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    """Assertion consumer service (HTTP-POST binding, form field ``SAMLResponse``)."""
    body = await request.body()
    if len(body) > MAX_SAML_FORM_BYTES:
        raise SsoRefused("the SAML response is too large")
    try:
        fields = parse_qs(body.decode("latin-1"), max_num_fields=10)
    except ValueError:
        raise SsoRefused("the SAML form has too many fields") from None
    response = (fields.get("SAMLResponse") or [""])[0]
    if not response:
        raise SsoRefused("no SAMLResponse in the form")
    pair = await sso.complete(deps, _saml(container(request)), slug, response, ctx)
    return JSONResponse(_tokens(pair).model_dump(mode="json"), headers=NO_STORE)


@dev.get("/sms")
async def dev_sms(request: Request, phone: str) -> JSONResponse:
    """Recorded text messages to one phone (development mode only)."""
    c = container(request)
    if c.settings.environment != "development" or not isinstance(c.sms, RecordingSmsSender):
        raise NotFound("no such resource")
    found = [m.text for m in c.sms.messages if m.phone == phone][-10:]
    return JSONResponse({"messages": found}, headers=NO_STORE)


@dev.get("/mail")
async def dev_mail(request: Request, to: str) -> JSONResponse:
    """Recorded e-mails to one address (development mode only)."""
    c = container(request)
    if c.settings.environment != "development" or not isinstance(c.mailer, RecordingMailer):
        raise NotFound("no such resource")
    found = [
        {"subject": m.subject, "body": m.body, "link_token": m.link_token}
        for m in c.mailer.messages
        if m.to == to
    ]
    return JSONResponse({"messages": found[-10:]}, headers=NO_STORE)
