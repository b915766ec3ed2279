"""Who is calling: payments (service token), an analyst or a member (auth's access tokens).

Rules: an analyst is a member listed in the settings, or holding the analyst scope, who signed
in with a second factor; a payment decision may only be asked for by the configured services;
every refusal is a 401 or 403 problem and never says which part of a token was wrong beyond its
code.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import Forbidden, Unauthenticated
from common.security.access_tokens import AccessTokenClaims, bearer_token
from fastapi import Request

from fraud.bootstrap import Container
from fraud.service.analyst import Analyst

SECOND_FACTORS = frozenset({"otp", "totp", "sms", "hwk", "mfa", "webauthn"})


class NotAnAnalyst(Forbidden):
    code = "fraud.not-an-analyst"
    title = "Only fraud analysts may do this"


class CallerNotAllowed(Forbidden):
    code = "fraud.caller-not-allowed"
    title = "This service may not ask for payment decisions"


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    analyst: Analyst | None


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def payments_caller(request: Request) -> str:
    container = container_of(request)
    if container.services is None:
        raise Unauthenticated("service tokens are not configured")
    caller = container.services.verify(request.headers.get("authorization"))
    if caller.name not in container.settings.decision_callers:
        raise CallerNotAllowed()
    return caller.name


async def member(request: Request) -> Member:
    container = container_of(request)
    assert container.access_tokens is not None
    token = bearer_token(request.headers.get("authorization"))
    claims = await container.access_tokens.verify(token)
    return Member(claims.subject, _analyst(container, claims))


async def analyst(request: Request) -> Analyst:
    found = (await member(request)).analyst
    if found is None:
        raise NotAnAnalyst()
    return found


def _analyst(container: Container, claims: AccessTokenClaims) -> Analyst | None:
    s = container.settings
    named = claims.subject in s.analysts or s.analyst_scope in claims.scopes
    strong = bool(SECOND_FACTORS & set(claims.methods))
    if named and (strong or not s.analyst_requires_second_factor):
        return Analyst(claims.subject)
    return None
